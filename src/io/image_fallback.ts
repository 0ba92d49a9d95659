import type { DecodedImage } from './png.js';

/**
 * Image geometry without sharp, for installs without its native binary: alpha flattened onto white, the colour
 * conversion, and a separable bicubic resize (Catmull-Rom, a = −0.5, widened when shrinking so that every source
 * pixel counts, as PIL and libvips do). Close to sharp's output, not bit-identical to it.
 */

/** HWC pixels with 1-4 channels → `channels` (1 or 3), alpha composited onto white. */
export function toChannels(img: DecodedImage, channels: 1 | 3): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const c = img.channels;
  const hasAlpha = c === 2 || c === 4;
  for (let p = 0; p < n; p++) {
    const a = hasAlpha ? img.data[p * c + c - 1] / 255 : 1;
    const over = (v: number) => v * a + 255 * (1 - a);
    const [r, g, b] =
      c >= 3 ? [0, 1, 2].map((k) => over(img.data[p * c + k])) : [0, 0, 0].map(() => over(img.data[p * c]));
    if (channels === 3) out.set([r, g, b], p * 3);
    else out[p] = c >= 3 ? 0.2126 * r + 0.7152 * g + 0.0722 * b : r; // luminance of sRGB primaries
  }
  return out;
}

const cubic = (x: number): number => {
  const t = Math.abs(x);
  if (t < 1) return 1.5 * t ** 3 - 2.5 * t ** 2 + 1;
  if (t < 2) return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2;
  return 0;
};

/** For each output index along one axis: the source indices it reads and their normalised weights. */
function taps(src: number, dst: number): { first: number; weights: Float32Array }[] {
  const scale = src / dst;
  const support = 2 * Math.max(1, scale);
  return Array.from({ length: dst }, (_, i) => {
    const centre = (i + 0.5) * scale - 0.5;
    const first = Math.ceil(centre - support);
    const last = Math.floor(centre + support);
    const w = Float32Array.from({ length: last - first + 1 }, (_, k) =>
      cubic((first + k - centre) / Math.max(1, scale)),
    );
    const sum = w.reduce((a, v) => a + v, 0);
    return { first, weights: w.map((v) => v / sum) };
  });
}

/** Resize HWC float pixels (w, h, c) to (W, H), clamping at the borders; rounded and clipped to uint8. */
export function resizeCubic(px: Float32Array, w: number, h: number, c: number, W: number, H: number): Uint8Array {
  const horizontal = taps(w, W);
  const vertical = taps(h, H);
  const mid = new Float32Array(h * W * c);
  for (let y = 0; y < h; y++)
    horizontal.forEach(({ first, weights }, x) => {
      for (let k = 0; k < c; k++) {
        let s = 0;
        weights.forEach((wt, j) => (s += wt * px[(y * w + Math.min(w - 1, Math.max(0, first + j))) * c + k]));
        mid[(y * W + x) * c + k] = s;
      }
    });
  const out = new Uint8Array(H * W * c);
  vertical.forEach(({ first, weights }, y) => {
    for (let i = 0; i < W * c; i++) {
      let s = 0;
      weights.forEach((wt, j) => (s += wt * mid[Math.min(h - 1, Math.max(0, first + j)) * W * c + i]));
      out[y * W * c + i] = Math.min(255, Math.max(0, Math.round(s)));
    }
  });
  return out;
}
