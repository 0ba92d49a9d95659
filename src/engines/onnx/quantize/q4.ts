/**
 * q4: every Linear as com.microsoft MatMulNBits, 4-bit weights in blocks of 32 along the input axis, each block
 * with its own scale and zero point (asymmetric, so a block of one sign keeps all 16 levels). The activations
 * stay fp32: the smallest file, not the fastest run. Layout of the packed weight: (out, blocks, 16 bytes), two
 * values a byte, the even one in the low nibble; zero points packed the same way, (out, ⌈blocks/2⌉).
 */
import { DataType, type ModelProto, type NodeProto } from '../proto.js';
import { GraphEdit } from './graph_edit.js';
import { findLinears, type Linear } from './linears.js';

export const Q4_BLOCK = 32;
const LEVELS = 15;

/** W (out, in) in 4-bit blocks: packed values, a scale and a zero point per (row, block). */
export function quantizeBlocks(w: Float32Array, rows: number, cols: number) {
  const blocks = Math.ceil(cols / Q4_BLOCK);
  const packed = new Uint8Array(rows * blocks * (Q4_BLOCK / 2));
  const scales = new Float32Array(rows * blocks);
  const zeros = new Uint8Array(rows * Math.ceil(blocks / 2));
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const [k0, k1] = [b * Q4_BLOCK, Math.min(cols, (b + 1) * Q4_BLOCK)];
      let [lo, hi] = [0, 0]; // 0 in range: the padding past `cols` is exactly 0
      for (let k = k0; k < k1; k++) [lo, hi] = [Math.min(lo, w[r * cols + k]), Math.max(hi, w[r * cols + k])];
      const s = (hi - lo) / LEVELS || 1;
      const z = Math.min(LEVELS, Math.max(0, Math.round(-lo / s)));
      scales[r * blocks + b] = s;
      zeros[r * Math.ceil(blocks / 2) + (b >> 1)] |= z << ((b & 1) * 4);
      for (let k = k0; k < k0 + Q4_BLOCK; k++) {
        const q = k < k1 ? Math.min(LEVELS, Math.max(0, Math.round(w[r * cols + k] / s) + z)) : z;
        const i = k - k0;
        packed[(r * blocks + b) * (Q4_BLOCK / 2) + (i >> 1)] |= q << ((i & 1) * 4);
      }
    }
  }
  return { packed, scales, zeros, blocks };
}

export function quantizeQ4(model: ModelProto): ModelProto {
  const edit = new GraphEdit(model);
  const replace = new Map<NodeProto, NodeProto[]>();
  for (const l of findLinears(edit)) replace.set(l.node, q4Linear(edit, l));
  return edit.finish(replace, [{ domain: 'com.microsoft', version: 1 }]);
}

function q4Linear(edit: GraphEdit, l: Linear): NodeProto[] {
  const [out, inF] = l.weight.shape;
  const q = quantizeBlocks(l.weight.data, out, inF);
  const base = l.node.outputs[0];
  const b = edit.initializer(`${base}/weight_q4`, [out, q.blocks, Q4_BLOCK / 2], DataType.UINT8, q.packed);
  const s = edit.initializer(`${base}/weight_scales`, [out * q.blocks], DataType.FLOAT, q.scales);
  const z = edit.initializer(`${base}/weight_zero_points`, [q.zeros.length], DataType.UINT8, q.zeros);
  const y = l.bias ? edit.name(`${base}/unbiased`) : base;
  const attrs = { K: inF, N: out, bits: 4, block_size: Q4_BLOCK };
  const nodes = [edit.node('MatMulNBits', [l.x, b, s, z], [y], attrs, 'com.microsoft')];
  if (l.bias)
    nodes.push(edit.node('Add', [y, edit.initializer(`${base}/bias`, [out], DataType.FLOAT, l.bias.data)], [base]));
  return nodes;
}
