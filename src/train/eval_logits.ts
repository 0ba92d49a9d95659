import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import type { Dataset } from '../data/dataset.js';
import { OnnxSession } from '../engines/onnx/session.js';
import { traceOnnx } from '../engines/onnx/trace.js';
import type { VisionModel } from '../models/model.js';
import type { EvalResult } from './evaluate.js';
import { topkHits } from './loss.js';

/** Logits (B, K) of an image batch (B, C, R, R), from any engine: an ONNX session in the api's `--engine onnx` path. */
export interface BatchClassifier {
  logits(images: TensorData): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * The model's inference forward (drop path off) as an ONNX graph with `weights` as initializers and a dynamic
 * batch, on one ONNX Runtime session: how `flatten train --engine onnx` evaluates each epoch.
 */
export async function onnxClassifier(
  model: VisionModel,
  weights: Map<string, TensorData>,
  o: { name: string; threads?: number },
): Promise<BatchClassifier> {
  const [H, W] = model.imgSize;
  const { bytes } = traceOnnx(
    weights,
    [{ name: 'input', shape: [1, model.inChans, H, W], batchAxis: 0 }],
    (ctx, x) => ({ logits: model.forward(ctx, x).logits }), // (B, K)
    { dynamic: true, name: o.name },
  );
  const session = await OnnxSession.create(bytes, `${o.name} evaluation graph`, { threads: o.threads });
  return {
    logits: async (x) => (await session.run({ input: x })).logits.data as Float32Array,
    release: () => session.release(),
  };
}

/** Σ over rows of −log softmax(row)[label], as log Σ exp(x − max) + max − x[label]. */
function crossEntropySum(logits: Float32Array, k: number, labels: Int32Array): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    sum += Math.log(row.reduce((a, b) => a + Math.exp(b - max), 0)) + max - row[labels[i]];
  }
  return sum;
}

/**
 * Top-1/top-5 and loss over a whole split in batches, with every image's predicted class (the first of the
 * highest logits, as top-1 counts it), so that two runs can be compared image by image.
 */
export async function evaluateLogits(
  data: Dataset,
  batchSize: number,
  numClasses: number,
  classifier: BatchClassifier,
): Promise<EvalResult & { predictions: Int32Array }> {
  let [top1, top5, lossSum, images] = [0, 0, 0, 0];
  const predictions: number[] = [];
  const side = data.imgSize;
  for (let start = 0; start < data.size; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, data.size - start) }, (_, i) => start + i);
    const batch = await data.load(idx);
    if (!batch.size) continue;
    const x = { dtype: 'float32' as const, shape: [batch.size, data.inChans, side, side], data: batch.x };
    const logits = await classifier.logits(x);
    const hits = topkHits(logits, numClasses, batch.y);
    top1 += hits.top1;
    top5 += hits.top5;
    lossSum += crossEntropySum(logits, numClasses, batch.y);
    images += batch.size;
    for (let i = 0; i < batch.size; i++) {
      const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
      predictions.push(row.indexOf(row.reduce((a, b) => Math.max(a, b), -Infinity)));
    }
  }
  if (!images) throw new FlattenError('BAD_FILE', `${data.name} ${data.split}: no image could be decoded`);
  return {
    top1: top1 / images,
    top5: top5 / images,
    loss: lossSum / images,
    images,
    predictions: Int32Array.from(predictions),
  };
}
