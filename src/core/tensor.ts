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
