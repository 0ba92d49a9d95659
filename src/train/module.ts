import * as tf from '@tensorflow/tfjs';
import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { initTfjs } from '../engines/tfjs/backend.js';
import type { ParamTable } from '../nn/module.js';
import { initWeights } from '../nn/init.js';
import type { Ctx } from '../ops/ctx.js';
import type { Tensor } from '../ops/ops.js';
import { TRAIN_DEFAULTS } from './defaults.js';
import { smoothedCrossEntropy, topkHits } from './loss.js';
import { AdamW, applyStep } from './optim.js';
import { LiveWeights } from './params.js';
import type { ProgressBar } from './progress.js';
import { cosineLr } from './schedule.js';
import { addGrads } from './step.js';

/** One batch for {@link trainModule}: the forward's inputs and a class label per row. */
export interface ModuleBatch {
  /** e.g. [images (B, C, H, W)] or [images, context]; all share the batch axis B. */
  inputs: TensorData[];
  /** (B) class indices into the forward's logits. */
  labels: Int32Array;
}

/** Options of {@link trainModule}; the optimizer's defaults are `flatten train`'s. */
export interface TrainModuleOptions {
  /** The module's parameter table (every trainable parameter in it is trained). */
  table: ParamTable;
  /** Starting weights by path (default: `initWeights(table, seed)`). */
  weights?: Map<string, TensorData>;
  /** Logits (B, K) of a batch's inputs. Drop path is on (`ctx.training`), keyed by (seed, step). */
  forward: (ctx: Ctx, ...inputs: Tensor[]) => Tensor;
  /** A list of batches, cycled in order, or the batch of each step (0-based). */
  data: ModuleBatch[] | ((step: number) => ModuleBatch);
  /** Optimizer steps; default `epochs` passes over a list. */
  steps?: number;
  /** Passes over a list of batches (default 1), when `steps` is not given. */
  epochs?: number;
  /** Peak learning rate of the warmup + cosine schedule (default 1e-3). */
  lr?: number;
  /** Learning rate at the end of the cosine (default 1e-5). */
  minLr?: number;
  /** Linear warmup steps (default 0: a few-step run has no room for one). */
  warmupSteps?: number;
  /** AdamW's decoupled weight decay, off on biases, norms and position tables (default 0.05). */
  weightDecay?: number;
  /** Cross-entropy label smoothing ε (default 0.1). */
  labelSmoothing?: number;
  /** Global gradient-norm clip; 0 turns it off (default 5). */
  clipGrad?: number;
  /** Seeds the default weights and drop path (default 0). */
  seed?: number;
  /** Progress on stderr, as `flatten train` prints it. */
  progress?: ProgressBar;
}

/** What one step did. */
export interface ModuleStep {
  step: number;
  lr: number;
  /** The batch's mean (smoothed) cross-entropy before the update. */
  loss: number;
  /** Top-1 accuracy on the batch before the update. */
  top1: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export interface TrainModuleResult {
  /** The trained weights and buffers by path, in the table's order (for `runModule`, `exportModule`, a file). */
  weights: StateDict;
  history: ModuleStep[];
}

/**
 * Trains a module of your own on tfjs, in this process, with the trainer's pieces: AdamW (torch's), the
 * warmup + cosine schedule, label-smoothed cross-entropy, gradient-norm clipping and the progress line.
 * No checkpoints or evaluation: the caller owns its data and decides what to keep.
 */
export async function trainModule(o: TrainModuleOptions): Promise<TrainModuleResult> {
  const d = { ...TRAIN_DEFAULTS, warmupSteps: 0, ...o };
  const list = Array.isArray(o.data) ? o.data : undefined;
  if (list?.length === 0) throw new FlattenError('BAD_ARGUMENT', 'trainModule: data holds no batch');
  if (!list && o.steps === undefined)
    throw new FlattenError('BAD_ARGUMENT', 'trainModule: steps is required when data is a function');
  const steps = o.steps ?? list!.length * (o.epochs ?? 1);
  if (!Number.isInteger(steps) || steps < 1)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `trainModule: ${o.steps === undefined ? 'epochs' : 'steps'} must be a positive integer`,
    );
  const batchAt = (step: number) => (list ? list[step % list.length] : (o.data as (s: number) => ModuleBatch)(step));
  await initTfjs();
  const live = new LiveWeights(o.table, o.weights ?? initWeights(o.table, d.seed));
  const opt = new AdamW(live.params, { lr: d.lr, weightDecay: d.weightDecay, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const history: ModuleStep[] = [];
  const started = performance.now();
  let seen = 0;
  try {
    for (let step = 0; step < steps; step++) {
      const { inputs, labels } = batchAt(step);
      const lr = cosineLr(step, steps, d.warmupSteps, d.lr, d.minLr);
      const ctx = live.trainCtx([d.seed, step]);
      const grads = new Map<string, tf.Tensor>();
      const { loss, logits } = await addGrads(live, grads, () => {
        const l = o.forward(ctx, ...inputs.map((t) => live.ops.constant(t))) as unknown as tf.Tensor2D; // (B, K)
        if (l.rank !== 2 || l.shape[0] !== labels.length)
          throw new FlattenError(
            'BAD_SHAPE',
            `trainModule: the forward gave logits of shape ${l.shape.join('×')}, not (${labels.length}, K) for the batch's ${labels.length} labels`,
          );
        return { loss: smoothedCrossEntropy(l, labels, d.labelSmoothing), logits: l };
      });
      if (!Number.isFinite(loss)) {
        tf.dispose([...grads.values()]);
        throw new FlattenError(
          'BAD_ARGUMENT',
          `trainModule: loss became ${loss} at step ${step} (try a lower lr or clipGrad)`,
        );
      }
      const gradNorm = applyStep(opt, grads, lr, d.clipGrad);
      const top1 = topkHits(logits, logits.length / labels.length, labels).top1 / labels.length;
      history.push({ step, lr, loss, top1, gradNorm });
      seen += labels.length;
      const ips = seen / ((performance.now() - started) / 1000);
      const perEpoch = list?.length ?? steps;
      o.progress?.update({
        epoch: Math.floor(step / perEpoch) + 1,
        epochs: Math.ceil(steps / perEpoch),
        step: (step % perEpoch) + 1,
        steps: perEpoch,
        loss,
        acc: top1,
        lr,
        imagesPerSec: ips,
        etaSec: ((steps - step - 1) * labels.length) / ips,
      });
    }
    return { weights: await live.stateDict(), history };
  } finally {
    opt.dispose();
    live.dispose();
  }
}
