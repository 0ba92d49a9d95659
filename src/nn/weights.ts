/** Checkpoint bytes to bound weights, Node-free (checkpoint.ts adds files; the browser entry passes bytes). */
import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { findStateDict, readPth } from '../io/pth.js';
import { readSafetensors } from '../io/safetensors_format.js';
import type { ReadOptions } from '../io/budget.js';
import type { ParamTable } from './module.js';
import { bindStateDict } from './state.js';
import { initWeights } from './init.js';

/**
 * A checkpoint's state_dict from its bytes: an official `.pth` ({'model': sd}, {'model_ema': sd} or bare) or a
 * `.safetensors` file, told apart by content (a zip is a .pth; safetensors is a u64 length, then its JSON header) or by `name`. `opts.budget` counts what the read allocates.
 */
export function parseStateDict(bytes: Uint8Array, name: string, opts: ReadOptions = {}): StateDict {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b)
    return findStateDict(readPth(bytes, name, opts), name);
  if (/\.safetensors$/i.test(name) || looksLikeSafetensors(bytes)) return readSafetensors(bytes, name, opts).tensors;
  // neither a zip nor named .safetensors: let the pth reader name the problem
  return findStateDict(readPth(bytes, name, opts), name);
}

/** safetensors: a little-endian u64 header length, then the header's JSON object. */
const looksLikeSafetensors = (b: Uint8Array): boolean => b.length > 8 && b[8] === 0x7b && b[6] === 0 && b[7] === 0;

export interface LoadOptions {
  strict?: boolean;
  /** What a state_dict given as data is called in messages (default 'state_dict'). */
  source?: string;
  /** Seed of the random weights used when no checkpoint is given (and for missing keys when not strict). */
  seed?: number;
}

/** Weights for a model: a state_dict checked key by key, or deterministic random ones when there is none. */
export function bindWeights(
  table: ParamTable,
  sd: StateDict | undefined,
  opts: LoadOptions = {},
): Map<string, TensorData> {
  if (sd === undefined) return initWeights(table, opts.seed ?? 0);
  const src = opts.source ?? 'state_dict';
  const { weights, missing } = bindStateDict(table, sd, { strict: opts.strict ?? true, source: src });
  if (missing.length) {
    const fresh = initWeights(table, opts.seed ?? 0);
    for (const k of missing) weights.set(k, fresh.get(k)!);
  }
  if (!weights.size) throw new FlattenError('BAD_KEYS', `${src}: no key matches the model`);
  return weights;
}
