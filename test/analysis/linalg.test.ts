import { describe, expect, it } from 'vitest';
import { matrixRank } from '../../src/analysis/linalg.js';
import { mulberry32 } from '../../src/core/rng.js';

describe('numerical rank', () => {
  it('finds σ_max and the rank of small exact matrices, both orientations', () => {
    const a = Float64Array.from([3, 0, 0, 0, 2, 0]);
    expect(matrixRank(a, 2, 3)).toMatchObject({ rank: 2, sigmaMax: 3 });
    const r = matrixRank(a, 3, 2); // [[3,0],[0,0],[2,0]]: one column, σ = √13
    expect(r.rank).toBe(1);
    expect(r.sigmaMax).toBeCloseTo(Math.sqrt(13), 12);
  });

  it('recovers the rank k of a product of random n×k and k×n factors', () => {
    const rand = mulberry32(3);
    for (const [n, k] of [
      [60, 7],
      [120, 120],
      [90, 33],
    ]) {
      const u = Float64Array.from({ length: n * k }, () => rand() - 0.5);
      const w = Float64Array.from({ length: k * n }, () => rand() - 0.5);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) a[i * n + j] += u[i * k + t] * w[t * n + j];
      expect(matrixRank(a, n, n).rank).toBe(k);
    }
  });
});
