/**
 * Training and evaluation, as the CLI and applications use them. The trainer and tfjs load on the first call,
 * so that importing this module (and the package root) costs nothing.
 */
import { FlattenError } from '../core/errors.js';
import { importWith, TFJS_PACKAGES } from '../core/optional.js';
import type { EvalCheckpointOptions } from '../train/eval_checkpoint.js';
import { shippedWeights } from './model.js';
import type { TrainHooks, TrainOptions, TrainResult } from '../train/trainer.js';

export { TRAIN_DEFAULTS } from '../train/defaults.js';
export { ProgressBar } from '../train/progress.js';
export { DATASETS } from '../data/open.js';
export type { EvalCheckpointOptions, TrainHooks, TrainOptions, TrainResult };

/** Train (or, with `resume`, continue) a registry model; see `flatten train --help` for every option. */
export async function train(options: TrainOptions, resume = false, hooks: TrainHooks = {}): Promise<TrainResult> {
  return (await importWith(() => import('../train/trainer.js'), 'training', TFJS_PACKAGES)).train(
    options,
    resume,
    hooks,
  );
}

export type EvalOptions = Omit<EvalCheckpointOptions, 'checkpoint'> & {
  /** Default: the weights shipped for the model (flatten_deit_fmnist). */
  checkpoint?: string;
};

/** Top-1, top-5 and loss of a checkpoint on a dataset split. */
export async function evalCheckpoint(o: EvalOptions) {
  const checkpoint = o.checkpoint ?? shippedWeights(o.model);
  if (!checkpoint)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `${o.model} ships no weights: pass --checkpoint (a .pth or .safetensors file)`,
    );
  const { evalCheckpoint } = await importWith(
    () => import('../train/eval_checkpoint.js'),
    'flatten eval',
    TFJS_PACKAGES,
  );
  return evalCheckpoint({ ...o, checkpoint });
}
