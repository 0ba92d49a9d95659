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

const quoted = (keys: string[]) => keys.map((k) => `'${k}'`);

/** FLATTEN_DEBUG lists everything; a page has no `process` (the browser entry binds weights too). */
const debug = (): boolean => Boolean(globalThis.process?.env?.FLATTEN_DEBUG);

/** The first few of a list, and how many there are; all of them with FLATTEN_DEBUG=1. */
function some(what: string, items: string[]): string {
  const shown = debug() ? items : items.slice(0, 3);
  return `${items.length} ${what} (${shown.join('; ')}${shown.length < items.length ? '; …' : ''})`;
}

/** Official state_dict layouts, to say what a checkpoint of another model is. */
const KEY_LAYOUTS: [RegExp, string][] = [
  [/^layers\.\d+\.blocks\./, 'flatten_swin_*'],
  [/^stage1_conv_embed\./, 'flatten_cswin_*'],
  [/^pos_embed1$/, 'flatten_pvt_* (v1)'],
  [/^block1\.\d+\./, 'flatten_pvt_v2_*'],
  [/^cls_token$/, 'flatten_deit_*'],
];

function looksLike(keys: string[]): string {
  const hit = KEY_LAYOUTS.find(([re]) => keys.some((k) => re.test(k)));
  return hit ? `; the keys look like ${hit[1]}` : '';
}

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
  if (badShape.length) problems.push(some('with the wrong shape', badShape));
  if (badBuffer.length)
    problems.push(some('buffer(s) that differ from the values the model computes', quoted(badBuffer)));
  if (strict && missing.length) problems.push(some('missing', quoted(missing)));
  if (strict && unexpected.length) problems.push(some('unexpected', quoted(unexpected)));
  if (problems.length) {
    // one short line: a checkpoint of another model would otherwise list hundreds of keys
    const params = table.parameters().length;
    const matched = params - missing.length - badShape.length;
    const guess = matched < params / 2 ? looksLike([...sd.keys()]) : '';
    const hint = debug() ? '' : ' (FLATTEN_DEBUG=1 lists them all)';
    throw new FlattenError(
      'BAD_KEYS',
      `${src}: ${matched} of ${params} parameter keys match${guess}; ${problems.join('; ')}${hint}`,
    );
  }
  return { weights, missing, unexpected };
}

function sameValues(a: TensorData, b: TensorData): boolean {
  if (sizeOf(a.shape) !== sizeOf(b.shape) || a.shape.length !== b.shape.length) return false;
  const x = toFloat32(a);
  const y = toFloat32(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
