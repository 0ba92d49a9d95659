import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { TfjsOps } from '../../src/engines/tfjs/ops.js';
import { focus, focusedFeatureMap } from '../../src/attention/focused.js';
import type { Tensor } from '../../src/ops/ops.js';
import { numericalRank } from '../../src/analysis/linalg.js';
import { mulberry32 } from '../../src/core/rng.js';

const ops = new TfjsOps();
const data = (x: Tensor) => (x as unknown as tf.Tensor).dataSync() as Float32Array;
const rows = (v: number[][]) =>
  ops.constant({ dtype: 'float32', shape: [v.length, v[0].length], data: Float32Array.from(v.flat()) });

beforeAll(() => initTfjs());

/** Row-normalised similarity scores of q against each k (linear attention weights). */
function scores(q: Float32Array, ks: Float32Array, d: number): number[] {
  const s = Array.from({ length: ks.length / d }, (_, i) => q.reduce((acc, qv, j) => acc + qv * ks[i * d + j], 0));
  const total = s.reduce((a, b) => a + b, 0);
  return s.map((v) => v / total);
}

describe('focusing map f_p', () => {
  it('keeps the norm of every row and sharpens its direction', () => {
    const rand = mulberry32(1);
    const v = Array.from({ length: 16 }, () => Array.from({ length: 24 }, () => rand()));
    const x = rows(v);
    const y = data(focus(ops, x, 3));
    for (let r = 0; r < 16; r++) {
      const row = v[r];
      const out = y.slice(r * 24, (r + 1) * 24);
      expect(Math.hypot(...out)).toBeCloseTo(Math.hypot(...row), 5);
      // the largest coordinate's share grows: the direction moves toward its nearest axis
      const argmax = row.indexOf(Math.max(...row));
      expect(out[argmax] / Math.hypot(...out)).toBeGreaterThan(row[argmax] / Math.hypot(...row));
    }
  });

  it('reproduces the toy example of Fig. 4 (PAPER.md §12)', () => {
    const q = [[0.4, 0.95]];
    const k = [
      [0.43, 0.87],
      [0.55, 0.3],
      [0.97, 0.33],
      [0.85, 0.14],
    ];
    const plain = scores(Float32Array.from(q[0]), Float32Array.from(k.flat()), 2);
    expect(plain.map((s) => Number(s.toFixed(2)))).toEqual([0.37, 0.19, 0.26, 0.18]);
    const focused = scores(data(focus(ops, rows(q), 3)), data(focus(ops, rows(k), 3)), 2);
    expect(focused.map((s) => Number(s.toFixed(2)))).toEqual([0.75, 0.11, 0.09, 0.05]);
  });
});

describe('rank of linear attention', () => {
  it('φ(Q)φ(K)ᵀ without the DWC has rank ≤ head dim, softmax is full rank', () => {
    const n = 64;
    const d = 8;
    const rand = mulberry32(7);
    const randn = () => Array.from({ length: n }, () => Array.from({ length: d }, () => rand() * 2 - 1));
    const scale = ops.constant({ dtype: 'float32', shape: [1, 1, d], data: new Float32Array(d) });
    const q = data(focusedFeatureMap(ops, rows(randn()), scale, 3));
    const k = data(focusedFeatureMap(ops, rows(randn()), scale, 3));
    const lin = new Float64Array(n * n);
    const soft = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i * d + c] * k[j * d + c];
        lin[i * n + j] = s;
        soft[i * n + j] = Math.exp(s / Math.sqrt(d));
      }
    }
    expect(numericalRank(lin, n, n)).toBeLessThanOrEqual(d);
    expect(numericalRank(lin, n, n)).toBeGreaterThan(1);
    expect(numericalRank(soft, n, n)).toBe(n);
  });
});
