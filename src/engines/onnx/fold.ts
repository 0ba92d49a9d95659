/**
 * Trace-time evaluation of ops whose inputs are all constants (weights, masks, index tables), so that
 * the exported graph carries their results instead of the computation. Plain row-major float32 arrays.
 */

import { broadcastShapes, sizeOf, stridesOf } from '../../core/tensor.js';

export { broadcastShapes, sizeOf, stridesOf };

export interface Dense {
  shape: number[];
  data: Float32Array;
}

/** Strides of `shape` read as if broadcast to `to` (0 on broadcast axes). */
function broadcastStrides(shape: readonly number[], to: readonly number[]): number[] {
  const st = stridesOf(shape);
  const pad = to.length - shape.length;
  return to.map((_, i) => (i < pad || shape[i - pad] === 1 ? 0 : st[i - pad]));
}

/** Calls f(outIndex, offsets...) for every element of `out`, with the offsets of each broadcast input. */
function walk(
  out: readonly number[],
  inputs: readonly (readonly number[])[],
  f: (o: number, offs: number[]) => void,
): void {
  const n = sizeOf(out);
  const st = inputs.map((s) => broadcastStrides(s, out));
  const idx = new Array<number>(out.length).fill(0);
  const offs = inputs.map(() => 0);
  for (let o = 0; o < n; o++) {
    f(o, offs);
    // odometer increment, updating each input's offset incrementally
    for (let ax = out.length - 1; ax >= 0; ax--) {
      idx[ax]++;
      for (let k = 0; k < offs.length; k++) offs[k] += st[k][ax];
      if (idx[ax] < out[ax]) break;
      for (let k = 0; k < offs.length; k++) offs[k] -= st[k][ax] * out[ax];
      idx[ax] = 0;
    }
  }
}

export function binary(a: Dense, b: Dense, f: (x: number, y: number) => number): Dense {
  const shape = broadcastShapes(a.shape, b.shape);
  const data = new Float32Array(sizeOf(shape));
  walk(shape, [a.shape, b.shape], (o, [i, j]) => {
    data[o] = f(a.data[i], b.data[j]);
  });
  return { shape, data };
}

export function unary(a: Dense, f: (x: number) => number): Dense {
  return { shape: [...a.shape], data: a.data.map(f) };
}

export function broadcastTo(a: Dense, shape: number[]): Dense {
  const data = new Float32Array(sizeOf(shape));
  walk(shape, [a.shape], (o, [i]) => {
    data[o] = a.data[i];
  });
  return { shape: [...shape], data };
}

/** Reads `shape` elements of src starting at `base`, stepping by `strides` per axis. */
function strided(src: Float32Array, base: number, shape: readonly number[], strides: readonly number[]): Float32Array {
  const data = new Float32Array(sizeOf(shape));
  const idx = new Array<number>(shape.length).fill(0);
  let off = base;
  for (let o = 0; o < data.length; o++) {
    data[o] = src[off];
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      idx[ax]++;
      off += strides[ax];
      if (idx[ax] < shape[ax]) break;
      off -= strides[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
  return data;
}

export function transpose(a: Dense, perm: readonly number[]): Dense {
  const st = stridesOf(a.shape);
  const shape = perm.map((p) => a.shape[p]);
  return {
    shape,
    data: strided(
      a.data,
      0,
      shape,
      perm.map((p) => st[p]),
    ),
  };
}

export function slice(a: Dense, begin: readonly number[], size: readonly number[]): Dense {
  const st = stridesOf(a.shape);
  const base = begin.reduce((acc, b, i) => acc + b * st[i], 0);
  return { shape: [...size], data: strided(a.data, base, size, st) };
}

export function concat(xs: Dense[], axis: number): Dense {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0);
  const outer = sizeOf(shape.slice(0, axis));
  const data = new Float32Array(sizeOf(shape));
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const x of xs) {
      const chunk = sizeOf(x.shape.slice(axis));
      data.set(x.data.subarray(i * chunk, (i + 1) * chunk), o);
      o += chunk;
    }
  }
  return { shape, data };
}

export function gather(a: Dense, indices: Int32Array, axis: number): Dense {
  const outer = sizeOf(a.shape.slice(0, axis));
  const inner = sizeOf(a.shape.slice(axis + 1));
  const n = a.shape[axis];
  const shape = [...a.shape];
  shape[axis] = indices.length;
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < outer; i++) {
    indices.forEach((j, k) => {
      data.set(a.data.subarray((i * n + j) * inner, (i * n + j + 1) * inner), (i * indices.length + k) * inner);
    });
  }
  return { shape, data };
}

/** Sum over `axes` (already non-negative), keeping them as size-1 axes. */
export function sumKeep(a: Dense, axes: readonly number[]): Dense {
  const shape = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(sizeOf(shape));
  walk(a.shape, [shape], (o, [j]) => {
    out[j] += a.data[o];
  });
  return { shape, data: Float32Array.from(out) };
}
