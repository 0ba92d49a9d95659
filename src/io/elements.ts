/**
 * Decoding raw element bytes (from a torch storage, .npy or .safetensors buffer) into TensorData.
 *
 * Shared by all readers so that the dtype policy lives in one place:
 *   float16 / bfloat16 / float64 -> float32 (the engines compute in fp32),
 *   int64 -> int64 (BigInt64Array, exact), int32 / int16 / int8 / uint16 -> int32,
 *   uint8 -> uint8, bool -> bool (Uint8Array of 0/1).
 * Reads go through DataView with an explicit byte order, so big-endian files decode correctly too.
 */
import { FlattenError } from '../core/errors.js';
import { stridesOf, type DType, type TensorData, type TypedData } from '../core/tensor.js';
import type { ReadBudget } from './budget.js';

export type ElementKind = 'f64' | 'f32' | 'f16' | 'bf16' | 'i64' | 'i32' | 'i16' | 'i8' | 'u16' | 'u8' | 'bool';

export const ELEMENT_SIZE: Record<ElementKind, number> = {
  f64: 8,
  f32: 4,
  f16: 2,
  bf16: 2,
  i64: 8,
  i32: 4,
  i16: 2,
  i8: 1,
  u16: 2,
  u8: 1,
  bool: 1,
};

export function outputDType(kind: ElementKind): DType {
  switch (kind) {
    case 'f64':
    case 'f32':
    case 'f16':
    case 'bf16':
      return 'float32';
    case 'i64':
      return 'int64';
    case 'i32':
    case 'i16':
    case 'i8':
    case 'u16':
      return 'int32';
    case 'u8':
      return 'uint8';
    case 'bool':
      return 'bool';
  }
}

export function allocate(dtype: DType, n: number): TypedData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half -> float (exact: every half is representable as a float). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float -> IEEE half: the binary16 bits nearest to `v` (round to nearest, ties to even; overflow to ±Inf). */
export function toHalfBits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // the half exponent field: float bias 127, half bias 15
  if (e >= 0x1f) return sign | 0x7c00;
  // a normal half keeps the top 10 of 23 mantissa bits; a subnormal one counts units of 2^-24
  const [m, shift] = e > 0 ? [mant, 13] : [mant | 0x800000, 14 - e];
  if (shift > 24) return sign;
  let q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && q & 1)) q++;
  // a mantissa carry moves into the exponent field, which is the right rounding
  return sign | ((e > 0 ? e << 10 : 0) + q);
}

/** bfloat16 is the top half of a float32. */
export function bf16ToFloat(b: number): number {
  u32Scratch[0] = b << 16;
  return f32Scratch[0];
}

type Reader = (v: DataView, byte: number, le: boolean) => number | bigint;

const READERS: Record<ElementKind, Reader> = {
  f64: (v, b, le) => v.getFloat64(b, le),
  f32: (v, b, le) => v.getFloat32(b, le),
  f16: (v, b, le) => halfToFloat(v.getUint16(b, le)),
  bf16: (v, b, le) => bf16ToFloat(v.getUint16(b, le)),
  i64: (v, b, le) => v.getBigInt64(b, le),
  i32: (v, b, le) => v.getInt32(b, le),
  i16: (v, b, le) => v.getInt16(b, le),
  i8: (v, b) => v.getInt8(b),
  u16: (v, b, le) => v.getUint16(b, le),
  u8: (v, b) => v.getUint8(b),
  bool: (v, b) => (v.getUint8(b) !== 0 ? 1 : 0),
};

export interface ElementSource {
  /** Raw element bytes (a whole torch storage, or the data section of an .npy / tensor). */
  bytes: Uint8Array;
  kind: ElementKind;
  littleEndian: boolean;
}

/** A strided view of a source, in elements, like torch's `storage[offset].as_strided(shape, strides)`. */
export interface Layout {
  shape: number[];
  strides: number[];
  offset: number;
}

export interface GatherOptions {
  /** Labels error messages: the file and the field (`model.pth: storage 3`). */
  what: string;
  budget: ReadBudget;
}

/** No tensor may have more elements than this (4 GiB of float32), whatever its file claims. */
export const MAX_ELEMENTS = 2 ** 30;
/** numpy's limit on dimensions (NPY_MAXDIMS), applied to every reader. */
export const MAX_RANK = 64;
/**
 * A view may repeat storage elements (stride 0, overlapping strides: what `expand` saves), but only up to
 * this many elements beyond what the storage holds; past it a few stored bytes would buy gigabytes.
 */
export const REPEAT_ALLOWANCE = 2 ** 20;

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Element count of a shape, or Infinity once it passes MAX_ELEMENTS (so the product never loses precision). */
function elementCount(shape: number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) if ((n *= d) > MAX_ELEMENTS) return Infinity;
  return n;
}

