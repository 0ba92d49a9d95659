/**
 * flatten-transformer: FLatten Transformer (focused linear attention) vision models in TypeScript.
 * Importing this module loads no engine: TensorFlow.js, ONNX Runtime and sharp load on first use.
 * Subpaths: `flatten-transformer/nn` (build and export your own modules), `/io` (readers and writers),
 * `/onnx` and `/tfjs` (the engines themselves).
 */
export { FlattenError, type ErrorCode } from './core/errors.js';
export type { DType, StateDict, TensorData } from './core/tensor.js';

export { createModel, type CreateModelOptions, type LoadedModel } from './api/model.js';
export { describeModels, listModels, type ModelSummary } from './api/registry.js';
export { modelInfo, type FeatureInfo, type ModelInfo, type StageInfo } from './api/info.js';
export {
  extractFeatures,
  forwardIntermediates,
  type Intermediates,
  type IntermediatesOptions,
} from './api/features.js';
export type { ModelSpec } from './models/build.js';
export type { Preprocess } from './models/registry.js';

export {
  pipeline,
  type Classification,
  type ImageClassificationPipeline,
  type ImageFeatureExtractionPipeline,
  type PipelineOptions,
  type PipelineTask,
} from './api/pipeline.js';
export type { ImageInput } from './api/classify.js';
export type { RawImage } from './io/image.js';
export type { EngineName } from './api/engine.js';

export {
  EXPORT_TARGETS,
  exportOnnx,
  loadOnnx,
  runExported,
  type ExportSpec,
  type ExportTarget,
  type OnnxExport,
} from './api/export.js';
export { convertCheckpoint, type ConvertSpec, type ConvertSummary } from './api/convert.js';
export { MODEL_DTYPES, type ModelDType } from './api/dtype.js';
export {
  exportModelFolder,
  readModelFolder,
  type FolderConfig,
  type FolderExportSpec,
  type FolderSummary,
  type ModelFolder,
} from './api/folder.js';

export {
  attentionMaps,
  rankReport,
  type AttentionMapOptions,
  type BlockFocus,
  type RankOptions,
  type RankReport,
  type RankRow,
} from './api/analysis.js';
export { captureFocused, type FocusedCapture } from './analysis/capture.js';
export { attentionWeights, FORMS, meanRowEntropy, type AttentionForm } from './analysis/attention_maps.js';
export { blockRanks } from './analysis/rank.js';
export { matrixRank } from './analysis/linalg.js';

export { evalCheckpoint, train, type EvalCheckpointOptions, type TrainOptions } from './api/train.js';
export { webTrainSpec, type WebTrainSpec } from './train/web_step.js';
