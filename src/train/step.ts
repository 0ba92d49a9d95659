import * as tf from '@tensorflow/tfjs';
import type { VisionModel } from '../models/model.js';
import type { Tensor } from '../ops/ops.js';
import { smoothedCrossEntropy } from './loss.js';
import type { LiveWeights } from './params.js';

export interface StepGrads {
  /** This share's part of the batch's mean loss. */
  loss: number;
  /** (n, K) logits, for accuracy. */
  logits: Float32Array;
  /** Gradients of this share's part of the mean loss, keyed by parameter path (parameters off the graph have none). */
  grads: Map<string, tf.Tensor>;
}

/** Where a share sits in its batch: the batch size the loss is averaged over, and the share's first row. */
export interface ShareOf {
  total: number;
  first: number;
}

/** A batch (or one thread's share of it) to differentiate, and how. */
export interface StepBatch {
  /** (n, C, H, W) images at the model's size. */
  x: Float32Array;
  /** (n) class indices. */
  y: Int32Array;
  /** Label smoothing ε of the loss. */
  smoothing: number;
  /** This step's drop-path keys (see dropMask). */
  dropKeys: number[];
  /** Micro-batches of this many images, their gradients summed (default: all n at once). */
  micro?: number;
  /** Where x sits inside a larger batch split between threads (default: x is the whole batch). */
  share?: ShareOf;
}

/**
 * Loss and gradients of a batch, optionally in micro-batches whose gradients are summed with weight
 * size/total: the same mean-loss gradient with a fraction of the activation memory (tfjs-wasm has a 4 GB
 * heap; flatten_pvt_v2_b0 keeps ~0.6 GB of activations per 224² image). With `share`, summing the shares
 * gives the batch's gradient, and drop path draws per row of the batch (see trainCtx).
 */
export async function lossAndGrads(model: VisionModel, live: LiveWeights, batch: StepBatch): Promise<StepGrads> {
  const { x, y, smoothing, dropKeys } = batch;
  const B = y.length;
  const micro = batch.micro ?? B;
  const share = batch.share ?? { total: B, first: 0 };
  const [H, W] = model.imgSize;
  const per = model.inChans * H * W;
  const grads = new Map<string, tf.Tensor>();
  const logits = new Float32Array(B * model.numClasses);
  let loss = 0;
  for (let start = 0; start < B; start += micro) {
    const n = Math.min(micro, B - start);
    const ctx = live.trainCtx(dropKeys, share.first + start);
    const part = await addGrads(live, grads, () => {
      const xb = tf.tensor4d(x.subarray(start * per, (start + n) * per), [n, model.inChans, H, W]);
      const l = model.forward(ctx, xb as unknown as Tensor).logits as unknown as tf.Tensor2D; // (n, K)
      const mean = smoothedCrossEntropy(l, y.subarray(start, start + n), smoothing);
      return { loss: tf.mul(mean, n / share.total) as tf.Scalar, logits: l };
    });
    loss += part.loss;
    logits.set(part.logits, start * model.numClasses);
  }
  return { loss, logits, grads };
}

/**
 * The step every training loop shares: the gradient of `f`'s loss with respect to the live parameters, added
 * by path into `grads` (parameters off the graph get none). Returns the loss and `f`'s logits as data.
 */
export async function addGrads(
  live: LiveWeights,
  grads: Map<string, tf.Tensor>,
  f: () => { loss: tf.Scalar; logits: tf.Tensor },
): Promise<{ loss: number; logits: Float32Array }> {
  const byName = new Map(live.params.map((p) => [p.variable.name, p.path]));
  let out: tf.Tensor | undefined;
  const { value, grads: g } = tf.variableGrads(
    () => {
      const r = f();
      out = tf.keep(r.logits);
      return r.loss;
    },
    live.params.map((p) => p.variable),
  );
  const loss = (await value.data())[0];
  const logits = (await out!.data()) as Float32Array;
  for (const [name, t] of Object.entries(g)) {
    const path = byName.get(name)!;
    const prev = grads.get(path);
    grads.set(path, prev ? tf.add(prev, t) : t);
    if (prev) tf.dispose([prev, t]);
  }
  tf.dispose([value, out!]);
  return { loss, logits };
}
