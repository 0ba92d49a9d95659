import { FlattenError } from '../core/errors.js';
import { float32, shapeStr, toFloat32, type StateDict, type TensorData } from '../core/tensor.js';
import { linearResampleMatrix } from '../ops/resample.js';
import type { ParamTable } from './module.js';

/** PyTorch's bicubic kernel constant (upsample_bicubic2d), not the −0.5 of Catmull–Rom. */
const A = -0.75;
const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| ≤ 1
const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2

/** For each output index: the four source indices (clamped to the border) and their weights. */
function bicubicTaps(src: number, dst: number): { index: number[]; weight: number[] }[] {
  const scale = src / dst;
  return Array.from({ length: dst }, (_, i) => {
    const x = (i + 0.5) * scale - 0.5; // align_corners = false
    const f = Math.floor(x);
    const t = x - f;
    const clamp = (k: number) => Math.min(src - 1, Math.max(0, k));
    return { index: [f - 1, f, f + 1, f + 2].map(clamp), weight: [far(t + 1), near(t), near(1 - t), far(2 - t)] };
  });
}

/** The same 1-D resampling src → dst as a row-major (dst, src) matrix: out = M · in (for resampling inside a graph). */
export function bicubicMatrix(src: number, dst: number): Float32Array {
  const m = new Float32Array(dst * src);
  bicubicTaps(src, dst).forEach(({ index, weight }, i) => index.forEach((k, j) => (m[i * src + k] += weight[j])));
  return m;
}

type Taps = { index: number[]; weight: number[] }[];

/** Bilinear taps (align_corners = false, PyTorch's): each output's row of the shared linear-resampling matrix. */
function linearTaps(src: number, dst: number): Taps {
  const m = linearResampleMatrix(src, dst);
  const all = Array.from({ length: src }, (_, k) => k);
  return Array.from({ length: dst }, (_, i) => ({
    index: all,
    weight: Array.from(m.subarray(i * src, (i + 1) * src)),
  }));
}

/** x (C, H, W) planes → (C, H2, W2) through per-axis taps, rows then columns. */
function resampleSeparable(x: Float32Array, c: number, [h, w]: [number, number], rows: Taps, cols: Taps) {
  const [h2, w2] = [rows.length, cols.length];
  const out = new Float32Array(c * h2 * w2);
  const tmp = new Float64Array(h * w2);
  for (let ch = 0; ch < c; ch++) {
    const plane = x.subarray(ch * h * w, (ch + 1) * h * w);
    for (let y = 0; y < h; y++)
      cols.forEach(({ index, weight }, j) => {
        tmp[y * w2 + j] = weight.reduce((s, wt, k) => s + wt * plane[y * w + index[k]], 0);
      });
    rows.forEach(({ index, weight }, i) => {
      for (let j = 0; j < w2; j++)
        out[(ch * h2 + i) * w2 + j] = weight.reduce((s, wt, k) => s + wt * tmp[index[k] * w2 + j], 0);
    });
  }
  return out;
}

/**
 * What `torch.nn.functional.interpolate(x, size, mode='bicubic', align_corners=False)` computes, without
 * antialiasing: x (C, H, W) planes → (C, H2, W2), separably, rows then columns, borders clamped.
 */
export function resampleBicubic(x: Float32Array, c: number, hw: [number, number], [h2, w2]: [number, number]) {
  return resampleSeparable(x, c, hw, bicubicTaps(hw[0], h2), bicubicTaps(hw[1], w2));
}

/** The same with mode='bilinear' (align_corners = false), as PVT v1's `_get_pos_embed` resizes pos_embed. */
export function resampleBilinear(x: Float32Array, c: number, hw: [number, number], [h2, w2]: [number, number]) {
  return resampleSeparable(x, c, hw, linearTaps(hw[0], h2), linearTaps(hw[1], w2));
}

const side = (n: number) => {
  const s = Math.round(Math.sqrt(n));
  return s * s === n ? s : undefined;
};

/** Why n tokens cannot be resampled: a grid plus one is a cls token (original PVT v1, DeiT tables), not FLatten's. */
const notAGrid = (n: number) =>
  side(n - 1) === undefined
    ? `${n} tokens are not a square grid`
    : `${n} tokens are a square grid plus a cls token, which this model does not have`;

/** PVT v1's `pos_embed{i}`, which the official forward resizes bilinearly; every other table is bicubic (timm's rule). */
const POS_EMBED = /(^|\.)pos_embed\d+$/;

/**
 * A checkpoint made at one input size, fitted to a model built at another: every `positional_encoding` and
 * PVT v1 `pos_embed{i}` (1, n, C) whose token count differs from the model's is resampled from its square grid
 * to the model's grid (its `grid`, else square): bicubic as timm's resample_abs_pos_embed, and bilinear for
 * pos_embed as the official `_get_pos_embed` does at forward. Stored buffers of another shape (Swin's
 * `attn_mask` follows the window grid) are dropped, since the model computes its own. The rest is left to the
 * key check.
 */
export function resamplePositionTables(table: ParamTable, sd: StateDict, source: string): StateDict {
  const out: StateDict = new Map(sd);
  for (const spec of table.specs.values()) {
    const stored = sd.get(spec.path);
    if (spec.buffer && stored && stored.shape.join() !== spec.shape.join()) out.delete(spec.path);
    const bilinear = POS_EMBED.test(spec.path);
    if (!spec.path.endsWith('positional_encoding') && !bilinear) continue;
    const t = stored;
    if (!t || t.shape.length !== 3 || t.shape.join() === spec.shape.join()) continue;
    const [, n, c] = t.shape;
    const [, m, cm] = spec.shape;
    const s = side(n);
    const s2 = side(m);
    const grid = spec.grid ?? (s2 !== undefined ? ([s2, s2] as [number, number]) : undefined);
    if (t.shape[0] !== 1 || c !== cm || s === undefined || grid === undefined)
      throw new FlattenError(
        'BAD_KEYS',
        `${source}: '${spec.path}' is ${shapeStr(t.shape)} and cannot be resampled to ${shapeStr(spec.shape)}: ` +
          (c !== cm ? 'the channels differ' : notAGrid(s === undefined ? n : m)),
      );
    out.set(spec.path, resampleGrid(t, [s, s], grid, bilinear ? resampleBilinear : resampleBicubic));
  }
  return out;
}

/** (1, h·w, C) tokens on an h×w grid → (1, h2·w2, C). */
function resampleGrid(
  t: TensorData,
  [h, w]: [number, number],
  [h2, w2]: [number, number],
  resample: typeof resampleBicubic,
): TensorData {
  const c = t.shape[2];
  const v = toFloat32(t);
  const planes = new Float32Array(c * h * w); // (C, h, w)
  for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) planes[ch * h * w + p] = v[p * c + ch];
  const r = resample(planes, c, [h, w], [h2, w2]);
  const tokens = new Float32Array(h2 * w2 * c);
  for (let p = 0; p < h2 * w2; p++) for (let ch = 0; ch < c; ch++) tokens[p * c + ch] = r[ch * h2 * w2 + p];
  return float32([1, h2 * w2, c], tokens);
}
