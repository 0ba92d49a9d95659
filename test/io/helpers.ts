/** Shared test helpers: fixture paths, expected.json, and tiny builders for pickles and .pth zips. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { expect } from 'vitest';
import { FlattenError, type ErrorCode } from '../../src/core/errors.js';
import type { TensorData } from '../../src/core/tensor.js';
import { isTensorData } from '../../src/io/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/io/', import.meta.url));
export const fixture = (name: string): string => FIXTURES + name;
export const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(fixture(name)));

export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}
export const expected: Record<string, any> = JSON.parse(readFileSync(fixture('expected.json'), 'utf8'));

/** Exact comparison against the oracle (float32 values are exact doubles; int64 as decimal strings). */
export function expectTensor(t: unknown, e: ExpectedTensor, key = ''): asserts t is TensorData {
  expect(isTensorData(t), `${key} is a tensor`).toBe(true);
  const td = t as TensorData;
  expect(td.dtype, key).toBe(e.dtype);
  expect(td.shape, key).toEqual(e.shape);
  expect(td.data.length, key).toBe(e.values.length);
  const got =
    td.dtype === 'int64' ? Array.from(td.data as BigInt64Array, String) : Array.from(td.data as Float32Array, Number);
  expect(got, key).toEqual(e.values);
}

/** Run `fn` and check it throws a FlattenError with this code and a message matching every pattern. */
export function expectFlattenError(fn: () => unknown, code: ErrorCode, ...patterns: (string | RegExp)[]): FlattenError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'should throw').toBeInstanceOf(FlattenError);
  const err = caught as FlattenError;
  expect(err.code, err.message).toBe(code);
  for (const p of patterns) {
    if (typeof p === 'string') expect(err.message).toContain(p);
    else expect(err.message).toMatch(p);
  }
  return err;
}

// ---- pickle builder: each helper returns the bytes of one opcode and its argument ----
type Part = number | string | Uint8Array | Part[];
export function bytesOf(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  const add = (p: Part): void => {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') out.push(...new TextEncoder().encode(p));
    else if (p instanceof Uint8Array) out.push(...p);
    else p.forEach(add);
  };
  parts.forEach(add);
  return new Uint8Array(out);
}
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
export const op = {
  proto: (v = 2): Part => [0x80, v],
  stop: 0x2e,
  mark: 0x28,
  str: (s: string): Part => {
    const b = new TextEncoder().encode(s);
    return [0x58, u32(b.length), b];
  },
  shortStr: (s: string): Part => {
    const b = new TextEncoder().encode(s);
    return [0x8c, b.length, b];
  },
  int1: (v: number): Part => [0x4b, v],
  binint: (v: number): Part => [0x4a, u32(v >>> 0)],
  global: (module: string, name: string): Part => [0x63, `${module}\n${name}\n`],
  stackGlobal: 0x93,
  memoize: 0x94,
  tuple: 0x74,
  tuple1: 0x85,
  tuple2: 0x86,
  tuple3: 0x87,
  emptyTuple: 0x29,
  emptyDict: 0x7d,
  emptyList: 0x5d,
  reduce: 0x52,
  newobj: 0x81,
  build: 0x62,
  setitem: 0x73,
  setitems: 0x75,
  appends: 0x65,
  binpersid: 0x51,
  none: 0x4e,
  newfalse: 0x89,
};

/** A torch-like zip: `<prefix>/data.pkl` plus `<prefix>/data/<key>` storages, stored or deflated. */
export function makePth(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array> = {},
  opts: { prefix?: string; level?: 0 | 6; extra?: Record<string, Uint8Array> } = {},
): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  const level = opts.level ?? 0;
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = { [`${prefix}/data.pkl`]: [pickle, { level }] };
  for (const [k, v] of Object.entries(storages)) files[`${prefix}/data/${k}`] = [v, { level }];
  for (const [k, v] of Object.entries(opts.extra ?? {})) files[`${prefix}/${k}`] = [v, { level }];
  files[`${prefix}/version`] = [new TextEncoder().encode('3\n'), { level }];
  return zipSync(files);
}

/** Pickle ops for `_rebuild_tensor_v2(storage(key, FloatStorage-like), offset, size, stride, False, OrderedDict())`. */
export function tensorOps(
  storageType: string,
  key: string,
  numel: number,
  offset: number,
  size: number[],
  stride: number[],
): Part {
  const ints = (xs: number[]): Part => [op.mark, xs.map(op.binint), op.tuple];
  return [
    op.global('torch._utils', '_rebuild_tensor_v2'),
    op.mark,
    [
      op.mark,
      op.str('storage'),
      op.global('torch', storageType),
      op.str(key),
      op.str('cpu'),
      op.binint(numel),
      op.tuple,
      op.binpersid,
    ],
    op.binint(offset),
    ints(size),
    ints(stride),
    op.newfalse,
    op.global('collections', 'OrderedDict'),
    op.emptyTuple,
    op.reduce,
    op.tuple,
    op.reduce,
  ];
}

/** A pickle of {key: tensor, ...} built from tensorOps parts. */
export function dictPickle(entries: [string, Part][]): Uint8Array {
  return bytesOf(
    op.proto(2),
    op.emptyDict,
    op.mark,
    entries.map(([k, v]) => [op.str(k), v]),
    op.setitems,
    op.stop,
  );
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
