/**
 * Training and evaluation, as the CLI and applications use them. The trainer and tfjs load on the first call,
 * so that importing this module (and the package root) costs nothing.
 */
import type { EvalCheckpointOptions } from '../train/eval_checkpoint.js';
import type { TrainHooks, TrainOptions, TrainResult } from '../train/trainer.js';

export { TRAIN_DEFAULTS } from '../train/defaults.js';
export { ProgressBar } from '../train/progress.js';
export { DATASETS } from '../data/open.js';
export type { EvalCheckpointOptions, TrainHooks, TrainOptions, TrainResult };

/** Train (or, with `resume`, continue) a registry model; see `flatten train --help` for every option. */
export async function train(options: TrainOptions, resume = false, hooks: TrainHooks = {}): Promise<TrainResult> {
  return (await import('../train/trainer.js')).train(options, resume, hooks);
}

/** Top-1, top-5 and loss of a checkpoint on a dataset split. */
export async function evalCheckpoint(o: EvalCheckpointOptions) {
  return (await import('../train/eval_checkpoint.js')).evalCheckpoint(o);
}
