import { unzlibSync } from 'fflate';
import { FlattenError } from '../core/errors.js';
import type { ReadBudget } from './budget.js';

/** Decoded pixels, row-major HWC, 8 bits per channel (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA). */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export const isPng = (b: Uint8Array) => b.length >= 8 && SIGNATURE.every((v, i) => b[i] === v);

/** Samples per pixel of each PNG colour type (the palette type is expanded to RGB or RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * A PNG decoder of our own, so that images can be read without sharp's native binary (an install without optional
 * dependencies). Every colour type and bit depth, 16 bits kept to their high byte, palette transparency (tRNS);
 * interlaced files are refused by name. `budget` is charged with the inflated size before inflating.
 */
export function decodePng(bytes: Uint8Array, name: string, budget?: ReadBudget): DecodedImage {
  const bad = (why: string) => new FlattenError('BAD_FILE', `${name}: not a readable PNG (${why})`);
  if (!isPng(bytes)) throw bad('no PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let depth = 0;
  let type = -1;
  let palette: Uint8Array | undefined;
  let alpha: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let at = 8; ;) {
    if (at + 12 > bytes.length) throw bad('truncated before IEND');
    const len = view.getUint32(at);
    const kind = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + len);
    if (body.length !== len) throw bad(`chunk ${kind} runs past the end of the file`);
    if (kind === 'IHDR') {
      if (len !== 13) throw bad('IHDR is not 13 bytes');
      [width, height, depth, type] = [view.getUint32(at + 8), view.getUint32(at + 12), body[8], body[9]];
      if (body[12] !== 0) throw bad('interlaced PNGs need sharp (npm install --include=optional sharp)');
      if (!(type in SAMPLES) || ![1, 2, 4, 8, 16].includes(depth)) throw bad(`colour type ${type}, depth ${depth}`);
    } else if (kind === 'PLTE') palette = body;
    else if (kind === 'tRNS') alpha = body;
    else if (kind === 'IDAT') idat.push(body);
    else if (kind === 'IEND') break;
    at += 12 + len;
  }
  if (!width || !height) throw bad('no IHDR');
  const samples = SAMPLES[type];
  const bpp = Math.max(1, (samples * depth) >> 3); // bytes per pixel, as the filters see them
  const stride = Math.ceil((width * samples * depth) / 8);
  budget?.charge((stride + 1) * height + 4 * width * height, `${name}: decoding ${width}×${height} pixels`);
  let raw: Uint8Array;
  try {
    const joined = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
    idat.reduce((o, c) => (joined.set(c, o), o + c.length), 0);
    raw = unzlibSync(joined, { out: new Uint8Array((stride + 1) * height) });
  } catch {
    throw bad('corrupt image data');
  }
  if (raw.length < (stride + 1) * height) throw bad('image data is shorter than its size');
  const rows = unfilter(raw, stride, height, bpp, bad);
  return expand(rows, { width, height, depth, type, stride, palette, alpha }, bad);
}

/** Undoes the per-row filters (None, Sub, Up, Average, Paeth) in place; returns the rows without filter bytes. */
function unfilter(raw: Uint8Array, stride: number, height: number, bpp: number, bad: (w: string) => Error) {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      let p: number;
      if (f === 0) p = 0;
      else if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const [pa, pb, pc] = [Math.abs(b - c), Math.abs(a - c), Math.abs(a + b - 2 * c)];
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw bad(`unknown row filter ${f}`);
      row[i] = (src[i] + p) & 0xff;
    }
  }
  return out;
}

interface Header {
  width: number;
  height: number;
  depth: number;
  type: number;
  stride: number;
  palette?: Uint8Array;
  alpha?: Uint8Array;
}

/** Rows of packed samples → 8-bit HWC pixels (palette looked up, low bit depths scaled to 0…255). */
function expand(rows: Uint8Array, h: Header, bad: (w: string) => Error): DecodedImage {
  const samples = SAMPLES[h.type];
  const sample = (y: number, i: number): number => {
    const base = y * h.stride;
    if (h.depth === 16) return rows[base + 2 * i]; // the high byte
    if (h.depth === 8) return rows[base + i];
    const perByte = 8 / h.depth;
    const v =
      (rows[base + Math.floor(i / perByte)] >> ((perByte - 1 - (i % perByte)) * h.depth)) & ((1 << h.depth) - 1);
    return h.type === 3 ? v : Math.round((v * 255) / ((1 << h.depth) - 1));
  };
  if (h.type === 3) {
    if (!h.palette) throw bad('palette image without PLTE');
    const channels = h.alpha ? 4 : 3;
    const data = new Uint8Array(h.width * h.height * channels);
    for (let y = 0; y < h.height; y++)
      for (let x = 0; x < h.width; x++) {
        const k = sample(y, x);
        if (3 * k + 2 >= h.palette.length) throw bad(`palette index ${k} out of range`);
        const o = (y * h.width + x) * channels;
        data.set(h.palette.subarray(3 * k, 3 * k + 3), o);
        if (channels === 4) data[o + 3] = k < h.alpha!.length ? h.alpha![k] : 255;
      }
    return { data, width: h.width, height: h.height, channels };
  }
  const data = new Uint8Array(h.width * h.height * samples);
  for (let y = 0; y < h.height; y++)
    for (let i = 0; i < h.width * samples; i++) data[y * h.width * samples + i] = sample(y, i);
  return { data, width: h.width, height: h.height, channels: samples as 1 | 2 | 3 | 4 };
}
