/**
 * Weights of 1-D linear resampling n → size with align_corners = false (PyTorch's F.interpolate 'linear'),
 * as a row-major (size, n) matrix: out = M · in along the resampled axis. Shared by every engine.
 */
export function linearResampleMatrix(n: number, size: number): Float32Array {
  const m = new Float32Array(size * n);
  const scale = n / size;
  for (let i = 0; i < size; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), n - 1);
    const i1 = Math.min(i0 + 1, n - 1);
    const lambda = src - i0;
    m[i * n + i0] += 1 - lambda;
    m[i * n + i1] += lambda;
  }
  return m;
}
