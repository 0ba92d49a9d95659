/** Training and evaluation, as the CLI and applications use them. */
export { train, TRAIN_DEFAULTS, type TrainOptions } from '../train/trainer.js';
export { evalCheckpoint, type EvalCheckpointOptions } from '../train/eval_checkpoint.js';
export { ProgressBar } from '../train/progress.js';
export { DATASETS } from '../data/open.js';
