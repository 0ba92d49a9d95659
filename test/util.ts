import { FlattenError } from '../src/core/errors.js';
import type { TensorData } from '../src/core/tensor.js';
import type { ModelSpec } from '../src/models/build.js';
import type { Family } from '../src/models/model.js';

/**
 * A ModelSpec of a family and kwargs. TypeScript types an object literal's `constructor` as Object.prototype's,
 * a Function, so it refuses literals for ModelSpec's `constructor?: string`; this one cast stands for all of them.
 */
export function modelSpec(family: Family, kwargs: Record<string, unknown>): ModelSpec {
  return { family, kwargs } as unknown as ModelSpec;
}

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

/** max|a − b| over max|b|: the error of a whole tensor relative to its reference's largest value. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return e / Math.max(m, 1e-30);
}

/** The FlattenError a promise rejects with, checked for its code and for being one line; returns its message. */
export async function rejectsNamed(p: Promise<unknown>, code: string): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof FlattenError)) throw new Error(`expected a FlattenError ${code}, got ${String(e)}`);
  if (e.code !== code || e.message.includes('\n'))
    throw new Error(`expected one line of ${code}, got ${e.code}: ${e.message}`);
  return e.message;
}
