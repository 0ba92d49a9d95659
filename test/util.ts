import type { TensorData } from '../src/core/tensor.js';

/** max|y − ref| and the golden tolerance 1e-4 · max(1, max|ref|). */
export function maxAbsError(y: TensorData, ref: TensorData): { err: number; tol: number } {
  if (y.shape.join() !== ref.shape.join()) throw new Error(`shape ${y.shape} vs reference ${ref.shape}`);
  const a = y.data as Float32Array;
  const b = ref.data as Float32Array;
  let err = 0;
  let mx = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    mx = Math.max(mx, Math.abs(b[i]));
  }
  return { err, tol: 1e-4 * Math.max(1, mx) };
}
