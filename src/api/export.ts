import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { FlattenError, systemReason } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import { readFileBytes, writeFileAtomic } from '../io/files.js';
import { readJsonFile } from '../io/json.js';
import type { ModelSpec } from '../models/build.js';
import type { VisionModel } from '../models/model.js';
import { OPSET } from '../engines/onnx/graph.js';
import { nodeOpTypes, opHistogram } from '../engines/onnx/inspect.js';
import { OPTIMIZED_KEY } from '../engines/onnx/ort_session.js';
import { appendMetadata } from '../engines/onnx/proto.js';
import type { OnnxSession, SessionOptions } from '../engines/onnx/session.js';
import { readStateDict } from '../nn/checkpoint.js';
import { exportGraph, MODEL_INPUT, type ExportSpec, type ExportTarget, type OnnxExport } from './export_graph.js';
import { createModel } from './model.js';

export { MODEL_DTYPES, type ModelDType } from '../engines/onnx/quantize/dtype.js';
export { WEB_LAYERNORM_MIN } from '../engines/onnx/ops.js';
export {
  checkExportTarget,
  EXPORT_TARGETS,
  exportedModel,
  MODEL_INPUT,
  MODEL_OUTPUTS,
  type ExportSpec,
  type ExportTarget,
  type OnnxExport,
} from './export_graph.js';

/** onnxruntime-node loads on first use, so that importing the library does not pay for it. */
const onnxSession = async () => (await import('../engines/onnx/session.js')).OnnxSession;

/**
 * A whole classifier as one ONNX graph (opset 17) with a dynamic batch and the resolution baked in (export_graph.ts);
 * a checkpoint path is read here.
 */
export function exportOnnx(spec: ExportSpec): OnnxExport {
  return exportGraph(spec, readStateDict);
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

/** The graph as onnxruntime-node optimized it (written by ORT to a scratch file and read back). */
async function ortOptimized(bytes: Uint8Array, opts: SessionOptions): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'flatten-ort-'));
  const file = join(dir, 'optimized.onnx');
  try {
    const s = await (await onnxSession()).create(bytes, 'exported graph', { ...opts, optimizedModelPath: file });
    await s.release();
    return readFileBytes(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Node op types after onnxruntime's own optimization (level 'all'), read back from the graph it writes. */
export async function ortOptimizedOps(bytes: Uint8Array, opts: SessionOptions = {}): Promise<string[]> {
  return nodeOpTypes(await ortOptimized(bytes, opts));
}

/**
 * The graph as onnxruntime-node optimizes it at level 'extended' (constant folding; Gemm, MatMul, Gelu and
 * LayerNorm fusions), marked with OPTIMIZED_KEY so that onnxruntime-web skips its own optimizer: in the page, the
 * shipped model's first prediction comes in 0.65× the time (docs/browser_speed.md). Same logits; metadata kept.
 */
export async function optimizeForWeb(bytes: Uint8Array): Promise<Uint8Array> {
  const optimized = await ortOptimized(bytes, { threads: 1, optimizationLevel: 'extended' });
  return appendMetadata(optimized, { [OPTIMIZED_KEY]: 'extended' });
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
  /** Write the graph as onnxruntime-node optimizes it for the web (optimizeForWeb). */
  optimize?: boolean;
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
  /** The file holds the graph as optimizeForWeb wrote it. */
  webOptimized: boolean;
  /** The runtime the graph was written for (ExportSpec.target). */
  target: ExportTarget;
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
  const bytes = spec.optimize ? await optimizeForWeb(r.bytes) : r.bytes;
  writeFileAtomic(spec.output, bytes);
  const optimized = spec.check === false ? undefined : opHistogram(await ortOptimizedOps(bytes, { threads: 1 }));
  return {
    output: spec.output,
    bytes: bytes.length,
    webOptimized: spec.optimize === true,
    target: spec.target ?? 'node',
    model: r.model,
    weights: m.source,
    opset: OPSET,
    written: opHistogram(r.proto.nodes.map((n) => n.op)),
    optimized,
    optimizationLevel: (await import('../engines/onnx/session.js')).GRAPH_OPTIMIZATION_LEVEL,
    initializers: r.proto.initializers.length,
  };
}
