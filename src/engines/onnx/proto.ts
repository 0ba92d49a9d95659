/**
 * A minimal protobuf writer for the ONNX messages we emit (field numbers from onnx.proto3).
 * Messages are built as lists of byte chunks so that weight payloads are referenced, not copied,
 * until the one final concatenation.
 */

/** onnx TensorProto.DataType */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** onnx AttributeProto.AttributeType */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

const utf8 = new TextEncoder();

class Writer {
  readonly parts: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flush(): void {
    if (!this.scratch.length) return;
    this.parts.push(Uint8Array.from(this.scratch));
    this.length += this.scratch.length;
    this.scratch = [];
  }
  private varint(v: number | bigint): void {
    // int64 fields: negative values are written as their 64-bit two's complement (10 bytes)
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.scratch.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.scratch.push(Number(x));
  }
  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  int(field: number, v: number | bigint): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }
  float(field: number, v: number): void {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
  }
  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.flush();
    this.parts.push(b);
    this.length += b.length;
  }
  string(field: number, s: string): void {
    this.bytes(field, utf8.encode(s));
  }
  message(field: number, m: Writer): void {
    m.flush();
    this.tag(field, WIRE_LEN);
    this.varint(m.length);
    this.flush();
    this.parts.push(...m.parts);
    this.length += m.length;
  }
  packedInts(field: number, vs: readonly number[]): void {
    const inner = new Writer();
    for (const v of vs) inner.varint(v);
    this.message(field, inner);
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** An int, ints, a string, or a float (wrapped, to tell it from an int). */
export type AttrValue = number | number[] | string | { float: number };

export interface NodeProto {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: DataTypeCode;
  /** little-endian raw bytes of the values */
  raw: Uint8Array;
}

/** A dimension is a fixed size or a symbolic name (the dynamic batch). */
export interface ValueInfo {
  name: string;
  dataType: DataTypeCode;
  shape: (number | string)[];
}

export interface ModelProto {
  graphName: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  opsets: { domain: string; version: number }[];
  producer: { name: string; version: string };
  doc?: string;
  metadata?: Record<string, string>;
}

function attribute(name: string, v: AttrValue): Writer {
  const w = new Writer();
  w.string(1, name);
  if (typeof v === 'string') {
    w.int(20, AttrType.STRING);
    w.string(4, v);
  } else if (typeof v === 'number') {
    w.int(20, AttrType.INT);
    w.int(3, v);
  } else if (Array.isArray(v)) {
    w.int(20, AttrType.INTS);
    w.packedInts(8, v);
  } else {
    w.int(20, AttrType.FLOAT);
    w.float(2, v.float);
  }
  return w;
}

function node(n: NodeProto): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, attribute(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function tensor(t: TensorProto): Writer {
  const w = new Writer();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
  return w;
}

function valueInfo(v: ValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.shape) {
    const dim = new Writer();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tt = new Writer();
  tt.int(1, v.dataType);
  tt.message(2, shape);
  const type = new Writer();
  type.message(1, tt);
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

/** IR version 8 is the one that goes with opset 17. */
export const IR_VERSION = 8;

export function encodeModel(m: ModelProto): Uint8Array {
  const g = new Writer();
  for (const n of m.nodes) g.message(1, node(n));
  g.string(2, m.graphName);
  for (const t of m.initializers) g.message(5, tensor(t));
  for (const i of m.inputs) g.message(11, valueInfo(i));
  for (const o of m.outputs) g.message(12, valueInfo(o));

  const w = new Writer();
  w.int(1, IR_VERSION);
  w.string(2, m.producer.name);
  w.string(3, m.producer.version);
  if (m.doc) w.string(6, m.doc);
  w.message(7, g);
  for (const o of m.opsets) {
    const op = new Writer();
    if (o.domain) op.string(1, o.domain);
    op.int(2, o.version);
    w.message(8, op);
  }
  writeMetadata(w, m.metadata ?? {});
  return w.finish();
}

/** ModelProto.metadata_props (field 14): one StringStringEntryProto per key. */
function writeMetadata(w: Writer, metadata: Record<string, string>): void {
  for (const [k, v] of Object.entries(metadata)) {
    const e = new Writer();
    e.string(1, k);
    e.string(2, v);
    w.message(14, e);
  }
}

/**
 * A serialized model with more metadata_props: protobuf parsers read a repeated field's entries wherever they
 * are in the message, so they are appended to the bytes (of any writer's model, e.g. one ORT optimized).
 */
export function appendMetadata(model: Uint8Array, metadata: Record<string, string>): Uint8Array {
  const w = new Writer();
  writeMetadata(w, metadata);
  const tail = w.finish();
  const out = new Uint8Array(model.length + tail.length);
  out.set(model);
  out.set(tail, model.length);
  return out;
}
