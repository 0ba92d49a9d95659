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

/**
 * Window partition: a (B, H, W, C) map, or its tokens (B, H·W, C), → windows (B·nW, wh·ww, C), row-major over
 * the window grid (Swin's `window_partition`, CSwin's `img2windows`).
 */
export function toWindows(ops: Ops, x: Tensor, [h, w]: [number, number], [wh, ww]: [number, number]): Tensor {
  const shape = ops.shape(x);
  const [b, c] = [shape[0], shape[shape.length - 1]];
  const y = ops.reshape(x, [b, h / wh, wh, w / ww, ww, c]);
  return ops.reshape(ops.transpose(y, [0, 1, 3, 2, 4, 5]), [(b * h * w) / (wh * ww), wh * ww, c]);
}

/** Inverse of toWindows: windows (B·nW, wh·ww, C) → tokens (B, H·W, C). */
export function fromWindows(ops: Ops, x: Tensor, [h, w]: [number, number], [wh, ww]: [number, number]): Tensor {
  const [bw, , c] = ops.shape(x);
  const b = (bw * wh * ww) / (h * w);
  const y = ops.reshape(x, [b, h / wh, w / ww, wh, ww, c]);
  return ops.reshape(ops.transpose(y, [0, 1, 3, 2, 4, 5]), [b, h * w, c]);
}

/** Mean over the token axis of (B, N, C) → (B, C). */
export function meanTokens(ops: Ops, x: Tensor): Tensor {
  return ops.mean(x, [1], false);
}

/**
 * AdaptiveAvgPool2d(out) on tokens: (B, H·W, C) → (B, out², C). Bin i spans [⌊iH/out⌋, ⌈(i+1)H/out⌉)
 * as in PyTorch; bins may overlap when H is not a multiple of out, so this is a constant averaging matmul.
 */
export function adaptiveAvgPoolTokens(ops: Ops, x: Tensor, h: number, w: number, out: number): Tensor {
  const m = new Float32Array(out * out * h * w);
  const bins = (len: number) =>
    Array.from({ length: out }, (_, i) => [Math.floor((i * len) / out), Math.ceil(((i + 1) * len) / out)]);
  const rows = bins(h);
  const cols = bins(w);
  rows.forEach(([r0, r1], i) =>
    cols.forEach(([c0, c1], j) => {
      const weight = 1 / ((r1 - r0) * (c1 - c0));
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) m[(i * out + j) * h * w + r * w + c] = weight;
    }),
  );
  const pool = ops.constant({ dtype: 'float32', shape: [1, out * out, h * w], data: m });
  return ops.matmul(pool, x); // (1, out², HW) × (B, HW, C)
}
