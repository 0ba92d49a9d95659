import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TensorData } from '../../src/core/tensor.js';
import { readNpy, readNpyFile, writeNpy, writeNpyFile } from '../../src/io/index.js';
import { expected, expectFlattenError, expectTensor, fixture, fixtureBytes } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'npy-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const samples: TensorData[] = [
  { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-8, Infinity, -0, 6]) },
  { dtype: 'int32', shape: [4], data: new Int32Array([-(2 ** 31), 0, 7, 2 ** 31 - 1]) },
  { dtype: 'int64', shape: [2, 1], data: new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n]) },
  { dtype: 'uint8', shape: [3], data: new Uint8Array([0, 128, 255]) },
  { dtype: 'bool', shape: [1, 2], data: new Uint8Array([1, 0]) },
  { dtype: 'float32', shape: [], data: new Float32Array([42]) },
  { dtype: 'float32', shape: [0, 5], data: new Float32Array(0) },
];

describe('npy', () => {
  it.each(Object.keys(expected).filter((k) => k.endsWith('.npy')))('reads numpy-written %s', (name) => {
    expectTensor(readNpyFile(fixture(name)), expected[name], name);
  });

  it.each(samples.map((s) => [`${s.dtype} [${s.shape}]`, s] as const))('round-trips %s', (_label, t) => {
    const bytes = writeNpy(t);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLen) % 64).toBe(0); // data starts 64-byte aligned, as numpy writes it
    expect(bytes[10 + headerLen - 1]).toBe(0x0a);
    const back = readNpy(bytes, 'rt.npy');
    expect(back.dtype).toBe(t.dtype);
    expect(back.shape).toEqual(t.shape);
    expect(back.data).toEqual(t.data);
  });

  it('writes the header numpy writes', () => {
    const bytes = writeNpy(samples[1]);
    const text = new TextDecoder().decode(bytes.subarray(10, 10 + new DataView(bytes.buffer).getUint16(8, true)));
    expect(text).toMatch(/^\{'descr': '<i4', 'fortran_order': False, 'shape': \(4,\), \} +\n$/);
  });

  it('writes files atomically (no temp file left behind)', () => {
    const path = join(dir, 'x.npy');
    writeNpyFile(path, samples[0]);
    writeNpyFile(path, samples[2]);
    expect(readdirSync(dir)).toEqual(['x.npy']);
    expect(readNpyFile(path).data).toEqual(samples[2].data);
    expectFlattenError(
      () => writeNpyFile(join(dir, 'missing', 'y.npy'), samples[0]),
      'BAD_FILE',
      'y.npy',
      'cannot write',
    );
  });

  it('reads version 2 headers', () => {
    const v1 = fixtureBytes('int64.npy');
    const hl = new DataView(v1.buffer, v1.byteOffset).getUint16(8, true);
    const v2 = new Uint8Array(v1.length + 2);
    v2.set(v1.subarray(0, 8));
    v2[6] = 2;
    new DataView(v2.buffer).setUint32(8, hl, true);
    v2.set(v1.subarray(10), 12);
    expectTensor(readNpy(v2, 'v2.npy'), expected['int64.npy']);
  });

  it('rejects bad magic, truncated data and unsupported dtypes, naming the file', () => {
    const good = fixtureBytes('float64.npy');
    expectFlattenError(
      () => readNpy(new TextEncoder().encode('PK\x03\x04 not numpy'), 'a.npy'),
      'BAD_FILE',
      'a.npy',
      'not a .npy file',
    );
    expectFlattenError(
      () => readNpy(good.subarray(0, good.length - 1), 'short.npy'),
      'BAD_FILE',
      'short.npy',
      'truncated',
    );
    expectFlattenError(() => readNpy(good.subarray(0, 40), 'short.npy'), 'BAD_FILE', 'short.npy', 'truncated');
    const c16 = new TextDecoder('latin1').decode(good).replace("'<f8'", "'<c8'");
    expectFlattenError(
      () =>
        readNpy(
          Uint8Array.from(c16, (c) => c.charCodeAt(0)),
          'c.npy',
        ),
      'BAD_FILE',
      'c.npy',
      "unsupported dtype '<c8'",
    );
    expectFlattenError(() => readNpyFile(fixture('nope.npy')), 'BAD_FILE', 'nope.npy');
  });
});
