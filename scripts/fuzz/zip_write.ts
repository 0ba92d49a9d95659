/**
 * A stored (uncompressed) zip writer for re-zipping mutated .pth entries. fflate's zipSync would do, but it
 * checksums every entry on every call; here unchanged entries (the same Uint8Array) keep their CRC, which
 * makes a mutated multi-megabyte golden checkpoint cost a copy instead of a full checksum pass.
 */
import { crc32 } from '../../src/io/crc32.js';

const crcs = new WeakMap<Uint8Array, number>();
function crcOf(b: Uint8Array): number {
  let c = crcs.get(b);
  if (c === undefined) crcs.set(b, (c = crc32(b)));
  return c;
}

export function zipStored(files: [string, Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  const names = files.map(([n]) => enc.encode(n));
  const localSize = files.reduce((a, [, b], i) => a + 30 + names[i].length + b.length, 0);
  const cdSize = names.reduce((a, n) => a + 46 + n.length, 0);
  const out = new Uint8Array(localSize + cdSize + 22);
  const v = new DataView(out.buffer);
  let p = 0;
  const offsets: number[] = [];
  files.forEach(([, b], i) => {
    offsets.push(p);
    v.setUint32(p, 0x04034b50, true);
    v.setUint32(p + 14, crcOf(b), true);
    v.setUint32(p + 18, b.length, true);
    v.setUint32(p + 22, b.length, true);
    v.setUint16(p + 26, names[i].length, true);
    out.set(names[i], p + 30);
    out.set(b, p + 30 + names[i].length);
    p += 30 + names[i].length + b.length;
  });
  files.forEach(([, b], i) => {
    v.setUint32(p, 0x02014b50, true);
    v.setUint32(p + 16, crcOf(b), true);
    v.setUint32(p + 20, b.length, true);
    v.setUint32(p + 24, b.length, true);
    v.setUint16(p + 28, names[i].length, true);
    v.setUint32(p + 42, offsets[i], true);
    out.set(names[i], p + 46);
    p += 46 + names[i].length;
  });
  v.setUint32(p, 0x06054b50, true);
  v.setUint16(p + 8, files.length, true);
  v.setUint16(p + 10, files.length, true);
  v.setUint32(p + 12, cdSize, true);
  v.setUint32(p + 16, localSize, true);
  return out;
}
