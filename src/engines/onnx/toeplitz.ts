import type { Ops, Tensor } from '../../ops/ops.js';
import type { Graph, Value } from './graph.js';

/** Largest (channels · positions²) the per-channel matrices may hold, and the most FLOPs they may add (× direct). */
const MAX_ELEMENTS = 1 << 21;
const MAX_INFLATION = 4;

/**
 * A stride-1 depthwise conv on a small map as one batched MatMul: per channel c, y_c (B, HW) = x_c (B, HW)·K_c,
 * with K_c (HW, HW) the conv's Toeplitz matrix, K_c[q, p] = w_c[tap from output p to input q] or 0. Used where the
 * weight is a graph input (the training graph) and the graph is portable (onnxruntime-node's take ORT's NCHWc
 * kernel instead, nchwc.ts): ORT runs a depthwise Conv without a constant weight through its generic grouped
 * path, ~10× slower than this GEMM on 7×7 maps (and its gradients, ConvTranspose and a conv with an HW-sized
 * kernel, slower still), while K is a Gather of w and its backward a small one-hot MatMul.
 * Undefined where the map is too large for K. x (B, C, H, W), w (C, 1, kh, kw) → (B, C, H, W)
 */
export function depthwiseAsMatmul(ops: Ops, g: Graph, x: Tensor, w: Value, pad: number): Tensor | undefined {
  const [bs, c, hh, ww] = ops.shape(x);
  const [, , kh, kw] = w.shape;
  const n = hh * ww;
  if (c * n * n > MAX_ELEMENTS || n > MAX_INFLATION * kh * kw) return undefined;
  if (hh + 2 * pad - kh + 1 !== hh || ww + 2 * pad - kw + 1 !== ww) return undefined; // 'same' size only
  // idx[q·n + p]: the tap of w (i·kw + j) that carries input q to output p, or kh·kw (a zero) when none does
  const idx = new Array<number>(n * n).fill(kh * kw);
  for (let p = 0; p < n; p++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const [r, s] = [Math.floor(p / ww) + i - pad, (p % ww) + j - pad];
        if (r >= 0 && r < hh && s >= 0 && s < ww) idx[(r * ww + s) * n + p] = i * kw + j;
      }
  const taps = g.emit('Reshape', [w, g.ints([c, kh * kw])], [c, kh * kw]);
  const padded = g.emit('Pad', [taps, g.ints([0, 0, 0, 1])], [c, kh * kw + 1], { mode: 'constant' }); // (C, taps + 1)
  const flat = g.emit('Gather', [padded, g.ints(idx)], [c, n * n], { axis: 1 });
  const k = g.emit('Reshape', [flat, g.ints([c, n, n])], [c, n, n]) as unknown as Tensor; // (C, HW, HW)
  const rows = ops.transpose(ops.reshape(x, [bs, c, n]), [1, 0, 2]); // (C, B, HW)
  return ops.reshape(ops.transpose(ops.matmul(rows, k), [1, 0, 2]), [bs, c, hh, ww]);
}
