import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StateDict, TensorData } from '../../src/core/tensor.js';
import { encodeLittleEndian } from '../../src/io/elements.js';
import {
  findStateDict,
  readPth,
  readSafetensors,
  readSafetensorsFile,
  readZip,
  writeSafetensors,
} from '../../src/io/index.js';
import { writePth } from '../../src/io/pth_write.js';
import { readStateDict } from '../../src/nn/checkpoint.js';
import { GOLDEN_DIR } from '../golden.js';
import { fixture } from './helpers.js';

/** What torch 1.13 read from our files: dtype, shape and the sha256 of each tensor (make_pth_write_fixture.py). */
const torchSaw = JSON.parse(readFileSync(fixture('pth_write_torch.json'), 'utf8')) as Record<
  string,
  Record<string, [string, number[], string]>
>;
const TORCH_DTYPES: Record<string, string> = {
  float32: 'float32',
  int64: 'int64',
  int32: 'int32',
  uint8: 'uint8',
  bool: 'bool',
};
const sha256 = (t: TensorData) => createHash('sha256').update(encodeLittleEndian(t, 'tensor')).digest('hex');

/** Our .pth of `sd`, read back by our reader, has the same tensors, and torch saw exactly these. */
function roundTrip(sd: StateDict, torchCase: string): Uint8Array {
  const bytes = writePth(sd);
  const back = readPth(bytes) as Map<string, unknown>;
  expect([...back.keys()]).toEqual(['model']);
  const model = findStateDict(back);
  expect([...model.keys()]).toEqual([...sd.keys()]);
  const seen = torchSaw[torchCase];
  expect(Object.keys(seen)).toEqual([...sd.keys()]);
  for (const [k, t] of sd) {
    const r = model.get(k)!;
    expect([r.dtype, r.shape], k).toEqual([t.dtype, t.shape]);
    expect(Buffer.from(encodeLittleEndian(r, k)).equals(Buffer.from(encodeLittleEndian(t, k))), k).toBe(true);
    expect([seen[k][0], seen[k][1], seen[k][2]], k).toEqual([TORCH_DTYPES[t.dtype], t.shape, sha256(t)]);
  }
  return bytes;
}

describe('writePth: torch.save zips that torch.load(weights_only=True) reads', () => {
  it('the shipped fmnist weights: every tensor back by our reader, and as torch read them', () => {
    const sd = readSafetensorsFile('weights/flatten_deit_fmnist.safetensors').tensors;
    const bytes = roundTrip(sd, 'flatten_deit_fmnist');
    // torch's layout: stored entries under archive/, each data start 64-byte aligned, then version and byteorder
    const zip = readZip(bytes, 'ours.pth');
    const names = [...zip.entries.keys()];
    expect(names[0]).toBe('archive/data.pkl');
    expect(names.slice(-2)).toEqual(['archive/version', 'archive/byteorder']);
    expect(names).toHaveLength(sd.size + 3);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (const e of zip.entries.values()) {
      expect(e.method).toBe(0);
      const start = e.localHeaderOffset + 30 + view.getUint16(e.localHeaderOffset + 26, true);
      expect((start + view.getUint16(e.localHeaderOffset + 28, true)) % 64, e.name).toBe(0);
    }
    expect(new TextDecoder().decode(zip.read('archive/version'))).toBe('3\n');
    expect(Buffer.from(writePth(sd)).equals(Buffer.from(bytes))).toBe(true); // deterministic
  });

  it('an official checkpoint (int64 buffers included) converted to safetensors and back', () => {
    // the official file, read by our reader, is the reference; torch loaded our .pth into the official model strictly
    const official = readStateDict(`${GOLDEN_DIR}swin_llss/checkpoint.pth`);
    expect(new Set([...official.values()].map((t) => t.dtype))).toEqual(new Set(['float32', 'int64']));
    const viaSafetensors = readSafetensors(writeSafetensors(official)).tensors;
    roundTrip(viaSafetensors, 'swin_llss');
    expect([...viaSafetensors.keys()]).toEqual([...official.keys()]);
  });

  it('writes scalars, bools and int32; a dtype torch has no storage for here is named', () => {
    const sd: StateDict = new Map<string, TensorData>([
      ['s', { dtype: 'float32', shape: [], data: Float32Array.from([2.5]) }],
      ['b', { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
      ['i', { dtype: 'int32', shape: [2, 2], data: Int32Array.from([1, -2, 3, 70000]) }],
      ['big', { dtype: 'int64', shape: [1], data: BigInt64Array.from([-(2n ** 40n)]) }],
    ]);
    const back = findStateDict(readPth(writePth(sd)));
    for (const [k, t] of sd) expect(back.get(k), k).toEqual(t);
    const odd = new Map([['x', { dtype: 'float16', shape: [1], data: new Uint8Array(2) } as unknown as TensorData]]);
    expect(() => writePth(odd, 'odd.pth')).toThrow(/odd\.pth: tensor 'x' has dtype float16/);
  });
});
