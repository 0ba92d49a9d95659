/**
 * Engine-free tensor data: what readers produce and writers consume.
 * Row-major (C order), shape in elements. Integer tensors of 64 bits are kept as BigInt64Array
 * so that `relative_position_index` round-trips exactly.
 */
export type DType = 'float32' | 'int32' | 'int64' | 'uint8' | 'bool';

export type TypedData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

export interface TensorData {
  dtype: DType;
  shape: number[];
  data: TypedData;
}

/** A checkpoint or state_dict: official key → tensor, in file order. */
export type StateDict = Map<string, TensorData>;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Row-major (C order) strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

/** numpy broadcasting of two shapes; throws on a mismatch. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`shapes (${a}) and (${b}) do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

export function shapeStr(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

export function float32(shape: number[], data?: Float32Array): TensorData {
  const n = sizeOf(shape);
  const d = data ?? new Float32Array(n);
  if (d.length !== n) throw new Error(`float32 tensor of shape ${shapeStr(shape)} needs ${n} values, got ${d.length}`);
  return { dtype: 'float32', shape, data: d };
}

/** Values as float32 (widening ints), for comparisons and engines that only take floats. */
export function toFloat32(t: TensorData): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  return out;
}
