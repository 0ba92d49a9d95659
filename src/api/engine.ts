import { FlattenError } from '../core/errors.js';
import { importWith, TFJS_PACKAGES } from '../core/optional.js';
import type { TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import type { ModelDType } from '../engines/onnx/quantize/dtype.js';

/** Runs a pure forward `fn` on bound weights and inputs, returning the named outputs as data. */
export type EngineRunner = <K extends string>(
  weights: Map<string, TensorData>,
  inputs: TensorData[],
  fn: (ctx: Ctx, ...xs: Tensor[]) => Record<K, Tensor>,
  opts?: RunOptions,
) => Promise<Record<K, TensorData>>;

export interface RunOptions {
  /** The onnx engine: weights of the traced graph in this dtype (default fp32; the tfjs engine has fp32 only). */
  dtype?: ModelDType;
}

/** The engines, each loaded on first use (tfjs and onnxruntime cost ~0.3 s each to import). */
const LOADERS: Record<string, () => Promise<EngineRunner>> = {
  tfjs: async () =>
    (await importWith(() => import('../engines/tfjs/run.js'), 'the tfjs engine', TFJS_PACKAGES)).runTfjs,
  onnx: async () => (await import('../engines/onnx/run.js')).runOnnx,
};

export type EngineName = 'tfjs' | 'onnx';
export const ENGINE_NAMES = Object.keys(LOADERS) as EngineName[];

/** Checks an engine name at once (a typo is reported before any file is read); the engine loads on first run. */
export function engineRunner(name: string, opts: RunOptions = {}): EngineRunner {
  const load = LOADERS[name];
  if (!load) throw new FlattenError('BAD_ARGUMENT', `unknown engine '${name}'; available: ${ENGINE_NAMES.join(', ')}`);
  return async (weights, inputs, fn) => (await load())(weights, inputs, fn, opts);
}
