/**
 * Minimal zip reader for PyTorch checkpoints (APPNOTE.TXT layout).
 *
 * We parse the central directory ourselves instead of calling fflate's unzipSync because:
 *  - torch stores entries uncompressed, so an entry can be returned as a view without copying
 *    hundreds of megabytes;
 *  - torch always writes ZIP64 end records, and we want precise BAD_FILE messages for truncation.
 * fflate is only used to inflate the (rare) deflated entry. Every entry's CRC-32 is checked on read.
 */
import { inflateSync } from 'fflate';
import { FlattenError } from '../core/errors.js';
import { crc32 } from './crc32.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local file header. */
  localHeaderOffset: number;
}

function u64(view: DataView, offset: number): number {
  const v = view.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('64-bit zip field too large');
  return Number(v);
}

export class ZipArchive {
  /** Entries in central-directory order, by name. */
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** `fileName` only labels error messages. */
  constructor(
    private readonly bytes: Uint8Array,
    readonly fileName: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      this.readCentralDirectory();
    } catch (err) {
      if (err instanceof FlattenError) throw err;
      // DataView reads past the end throw RangeError: that is a truncated or mangled file.
      throw this.fail(`corrupt zip structure (${(err as Error).message})`);
    }
  }

  private fail(problem: string): FlattenError {
    return new FlattenError('BAD_FILE', `${this.fileName}: ${problem}`);
  }

  /** Scan backwards for the end-of-central-directory record (it may be followed by a comment). */
  private findEocd(): number {
    const len = this.bytes.length;
    const lowest = Math.max(0, len - EOCD_SIZE - 0xffff);
    for (let p = len - EOCD_SIZE; p >= lowest; p--) {
      if (this.view.getUint32(p, true) === SIG_EOCD && p + EOCD_SIZE + this.view.getUint16(p + 20, true) <= len) {
        return p;
      }
    }
    throw this.fail('zip end-of-central-directory record not found (file truncated or not a zip)');
  }

  private readCentralDirectory(): void {
    const v = this.view;
    const eocd = this.findEocd();
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    // ZIP64: a locator sits right before the classic record and points at the 64-bit record.
    // torch writes it even for small files, so prefer it whenever present.
    const loc = eocd - 20;
    if (loc >= 0 && v.getUint32(loc, true) === SIG_ZIP64_LOCATOR) {
      const rec = u64(v, loc + 8);
      if (rec + 56 > loc || v.getUint32(rec, true) !== SIG_ZIP64_EOCD) {
        throw this.fail('bad ZIP64 end-of-central-directory record (file truncated or corrupt)');
      }
      count = u64(v, rec + 32);
      cdSize = u64(v, rec + 40);
      cdOffset = u64(v, rec + 48);
    }
    if (cdOffset + cdSize > this.bytes.length) {
      throw this.fail(
        `zip central directory lies outside the file (offset ${cdOffset}, size ${cdSize}, file ${this.bytes.length} bytes): truncated or corrupt`,
      );
    }
    const decoder = new TextDecoder('utf-8');
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdOffset + cdSize || v.getUint32(p, true) !== SIG_CENTRAL) {
        throw this.fail(`zip central directory entry ${i} is damaged (offset ${p})`);
      }
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      const crc = v.getUint32(p + 16, true);
      let compressedSize = v.getUint32(p + 20, true);
      let size = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      const name = decoder.decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extended information (header id 1) holds, in this order, only the fields that are 0xFFFFFFFF.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = v.getUint16(e, true);
        const sz = v.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = u64(v, q);
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = u64(v, q);
            q += 8;
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(v, q);
        }
        e += 4 + sz;
      }
      if (flags & 1) throw this.fail(`zip entry ${name} is encrypted, which is not supported`);
      this.entries.set(name, { name, method, crc32: crc, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * Contents of one entry. Stored entries are returned as a view into the archive bytes (no copy);
   * callers must not write into them.
   */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw this.fail(`zip entry ${name} is missing`);
    const v = this.view;
    const lh = entry.localHeaderOffset;
    if (lh + 30 > this.bytes.length || v.getUint32(lh, true) !== SIG_LOCAL) {
      throw this.fail(`zip entry ${name}: local header not found at offset ${lh} (truncated or corrupt)`);
    }
    // The local header's name/extra lengths can differ from the central ones (torch pads here for alignment).
    const start = lh + 30 + v.getUint16(lh + 26, true) + v.getUint16(lh + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) {
      throw this.fail(`zip entry ${name} is truncated (needs bytes ${start}..${end}, file has ${this.bytes.length})`);
    }
    const raw = this.bytes.subarray(start, end);
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else if (entry.method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (err) {
        throw this.fail(`zip entry ${name} cannot be inflated (${(err as Error).message})`);
      }
    } else {
      throw this.fail(`zip entry ${name} uses unsupported compression method ${entry.method}`);
    }
    if (data.length !== entry.size) {
      throw this.fail(`zip entry ${name} has ${data.length} bytes, expected ${entry.size} (corrupt)`);
    }
    if (crc32(data) !== entry.crc32) throw this.fail(`zip entry ${name} is corrupt (CRC-32 mismatch)`);
    return data;
  }
}

/** True when the bytes start like a zip (local header, or the empty-archive end record). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === 0x50 &&
    bytes[1] === 0x4b &&
    ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6))
  );
}

export function readZip(bytes: Uint8Array, fileName: string): ZipArchive {
  return new ZipArchive(bytes, fileName);
}
