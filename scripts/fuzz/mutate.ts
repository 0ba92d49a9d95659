/**
 * Seeded mutations. Every choice comes from the Rng handed in, so input i of a format is the same bytes
 * on every run and machine: a defect is replayed by its format and index alone.
 */
import type { Rng } from '../../src/core/rng.js';

/** Values that sit on the edges readers get wrong: zero, sign bits, all ones, the 2^31 / 2^32 / 2^53 lines. */
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];
const INTERESTING_TEXT = [
  '0',
  '-1',
  '1',
  '2147483647',
  '4294967296',
  '9007199254740993',
  '1e308',
  '99999999999999999999',
];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** One to four byte-level edits: bit flips, edge values in 1/2/4/8-byte fields, inserts, deletes, repeats, cuts. */
export function mutateBytes(src: Uint8Array, rng: Rng): Uint8Array {
  let b: Uint8Array = new Uint8Array(src);
  for (let k = 1 + rng.int(4); k > 0; k--) {
    const at = rng.int(b.length + 1);
    switch (rng.int(8)) {
      case 0:
        if (at < b.length) b[at] ^= 1 << rng.int(8);
        break;
      case 1:
        if (at < b.length) b[at] = pick(rng, INTERESTING) & 0xff;
        break;
      case 2: {
        const width = pick(rng, [2, 4, 8]);
        if (at + width > b.length) break;
        const v = pick(rng, INTERESTING);
        const view = new DataView(b.buffer, b.byteOffset);
        if (width === 2) view.setUint16(at, v & 0xffff, true);
        else if (width === 4) view.setUint32(at, v >>> 0, true);
        else view.setBigUint64(at, BigInt(v) * BigInt(1 + rng.int(0x10000)), true);
        break;
      }
      case 3:
        b = splice(
          b,
          at,
          0,
          Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)),
        );
        break;
      case 4:
        b = splice(b, at, 1 + rng.int(32), new Uint8Array(0));
        break;
      case 5: {
        // repeat a slice: the shape of amplification attacks (DUP runs, nested brackets)
        const len = 1 + rng.int(8);
        const piece = b.subarray(at, at + len);
        b = splice(b, at, 0, repeat(piece, 1 + rng.int(64)));
        break;
      }
      case 6:
        b = b.subarray(0, at);
        break;
      default: {
        const from = rng.int(b.length + 1);
        b = splice(b, at, 0, b.slice(from, from + 1 + rng.int(64)));
      }
    }
  }
  return b;
}

/** Text-level edits of a header (numbers swapped for edge values, brackets and quotes added or removed). */
export function mutateText(src: string, rng: Rng): string {
  let s = src;
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(5)) {
      case 0: {
        const nums = [...s.matchAll(/-?\d+/g)];
        if (nums.length === 0) break;
        const m = pick(rng, nums);
        s = s.slice(0, m.index) + pick(rng, INTERESTING_TEXT) + s.slice(m.index! + m[0].length);
        break;
      }
      case 1:
        s =
          s.slice(0, at) +
          pick(rng, ['(', ')', '[', ']', '{', '}', ',', ':', "'", '"', '\\', 'True', 'False', ' ']) +
          s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
        break;
      case 3: {
        const len = 1 + rng.int(12);
        s = s.slice(0, at) + s.slice(at, at + len).repeat(1 + rng.int(200)) + s.slice(at);
        break;
      }
      default: {
        const words = [...s.matchAll(/[A-Za-z_]+/g)];
        if (words.length < 2) break;
        const a = pick(rng, words);
        s = s.slice(0, a.index) + pick(rng, words)[0] + s.slice(a.index! + a[0].length);
      }
    }
  }
  return s;
}

function splice(b: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const end = Math.min(b.length, at + remove);
  const out = new Uint8Array(at + insert.length + (b.length - end));
  out.set(b.subarray(0, at));
  out.set(insert, at);
  out.set(b.subarray(end), at + insert.length);
  return out;
}

function repeat(piece: Uint8Array, times: number): Uint8Array {
  const out = new Uint8Array(piece.length * times);
  for (let i = 0; i < times; i++) out.set(piece, i * piece.length);
  return out;
}

/** Pickle opcodes worth inserting: the stack machine's amplifiers, memo access and calls. */
const PICKLE_OPS: number[][] = [
  [0x32], // DUP
  [0x86], // TUPLE2
  [0x85], // TUPLE1
  [0x28], // MARK
  [0x74], // TUPLE
  [0x5d, 0x71, 0], // EMPTY_LIST BINPUT 0
  [0x68, 0], // BINGET 0
  [0x61], // APPEND
  [0x73], // SETITEM
  [0x52], // REDUCE
  [0x62], // BUILD
  [0x51], // BINPERSID
  [0x30], // POP
  [0x4a, 0xff, 0xff, 0xff, 0x7f], // BININT 2^31-1
  [0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80], // LONG1 -2^63
];

/** Pickle-aware edits on top of byte edits: insert opcodes, or runs of DUP + TUPLE2. */
export function mutatePickle(src: Uint8Array, rng: Rng): Uint8Array {
  if (rng.int(3) === 0) return mutateBytes(src, rng);
  let b = src;
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const at = rng.int(Math.max(1, b.length - 1));
    const ins =
      rng.int(4) === 0
        ? repeat(Uint8Array.from([0x32, 0x86]), 1 + rng.int(40))
        : Uint8Array.from(pick(rng, PICKLE_OPS));
    b = splice(b, at, rng.int(2), ins);
  }
  return b;
}
