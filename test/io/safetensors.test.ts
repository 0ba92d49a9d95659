import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StateDict } from '../../src/core/tensor.js';
import { readSafetensors, readSafetensorsFile, writeSafetensors, writeSafetensorsFile } from '../../src/io/index.js';
import { expectFlattenError } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'st-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sd: StateDict = new Map([
  ['layers.0.weight', { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, -4, 5.5, 1e-30]) }],
  ['0', { dtype: 'float32', shape: [], data: new Float32Array([7]) }], // integer-like key must keep its place
  ['relative_position_index', { dtype: 'int64', shape: [3], data: new BigInt64Array([0n, -1n, 2n ** 62n + 5n]) }],
  ['count', { dtype: 'int32', shape: [1], data: new Int32Array([-3]) }],
  ['pixels', { dtype: 'uint8', shape: [3], data: new Uint8Array([0, 9, 255]) }],
  ['mask', { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) }],
]);

/** Build a file from a literal header and data, to test what other writers may produce. */
function build(header: object, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips every dtype, key order and metadata', () => {
    const bytes = writeSafetensors(sd, { format: 'pt', note: 'héllo' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    // JSON.parse would reorder the key "0", so check the order in the raw text
    const order = [...text.matchAll(/"([^"]+)":\{/g)].map((m) => m[1]);
    expect(order).toEqual(['__metadata__', ...sd.keys()]);
    const header = JSON.parse(text);
    expect(header['relative_position_index']).toEqual({ dtype: 'I64', shape: [3], data_offsets: [28, 52] });
    const { tensors, metadata } = readSafetensors(bytes, 'rt.safetensors');
    expect(metadata).toEqual({ format: 'pt', note: 'héllo' });
    expect([...tensors.keys()]).toEqual([...sd.keys()]);
    for (const [k, t] of sd) expect(tensors.get(k), k).toEqual(t);
  });

  it('writes without metadata and reads an empty file', () => {
    const { tensors, metadata } = readSafetensors(writeSafetensors(new Map()), 'e');
    expect(tensors.size).toBe(0);
    expect(metadata).toEqual({});
  });

  it('widens F16 / BF16 and narrows F64 to float32', () => {
    const data = new Uint8Array([
      0x00,
      0x3c,
      0x00,
      0xc0,
      0x80,
      0x3f,
      0x20,
      0xc1,
      ...new Uint8Array(new Float64Array([1 / 3]).buffer),
    ]);
    const { tensors } = readSafetensors(
      build(
        {
          h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
          d: { dtype: 'F64', shape: [], data_offsets: [8, 16] },
        },
        data,
      ),
      'w',
    );
    expect(Array.from(tensors.get('h')!.data as Float32Array)).toEqual([1, -2]);
    expect(Array.from(tensors.get('b')!.data as Float32Array)).toEqual([1, -10]);
    expect(tensors.get('d')!.data).toEqual(new Float32Array([1 / 3]));
  });

  it('writes files atomically and reads them back', () => {
    const path = join(dir, 'm.safetensors');
    writeSafetensorsFile(path, sd, { a: 'b' });
    expect(readSafetensorsFile(path).tensors.get('count')).toEqual(sd.get('count'));
  });

  it('rejects truncated files and bad offsets, naming the file and the tensor', () => {
    const bytes = writeSafetensors(sd);
    expectFlattenError(
      () => readSafetensors(bytes.subarray(0, bytes.length - 1), 'cut.safetensors'),
      'BAD_FILE',
      'cut.safetensors',
      'truncated',
      "'mask'",
    );
    expectFlattenError(
      () => readSafetensors(bytes.subarray(0, 50), 'cut.safetensors'),
      'BAD_FILE',
      'truncated safetensors header',
    );
    expectFlattenError(() => readSafetensors(bytes.subarray(0, 5), 'cut.safetensors'), 'BAD_FILE', 'truncated');
    const f4 = new Uint8Array(8);
    expectFlattenError(
      () => readSafetensors(build({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f4), 's'),
      'BAD_FILE',
      "'x'",
      'needs 12',
    );
    expectFlattenError(
      () => readSafetensors(build({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f4), 's'),
      'BAD_FILE',
      'bad data_offsets',
    );
    expectFlattenError(
      () =>
        readSafetensors(
          build(
            {
              x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
              y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
            },
            f4,
          ),
          's',
        ),
      'BAD_FILE',
      'overlap',
    );
    expectFlattenError(
      () => readSafetensors(build({ x: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, f4), 's'),
      'BAD_FILE',
      'unsupported dtype "C64"',
    );
    expectFlattenError(
      () => readSafetensors(build({ __metadata__: { a: 1 } }, f4), 's'),
      'BAD_FILE',
      "'a' is not a string",
    );
    const junk = new Uint8Array(16).fill(0x41);
    expectFlattenError(() => readSafetensors(junk, 'junk.bin'), 'BAD_FILE', 'junk.bin');
  });

  it('refuses a tensor named __metadata__', () => {
    const t = sd.get('count')!;
    expectFlattenError(() => writeSafetensors(new Map([['__metadata__', t]])), 'BAD_KEYS', 'reserved');
  });
});
