import { scoreMatrix } from './attention_maps.js';
import type { FocusedCapture } from './capture.js';
import { matrixRank, RANK_TOLERANCE_RULE } from './linalg.js';
import { barChartSvg, pngFromSvg } from './render.js';

export interface RankRow {
  block: string;
  head: number;
  tokens: number;
  head_dim: number;
  /** Focused linear attention without the DWC: φ(Q)φ(K)ᵀ, rank ≤ head_dim. */
  rank_linear: number | null;
  /** M_eq = normalised φ(Q)φ(K)ᵀ + M_DWC (Eq. 11); null where the DWC map is not square (sr > 1). */
  rank_equivalent: number | null;
  /** softmax(qkᵀ/√d) on the same q and k. */
  rank_softmax: number | null;
  /** Why a rank was not computed, when one is null. */
  note?: string;
}

export const DEFAULT_MAX_TOKENS = 1024;

/**
 * Numerical ranks of one focused block's attention matrices, per head (SVD-based, tolerance
 * σ_max·max(m, n)·ε). Blocks above `maxTokens` are skipped: the dense SVD costs O(N³) (≈ 1 min at N = 3136).
 */
export function blockRanks(cap: FocusedCapture, maxTokens = DEFAULT_MAX_TOKENS): RankRow[] {
  const d = cap.channels / cap.heads;
  return Array.from({ length: cap.heads }, (_, head) => {
    const row: RankRow = {
      block: cap.block,
      head,
      tokens: cap.tokens,
      head_dim: d,
      rank_linear: null,
      rank_equivalent: null,
      rank_softmax: null,
    };
    if (cap.tokens > maxTokens) return { ...row, note: `skipped: ${cap.tokens} tokens > --max-tokens ${maxTokens}` };
    const rank = (form: 'focused' | 'focused_dwc' | 'softmax') => {
      const m = scoreMatrix(cap, head, form);
      return m ? matrixRank(m, cap.tokens, cap.keys).rank : null;
    };
    row.rank_linear = rank('focused');
    row.rank_equivalent = rank('focused_dwc');
    row.rank_softmax = rank('softmax');
    const notes: string[] = [];
    if (row.rank_equivalent === null)
      notes.push(
        cap.keys !== cap.tokens ? `keys are reduced (${cap.keys} < ${cap.tokens}): no square M_eq` : 'block has no DWC',
      );
    const distinct = Math.min(
      distinctRows(cap.q, cap.tokens, cap.channels, head, d),
      distinctRows(cap.k, cap.keys, cap.channels, head, d),
    );
    if (
      row.rank_softmax !== null &&
      row.rank_softmax < Math.min(cap.tokens, cap.keys) &&
      distinct < Math.min(cap.tokens, cap.keys)
    ) {
      notes.push(
        `only ${distinct} distinct q/k rows (identical tokens, e.g. uniform image regions) bound the softmax rank`,
      );
    }
    if (notes.length) row.note = notes.join('; ');
    return row;
  });
}

export { RANK_TOLERANCE_RULE };

/** Number of distinct rows of one head's (tokens, C) features: repeated tokens make repeated attention rows. */
function distinctRows(x: Float32Array, rows: number, c: number, head: number, d: number): number {
  const seen = new Set<string>();
  for (let t = 0; t < rows; t++) seen.add(Array.from(x.subarray(t * c + head * d, t * c + (head + 1) * d)).join(','));
  return seen.size;
}

/** The paper's rank picture: one bar per block and head for linear (no DWC), with DWC and softmax, as a PNG. */
export async function rankChartPng(title: string, rows: RankRow[]): Promise<Uint8Array> {
  const svg = barChartSvg(
    title,
    rows.map((r) => `${r.block.replace(/\.attn$/, '')}#${r.head}`),
    [
      { label: 'linear, no DWC', colour: '#999999', values: rows.map((r) => r.rank_linear) },
      { label: 'with DWC (M_eq)', colour: '#2255cc', values: rows.map((r) => r.rank_equivalent) },
      { label: 'softmax', colour: '#dd8800', values: rows.map((r) => r.rank_softmax) },
    ],
    'rank',
  );
  return new Uint8Array(await pngFromSvg(svg));
}
