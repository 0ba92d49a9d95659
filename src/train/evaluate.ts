import * as tf from '@tensorflow/tfjs';
import { FlattenError } from '../core/errors.js';
import type { Dataset } from '../data/dataset.js';
import type { Ctx } from '../ops/ctx.js';
import type { Tensor } from '../ops/ops.js';
import type { VisionModel } from '../models/model.js';
import { smoothedCrossEntropy, topkHits } from './loss.js';

export interface EvalResult {
  /** Fractions in [0, 1]. */
  top1: number;
  top5: number;
  /** Mean cross-entropy (no smoothing). */
  loss: number;
  images: number;
}

/** Top-1/top-5 accuracy and loss of a model over a whole split, in batches, on the eval transform. */
export async function evaluate(model: VisionModel, ctx: Ctx, data: Dataset, batchSize: number): Promise<EvalResult> {
  let top1 = 0;
  let top5 = 0;
  let lossSum = 0;
  let images = 0;
  const k = model.numClasses;
  for (let start = 0; start < data.size; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, data.size - start) }, (_, i) => start + i);
    const batch = await data.load(idx);
    if (!batch.size) continue;
    const { logits, loss } = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, data.inChans, data.imgSize, data.imgSize]);
      const l = model.forward(ctx, x as unknown as Tensor).logits as unknown as tf.Tensor2D;
      return { logits: l, loss: smoothedCrossEntropy(l, batch.y, 0) };
    });
    const values = (await logits.data()) as Float32Array;
    lossSum += (await loss.data())[0] * batch.size;
    tf.dispose([logits, loss]);
    const hits = topkHits(values, k, batch.y);
    top1 += hits.top1;
    top5 += hits.top5;
    images += batch.size;
  }
  if (!images) throw new FlattenError('BAD_FILE', `${data.name} ${data.split}: no image could be decoded`);
  return {
    top1: top1 / Math.max(1, images),
    top5: top5 / Math.max(1, images),
    loss: lossSum / Math.max(1, images),
    images,
  };
}
