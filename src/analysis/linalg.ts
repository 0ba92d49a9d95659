/**
 * Small dense float64 linear algebra for the analysis tools (attention matrices up to a few thousand
 * rows): singular values by one-sided Jacobi, which is accurate to float64 precision even for tiny
 * singular values, so the numerical rank is trustworthy.
 */

/** Singular values (descending) of the row-major m×n matrix `a`. */
export function singularValues(a: Float64Array, m: number, n: number): Float64Array {
  // work on the orientation with fewer columns: Jacobi rotates column pairs, O(cols²·rows) per sweep
  const [rows, cols, u] = m >= n ? [m, n, columns(a, m, n, false)] : [n, m, columns(a, m, n, true)];
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        const up = u[p];
        const uq = u[q];
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < rows; i++) {
          alpha += up[i] * up[i];
          beta += uq[i] * uq[i];
          gamma += up[i] * uq[i];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < rows; i++) {
          const x = up[i];
          const y = uq[i];
          up[i] = c * x - s * y;
          uq[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const sv = Float64Array.from(u, (col) => Math.hypot(...col));
  return sv.sort().reverse();
}

/** Columns of a (or of aᵀ) as separate arrays. */
function columns(a: Float64Array, m: number, n: number, transpose: boolean): Float64Array[] {
  if (transpose) return Array.from({ length: m }, (_, i) => a.slice(i * n, (i + 1) * n));
  return Array.from({ length: n }, (_, j) => Float64Array.from({ length: m }, (_, i) => a[i * n + j]));
}

/** numpy.linalg.matrix_rank's default tolerance: σ_max · max(m, n) · ε(float64). */
export function rankTolerance(sv: Float64Array, m: number, n: number): number {
  return (sv[0] ?? 0) * Math.max(m, n) * 2.220446049250313e-16;
}

export function numericalRank(a: Float64Array, m: number, n: number, tol?: number): number {
  const sv = singularValues(a, m, n);
  const t = tol ?? rankTolerance(sv, m, n);
  return sv.filter((s) => s > t).length;
}
