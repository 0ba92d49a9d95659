import { FlattenError } from '../core/errors.js';
import { float32, shapeStr, toFloat32, type StateDict, type TensorData } from '../core/tensor.js';
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

/**
 * What `torch.nn.functional.interpolate(x, size, mode='bicubic', align_corners=False)` computes, without
 * antialiasing: x (C, H, W) planes → (C, H2, W2), separably, rows then columns, borders clamped.
 */
export function resampleBicubic(x: Float32Array, c: number, [h, w]: [number, number], [h2, w2]: [number, number]) {
  const rows = bicubicTaps(h, h2);
  const cols = bicubicTaps(w, w2);
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

const side = (n: number) => {
  const s = Math.round(Math.sqrt(n));
  return s * s === n ? s : undefined;
};

/**
 * A checkpoint made at one input size, fitted to a model built at another: every `positional_encoding`
 * (1, n, C) whose token count differs from the model's is resampled from its square grid to the model's with
 * bicubic interpolation (as timm's resample_abs_pos_embed), and stored buffers of another shape (Swin's
 * `attn_mask` follows the window grid) are dropped, since the model computes its own. The rest is left to the
 * key check.
 */
export function resamplePositionTables(table: ParamTable, sd: StateDict, source: string): StateDict {
  const out: StateDict = new Map(sd);
  for (const spec of table.specs.values()) {
    const stored = sd.get(spec.path);
    if (spec.buffer && stored && stored.shape.join() !== spec.shape.join()) out.delete(spec.path);
    if (!spec.path.endsWith('positional_encoding')) continue;
    const t = stored;
    if (!t || t.shape.length !== 3 || t.shape.join() === spec.shape.join()) continue;
    const [, n, c] = t.shape;
    const [, m, cm] = spec.shape;
    const [s, s2] = [side(n), side(m)];
    if (t.shape[0] !== 1 || c !== cm || s === undefined || s2 === undefined)
      throw new FlattenError(
        'BAD_KEYS',
        `${source}: '${spec.path}' is ${shapeStr(t.shape)} and cannot be resampled to ${shapeStr(spec.shape)}: ` +
          (c !== cm ? 'the channels differ' : `${s === undefined ? n : m} tokens are not a square grid`),
      );
    out.set(spec.path, resampleGrid(t, s, s2));
  }
  return out;
}

/** (1, s·s, C) tokens on an s×s grid → (1, s2·s2, C). */
function resampleGrid(t: TensorData, s: number, s2: number): TensorData {
  const c = t.shape[2];
  const v = toFloat32(t);
  const planes = new Float32Array(c * s * s); // (C, s, s)
  for (let p = 0; p < s * s; p++) for (let ch = 0; ch < c; ch++) planes[ch * s * s + p] = v[p * c + ch];
  const r = resampleBicubic(planes, c, [s, s], [s2, s2]);
  const tokens = new Float32Array(s2 * s2 * c);
  for (let p = 0; p < s2 * s2; p++) for (let ch = 0; ch < c; ch++) tokens[p * c + ch] = r[ch * s2 * s2 + p];
  return float32([1, s2 * s2, c], tokens);
}
