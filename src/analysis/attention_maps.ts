import type { FocusedCapture } from './capture.js';

/** The four attention forms compared by the paper's figures, all on the same q and k. */
export const FORMS = ['focused', 'focused_dwc', 'linear', 'softmax'] as const;
export type AttentionForm = (typeof FORMS)[number];

export const FORM_LABELS: Record<AttentionForm, string> = {
  focused: 'focused linear (f_p)',
  focused_dwc: 'focused + DWC (M_eq)',
  linear: 'plain ReLU linear',
  softmax: 'softmax(qkᵀ/√d)',
};

/** Head h's d channels of token t in a (tokens, C) row-major array. */
function headRow(x: Float32Array, t: number, h: number, c: number, d: number): Float32Array {
  return x.subarray(t * c + h * d, t * c + (h + 1) * d);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The N×N matrix of the head-shared DWC for channel 0 of its kernel (the official visualize.py uses the same channel):
 * M[i, j] = K[r, c] when key j sits at offset (r − m, c − m) from query i on the H×W map. Unlike
 * visualize.py's banded approximation, borders are respected exactly (zero padding, no row wrap).
 * A leading cls token (DeiT) gets an empty row and column.
 */
export function dwcMatrix(cap: FocusedCapture): Float64Array | undefined {
  if (!cap.dwc || !cap.hw || cap.keys !== cap.tokens) return undefined;
  const [hh, ww] = cap.hw;
  const n = cap.tokens;
  const lead = n - hh * ww;
  const k = cap.dwc.shape[2];
  const m = (k - 1) / 2;
  const kernel = cap.dwc.data as Float32Array; // (d, 1, k, k): channel 0 first
  const out = new Float64Array(n * n);
  for (let r0 = 0; r0 < hh; r0++) {
    for (let c0 = 0; c0 < ww; c0++) {
      const i = lead + r0 * ww + c0;
      for (let r = 0; r < k; r++) {
        for (let c = 0; c < k; c++) {
          const rr = r0 + r - m;
          const cc = c0 + c - m;
          if (rr < 0 || cc < 0 || rr >= hh || cc >= ww) continue;
          out[i * n + lead + rr * ww + cc] = kernel[r * k + c];
        }
      }
    }
  }
  return out;
}

/**
 * Unnormalised N×n score matrix of one head in one form (float64). Row-normalise it for attention
 * weights; its rank is the attention matrix's rank (row scaling by positive numbers keeps rank).
 * `focused_dwc` returns φqφkᵀ/rowsum + M_DWC, the equivalent map M_eq of Eq. 11.
 */
export function scoreMatrix(cap: FocusedCapture, head: number, form: AttentionForm): Float64Array | undefined {
  const { tokens: n, keys, channels: c, heads } = cap;
  const d = c / heads;
  const out = new Float64Array(n * keys);
  const relu = (v: Float32Array) => Float32Array.from(v, (x) => Math.max(x, 0) + 1e-6);
  if (form === 'focused_dwc') {
    const m = dwcMatrix(cap);
    if (!m) return undefined;
    const a = rowNormalize(scoreMatrix(cap, head, 'focused')!, n, keys);
    for (let i = 0; i < a.length; i++) out[i] = a[i] + m[i];
    return out;
  }
  const kRows = Array.from({ length: keys }, (_, j) => {
    const raw = headRow(form === 'focused' ? cap.kf : cap.k, j, head, c, d);
    return form === 'linear' ? relu(raw) : raw;
  });
  for (let i = 0; i < n; i++) {
    const rawQ = headRow(form === 'focused' ? cap.qf : cap.q, i, head, c, d);
    const q = form === 'linear' ? relu(rawQ) : rawQ;
    let max = -Infinity;
    for (let j = 0; j < keys; j++) {
      const s = dot(q, kRows[j]);
      out[i * keys + j] = form === 'softmax' ? s / Math.sqrt(d) : s;
      max = Math.max(max, out[i * keys + j]);
    }
    if (form === 'softmax') for (let j = 0; j < keys; j++) out[i * keys + j] = Math.exp(out[i * keys + j] - max);
  }
  return out;
}

/** Rows scaled to sum to 1 (attention weights); M_eq rows use |·| first, as visualize.py does. */
export function rowNormalize(a: Float64Array, rows: number, cols: number, abs = false): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += abs ? Math.abs(a[i * cols + j]) : a[i * cols + j];
    for (let j = 0; j < cols; j++) out[i * cols + j] = (abs ? Math.abs(a[i * cols + j]) : a[i * cols + j]) / s;
  }
  return out;
}

/** Attention weights of one head in one form: rows sum to 1. */
export function attentionWeights(cap: FocusedCapture, head: number, form: AttentionForm): Float64Array | undefined {
  const s = scoreMatrix(cap, head, form);
  return s && rowNormalize(s, cap.tokens, cap.keys, form === 'focused_dwc');
}

/** Mean Shannon entropy (nats) of the rows: lower means sharper, more focused attention. */
export function meanRowEntropy(p: Float64Array, rows: number, cols: number): number {
  let total = 0;
  for (let i = 0; i < rows; i++) {
    let h = 0;
    for (let j = 0; j < cols; j++) {
      const v = p[i * cols + j];
      if (v > 0) h -= v * Math.log(v);
    }
    total += h;
  }
  return total / rows;
}
