import type { Ops, Tensor } from './ops.js';

/** Composite ops built from the primitive set, shared by every engine. */

/** torch.roll along one axis: y[i] = x[(i - shift) mod n]. */
export function roll(ops: Ops, x: Tensor, shift: number, axis: number): Tensor {
  const shape = ops.shape(x);
  const ax = axis < 0 ? axis + shape.length : axis;
  const n = shape[ax];
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  const begin = shape.map(() => 0);
  const headSize = [...shape];
  headSize[ax] = n - s;
  const tailBegin = [...begin];
  tailBegin[ax] = n - s;
  const tailSize = [...shape];
  tailSize[ax] = s;
  return ops.concat([ops.slice(x, tailBegin, tailSize), ops.slice(x, begin, headSize)], ax);
}

/** Tokens (B, H·W, C) → image (B, C, H, W). */
export function tokensToImage(ops: Ops, x: Tensor, h: number, w: number): Tensor {
  const [b, , c] = ops.shape(x);
  return ops.transpose(ops.reshape(x, [b, h, w, c]), [0, 3, 1, 2]);
}

/** Image (B, C, H, W) → tokens (B, H·W, C). */
export function imageToTokens(ops: Ops, x: Tensor): Tensor {
  const [b, c, h, w] = ops.shape(x);
  return ops.transpose(ops.reshape(x, [b, c, h * w]), [0, 2, 1]);
}

/** Mean over the token axis of (B, N, C) → (B, C). */
export function meanTokens(ops: Ops, x: Tensor): Tensor {
  return ops.mean(x, [1], false);
}
