/**
 * Training and evaluation, as the CLI and applications use them. The trainer and tfjs load on the first call,
 * so that importing this module (and the package root) costs nothing.
 */
import { FlattenError } from '../core/errors.js';
import { importWith, TFJS_PACKAGES } from '../core/optional.js';
import type { EvalCheckpointOptions } from '../train/eval_checkpoint.js';
import type { BatchClassifier } from '../train/eval_logits.js';
import type { StateDict } from '../core/tensor.js';
import type { VisionModel } from '../models/model.js';
import { checkDType } from '../engines/onnx/quantize/dtype.js';
import { exportOnnx, runExported, type ModelDType } from './export.js';
import { shippedWeights } from './model.js';
import type { TrainHooks, TrainOptions, TrainResult } from '../train/trainer.js';

export { TRAIN_DEFAULTS } from '../train/defaults.js';
export { ProgressBar } from '../train/progress.js';
export { DATASETS } from '../data/open.js';
export type { EvalCheckpointOptions, TrainHooks, TrainOptions, TrainResult };

/**
 * Train (or, with `resume`, continue) a registry model, on ONNX Runtime unless `engine: 'tfjs'` (TRAIN_DEFAULTS.engine,
 * chosen by bench/train_engines.ts); see `flatten train --help` for every option.
 */
export async function train(options: TrainOptions, resume = false, hooks: TrainHooks = {}): Promise<TrainResult> {
  return (await importWith(() => import('../train/trainer.js'), 'training', TFJS_PACKAGES)).train(
    options,
    resume,
    hooks,
  );
}

export type EvalOptions = Omit<EvalCheckpointOptions, 'checkpoint' | 'classifier'> & {
  /** Default: the weights shipped for the model (flatten_deit_fmnist). */
  checkpoint?: string;
  /** `onnx`: the model exported once in `dtype` and run by one onnxruntime-node session (default tfjs). */
  engine?: 'tfjs' | 'onnx';
  /** With the onnx engine: the exported weights' type (default fp32). */
  dtype?: ModelDType;
  /** With the onnx engine: intra-op threads (default FLATTEN_THREADS, else every core). */
  threads?: number;
};

/** The classifier `flatten eval --engine onnx` runs: exportOnnx in the dtype, then batches through one session. */
function onnxClassifier(name: string, dtype: ModelDType, threads?: number) {
  return async (model: VisionModel, weights: StateDict): Promise<BatchClassifier> => {
    const { bytes } = exportOnnx({ name, model, checkpoint: weights, dtype, source: 'state_dict' });
    const { OnnxSession } = await import('../engines/onnx/session.js');
    const session = await OnnxSession.create(bytes, `${name} (${dtype})`, { threads });
    return {
      logits: async (x) => (await runExported(session, x)).logits.data as Float32Array,
      release: () => session.release(),
    };
  };
}

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
  const engine = o.engine ?? 'tfjs';
  if (engine !== 'tfjs' && engine !== 'onnx')
    throw new FlattenError('BAD_ARGUMENT', `unknown engine '${String(engine)}'; available: tfjs, onnx`);
  const dtype = checkDType(o.dtype ?? 'fp32');
  if (engine === 'tfjs' && dtype !== 'fp32')
    throw new FlattenError('BAD_ARGUMENT', `dtype '${dtype}' needs the onnx engine (the tfjs engine computes in fp32)`);
  const classifier = engine === 'onnx' ? onnxClassifier(o.model, dtype, o.threads) : undefined;
  return evalCheckpoint({ ...o, checkpoint, classifier });
}
