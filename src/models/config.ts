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
    if (kindOf(v) !== want)
      throw new FlattenError(
        'BAD_CONFIG',
        `${family}: '${k}' must be ${want === 'array' ? 'an array' : `a ${want}`}, got ${JSON.stringify(v)}`,
      );
    out[k] = v;
  }
  return out as T;
}

function kindOf(v: unknown): string {
  return Array.isArray(v) ? 'array' : typeof v;
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
