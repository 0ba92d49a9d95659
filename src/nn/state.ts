import { FlattenError } from '../core/errors.js';
import { shapeStr, sizeOf, toFloat32, type StateDict, type TensorData } from '../core/tensor.js';
import type { ParamTable } from './module.js';

export interface BindOptions {
  /** Allow missing and unexpected keys (they are reported, not fatal). Shapes must still match. */
  strict?: boolean;
  /** Name of the source, for messages. */
  source?: string;
}

export interface BindReport {
  weights: Map<string, TensorData>;
  missing: string[];
  unexpected: string[];
}

const list = (keys: string[]) => keys.map((k) => `'${k}'`).join(', ');

/**
 * Match a state_dict against a model's parameter table by official key. Every missing, unexpected or
 * mis-shaped key is named in one error. Buffers present in the file (`relative_position_index`,
 * `attn_mask`) must equal what the model computes, because the model uses its own.
 */
export function bindStateDict(table: ParamTable, sd: StateDict, opts: BindOptions = {}): BindReport {
  const strict = opts.strict ?? true;
  const src = opts.source ?? 'checkpoint';
  const missing: string[] = [];
  const badShape: string[] = [];
  const badBuffer: string[] = [];
  const weights = new Map<string, TensorData>();
  for (const spec of table.specs.values()) {
    const t = sd.get(spec.path);
    if (spec.buffer) {
      // buffers are recomputed; a stored one is only checked
      if (t && !sameValues(t, spec.buffer)) badBuffer.push(spec.path);
      weights.set(spec.path, spec.buffer);
      continue;
    }
    if (!t) {
      missing.push(spec.path);
      continue;
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      badShape.push(`'${spec.path}' is ${shapeStr(t.shape)} but the model needs ${shapeStr(spec.shape)}`);
      continue;
    }
    weights.set(spec.path, t.dtype === 'float32' ? t : { dtype: 'float32', shape: t.shape, data: toFloat32(t) });
  }
  const unexpected = [...sd.keys()].filter((k) => !table.specs.has(k));
  const problems: string[] = [];
  if (badShape.length) problems.push(`wrong shape: ${badShape.join('; ')}`);
  if (badBuffer.length) problems.push(`buffer(s) differ from the values the model computes: ${list(badBuffer)}`);
  if (strict && missing.length) problems.push(`missing key(s): ${list(missing)}`);
  if (strict && unexpected.length) problems.push(`unexpected key(s): ${list(unexpected)}`);
  if (problems.length) throw new FlattenError('BAD_KEYS', `${src}: ${problems.join('. ')}`);
  return { weights, missing, unexpected };
}

function sameValues(a: TensorData, b: TensorData): boolean {
  if (sizeOf(a.shape) !== sizeOf(b.shape) || a.shape.length !== b.shape.length) return false;
  const x = toFloat32(a);
  const y = toFloat32(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
