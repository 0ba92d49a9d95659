/**
 * The picture people judge a backbone's features by: the first three principal components of a (C, H, W) map's
 * channels, one per RGB channel. Centred over the pixels; components from the C×C covariance by power iteration
 * with deflation (C ≤ a few thousand, so this is cheap); each component stretched to 0…255 between its 1st and
 * 99th percentile, so a few extreme pixels do not wash the picture out.
 */

/** The top `k` unit eigenvectors of a symmetric positive semi-definite c×c matrix, largest eigenvalue first. */
export function topEigenvectors(cov: Float64Array, c: number, k: number, iterations = 200): Float64Array[] {
  const a = Float64Array.from(cov);
  const out: Float64Array[] = [];
  for (let j = 0; j < Math.min(k, c); j++) {
    // a start with every coordinate different, so no eigenvector is orthogonal to it by symmetry
    let v = Float64Array.from({ length: c }, (_, i) => 1 + i / c);
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      const w = new Float64Array(c);
      for (let r = 0; r < c; r++) {
        let s = 0;
        for (let q = 0; q < c; q++) s += a[r * c + q] * v[q];
        w[r] = s;
      }
      const norm = Math.hypot(...w);
      if (norm === 0) break;
      lambda = norm;
      v = w.map((x) => x / norm);
    }
    out.push(v);
    for (let r = 0; r < c; r++) for (let q = 0; q < c; q++) a[r * c + q] -= lambda * v[r] * v[q]; // deflate
  }
  return out;
}

/** A (C, H·W) map (channel-major, as NCHW without the batch) → RGB pixels (H·W·3) of its first 3 components. */
export function pcaRgb(map: Float32Array, c: number, hw: number): Uint8Array {
  const mean = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let p = 0; p < hw; p++) s += map[ch * hw + p];
    mean[ch] = s / hw;
  }
  const cov = new Float64Array(c * c);
  for (let p = 0; p < hw; p++)
    for (let r = 0; r < c; r++) {
      const xr = map[r * hw + p] - mean[r];
      for (let q = r; q < c; q++) cov[r * c + q] += xr * (map[q * hw + p] - mean[q]);
    }
  for (let r = 0; r < c; r++) for (let q = 0; q < r; q++) cov[r * c + q] = cov[q * c + r];
  const rgb = new Uint8Array(hw * 3);
  topEigenvectors(cov, c, 3).forEach((v, k) => {
    const proj = Float64Array.from({ length: hw }, (_, p) => {
      let s = 0;
      for (let ch = 0; ch < c; ch++) s += (map[ch * hw + p] - mean[ch]) * v[ch];
      return s;
    });
    const sorted = [...proj].sort((x, y) => x - y);
    const lo = sorted[Math.floor(0.01 * (hw - 1))];
    const hi = sorted[Math.ceil(0.99 * (hw - 1))];
    for (let p = 0; p < hw; p++)
      rgb[p * 3 + k] = hi > lo ? Math.round(255 * Math.min(1, Math.max(0, (proj[p] - lo) / (hi - lo)))) : 128;
  });
  return rgb;
}
