import * as F from '../fold.js';
import type { NodeProto } from '../proto.js';
import type { GraphEdit } from './graph_edit.js';

/** A Linear layer as written: y = x·Wᵀ + b with W and b known at export. */
export interface Linear {
  node: NodeProto;
  /** The activation rows (…, in). */
  x: string;
  /** (out, in), as in the state_dict. */
  weight: F.Dense;
  /** (out) */
  bias?: F.Dense;
}

/**
 * Every Linear of the graph: Gemm(transB = 1) on a constant weight, our export's form for nn.Linear (q, k, v
 * as Gemms on Slices of one qkv weight), and MatMul by a constant (in, out) matrix.
 */
export function findLinears(edit: GraphEdit): Linear[] {
  const out: Linear[] = [];
  for (const node of edit.model.nodes) {
    const [x, w, b] = node.inputs;
    if (node.op === 'Gemm') {
      const a = node.attrs ?? {};
      const plain = a.transB === 1 && !a.transA && a.alpha === undefined && a.beta === undefined;
      const weight = plain ? edit.constant(w) : undefined;
      const bias = b ? edit.constant(b) : undefined;
      if (!weight || weight.shape.length !== 2 || (b && (!bias || bias.data.length !== weight.shape[0]))) continue;
      out.push({ node, x, weight, bias: bias && { shape: [bias.data.length], data: bias.data } });
    } else if (node.op === 'MatMul') {
      const m = edit.constant(w);
      // a constant on the left (the mean GEMV's ones) is not a Linear
      if (!m || m.shape.length !== 2 || edit.constant(x)) continue;
      out.push({ node, x, weight: F.transpose(m, [1, 0]) });
    }
  }
  return out;
}
