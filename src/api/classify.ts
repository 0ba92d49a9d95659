import type { TensorData } from '../core/tensor.js';
import { prepareImage, toBatch, type PreparedImage } from '../io/image.js';
import { engineRunner } from './engine.js';
import { labelsFor } from './labels.js';
import type { LoadedModel } from './model.js';

export interface Prediction {
  image: string;
  top: { index: number; label: string; probability: number }[];
}

/** Softmax over each row of (B, K) logits. */
export function softmaxRows(logits: TensorData): Float32Array[] {
  const [b, k] = logits.shape;
  const d = logits.data as Float32Array;
  return Array.from({ length: b }, (_, i) => {
    const row = d.subarray(i * k, (i + 1) * k);
    const max = row.reduce((a, v) => Math.max(a, v), -Infinity);
    const e = Float32Array.from(row, (v) => Math.exp(v - max));
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
}

/** Decode and preprocess images for a loaded model (its registry's eval transform). */
export async function prepareFor(m: LoadedModel, files: (string | Uint8Array)[]): Promise<PreparedImage[]> {
  const channels = m.model.inChans === 1 ? 1 : 3;
  return Promise.all(files.map((f) => prepareImage(f, m.preprocess, channels)));
}

/** Classify several images in one batch; top-k labels with probabilities. */
export async function classify(m: LoadedModel, files: string[], topK = 5, engine = 'tfjs'): Promise<Prediction[]> {
  const images = await prepareFor(m, files);
  const run = engineRunner(engine);
  const { logits } = await run(m.weights, [toBatch(images, m.preprocess)], (ctx, x) => ({
    logits: m.model.forward(ctx, x).logits,
  }));
  const labels = labelsFor(m.name, m.model.numClasses);
  return softmaxRows(logits).map((p, i) => ({
    image: files[i],
    top: [...p.keys()]
      .sort((a, b) => p[b] - p[a])
      .slice(0, topK)
      .map((index) => ({ index, label: labels[index], probability: p[index] })),
  }));
}
