/**
 * safetensors files (huggingface/safetensors format):
 *   u64 little-endian N, then N bytes of JSON header
 *   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 *   then the data section; offsets are relative to its start, data is little-endian, C order.
 * The format cannot run code, so reading only needs careful bounds checks. As the reference reader does,
 * we refuse a data section with holes between tensors or bytes after the last one (bytes nobody reads
 * are where a second payload would hide), and a header naming one tensor twice (which one is meant?).
 * Pure byte-level code with no node: imports, so browser bundles can use it (safetensors.ts adds files).
 */
import { FlattenError } from '../core/errors.js';
import type { DType, StateDict, TensorData } from '../core/tensor.js';
import { stridesOf } from '../core/tensor.js';
import { budgetFor, type ReadOptions } from './budget.js';
import { ELEMENT_SIZE, encodeLittleEndian, gatherStrided, MAX_RANK, type ElementKind } from './elements.js';
import { parseJson } from './json_text.js';

const READ_KINDS: Record<string, ElementKind> = {
  F64: 'f64',
  F32: 'f32',
  F16: 'f16',
  BF16: 'bf16',
  I64: 'i64',
  I32: 'i32',
  I16: 'i16',
  I8: 'i8',
  U16: 'u16',
  U8: 'u8',
  BOOL: 'bool',
};
const WRITE_DTYPES: Record<DType, string> = { float32: 'F32', int32: 'I32', int64: 'I64', uint8: 'U8', bool: 'BOOL' };
/** The reference implementation refuses headers above 100 MB; so do we, before allocating. */
const MAX_HEADER = 100_000_000;

export interface Safetensors {
  tensors: StateDict;
  metadata: Record<string, string>;
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Tensors come back in data order (the order of their bytes), which is the writer's order. */
export function readSafetensors(bytes: Uint8Array, name = 'model.safetensors', opts: ReadOptions = {}): Safetensors {
  const fail = (why: string) => new FlattenError('BAD_FILE', `${name}: ${why}`);
  if (bytes.length < 8) throw fail(`truncated safetensors file (${bytes.length} bytes, header length needs 8)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) throw fail(`safetensors header length ${n} is implausible (not a safetensors file?)`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length)
    throw fail(`truncated safetensors header (needs ${8 + headerLen} bytes, file has ${bytes.length})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw fail('safetensors header is not valid UTF-8');
  }
  // {name: {dtype, shape: [...], data_offsets: [...]}} is three levels; allow a little room for extensions.
  const header = parseJson(text, { file: name, field: 'safetensors header', maxDepth: 8, object: true });
  const data = bytes.subarray(8 + headerLen);

  const metadata: Record<string, string> = {};
  const entries: { key: string; kind: ElementKind; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, info] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) throw fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw fail(`__metadata__ value for '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as Record<string, unknown>;
    const kind = typeof dtype === 'string' && Object.hasOwn(READ_KINDS, dtype) ? READ_KINDS[dtype] : undefined;
    if (!kind) throw fail(`tensor '${key}' has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isIndex) || shape.length > MAX_RANK)
      throw fail(`tensor '${key}' has a bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
      throw fail(`tensor '${key}' has bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numel * ELEMENT_SIZE[kind]) {
      throw fail(
        `tensor '${key}': data_offsets span ${end - begin} bytes but ${dtype} shape [${shape}] needs ${numel * ELEMENT_SIZE[kind]}`,
      );
    }
    if (end > data.length) {
      throw fail(`truncated: tensor '${key}' needs data bytes ${begin}..${end}, the data section has ${data.length}`);
    }
    entries.push({ key, kind, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // The tensors must tile the data section exactly: no overlap, no hole, nothing after the last.
  let covered = 0;
  for (const e of entries) {
    if (e.begin < covered)
      throw fail(`tensor '${e.key}' overlaps the tensor before it (data bytes ${e.begin}..${e.end})`);
    if (e.begin > covered) throw fail(`data bytes ${covered}..${e.begin} before tensor '${e.key}' belong to no tensor`);
    covered = e.end;
  }
  if (covered !== data.length)
    throw fail(`data bytes ${covered}..${data.length} after the last tensor belong to no tensor`);
  const budget = budgetFor(opts, bytes.length);
  const tensors: StateDict = new Map();
  for (const e of entries) {
    const src = { bytes: data.subarray(e.begin, e.end), kind: e.kind, littleEndian: true };
    const layout = { shape: e.shape, strides: stridesOf(e.shape), offset: 0 };
    tensors.set(e.key, gatherStrided(src, layout, { what: `${name}: tensor '${e.key}'`, budget }));
  }
  return { tensors, metadata };
}

/**
 * Serialize a state_dict. Tensors are laid out contiguously in insertion order and the header
 * keeps that order (metadata first); it is padded with spaces so the data starts 8-byte aligned.
 */
export function writeSafetensors(sd: StateDict, metadata?: Record<string, string>): Uint8Array {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of sd) {
    if (key === '__metadata__')
      throw new FlattenError('BAD_KEYS', "cannot write safetensors: tensor name '__metadata__' is reserved");
    const blob = encodeLittleEndian(t as TensorData, `tensor '${key}'`);
    // Built by hand rather than JSON.stringify(object): objects reorder integer-like keys such as "0".
    parts.push(
      `${JSON.stringify(key)}:${JSON.stringify({ dtype: WRITE_DTYPES[t.dtype], shape: t.shape, data_offsets: [offset, offset + blob.length] })}`,
    );
    blobs.push(blob);
    offset += blob.length;
  }
  let header = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(header);
    header = p;
  }
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
