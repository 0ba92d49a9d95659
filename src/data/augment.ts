import type { Rng } from '../core/rng.js';

/**
 * Random crop with zero padding, then a horizontal flip with probability ½, on one single-channel
 * s×s uint8 image (the Fashion-MNIST / CIFAR recipe). Writes the normalised result into out[at … at+s²).
 */
export function cropFlipInto(
  src: Uint8Array,
  s: number,
  pad: number,
  rng: Rng,
  out: Float32Array,
  at: number,
  norm: (v: number) => number,
): void {
  const dy = rng.int(2 * pad + 1) - pad;
  const dx = rng.int(2 * pad + 1) - pad;
  const flip = rng.next() < 0.5;
  for (let r = 0; r < s; r++) {
    const sr = r + dy;
    for (let c = 0; c < s; c++) {
      const sc = (flip ? s - 1 - c : c) + dx;
      const v = sr >= 0 && sr < s && sc >= 0 && sc < s ? src[sr * s + sc] : 0;
      out[at + r * s + c] = norm(v);
    }
  }
}

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * torchvision RandomResizedCrop box: area fraction in [0.08, 1] and aspect ratio log-uniform in [3/4, 4/3],
 * ten tries, then the central crop clamped to the allowed ratios.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = width * height;
  for (let i = 0; i < 10; i++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(Math.log(ratio[0]), Math.log(ratio[1])));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height)
      return { left: rng.int(width - w + 1), top: rng.int(height - h + 1), width: w, height: h };
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}
