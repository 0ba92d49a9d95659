import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { FlattenError, systemReason } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { readFileBytes, writeFileAtomic } from '../io/files.js';
import { readJsonFile } from '../io/json.js';
import type { ModelSpec } from '../models/build.js';
import { stageMap, type VisionModel } from '../models/model.js';
import { findRegistryEntry, IMAGENET_EVAL, type Preprocess } from '../models/registry.js';
import { OPSET } from '../engines/onnx/graph.js';
import { nodeOpTypes, opHistogram } from '../engines/onnx/inspect.js';
import type { OnnxSession, SessionOptions } from '../engines/onnx/session.js';
import { traceOnnx } from '../engines/onnx/trace.js';
import type { ModelProto } from '../engines/onnx/proto.js';
import { applyDType, checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { loadWeights } from '../nn/checkpoint.js';
import { createModel } from './model.js';
import { buildAtSize } from './size.js';

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
}

export { MODEL_DTYPES, type ModelDType } from '../engines/onnx/quantize/dtype.js';

export interface OnnxExport {
  bytes: Uint8Array;
  model: VisionModel;
  /** The graph as written (nodes, initializers, inputs and outputs). */
  proto: ModelProto;
  /** Shape of every node output, `batch` on the dynamic axis. */
  shapes: Map<string, (number | string)[]>;
}

/** onnxruntime-node loads on first use, so that importing the library does not pay for it. */
const onnxSession = async () => (await import('../engines/onnx/session.js')).OnnxSession;

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
export function exportOnnx(spec: ExportSpec): OnnxExport {
  const dtype = checkDType(spec.dtype ?? 'fp32');
  const model = spec.model ?? exportedModel(spec);
  const weights = loadWeights(model.table, spec.checkpoint, { strict: spec.strict, seed: spec.seed });
  const [h, w] = model.imgSize;
  const metadata: Record<string, string> = {
    'flatten.name': spec.name,
    'flatten.family': model.family,
    'flatten.img_size': h === w ? String(h) : `${h},${w}`,
    'flatten.num_classes': String(model.numClasses),
    'flatten.weights':
      spec.source ??
      (typeof spec.checkpoint === 'string'
        ? basename(spec.checkpoint)
        : spec.checkpoint
          ? 'state_dict'
          : `random (seed ${spec.seed ?? 0})`),
    'flatten.dtype': dtype,
  };
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
    },
  );
  return { bytes, model, proto, shapes };
}

/**
 * Open an `.onnx` file (ours or anyone's) on onnxruntime-node; unreadable or non-ONNX files are BAD_FILE.
 * ORT reads the file itself, so the process holds no second copy of the weights.
 */
export async function loadOnnx(path: string, opts: SessionOptions = {}): Promise<OnnxSession> {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw new FlattenError('BAD_FILE', `${path}: cannot read file (${systemReason(e)})`);
  }
  return (await onnxSession()).create(path, path, opts);
}

/** Node op types after onnxruntime's own optimization (level 'all'), read back from the graph it writes. */
export async function ortOptimizedOps(bytes: Uint8Array, opts: SessionOptions = {}): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'flatten-ort-'));
  const file = join(dir, 'optimized.onnx');
  try {
    const s = await (await onnxSession()).create(bytes, 'exported graph', { ...opts, optimizedModelPath: file });
    await s.release();
    return nodeOpTypes(readFileBytes(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run an exported image model on a batch: (B, C, R, R) → logits and features (`reuseOutputs`: see OnnxSession.run). */
export async function runExported(
  session: OnnxSession,
  images: TensorData,
  opts: { reuseOutputs?: boolean } = {},
): Promise<{ logits: TensorData; features?: TensorData }> {
  if (!session.inputs.some((i) => i.name === MODEL_INPUT)) {
    throw new FlattenError(
      'BAD_FILE',
      `${session.source}: has no input named '${MODEL_INPUT}' (inputs: ${session.inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const out = await session.run({ [MODEL_INPUT]: images }, opts);
  if (!out.logits) throw new FlattenError('BAD_FILE', `${session.source}: has no output named 'logits'`);
  return { logits: out.logits, features: out.pooler_output };
}

export interface ExportFileSpec extends Omit<ExportSpec, 'config'> {
  /** A golden-format model `config.json` to build instead of the registry entry. */
  config?: string;
  output: string;
  /** Load the result in onnxruntime and count the nodes it keeps after its own optimisation (default true). */
  check?: boolean;
}

export interface ExportSummary {
  output: string;
  bytes: number;
  model: VisionModel;
  /** Where the weights came from ('random' for random weights). */
  weights: string;
  opset: number;
  /** Node count per op type as written, and after onnxruntime's optimisation when checked. */
  written: Record<string, number>;
  optimized?: Record<string, number>;
  optimizationLevel: string;
  initializers: number;
}

/** `flatten export`: write the model's `.onnx` file and say what is in it. */
export async function exportOnnxFile(spec: ExportFileSpec): Promise<ExportSummary> {
  let config: ModelSpec | undefined;
  if (spec.config) {
    config = readJsonFile<ModelSpec>(spec.config);
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw new FlattenError('BAD_CONFIG', `${spec.config}: expected a JSON object`);
  }
  // the weights a registry name ships with (flatten_deit_fmnist) are used as createModel uses them
  const m = createModel(config ?? spec.name, {
    checkpoint: spec.checkpoint,
    imgSize: spec.imgSize,
    strict: spec.strict,
    seed: spec.seed,
  });
  const source = m.source === 'random' ? undefined : basename(m.source);
  const r = exportOnnx({ ...spec, config, model: m.model, checkpoint: m.weights, preprocess: m.preprocess, source });
  writeFileAtomic(spec.output, r.bytes);
  const optimized = spec.check === false ? undefined : opHistogram(await ortOptimizedOps(r.bytes, { threads: 1 }));
  return {
    output: spec.output,
    bytes: r.bytes.length,
    model: r.model,
    weights: m.source,
    opset: OPSET,
    written: opHistogram(r.proto.nodes.map((n) => n.op)),
    optimized,
    optimizationLevel: (await import('../engines/onnx/session.js')).GRAPH_OPTIMIZATION_LEVEL,
    initializers: r.proto.initializers.length,
  };
}
