/**
 * The demo's model: the library's own FLatten-DeiT definition (src/models) run eagerly on tfjs, with
 * weights fetched as safetensors. Everything here is the same code the CLI uses, only the loading differs.
 */
import { float32, type TensorData } from '../../src/core/tensor.js';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { captureFocused, type FocusedCapture } from '../../src/analysis/capture.js';
import { readSafetensors } from '../../src/io/safetensors_format.js';
import { buildNamed } from '../../src/models/build.js';
import { registryEntry } from '../../src/models/registry.js';
import type { VisionModel } from '../../src/models/model.js';
import { bindStateDict } from '../../src/nn/state.js';
import { MODEL_NAME, RANDOM_WEIGHTS_PATH } from './shared.js';

export interface LoadedModel {
  model: VisionModel;
  weights: Map<string, TensorData>;
  /** True when the shipped weights were missing and the seeded random fallback was loaded instead. */
  random: boolean;
  /** The registry's constructor arguments (depth, num_heads, patch_size, focusing_factor, …). */
  kwargs: Record<string, number>;
  /** One line for the page: name, shape, parameter count, where the weights came from. */
  description: string;
}

export interface Analysis {
  /** Softmax over the classes. */
  probs: Float32Array;
  blocks: FocusedCapture[];
}

async function fetchWeights(url: string, model: VisionModel): Promise<Map<string, TensorData>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const { tensors } = readSafetensors(new Uint8Array(await res.arrayBuffer()), url);
  return bindStateDict(model.table, tensors, { source: url }).weights;
}

/**
 * The shipped weights (the registry's path, served at the same URL path), else the build's random
 * fallback. The 'cpu' backend needs no .wasm files and is fast enough for a 28×28 model.
 */
export async function loadModel(): Promise<LoadedModel> {
  await initTfjs('cpu');
  const entry = registryEntry(MODEL_NAME);
  const model = buildNamed(MODEL_NAME);
  const kw = entry.kwargs as Record<string, number>;
  const random = !(await fetch(entry.weights!, { method: 'HEAD' })).ok;
  const url = random ? RANDOM_WEIGHTS_PATH : entry.weights!;
  const weights = await fetchWeights(url, model);
  const params = (model.table.parameterCount() / 1000).toFixed(0);
  const description = `${MODEL_NAME}: ${kw.depth} blocks × ${kw.num_heads} heads, width ${kw.embed_dim}, ${params}k parameters; weights: ${url}`;
  return { model, weights, random, kwargs: kw, description };
}

/** One forward pass on 28×28 grayscale pixels in [0, 1], normalised with the registry's statistics. */
export async function analyse(m: LoadedModel, pixels: Float32Array): Promise<Analysis> {
  const { mean, std } = registryEntry(MODEL_NAME).preprocess;
  const [side] = m.model.imgSize;
  const x = float32(
    [1, 1, side, side],
    Float32Array.from(pixels, (v) => (v - mean[0]) / std[0]),
  );
  const { logits, blocks } = await captureFocused(m.model, m.weights, x);
  const z = logits.data as Float32Array;
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return { probs: e.map((v) => v / sum), blocks };
}
