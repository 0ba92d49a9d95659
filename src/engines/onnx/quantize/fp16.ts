/**
 * fp16: weights stored as IEEE half floats, half the file, computed in fp32. Each converted initializer is read
 * through a Cast to float, which ORT folds at load, so the session runs the fp32 graph on the rounded weights.
 * The rounding of the weights is the only loss; fp16 arithmetic is not what this file is for.
 */
import { DataType, type ModelProto, type NodeProto } from '../proto.js';
import { toHalfBits } from '../../../io/elements.js';
import { floatsOf, tensorOf } from './graph_edit.js';

/** Tensors from this size on are converted: the weights and tables, where the bytes are. */
const MIN_ELEMENTS = 1024;
const HALF_MAX = 65504;

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
