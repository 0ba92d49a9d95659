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
import { budgetFor, type ReadBudget, type ReadOptions } from './budget.js';
import { crc32 } from './crc32.js';

/** Record signatures (shared with zip_write.ts). */
export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
export const EOCD_SIZE = 22;
/** Deflate cannot expand data more than about 1032 to 1; a larger declared size is a lie. */
const MAX_DEFLATE_RATIO = 1032;
const utf8 = new TextDecoder('utf-8');

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

export class ZipArchive {
  /** Entries in central-directory order, by name. */
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;
  private readonly budget: ReadBudget;

  /** `fileName` only labels error messages. */
  constructor(
    private readonly bytes: Uint8Array,
    readonly fileName: string,
    opts: ReadOptions = {},
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.budget = budgetFor(opts, bytes.length);
    this.readCentralDirectory();
  }

  private fail(problem: string): FlattenError {
    return new FlattenError('BAD_FILE', `${this.fileName}: ${problem}`);
  }

  /** Every read below is checked first: a field that points outside its record is a damaged file, named. */
  private within(start: number, length: number, end: number, what: string): void {
    if (start < 0 || start + length > end) throw this.fail(`${what} runs past its end (truncated or corrupt zip)`);
  }

  private u64(offset: number, what: string): number {
    const v = this.view.getBigUint64(offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`${what} is too large (${v})`);
    return Number(v);
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
      const rec = this.u64(loc + 8, 'ZIP64 end record offset');
      if (rec + 56 > loc || v.getUint32(rec, true) !== SIG_ZIP64_EOCD) {
        throw this.fail('bad ZIP64 end-of-central-directory record (file truncated or corrupt)');
      }
      count = this.u64(rec + 32, 'ZIP64 entry count');
      cdSize = this.u64(rec + 40, 'ZIP64 central directory size');
      cdOffset = this.u64(rec + 48, 'ZIP64 central directory offset');
    }
    if (cdOffset + cdSize > this.bytes.length) {
      throw this.fail(
        `zip central directory lies outside the file (offset ${cdOffset}, size ${cdSize}, file ${this.bytes.length} bytes): truncated or corrupt`,
      );
    }
    const cdEnd = cdOffset + cdSize;
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdEnd || v.getUint32(p, true) !== SIG_CENTRAL) {
        throw this.fail(`zip central directory entry ${i} is damaged (offset ${p})`);
      }
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      this.within(p, 46 + nameLen + extraLen + commentLen, cdEnd, `zip central directory entry ${i}`);
      const name = utf8.decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
      // Two entries of one name would let a file show one reader one data.pkl and another reader another.
      if (this.entries.has(name)) throw this.fail(`zip has two entries named ${name}; refusing an ambiguous archive`);
      const entry: ZipEntry = {
        name,
        method: v.getUint16(p + 10, true),
        crc32: v.getUint32(p + 16, true),
        compressedSize: v.getUint32(p + 20, true),
        size: v.getUint32(p + 24, true),
        localHeaderOffset: v.getUint32(p + 42, true),
      };
      this.readZip64Extra(entry, p + 46 + nameLen, extraLen);
      if (v.getUint16(p + 8, true) & 1) throw this.fail(`zip entry ${name} is encrypted, which is not supported`);
      this.entries.set(name, entry);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** ZIP64 extended information (header id 1) holds, in this order, only the fields that are 0xFFFFFFFF. */
  private readZip64Extra(entry: ZipEntry, start: number, length: number): void {
    const v = this.view;
    const end = start + length;
    for (let e = start; e + 4 <= end;) {
      const id = v.getUint16(e, true);
      const blockEnd = e + 4 + v.getUint16(e + 2, true);
      this.within(e, blockEnd - e, end, `zip entry ${entry.name}: extra field`);
      if (id === 1) {
        let q = e + 4;
        const field = (what: string): number => {
          this.within(q, 8, blockEnd, `zip entry ${entry.name}: ZIP64 ${what}`);
          q += 8;
          return this.u64(q - 8, `zip entry ${entry.name}: ZIP64 ${what}`);
        };
        if (entry.size === 0xffffffff) entry.size = field('size');
        if (entry.compressedSize === 0xffffffff) entry.compressedSize = field('compressed size');
        if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = field('local header offset');
      }
      e = blockEnd;
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
      if (entry.size > raw.length * MAX_DEFLATE_RATIO + 64)
        throw this.fail(
          `zip entry ${name} claims ${entry.size} bytes from ${raw.length} compressed, more than deflate can give`,
        );
      this.budget.charge(entry.size, `${this.fileName}: zip entry ${name}`);
      try {
        data = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch {
        throw this.fail(`zip entry ${name} cannot be inflated (corrupt deflate stream)`);
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

export function readZip(bytes: Uint8Array, fileName: string, opts: ReadOptions = {}): ZipArchive {
  return new ZipArchive(bytes, fileName, opts);
}
