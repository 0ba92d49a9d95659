/**
 * The attention analysis: the library's own FLatten-DeiT definition run eagerly on tfjs (the package's
 * `flatten-transformer/web/analysis` entry) so that every block's q, k and v can be captured (the ONNX graph
 * gives only logits). Predictions come from onnxruntime-web (runtime.ts); this module only feeds the maps, and
 * loads as its own chunk after the first prediction (tfjs is about 1 MB of script).
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  analysisModel,
  captureFocused,
  float32,
  initTfjs,
  type FocusedCapture,
  type TensorData,
  type TfjsBackend,
  type VisionModel,
} from 'flatten-transformer/web/analysis';
import { MODEL_NAME, TFJS_WASM_PATH } from './shared.js';

export type { FocusedCapture };

export interface AnalysisModel {
  model: VisionModel;
  weights: Map<string, TensorData>;
  /** The registry's constructor arguments (depth, num_heads, patch_size, focusing_factor, …). */
  kwargs: Record<string, number>;
  /** The registry's eval transform: the mean and std the pixels are normalised with. */
  preprocess: { mean: number[]; std: number[] };
  /** The tfjs backend that runs the capture ('wasm', or 'cpu' where wasm cannot start). */
  backend: string;
  /** tfjs wasm's thread count (1 unless the page is cross-origin isolated). */
  threads: number;
}

/**
 * tfjs on its wasm backend (SIMD, threaded where SharedArrayBuffer exists), the .wasm builds served by
 * web/serve.ts. The pure-JS 'cpu' backend the demo used before stays registered: web/measure.ts times
 * the capture on both, alternating, in one page.
 */
export async function loadAnalysis(
  safetensors: Uint8Array,
  source: string,
  backend: TfjsBackend = 'wasm',
): Promise<AnalysisModel> {
  setWasmPaths(new URL(TFJS_WASM_PATH, location.href).href);
  let running: string;
  try {
    running = await initTfjs(backend);
  } catch {
    // a browser without wasm SIMD: the maps still work, slower
    running = await initTfjs('cpu');
  }
  const { model, weights, kwargs, preprocess } = analysisModel(MODEL_NAME, { weights: safetensors, source });
  const threads = running === 'wasm' ? getThreadsCount() : 1;
  return { model, weights, kwargs: kwargs as Record<string, number>, preprocess, backend: running, threads };
}

/**
 * Every block's captured q, k, v on 28×28 grayscale pixels in [0, 1], normalised with the registry's
 * statistics, on `m.backend` (switched to if another is active).
 */
export async function captureBlocks(m: AnalysisModel, pixels: Float32Array): Promise<FocusedCapture[]> {
  if (tf.getBackend() !== m.backend) await tf.setBackend(m.backend);
  const { mean, std } = m.preprocess;
  const [side] = m.model.imgSize;
  const x = float32(
    [1, 1, side, side],
    Float32Array.from(pixels, (v) => (v - mean[0]) / std[0]),
  );
  const { blocks } = await captureFocused(m.model, m.weights, x);
  return blocks;
}
