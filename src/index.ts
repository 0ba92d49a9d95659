/** flatten-transformer: the public API. */
export { FlattenError, type ErrorCode } from './core/errors.js';
export type { TensorData, StateDict, DType } from './core/tensor.js';

export type { Ops, Tensor, Conv2dOptions } from './ops/ops.js';
export { TfjsOps } from './engines/tfjs/ops.js';
export { initTfjs } from './engines/tfjs/backend.js';
export { runTfjs } from './engines/tfjs/run.js';
export { MetaOps } from './engines/meta/ops.js';

export { ParamTable, Module, type ParamSpec } from './nn/module.js';
export { makeCtx, type Ctx } from './ops/ctx.js';
export { initWeights } from './nn/init.js';
export { bindStateDict } from './nn/state.js';

export { buildModel, buildNamed, type ModelSpec } from './models/build.js';
export { REGISTRY, registryEntry, type RegistryEntry, type Preprocess } from './models/registry.js';
export type { VisionModel, ModelOutput, Family } from './models/model.js';

export {
  readPth,
  findStateDict,
  readNpy,
  writeNpy,
  readNpyFile,
  writeNpyFile,
  readSafetensors,
  writeSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
} from './io/index.js';
export { prepareImage, toBatch } from './io/image.js';

export { readStateDict, loadWeights } from './nn/checkpoint.js';
export { runCase, type CaseConfig, type ForwardResult } from './api/forward.js';
export { modelInfo, type ModelInfo } from './api/info.js';
export { loadModel, loadModelFromConfig, type LoadedModel } from './api/model.js';
export { classify, type Prediction } from './api/classify.js';
export { ENGINES, engineRunner } from './api/engine.js';

export { captureFocused, type FocusedCapture } from './analysis/capture.js';
export { attentionWeights, meanRowEntropy, FORMS, type AttentionForm } from './analysis/attention_maps.js';
export { blockRanks, type RankRow } from './analysis/rank.js';
export { matrixRank } from './analysis/linalg.js';
export { exportOnnx, loadOnnx, runExported, type ExportSpec, type OnnxExport } from './api/export.js';
