/**
 * The paper's analyses in a page (`flatten-transformer/web/analysis`): a registry model run eagerly on tfjs so
 * that every focused block's q, k and v are captured (an ONNX graph gives only its outputs), and the attention
 * of one query in four forms from them. A separate entry from `flatten-transformer/web` because it carries
 * TensorFlow.js (about 1 MB of script): a page that only classifies never loads it. No Node built-ins.
 *
 *   await initTfjs('wasm');
 *   const m = analysisModel('flatten_deit_fmnist', { weights: safetensorsBytes });
 *   const { blocks } = await captureFocused(m.model, m.weights, pixels); // (1, C, H, W), normalised
 *   const p = attentionWeights(blocks[0], 0, 'focused'); // head 0: (tokens, keys) row-normalised weights
 */
import type { TensorData } from '../core/tensor.js';
import { buildNamed } from '../models/build.js';
import type { VisionModel } from '../models/model.js';
import { registryEntry, type Preprocess } from '../models/registry.js';
import { bindStateDict } from '../nn/state.js';
import { parseStateDict } from '../nn/weights.js';

export { attentionWeights, FORMS, meanRowEntropy, type AttentionForm } from '../analysis/attention_maps.js';
export { captureFocused, type FocusedCapture } from '../analysis/capture.js';
export { float32, type TensorData } from '../core/tensor.js';
export { initTfjs, type TfjsBackend } from '../engines/tfjs/backend.js';
export type { VisionModel } from '../models/model.js';

export interface AnalysisModel {
  model: VisionModel;
  /** The weights bound to the model's parameter paths (official state_dict keys). */
  weights: Map<string, TensorData>;
  /** The registry's constructor arguments (depth, num_heads, patch_size, focusing_factor, …). */
  kwargs: Record<string, unknown>;
  /** The registry's eval transform (mean, std, size). */
  preprocess: Preprocess;
}

/**
 * A registry model with its weights, ready for `captureFocused`. `weights`: the bytes of a .safetensors or .pth
 * (bound strictly: a missing, unexpected or misshapen key is a named error); `source` names them in errors.
 */
export function analysisModel(name: string, o: { weights: Uint8Array; source?: string }): AnalysisModel {
  const entry = registryEntry(name);
  const model = buildNamed(name);
  const source = o.source ?? `${name} weights`;
  const { weights } = bindStateDict(model.table, parseStateDict(o.weights, source), { source });
  return { model, weights, kwargs: entry.kwargs, preprocess: entry.preprocess };
}
