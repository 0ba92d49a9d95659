/**
 * fp16: weights stored as IEEE half floats, half the file, computed in fp32. Each converted initializer is read
 * through a Cast to float, which ORT folds at load, so the session runs the fp32 graph on the rounded weights.
 * The rounding of the weights is the only loss; fp16 arithmetic is not what this file is for.
 */
import { DataType, type ModelProto, type NodeProto } from '../proto.js';
import { floatsOf, tensorOf } from './graph_edit.js';

/** Tensors from this size on are converted: the weights and tables, where the bytes are. */
const MIN_ELEMENTS = 1024;
const HALF_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to `v` (round to nearest, ties to even; overflow to ±Inf). */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // the half exponent field: float bias 127, half bias 15
  if (e >= 0x1f) return sign | 0x7c00;
  // a normal half keeps the top 10 of 23 mantissa bits; a subnormal one counts units of 2^-24
  const [m, shift] = e > 0 ? [mant, 13] : [mant | 0x800000, 14 - e];
  if (shift > 24) return sign;
  let q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && q & 1)) q++;
  // a mantissa carry moves into the exponent field, which is the right rounding
  return sign | ((e > 0 ? e << 10 : 0) + q);
}

export function halfWeights(model: ModelProto): ModelProto {
  const casts: NodeProto[] = [];
  const initializers = model.initializers.map((t) => {
    if (t.dataType !== DataType.FLOAT) return t;
    const v = floatsOf(t);
    if (v.length < MIN_ELEMENTS || v.some((x) => !(Math.abs(x) <= HALF_MAX))) return t;
    const bits = Uint16Array.from(v, toHalfBits);
    const name = `${t.name}/fp16`;
    casts.push({
      op: 'Cast',
      name: `Cast_fp16_${casts.length}`,
      inputs: [name],
      outputs: [t.name],
      attrs: { to: DataType.FLOAT },
    });
    return tensorOf(name, t.dims, DataType.FLOAT16, bits);
  });
  return { ...model, initializers, nodes: [...casts, ...model.nodes] };
}
