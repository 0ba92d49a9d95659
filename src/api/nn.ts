/**
 * `flatten-transformer/nn`: the pieces to build your own modules over the engine-neutral `Ops` (the same ones the
 * FLatten models are made of, `FocusedLinearAttention` among them), run them on either engine, train them
 * (`trainModule`) and export them to ONNX.
 *
 *   class Net extends Module { ... forward(ctx: Ctx, x: Tensor): Tensor { ... } }
 *   const table = new ParamTable();
 *   const net = new Net(table, '');
 *   const weights = initWeights(table, 0);
 *   const { y } = await runModule({ weights, inputs: [x], forward: (ctx, t) => ({ y: net.forward(ctx, t) }) });
 */
import type { TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { traceOnnx } from '../engines/onnx/trace.js';
import { importWith, TFJS_PACKAGES } from '../core/optional.js';
import type { TrainModuleOptions, TrainModuleResult } from '../train/module.js';
import { engineRunner, type EngineName } from './engine.js';

export { Module, ParamTable, type Init, type ParamSpec } from '../nn/module.js';
export { Conv2d, dropPath, LayerNorm, Linear, Mlp, type Conv2dArgs } from '../nn/layers.js';
export { initWeights } from '../nn/init.js';
export { loadWeights, readStateDict, type LoadOptions } from '../nn/checkpoint.js';
export { bindStateDict, type BindOptions, type BindReport } from '../nn/state.js';
export { makeCtx, type Ctx } from '../ops/ctx.js';
export {
  FocusedLinearAttention,
  type AttentionContext,
  type FocusedLinearAttentionOptions,
} from '../attention/focused_linear_attention.js';
export type { Conv2dOptions, Ops, Tensor } from '../ops/ops.js';
export type { ModuleBatch, ModuleStep, TrainModuleOptions, TrainModuleResult } from '../train/module.js';
export { ProgressBar } from '../train/progress.js';

/** A forward over bound parameters: the inputs in, named outputs out. */
export type Forward<K extends string> = (ctx: Ctx, ...inputs: Tensor[]) => Record<K, Tensor>;

export interface RunModuleOptions<K extends string> {
  /** Parameter path → value (`initWeights`, `loadWeights`). */
  weights: Map<string, TensorData>;
  inputs: TensorData[];
  forward: Forward<K>;
  /** 'tfjs' (default: eager, the training engine) or 'onnx' (traced at these shapes and run on ONNX Runtime). */
  engine?: EngineName;
}

/** Runs a forward once on an engine and returns its outputs as data. */
export function runModule<K extends string>(o: RunModuleOptions<K>): Promise<Record<K, TensorData>> {
  return engineRunner(o.engine ?? 'tfjs')(o.weights, o.inputs, o.forward);
}

export interface ExportModuleOptions<K extends string> {
  weights: Map<string, TensorData>;
  /** Graph inputs: names and traced shapes; axis 0 stays symbolic (`batch`) unless `fixedBatch`. */
  inputs: { name: string; shape: number[] }[];
  forward: Forward<K>;
  fixedBatch?: boolean;
  /** Recorded as the model's metadata_props. */
  metadata?: Record<string, string>;
}

/** Records a forward as a self-contained ONNX model (opset 17; weights as initializers under their paths). */
export function exportModule<K extends string>(o: ExportModuleOptions<K>): Uint8Array {
  const inputs = o.inputs.map((i) => ({ ...i, batchAxis: 0 }));
  return traceOnnx(o.weights, inputs, o.forward, { dynamic: !o.fixedBatch, metadata: o.metadata }).bytes;
}

/**
 * Trains a module of your own on tfjs in this process (AdamW, warmup + cosine, label-smoothed cross-entropy,
 * gradient clipping: `flatten train`'s pieces and defaults) and returns the trained weights and each step's
 * loss. tfjs loads on the first call.
 */
export async function trainModule(o: TrainModuleOptions): Promise<TrainModuleResult> {
  return (await importWith(() => import('../train/module.js'), 'trainModule', TFJS_PACKAGES)).trainModule(o);
}
