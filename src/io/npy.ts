/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0, see numpy/lib/format.py docs):
 *   "\x93NUMPY" major minor, header length (u16 in v1, u32 in v2/v3), a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and '\n',
 *   then the raw array data. The header rules are numpy's own (npy_header.ts).
 * Reads go through elements.ts (float64 narrowed to float32, int64 kept exact). Writes use v1,
 * with the header padded so the data starts on a 64-byte boundary, as numpy does.
 */
import { FlattenError } from '../core/errors.js';
import type { DType, TensorData } from '../core/tensor.js';
import { stridesOf } from '../core/tensor.js';
import { ELEMENT_SIZE, encodeLittleEndian, gatherStrided, HOST_LITTLE_ENDIAN, type ElementKind } from './elements.js';
import { budgetFor, type ReadOptions } from './budget.js';
import { readFileBytes, writeFileAtomic } from './files.js';
import { MAX_HEADER_BYTES, parseNpyHeader } from './npy_header.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

/** dtype code without byte order ('f4') -> element kind. */
const KINDS: Record<string, ElementKind> = {
  f2: 'f16',
  f4: 'f32',
  f8: 'f64',
  i1: 'i8',
  i2: 'i16',
  i4: 'i32',
  i8: 'i64',
  u1: 'u8',
  u2: 'u16',
  b1: 'bool',
};

const DESCR: Record<DType, string> = { float32: '<f4', int32: '<i4', int64: '<i8', uint8: '|u1', bool: '|b1' };

/**
 * Read an .npy file by numpy's rules (npy_header.ts). Bytes after the data are ignored, as numpy's
 * reader ignores them.
 */
export function readNpy(bytes: Uint8Array, name = 'array.npy', opts: ReadOptions = {}): TensorData {
  const fail = (why: string) => new FlattenError('BAD_FILE', `${name}: ${why}`);
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) {
    const head = Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw fail(`not a .npy file (magic ${head || 'missing'}, expected 93 4e 55 4d 50 59)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3 || minor !== 0)
    throw fail(`unsupported .npy format version ${major}.${minor} (numpy writes 1.0, 2.0 and 3.0)`);
  const lenSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenSize) throw fail('truncated .npy header');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > MAX_HEADER_BYTES)
    throw fail(`.npy header of ${headerLen} bytes is longer than numpy's limit of ${MAX_HEADER_BYTES}`);
  const dataStart = 8 + lenSize + headerLen;
  if (dataStart > bytes.length)
    throw fail(`truncated .npy header (needs ${dataStart} bytes, file has ${bytes.length})`);
  // v1/v2 headers are latin1, v3 allows utf-8.
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lenSize, dataStart));
  const { descr, fortranOrder, shape: dims } = parseNpyHeader(text, fail);
  const order = descr[0];
  const code = descr.slice(1);
  const kind = Object.hasOwn(KINDS, code) ? KINDS[code] : undefined;
  if (!'<>|='.includes(order) || !kind)
    throw fail(`unsupported dtype '${descr}' (supported: f2, f4, f8, i1, i2, i4, i8, u1, u2, b1)`);
  const n = dims.reduce((a, b) => a * b, 1);
  const size = ELEMENT_SIZE[kind];
  if (dataStart + n * size > bytes.length) {
    throw fail(
      `truncated data: shape (${dims.join(', ')}) of ${descr} needs ${n * size} bytes, file has ${bytes.length - dataStart}`,
    );
  }
  // Fortran order: element (i, j, ...) sits at i + j*d0 + ...; gathering with those strides yields C order.
  let strides = stridesOf(dims);
  if (fortranOrder) {
    strides = [];
    let acc = 1;
    for (const d of dims) {
      strides.push(acc);
      acc *= d;
    }
  }
  const littleEndian = order === '<' || order === '|' || (order === '=' && HOST_LITTLE_ENDIAN);
  return gatherStrided(
    { bytes: bytes.subarray(dataStart, dataStart + n * size), kind, littleEndian },
    { shape: dims, strides, offset: 0 },
    { what: name, budget: budgetFor(opts, bytes.length) },
  );
}

/** numpy's repr of a shape tuple: (), (5,), (2, 3). */
function shapeRepr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Serialize as a version 1.0 .npy (C order, little-endian). */
export function writeNpy(t: TensorData): Uint8Array {
  const dict = `{'descr': '${DESCR[t.dtype]}', 'fortran_order': False, 'shape': ${shapeRepr(t.shape)}, }`;
  // Pad with spaces and end with '\n' so that magic(6) + version(2) + length(2) + header is a multiple of 64.
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((ALIGN - (unpadded % ALIGN)) % ALIGN) + '\n';
  if (header.length > 0xffff)
    throw new FlattenError('BAD_SHAPE', `cannot write .npy: header too long for shape ${shapeRepr(t.shape)}`);
  const data = encodeLittleEndian(t, 'writeNpy');
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}

export function readNpyFile(path: string, opts: ReadOptions = {}): TensorData {
  return readNpy(readFileBytes(path), path, opts);
}

/** Atomic: the file appears complete or not at all. */
export function writeNpyFile(path: string, t: TensorData): void {
  writeFileAtomic(path, writeNpy(t));
}
