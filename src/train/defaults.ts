import type { TrainOptions } from './trainer.js';

/** `flatten train`'s defaults, in a module of their own so that the CLI can show them without loading tfjs. */
export const TRAIN_DEFAULTS = {
  epochs: 10,
  batchSize: 128,
  lr: 1e-3,
  minLr: 1e-5,
  warmupEpochs: 1,
  weightDecay: 0.05,
  labelSmoothing: 0.1,
  clipGrad: 5,
  seed: 0,
  evalEvery: 1,
  evalBatchSize: 500,
  // ONNX Runtime trains every family faster than tfjs on this project's bench (bench/train_engines.ts; the
  // table is in bench/RESULTS.md, "Training engine per family"); tfjs stays the reference and the browser engine
  engine: 'onnx' as 'tfjs' | 'onnx',
} satisfies Partial<TrainOptions>;
