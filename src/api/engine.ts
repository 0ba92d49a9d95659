import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { runTfjs } from '../engines/tfjs/run.js';
import { runOnnx } from '../engines/onnx/run.js';

/** Runs a pure forward `fn` on bound weights and inputs, returning the named outputs as data. */
export type EngineRunner = <K extends string>(
  weights: Map<string, TensorData>,
  inputs: TensorData[],
  fn: (ctx: Ctx, ...xs: Tensor[]) => Record<K, Tensor>,
) => Promise<Record<K, TensorData>>;

export const ENGINES: Record<string, EngineRunner> = {
  tfjs: runTfjs,
  onnx: runOnnx,
};

export function engineRunner(name: string): EngineRunner {
  const e = ENGINES[name];
  if (!e)
    throw new FlattenError('BAD_ARGUMENT', `unknown engine '${name}'; available: ${Object.keys(ENGINES).join(', ')}`);
  return e;
}
