/**
 * The exported graph itself, Node-free: the browser entry (src/web) builds registry models in the tab with it.
 * export.ts adds the files (checkpoints by path, writing, onnxruntime-node's checks).
 */
import { checkChoice, FlattenError } from '../core/errors.js';
import type { StateDict } from '../core/tensor.js';
import type { ModelSpec } from '../models/build.js';
import { stageMap, type VisionModel } from '../models/model.js';
import { findRegistryEntry, IMAGENET_EVAL, type Preprocess } from '../models/registry.js';
import { OPSET } from '../engines/onnx/graph.js';
import type { OnnxOpsOptions } from '../engines/onnx/ops.js';
import { traceOnnx } from '../engines/onnx/trace.js';
import type { ModelProto } from '../engines/onnx/proto.js';
import { applyDType, checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { bindWeights } from '../nn/weights.js';
import { buildAtSize } from './size.js';

/** The last part of a path, '/' or '\\' separated (what the metadata records of a checkpoint's path). */
export const baseName = (path: string): string =>
  path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);

const noFiles = (path: string): StateDict => {
  throw new FlattenError('BAD_ARGUMENT', `${path}: checkpoints by path need Node (pass the state_dict or its bytes)`);
};

export interface ExportSpec {
  /** A registry name (`flatten_swin_t`), or with `config` just the name given to the exported model. */
  name: string;
  /** A model description in the golden `config.json` format, instead of the registry entry. */
  config?: ModelSpec;
  /** `.pth` / `.safetensors` path or a state_dict; deterministic random weights when omitted. */
  checkpoint?: string | StateDict;
  /** Input size in pixels, a side or [H, W], baked into the graph (default: the model's own). */
  imgSize?: number | [number, number];
  seed?: number;
  strict?: boolean;
  /** An already built model (e.g. from `createModel`) to export instead of building one from `name`/`config`. */
  model?: VisionModel;
  /** What the weights are called in the file's metadata when `checkpoint` is not a path. */
  source?: string;
  /** Also output every stage's NCHW feature map, as `stage0`, `stage1`, … */
  stages?: boolean;
  /** Eval transform recorded in the file (default: the registry entry's, else ImageNet's at the model's size). */
  preprocess?: Preprocess;
  /** Weights as fp32 (default), fp16 (stored, computed in fp32), q8 (dynamic int8 Linears) or q4 (4-bit Linears). */
  dtype?: ModelDType;
  /**
   * The runtime the graph is written for: 'node' (default) or 'web', onnxruntime-web's wasm build, whose scalar
   * LayerNormalization kernel a web graph replaces by elementwise ops where a LayerNorm has ≥ 8192 elements a sample
   * (the same values within float rounding; docs/browser_speed.md). Both graphs run on both runtimes.
   */
  target?: ExportTarget;
}

export type ExportTarget = NonNullable<OnnxOpsOptions['target']>;
export const EXPORT_TARGETS: readonly ExportTarget[] = ['node', 'web'];

/** The target named, or BAD_ARGUMENT naming the valid ones. */
export function checkExportTarget(target: string): ExportTarget {
  return checkChoice(target, EXPORT_TARGETS, 'export target');
}

export interface OnnxExport {
  bytes: Uint8Array;
  model: VisionModel;
  /** The graph as written (nodes, initializers, inputs and outputs). */
  proto: ModelProto;
  /** Shape of every node output, `batch` on the dynamic axis. */
  shapes: Map<string, (number | string)[]>;
}

/** The graph's input: images (batch, C, R, R), named as in transformers.js' image models. */
export const MODEL_INPUT = 'pixel_values';
/** Output names, as transformers.js expects them: logits (B, classes) and the pooled features (B, C). */
export const MODEL_OUTPUTS = ['logits', 'pooler_output'] as const;

/** Build the model an export describes (registry entry or config, at the requested resolution). */
export function exportedModel(spec: ExportSpec): VisionModel {
  return buildAtSize(spec.config ?? spec.name, { imgSize: spec.imgSize }).model;
}

/**
 * A whole classifier as one ONNX graph (opset 17) with a dynamic batch and the resolution baked in.
 * Weights are initializers under their state_dict keys (Linear weights stored transposed, (in, out));
 * metadata records the model, its config and its eval preprocessing.
 */
export function exportGraph(spec: ExportSpec, readCheckpoint: (path: string) => StateDict = noFiles): OnnxExport {
  const dtype = checkDType(spec.dtype ?? 'fp32');
  const target = checkExportTarget(spec.target ?? 'node');
  const model = spec.model ?? exportedModel(spec);
  const path = typeof spec.checkpoint === 'string' ? spec.checkpoint : undefined;
  const weights = bindWeights(model.table, path !== undefined ? readCheckpoint(path) : (spec.checkpoint as StateDict), {
    strict: spec.strict,
    seed: spec.seed,
    source: path,
  });
  const [h, w] = model.imgSize;
  const metadata: Record<string, string> = {
    'flatten.name': spec.name,
    'flatten.family': model.family,
    'flatten.img_size': h === w ? String(h) : `${h},${w}`,
    'flatten.num_classes': String(model.numClasses),
    'flatten.weights':
      spec.source ??
      (path !== undefined ? baseName(path) : spec.checkpoint ? 'state_dict' : `random (seed ${spec.seed ?? 0})`),
    'flatten.dtype': dtype,
  };
  if (target !== 'node') metadata['flatten.target'] = target;
  if (spec.config) metadata['flatten.config'] = JSON.stringify(spec.config);
  const entry = spec.config ? undefined : findRegistryEntry(spec.name);
  const preprocess = spec.preprocess ?? entry?.preprocess ?? { ...IMAGENET_EVAL, crop: true };
  // eval crops are square: a file for H×W images records none (its pipeline names the missing transform)
  if (h === w) metadata['flatten.preprocess'] = JSON.stringify({ ...preprocess, imgSize: h });
  const {
    bytes,
    model: proto,
    shapes,
  } = traceOnnx(
    weights,
    [{ name: MODEL_INPUT, shape: [1, model.inChans, h, w], batchAxis: 0 }],
    (ctx, x) => {
      const { logits, features, stages } = model.forward(ctx, x);
      const maps = spec.stages ? stages.map((st, i) => [`stage${i}`, stageMap(ctx, st)] as const) : [];
      return { logits, pooler_output: features, ...Object.fromEntries(maps) };
    },
    {
      dynamic: true,
      name: spec.name,
      doc: `FLatten Transformer ${spec.name} (${model.family}) at ${h}×${w}, opset ${OPSET}`,
      metadata,
      transform: (m) => applyDType(m, dtype),
      target,
    },
  );
  return { bytes, model, proto, shapes };
}
