import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/io/crc32.js';
import { readZip } from '../../src/io/index.js';
import { expectFlattenError, fixtureBytes } from './helpers.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(enc('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(enc('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });
});

describe('readZip', () => {
  it('lists and reads the entries of a torch.save file (ZIP64 end records)', () => {
    const zip = readZip(fixtureBytes('tensors.pth'), 'tensors.pth');
    expect([...zip.entries.keys()]).toContain('tensors/data.pkl');
    expect(zip.entries.get('tensors/data/0')?.method).toBe(0);
    expect(new TextDecoder().decode(zip.read('tensors/version')).trim()).toMatch(/^\d+$/);
  });

  it('reads stored and deflated entries written by another zip writer', () => {
    const big = enc('abc'.repeat(1000));
    const bytes = zipSync({
      'a/stored.bin': [big, { level: 0 }],
      'a/deflated.bin': [big, { level: 9 }],
      'a/empty': new Uint8Array(0),
    });
    const zip = readZip(bytes, 'x.zip');
    expect(zip.entries.get('a/deflated.bin')?.method).toBe(8);
    expect(zip.read('a/stored.bin')).toEqual(big);
    expect(zip.read('a/deflated.bin')).toEqual(big);
    expect(zip.read('a/empty').length).toBe(0);
    expectFlattenError(() => zip.read('a/nope'), 'BAD_FILE', 'x.zip', 'a/nope', 'missing');
  });

  it('reports a corrupt deflate stream and a missing end record', () => {
    const bytes = zipSync({ 'd.bin': [enc('hello hello hello hello'), { level: 9 }] });
    const broken = bytes.slice();
    broken[30 + 'd.bin'.length] ^= 0xff; // first byte of the deflate stream
    expectFlattenError(() => readZip(broken, 'b.zip').read('d.bin'), 'BAD_FILE', 'b.zip', 'd.bin');
    expectFlattenError(
      () => readZip(bytes.subarray(0, bytes.length - 4), 'cut.zip'),
      'BAD_FILE',
      'cut.zip',
      'end-of-central-directory',
    );
  });
});
