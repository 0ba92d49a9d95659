import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { findStateDict, readPth } from '../io/pth.js';
import { readSafetensors } from '../io/safetensors.js';
import type { ReadOptions } from '../io/budget.js';
import { readFileBytes } from '../io/files.js';
import type { ParamTable } from './module.js';
import { bindStateDict } from './state.js';
import { initWeights } from './init.js';

/**
 * Read a checkpoint's state_dict: an official `.pth` ({'model': sd}, {'model_ema': sd} or bare) or a
 * `.safetensors` file, told apart by content, not by name. `opts.budget` counts what the read allocates.
 */
export function readStateDict(path: string, opts: ReadOptions = {}): StateDict {
  const bytes = readFileBytes(path);
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b)
    return findStateDict(readPth(bytes, path, opts), path);
  if (/\.safetensors$/i.test(path)) return readSafetensors(bytes, path, opts).tensors;
  // neither a zip nor named .safetensors: let the pth reader name the problem
  return findStateDict(readPth(bytes, path, opts), path);
}

export interface LoadOptions {
  strict?: boolean;
  /** What a state_dict given as data is called in messages (default 'state_dict'). */
  source?: string;
  /** Seed of the random weights used when no checkpoint is given (and for missing keys when not strict). */
  seed?: number;
}

/** Weights for a model: from a checkpoint (checked key by key) or deterministic random ones. */
export function loadWeights(
  table: ParamTable,
  checkpoint: string | StateDict | undefined,
  opts: LoadOptions = {},
): Map<string, TensorData> {
  if (checkpoint === undefined) return initWeights(table, opts.seed ?? 0);
  const sd = typeof checkpoint === 'string' ? readStateDict(checkpoint) : checkpoint;
  const src = typeof checkpoint === 'string' ? checkpoint : (opts.source ?? 'state_dict');
  const { weights, missing } = bindStateDict(table, sd, { strict: opts.strict ?? true, source: src });
  if (missing.length) {
    const fresh = initWeights(table, opts.seed ?? 0);
    for (const k of missing) weights.set(k, fresh.get(k)!);
  }
  if (!weights.size) throw new FlattenError('BAD_KEYS', `${src}: no key matches the model`);
  return weights;
}
