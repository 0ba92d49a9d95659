import type { StateDict, TensorData } from '../core/tensor.js';
import type { ReadOptions } from '../io/budget.js';
import { readFileBytes } from '../io/files.js';
import type { ParamTable } from './module.js';
import { bindWeights, parseStateDict, type LoadOptions } from './weights.js';

export { bindWeights, parseStateDict, type LoadOptions } from './weights.js';

/**
 * Read a checkpoint's state_dict: an official `.pth` ({'model': sd}, {'model_ema': sd} or bare) or a
 * `.safetensors` file, told apart by content, not by name. `opts.budget` counts what the read allocates.
 */
export function readStateDict(path: string, opts: ReadOptions = {}): StateDict {
  return parseStateDict(readFileBytes(path), path, opts);
}

/** Weights for a model: from a checkpoint (checked key by key) or deterministic random ones. */
export function loadWeights(
  table: ParamTable,
  checkpoint: string | StateDict | undefined,
  opts: LoadOptions = {},
): Map<string, TensorData> {
  if (typeof checkpoint !== 'string') return bindWeights(table, checkpoint, opts);
  return bindWeights(table, readStateDict(checkpoint), { ...opts, source: checkpoint });
}
