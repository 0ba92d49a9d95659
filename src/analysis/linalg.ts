/**
 * Numerical rank of dense float64 matrices of up to a few thousand rows, for the rank analysis.
 *
 * Method: Householder bidiagonalisation A = U·B·Vᵀ (backward stable: B's singular values are A's up
 * to ε·‖A‖), then the Golub–Kahan matrix T = [[0, B], [Bᵀ, 0]] permuted to a symmetric tridiagonal
 * with zero diagonal, whose eigenvalues are ±σᵢ. Sylvester's law of inertia on T − xI (an O(n)
 * LDLᵀ sweep) counts the σᵢ above any x, so the rank at a tolerance costs one sweep and σ_max a bisection.
 */

/** Upper-bidiagonal form of the row-major m×n matrix (m ≥ n after transposing): diagonal d, super-diagonal e. */
function bidiagonalize(src: Float64Array, m0: number, n0: number): { d: Float64Array; e: Float64Array } {
  const transpose = m0 < n0;
  const m = transpose ? n0 : m0;
  const n = transpose ? m0 : n0;
  // column-major copy so that column operations stream through memory
  const a = new Float64Array(m * n);
  for (let i = 0; i < m0; i++) for (let j = 0; j < n0; j++) a[transpose ? i * n0 + j : j * m0 + i] = src[i * n0 + j];
  const col = (j: number) => j * m;
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  const v = new Float64Array(Math.max(m, n) + 1); // the reflector, plus τ in its last slot
  for (let k = 0; k < n; k++) {
    // left reflector zeroes A[k+1:, k]
    d[k] = reflect(a, col(k) + k, m - k, 1, v);
    for (let j = k + 1; j < n; j++) applyReflector(a, col(j) + k, m - k, 1, v);
    if (k < n - 1) {
      // right reflector zeroes A[k, k+2:], acting on rows as a vector with stride m
      e[k] = reflect(a, col(k + 1) + k, n - k - 1, m, v);
      for (let i = k + 1; i < m; i++) applyReflector(a, col(k + 1) + i, n - k - 1, m, v);
    }
  }
  return { d, e };
}

/**
 * Householder vector for x = a[off + t·stride], t < len: stores v (v₀ = 1) and returns β such that
 * (I − τvvᵀ)x = β·e₁, with τ stored in v[len].
 */
function reflect(a: Float64Array, off: number, len: number, stride: number, v: Float64Array): number {
  let norm2 = 0;
  for (let t = 0; t < len; t++) norm2 += a[off + t * stride] ** 2;
  const x0 = a[off];
  const norm = Math.sqrt(norm2);
  if (norm === 0) {
    v.fill(0, 0, len + 1);
    return 0;
  }
  const beta = x0 > 0 ? -norm : norm;
  const v0 = x0 - beta;
  v[0] = 1;
  for (let t = 1; t < len; t++) v[t] = a[off + t * stride] / v0;
  v[len] = (beta - x0) / beta; // τ
  return beta;
}

/** y ← (I − τvvᵀ)y for y = a[off + t·stride]. */
function applyReflector(a: Float64Array, off: number, len: number, stride: number, v: Float64Array): void {
  const tau = v[len];
  if (tau === 0) return;
  let dot = 0;
  for (let t = 0; t < len; t++) dot += v[t] * a[off + t * stride];
  const s = tau * dot;
  for (let t = 0; t < len; t++) a[off + t * stride] -= s * v[t];
}

/** Number of eigenvalues of the zero-diagonal tridiagonal with off-diagonals (d₀, e₀, d₁, e₁, …) above x. */
function countAbove(offDiag: Float64Array, x: number): number {
  // LDLᵀ of T − xI: pivots q_i = −x − b²_{i−1}/q_{i−1}; negative pivots count eigenvalues below x
  let below = 0;
  let q = -x;
  for (let i = 0; ; i++) {
    if (q < 0) below++;
    if (i === offDiag.length) break;
    const b2 = offDiag[i] * offDiag[i];
    q = -x - b2 / (q === 0 ? Number.MIN_VALUE : q);
  }
  return offDiag.length + 1 - below;
}

export interface RankResult {
  rank: number;
  tolerance: number;
  sigmaMax: number;
}

/** numpy.linalg.matrix_rank's default tolerance: σ_max · max(m, n) · ε(float64). */
export const RANK_TOLERANCE_RULE = 'σ_max · max(rows, cols) · 2.22e-16 (numpy.linalg.matrix_rank default)';

/** Numerical rank of a row-major m×n matrix (singular values above the tolerance). */
export function numericalRank(a: Float64Array, m: number, n: number, tol?: number): number {
  return matrixRank(a, m, n, tol).rank;
}

export function matrixRank(a: Float64Array, m: number, n: number, tol?: number): RankResult {
  const { d, e } = bidiagonalize(a, m, n);
  const off = new Float64Array(d.length + e.length);
  for (let i = 0; i < d.length; i++) {
    off[2 * i] = d[i];
    if (i < e.length) off[2 * i + 1] = e[i];
  }
  // σ_max by bisection between 0 and a Gershgorin bound
  let hi = 0;
  for (let i = 0; i < off.length; i++) hi = Math.max(hi, Math.abs(off[i]) + Math.abs(off[i + 1] ?? 0));
  let lo = 0;
  for (let it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
    const mid = (lo + hi) / 2;
    if (countAbove(off, mid) > 0) lo = mid;
    else hi = mid;
  }
  const sigmaMax = hi;
  const tolerance = tol ?? sigmaMax * Math.max(m, n) * 2.220446049250313e-16;
  return { rank: Math.min(countAbove(off, tolerance), Math.min(m, n)), tolerance, sigmaMax };
}