/** Throws unless the layout is well-formed, in range and affordable; returns its element count. */
function checkLayout(src: ElementSource, { shape, strides, offset }: Layout, what: string): number {
  if (
    !shape.every(isNonNegInt) ||
    !strides.every(isNonNegInt) ||
    !isNonNegInt(offset) ||
    strides.length !== shape.length
  ) {
    throw new FlattenError(
      'BAD_FILE',
      `${what}: invalid tensor layout (shape [${shape}], stride [${strides}], offset ${offset})`,
    );
  }
  if (shape.length > MAX_RANK)
    throw new FlattenError('BAD_FILE', `${what}: ${shape.length} dimensions, more than ${MAX_RANK}`);
  const n = elementCount(shape);
  if (n > MAX_ELEMENTS)
    throw new FlattenError(
      'TOO_LARGE',
      `${what}: shape [${shape}] has more than ${MAX_ELEMENTS} elements, the most a tensor may have`,
    );
  if (n === 0) return 0;
  const available = Math.floor(src.bytes.length / ELEMENT_SIZE[src.kind]);
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * strides[i];
  if (last >= available) {
    throw new FlattenError(
      'BAD_FILE',
      `${what}: tensor data out of range (needs element ${last}, only ${available} stored)`,
    );
  }
  if (n > available + REPEAT_ALLOWANCE) {
    throw new FlattenError(
      'TOO_LARGE',
      `${what}: shape [${shape}] with stride [${strides}] repeats ${available} stored elements into ${n}, more than ${REPEAT_ALLOWANCE} beyond what is stored`,
    );
  }
  return n;
}

/** Build a row-major tensor from a strided view of `src`; refuses layouts that are malformed, out of range or too large. */
export function gatherStrided(src: ElementSource, layout: Layout, opts: GatherOptions): TensorData {
  const n = checkLayout(src, layout, opts.what);
  const { shape, strides, offset } = layout;
  const dtype = outputDType(src.kind);
  const size = ELEMENT_SIZE[src.kind];
  opts.budget.charge(n * BYTES_PER_OUTPUT[dtype], opts.what);

  const c = stridesOf(shape);
  const contiguous = shape.every((d, i) => d === 1 || strides[i] === c[i]);
  // Fast path: a contiguous block whose byte layout already matches a typed array on this host.
  if (n > 0 && contiguous && src.littleEndian === HOST_LITTLE_ENDIAN && FAST_KINDS.has(src.kind)) {
    // Copy into a fresh buffer: aligned for the typed array, and not aliasing the file bytes.
    // (Not `.slice()`: on a Node Buffer that returns a view.)
    const block = new Uint8Array(n * size);
    block.set(src.bytes.subarray(offset * size, (offset + n) * size));
    if (src.kind === 'f32') return { dtype, shape, data: new Float32Array(block.buffer) };
    if (src.kind === 'i64') return { dtype, shape, data: new BigInt64Array(block.buffer) };
    if (src.kind === 'i32') return { dtype, shape, data: new Int32Array(block.buffer) };
    return { dtype, shape, data: block };
  }
  const out = allocate(dtype, n);
  if (n === 0) return { dtype, shape, data: out };

  const view = new DataView(src.bytes.buffer, src.bytes.byteOffset, src.bytes.byteLength);
  const read = READERS[src.kind];
  const le = src.littleEndian;
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const inner = rank === 0 ? 1 : shape[rank - 1];
  const innerStride = rank === 0 ? 0 : strides[rank - 1];
  let base = offset;
  let o = 0;
  const outAny = out as { [i: number]: number | bigint };
  // Odometer over all but the last axis; the last axis is a tight loop.
  for (;;) {
    for (let j = 0, e = base; j < inner; j++, e += innerStride) outAny[o++] = read(view, e * size, le);
    let ax = rank - 2;
    while (ax >= 0) {
      index[ax]++;
      base += strides[ax];
      if (index[ax] < shape[ax]) break;
      base -= strides[ax] * shape[ax];
      index[ax] = 0;
      ax--;
    }
    if (ax < 0) break;
  }
  return { dtype, shape, data: out };
}

/** Kinds whose bytes are already the output typed array's bytes (u8 keeps its values; bool needs 0/1). */
const FAST_KINDS = new Set<ElementKind>(['f32', 'i64', 'i32', 'u8']);
const BYTES_PER_OUTPUT: Record<DType, number> = { float32: 4, int32: 4, int64: 8, uint8: 1, bool: 1 };

/** Raw little-endian bytes of a tensor, as .npy and .safetensors store them (bool as 0/1). */
export function encodeLittleEndian(t: TensorData, what: string): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new FlattenError('BAD_SHAPE', `${what}: shape [${t.shape}] needs ${n} values, data has ${t.data.length}`);
  }
  if (t.dtype === 'bool') return Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0));
  const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (HOST_LITTLE_ENDIAN || t.data.BYTES_PER_ELEMENT === 1) return new Uint8Array(src); // copies
  const out = new Uint8Array(src.length);
  const view = new DataView(out.buffer);
  const d = t.data;
  for (let i = 0; i < n; i++) {
    if (d instanceof Float32Array) view.setFloat32(i * 4, d[i], true);
    else if (d instanceof Int32Array) view.setInt32(i * 4, d[i], true);
    else if (d instanceof BigInt64Array) view.setBigInt64(i * 8, d[i], true);
  }
  return out;
}
