/**
 * What the pipelines read from an exported model, Node-free (the Node pipeline and the browser entry share it):
 * an `.onnx` file's metadata, the session's image input, a folder's agreement with its graph, and top-k classes.
 */
import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import { parseJson } from '../io/json_text.js';
import { onnxMetadata } from '../engines/onnx/inspect.js';
import { checkOnnxModel } from '../engines/onnx/model_check.js';
import { OPTIMIZED_KEY, type OrtSession } from '../engines/onnx/ort_session.js';
import { checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import type { Preprocess } from '../models/registry.js';
import { MODEL_INPUT } from './export_graph.js';
import type { ModelFolder } from './folder_read.js';

export interface Classification {
  label: string;
  score: number;
}

/** What an `.onnx` file written by `flatten export` says about itself in its metadata. */
export interface ExportedInfo {
  name: string;
  dtype: ModelDType;
  preprocess: Preprocess;
  numClasses: number;
  /** Exported with random weights (metadata 'flatten.weights'). */
  random: boolean;
  /** Written as onnxruntime-node optimized it (`flatten export --optimize`): no optimizer needed on load. */
  optimized: boolean;
}

/** An exported file's metadata, checked; `want` (a requested dtype) must be the one the file holds. */
export function exportedInfo(bytes: Uint8Array, file: string, want?: ModelDType): ExportedInfo {
  // a truncated or corrupt file is named by the checker before the metadata reader meets it
  checkOnnxModel(bytes, file);
  const meta = onnxMetadata(bytes);
  const dtype = checkDType(meta['flatten.dtype'] ?? 'fp32', `${file}: metadata 'flatten.dtype'`);
  if (want !== undefined && want !== dtype)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `${file} holds the ${dtype} graph, not ${want} (export again with --dtype ${want}, or use a model folder)`,
    );
  const preprocess = parseJson<Preprocess>(meta['flatten.preprocess'] ?? 'null', {
    file,
    field: "metadata 'flatten.preprocess'",
  });
  if (!preprocess || typeof preprocess !== 'object' || typeof preprocess.imgSize !== 'number')
    throw new FlattenError('BAD_FILE', `${file}: metadata 'flatten.preprocess' is missing or not an eval transform`);
  return {
    name: meta['flatten.name'] ?? file,
    dtype,
    preprocess,
    numClasses: Number(meta['flatten.num_classes']),
    random: (meta['flatten.weights'] ?? '').startsWith('random'),
    optimized: meta[OPTIMIZED_KEY] !== undefined,
  };
}

/** The image input of a session on an exported model: its channels and side; anything else is BAD_FILE. */
export function imageInput(session: OrtSession, file: string): { channels: 1 | 3; inputSide: number | string } {
  const input = session.inputs.find((i) => i.name === MODEL_INPUT);
  if (!input || !session.outputs.includes('logits'))
    throw new FlattenError(
      'BAD_FILE',
      `${file}: not an image model exported by flatten (needs input '${MODEL_INPUT}' and output 'logits')`,
    );
  return { channels: input.shape[1] === 1 ? 1 : 3, inputSide: input.shape[2] };
}

/** A folder's JSON files must describe the images its graph takes. */
export function checkFolderGraph(f: ModelFolder, input: { channels: 1 | 3; inputSide: number | string }): void {
  if (input.channels !== f.channels || input.inputSide !== f.preprocess.imgSize)
    throw new FlattenError(
      'BAD_CONFIG',
      `${f.file} takes ${input.channels}-channel ${input.inputSide}² images, but ${f.dir}'s preprocessor_config.json makes ${f.channels}-channel ${f.preprocess.imgSize}² ones`,
    );
}

/** Softmax over each row of (B, K) logits. */
export function softmaxRows(logits: TensorData): Float32Array[] {
  const [b, k] = logits.shape;
  const d = logits.data as Float32Array;
  return Array.from({ length: b }, (_, i) => {
    const row = d.subarray(i * k, (i + 1) * k);
    const max = row.reduce((a, v) => Math.max(a, v), -Infinity);
    const e = Float32Array.from(row, (v) => Math.exp(v - max));
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
}

/** Each row's `k` most probable classes, best first. */
export function topClasses(logits: TensorData, labels: string[], k: number): Classification[][] {
  return softmaxRows(logits).map((p) =>
    [...p.keys()]
      .sort((a, b) => p[b] - p[a])
      .slice(0, k)
      .map((i) => ({ label: labels[i] ?? `class ${i}`, score: p[i] })),
  );
}
