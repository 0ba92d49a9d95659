/**
 * q8: dynamic int8 Linears. Each weight is quantized at export, per output channel; each activation at run time
 * by DynamicQuantizeLinear (uint8, per tensor). The form written is the standard ONNX one,
 *   DynamicQuantizeLinear → MatMulInteger → Cast → Mul(x_scale·w_scale) [→ Add(bias)],
 * which ORT (level 'extended' and up) fuses into com.microsoft DynamicQuantizeMatMul, one node per Linear (and,
 * where Linears read the same rows, one shared DynamicQuantizeLinear and MatMulIntegerToFloat each), with the
 * weight prepacked at load. Everything else (LayerNorm, φ, kᵀv, the normaliser, softmax, convs)
 * stays fp32: see docs/quantization.md for the measured alternatives.
 */
import { DataType, type ModelProto, type NodeProto } from '../proto.js';
import { GraphEdit } from './graph_edit.js';
import { findLinears, type Linear } from './linears.js';

export interface Q8Options {
  /**
   * Weight integers: `int7` symmetric in [-63, 63] (the default); `int8` symmetric in [-127, 127]; `uint8`
   * asymmetric with a zero point (u8·u8 kernels). int7 because a file must give the same answers on every CPU:
   * x64 kernels without VNNI (AVX2 only: Zen 3 and older, Intel client parts before Alder Lake) add u8·s8 products
   * in pairs into int16 (`vpmaddubsw`), which 255 · 127 · 2 overflows and saturates; 255 · 63 · 2 does not. With
   * VNNI, int7 runs at int8's speed, at ~2× its error.
   */
  weights?: 'int8' | 'int7' | 'uint8';
  /** One scale per output channel (default) or one per weight. */
  perChannel?: boolean;
}

export const Q8_DEFAULTS: Required<Q8Options> = { weights: 'int7', perChannel: true };

/** A quantized (out, in) weight: integers transposed to (in, out) for MatMulInteger, a scale and zero point per channel. */
interface QWeight {
  q: Int8Array | Uint8Array;
  scale: Float32Array;
  zero: Int8Array | Uint8Array;
}

/** Per channel (or one group for the whole weight): the range of each group of `cols` consecutive values. */
function quantizeWeight(w: Float32Array, rows: number, cols: number, o: Required<Q8Options>): QWeight {
  const groups = o.perChannel ? rows : 1;
  const per = (rows * cols) / groups;
  const unsigned = o.weights === 'uint8';
  const qmax = o.weights === 'int7' ? 63 : 127;
  const scale = new Float32Array(groups);
  const zero = unsigned ? new Uint8Array(groups) : new Int8Array(groups);
  for (let g = 0; g < groups; g++) {
    let [lo, hi] = [0, 0]; // the range holds 0, so that zero padding and ReLU zeros are exact
    for (let i = g * per; i < (g + 1) * per; i++) [lo, hi] = [Math.min(lo, w[i]), Math.max(hi, w[i])];
    if (unsigned) {
      scale[g] = (hi - lo) / 255 || 1;
      zero[g] = Math.min(255, Math.max(0, Math.round(-lo / scale[g])));
    } else scale[g] = Math.max(-lo, hi) / qmax || 1;
  }
  // (in, out): q[k·rows + j] holds W[j, k]
  const q = unsigned ? new Uint8Array(rows * cols) : new Int8Array(rows * cols);
  const [min, max] = unsigned ? [0, 255] : [-qmax, qmax];
  for (let j = 0; j < rows; j++) {
    const g = o.perChannel ? j : 0;
    for (let k = 0; k < cols; k++) {
      const v = Math.round(w[j * cols + k] / scale[g]) + zero[g];
      q[k * rows + j] = Math.min(max, Math.max(min, v));
    }
  }
  return { q, scale, zero };
}

/** The model with every Linear computed in int8. */
export function quantizeQ8(model: ModelProto, opts: Q8Options = {}): ModelProto {
  const o = { ...Q8_DEFAULTS, ...opts };
  const edit = new GraphEdit(model);
  const replace = new Map<NodeProto, NodeProto[]>();
  for (const l of findLinears(edit)) replace.set(l.node, q8Linear(edit, l, o));
  return edit.finish(replace);
}

function q8Linear(edit: GraphEdit, l: Linear, o: Required<Q8Options>): NodeProto[] {
  const [out, inF] = l.weight.shape;
  const w = quantizeWeight(l.weight.data, out, inF, o);
  const intType = o.weights === 'uint8' ? DataType.UINT8 : DataType.INT8;
  const base = l.node.outputs[0];
  // one per Linear: ORT's common-subexpression pass merges those of q, k and v, which read the same rows
  const act = ['quantized', 'scale', 'zero_point'].map((s) => edit.name(`${l.x}/${s}`));
  const nodes: NodeProto[] = [edit.node('DynamicQuantizeLinear', [l.x], act)];
  const [xq, xs, xz] = act;
  const wq = edit.initializer(`${base}/weight_q8`, [inF, out], intType, w.q);
  const ws = edit.initializer(`${base}/weight_scale`, o.perChannel ? [out] : [], DataType.FLOAT, w.scale);
  const wz = edit.initializer(`${base}/weight_zero_point`, o.perChannel ? [out] : [], intType, w.zero);
  const acc = edit.name(`${base}/int32`);
  const f = edit.name(`${base}/float`);
  const s = edit.name(`${base}/scale`);
  const y = l.bias ? edit.name(`${base}/unbiased`) : base;
  nodes.push(
    edit.node('MatMulInteger', [xq, wq, xz, wz], [acc]),
    edit.node('Cast', [acc], [f], { to: DataType.FLOAT }),
    // (x_scale, w_scale) in this order: the operands ORT's MatMulIntegerToFloat fusion reads
    edit.node('Mul', [xs, ws], [s]),
    edit.node('Mul', [f, s], [y]),
  );
  if (l.bias) {
    const b = edit.initializer(`${base}/bias`, [out], DataType.FLOAT, l.bias.data);
    nodes.push(edit.node('Add', [y, b], [base]));
  }
  return nodes;
}
