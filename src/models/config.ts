import { FlattenError } from '../core/errors.js';

/**
 * Merge official-style kwargs over a family's defaults. Unknown keys are an error that names them,
 * except those the official constructors accept but that change nothing at inference (dropout rates…).
 */
export function resolveKwargs<T extends object>(
  family: string,
  defaults: T,
  kwargs: Record<string, unknown>,
  inert: readonly string[] = [],
  /** Keys that take a number or an [H, W] pair (PVT's img_size, as if its official modules took H and W). */
  pairs: readonly string[] = [],
): T {
  const unknown = Object.keys(kwargs).filter((k) => !Object.hasOwn(defaults, k) && !inert.includes(k));
  if (unknown.length) {
    throw new FlattenError(
      'BAD_CONFIG',
      `${family}: unknown config key(s) ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${Object.keys(defaults).join(', ')}`,
    );
  }
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(kwargs)) {
    if (!Object.hasOwn(defaults, k)) continue;
    const dflt = (defaults as Record<string, unknown>)[k];
    // a null default (qk_scale) takes a number or null
    const want = dflt === null ? (v === null ? 'object' : 'number') : kindOf(dflt);
    const pair = pairs.includes(k) && Array.isArray(v) && v.length === 2;
    if (kindOf(v) !== want && !pair)
      throw new FlattenError(
        'BAD_CONFIG',
        `${family}: '${k}' must be ${want === 'array' ? 'an array' : `a ${want}`}, got ${JSON.stringify(v)}`,
      );
    checkRange(family, k, v);
    out[k] = v;
  }
  return out as T;
}

function kindOf(v: unknown): string {
  return Array.isArray(v) ? 'array' : typeof v;
}

interface Range {
  min: number;
  max: number;
  int?: boolean;
}

/**
 * Sane ranges of the numeric kwargs, wide enough for every released config (and a good margin), and
 * checked before anything is built: kwargs arrive from files (`flatten.kwargs` metadata, a resumed
 * `state.json`), and `depth: 1e8` would otherwise build a hundred million blocks. Arrays (per-stage
 * values) are checked element by element and hold at most MAX_STAGES of them.
 */
export const KWARG_RANGES: Record<string, Range> = {
  img_size: { min: 1, max: 4096, int: true },
  patch_size: { min: 1, max: 1024, int: true },
  in_chans: { min: 1, max: 64, int: true },
  num_classes: { min: 0, max: 100_000, int: true },
  embed_dim: { min: 1, max: 4096, int: true },
  embed_dims: { min: 1, max: 4096, int: true },
  dim: { min: 1, max: 4096, int: true },
  dim_out: { min: 0, max: 4096, int: true },
  depth: { min: 0, max: 64, int: true },
  depths: { min: 0, max: 64, int: true },
  num_heads: { min: 1, max: 256, int: true },
  window_size: { min: 1, max: 1024, int: true },
  split_size: { min: 1, max: 1024, int: true },
  sr_ratio: { min: 1, max: 1024, int: true },
  sr_ratios: { min: 1, max: 1024, int: true },
  num_stages: { min: 1, max: 4, int: true },
  num_patches: { min: 1, max: 1 << 20, int: true },
  resolution: { min: 1, max: 4096, int: true },
  idx: { min: -1, max: 1, int: true },
  kernel_size: { min: 1, max: 63, int: true },
  mlp_ratio: { min: 0, max: 64 },
  mlp_ratios: { min: 0, max: 64 },
  focusing_factor: { min: 0, max: 64 },
  drop_path_rate: { min: 0, max: 1 },
  norm_eps: { min: 0, max: 1 },
  qk_scale: { min: -1e6, max: 1e6 },
};
const MAX_STAGES = 16;
/** Longest string kwarg (attn_type 'LLSS2', la_split_size '1-2-7-7'). */
const MAX_TEXT = 64;

function checkRange(family: string, key: string, v: unknown): void {
  const bad = (why: string) =>
    new FlattenError('BAD_CONFIG', `${family}: '${key}' ${why}, got ${JSON.stringify(v)?.slice(0, 100)}`);
  if (typeof v === 'string' && v.length > MAX_TEXT) throw bad(`must be at most ${MAX_TEXT} characters`);
  if (Array.isArray(v) && v.length > MAX_STAGES) throw bad(`must have at most ${MAX_STAGES} entries`);
  const r = Object.hasOwn(KWARG_RANGES, key) ? KWARG_RANGES[key] : undefined;
  if (!r) return;
  for (const x of Array.isArray(v) ? v : [v]) {
    if (x === null && key === 'qk_scale') continue;
    const ok = typeof x === 'number' && x >= r.min && x <= r.max && (!r.int || Number.isInteger(x));
    if (!ok) throw bad(`must be ${r.int ? 'an integer' : 'a number'} from ${r.min} to ${r.max}`);
  }
}

/** Keyword arguments that every official constructor accepts and that are identities at eval. */
export const INERT_KWARGS = [
  'drop_rate',
  'attn_drop_rate',
  'use_checkpoint',
  'norm_layer',
  'act_layer',
  'hybrid_backbone',
  'fused_window_process',
  'pretrained_window_sizes',
] as const;

/**
 * The block type of every block in a stage: ATTN_TYPE[i] is 'L' or 'S', or 'M' meaning the first k blocks
 * are 'L' and the rest 'S', with k read from the digits after the stage letters (Swin: after `stages`
 * letters; CSwin always after 4).
 */
export function blockTypes(attnType: string, stage: number, depth: number, countFrom = 4): ('L' | 'S')[] {
  const c = attnType[stage];
  if (c === 'L' || c === 'S') return Array.from({ length: depth }, () => c);
  if (c === 'M') {
    const k = Number.parseInt(attnType.slice(countFrom), 10);
    if (!Number.isFinite(k))
      throw new FlattenError(
        'BAD_CONFIG',
        `attn_type '${attnType}': 'M' needs a block count after position ${countFrom}`,
      );
    return Array.from({ length: depth }, (_, j) => (j < k ? 'L' : 'S'));
  }
  throw new FlattenError(
    'BAD_CONFIG',
    `attn_type '${attnType}': stage ${stage + 1} must be 'L', 'S' or 'M', got '${c ?? ''}'`,
  );
}

export function checkAttnType(attnType: string, stages: number): void {
  if (typeof attnType !== 'string' || attnType.length < stages) {
    throw new FlattenError(
      'BAD_CONFIG',
      `attn_type must be a string of ${stages} letters from L/S/M, got '${String(attnType)}'`,
    );
  }
}

/** Drop-path rate of each block: linspace(0, rate, Σdepths). */
export function dropPathRates(rate: number, depths: number[]): number[] {
  const total = depths.reduce((a, b) => a + b, 0);
  return Array.from({ length: total }, (_, j) => (total > 1 ? (rate * j) / (total - 1) : 0));
}
