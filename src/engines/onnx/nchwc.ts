import type { Tensor } from '../../ops/ops.js';
import type { Graph, Value } from './graph.js';
import { rowTail } from './layout.js';
import type { OnnxOps } from './ops.js';
import { h, isView, layoutOf, t } from './views.js';

/** ONNX Runtime's CPU contrib domain of blocked-channel (NCHWc) kernels: ReorderInput, ReorderOutput, Conv. */
export const NCHWC = 'com.microsoft.nchwc';

/** Graphs traced for onnxruntime-node's CPU provider, with its NCHWc channel block (8 or 16 floats). */
const blocks = new WeakMap<Graph, number>();

/** Lets the training graph use ORT's NCHWc kernels, whose data layout depends on the CPU's block size. */
export function useNchwc(g: Graph, block: number): void {
  blocks.set(g, block);
}

/** The NCHWc block of a graph traced with `useNchwc`, else undefined (a portable graph). */
export const nchwcBlock = (g: Graph): number | undefined => blocks.get(g);

/**
 * A weight (C, 1, kh, kw) in the NCHWc depthwise filter layout: blocks of `block` channels innermost,
 * (C/block, kh, kw, block) in memory, still labelled (C, 1, kh, kw) as ORT's kernel expects. Graph ops, so that
 * the weight may be a graph input (ORT's own NCHWc pass only rewrites Convs with constant weights).
 */
export function blockedFilter(g: Graph, w: Value, block: number): Value {
  const [c, , kh, kw] = w.shape;
  const a = g.emit('Reshape', [w, g.ints([c / block, block, kh * kw])], [c / block, block, kh * kw]);
  const b = g.emit('Transpose', [a], [c / block, kh * kw, block], { perm: [0, 2, 1] });
  return g.emit('Reshape', [b, g.ints([c, 1, kh, kw])], [c, 1, kh, kw]);
}

/**
 * A stride-1 'same' depthwise conv whose weight is a graph input, on ORT's NCHWc depthwise kernel: the map is
 * reordered into channel blocks (from the token layout directly when the channels are contiguous there, the
 * Transpose of the NCHW form folded away as ORT does at inference), convolved with the weight reordered in the
 * graph, and reordered back to channels-last, which the token world reads without a Transpose. Measured 5–6×
 * faster, forward and backward together (grad/nchwc.ts), than ORT's generic grouped Conv, ConvTranspose and
 * HW-kernel weight-gradient Conv on PVTv2's maps (56² × 256 … 7² × 1024). The bias is the kernel's, so the
 * output stays channels-last. Undefined for graphs not traced with `useNchwc` and channel counts that are not
 * a multiple of the block. x (B, C, H, W), w (C, 1, kh, kw), bias (C) → (B, C, H, W) viewing (B, H, W, C)
 */
export function depthwiseNchwc(
  ops: OnnxOps,
  g: Graph,
  x: Tensor,
  w: Value,
  pad: number,
  bias?: Value,
): Tensor | undefined {
  const block = nchwcBlock(g);
  const [bs, c, hh, ww] = ops.shape(x);
  const [, , kh, kw] = w.shape;
  if (!block || c % block || kh !== 2 * pad + 1 || kw !== 2 * pad + 1) return undefined;
  const X = h(x);
  const nhwc = ops.transpose(x, [0, 2, 3, 1]);
  const channelsLast = isView(X) && rowTail(layoutOf(h(nhwc))) !== undefined;
  const src = ops.real(channelsLast ? nhwc : x); // (B, H, W, C) or (B, C, H, W)
  const xr = g.emit('ReorderInput', [src], [bs, c, hh, ww], { channels_last: channelsLast ? 1 : 0 }, NCHWC);
  const attrs = { kernel_shape: [kh, kw], pads: [pad, pad, pad, pad], group: c };
  const filter = blockedFilter(g, w, block);
  const y = g.emit('Conv', bias ? [xr, filter, bias] : [xr, filter], [bs, c, hh, ww], attrs, NCHWC);
  const yn = g.emit('ReorderOutput', [y], [bs, hh, ww, c], { channels_last: 1, channels: c }, NCHWC);
  return ops.transpose(t(yn), [0, 3, 1, 2]);
}
