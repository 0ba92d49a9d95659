import { FlattenError } from '../../../core/errors.js';

/**
 * Just enough of the WebAssembly binary format to walk a module's function bodies instruction by instruction: the
 * type, function and code sections, and every instruction's immediates (MVP, sign extension, saturating conversions,
 * bulk memory, reference types, SIMD and relaxed SIMD, threads, exception handling, tail calls). Anything else is
 * refused by name: a rewrite must never guess where an instruction ends.
 */

const bad = (what: string): never => {
  throw new FlattenError('BAD_FILE', `wasm module: ${what}`);
};

/** A reader over bytes; positions are byte offsets into `b`. */
export class Reader {
  constructor(
    readonly b: Uint8Array,
    public p = 0,
  ) {}
  byte(): number {
    if (this.p >= this.b.length) bad(`truncated at byte ${this.p}`);
    return this.b[this.p++];
  }
  /** Unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const x = this.byte();
      v += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) return v;
    }
    return bad(`LEB128 longer than 5 bytes at byte ${this.p}`);
  }
  /** Skips a signed LEB128 of up to `bits` bits (i32.const, i64.const, block types). */
  skipSigned(bits: number): void {
    for (let i = 0; i < Math.ceil(bits / 7); i++) if (!(this.byte() & 0x80)) return;
    bad(`signed LEB128 longer than ${bits} bits at byte ${this.p}`);
  }
  skip(n: number): void {
    if (this.p + n > this.b.length) bad(`truncated at byte ${this.p}`);
    this.p += n;
  }
}

/** Writes an unsigned LEB128. */
export function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let x = v % 128;
    v = Math.floor(v / 128);
    if (v) x |= 0x80;
    out.push(x);
  } while (v);
  return out;
}

export interface Section {
  id: number;
  /** Offset of the section's id byte. */
  header: number;
  /** Offsets of the section's content (after its id and size). */
  start: number;
  end: number;
}

export function sections(b: Uint8Array): Section[] {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (b.length < 8 || magic.some((x, i) => b[i] !== x)) bad('not a WebAssembly 1.0 binary (bad magic or version)');
  const r = new Reader(b, 8);
  const out: Section[] = [];
  while (r.p < b.length) {
    const header = r.p;
    const id = r.byte();
    const size = r.u32();
    if (r.p + size > b.length) bad(`section ${id} runs past the end of the file`);
    out.push({ id, header, start: r.p, end: r.p + size });
    r.p += size;
  }
  return out;
}

const VALTYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]);
export const V128 = 0x7b;

export interface FuncType {
  params: number[];
  results: number[];
}

/** The type section's function types (value type bytes). */
export function funcTypes(b: Uint8Array, s: Section): FuncType[] {
  const r = new Reader(b, s.start);
  const n = r.u32();
  const out: FuncType[] = [];
  const types = () => {
    const k = r.u32();
    r.skip(k);
    return [...b.subarray(r.p - k, r.p)];
  };
  for (let i = 0; i < n; i++) {
    if (r.byte() !== 0x60) bad(`type ${i} is not a function type (GC type sections are not read)`);
    out.push({ params: types(), results: types() });
  }
  return out;
}

/** The type index of each function the module defines (not the imported ones), in code-section order. */
export function functionTypes(b: Uint8Array, s: Section): number[] {
  const r = new Reader(b, s.start);
  return Array.from({ length: r.u32() }, () => r.u32());
}

function blockType(r: Reader): void {
  const x = r.b[r.p];
  if (x === 0x40 || VALTYPES.has(x)) r.p++;
  else r.skipSigned(33);
}

function memarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32(); // multi-memory: a memory index follows
  r.u32();
}

/** SIMD (0xfd) sub-opcodes by immediate: a memarg, a memarg and a lane, a lane, 16 bytes. */
function simdImmediates(r: Reader, op: number): void {
  if (op <= 11 || op === 92 || op === 93) memarg(r);
  else if (op === 12 || op === 13)
    r.skip(16); // v128.const, i8x16.shuffle
  else if (op >= 21 && op <= 34)
    r.skip(1); // extract_lane / replace_lane
  else if (op >= 84 && op <= 91) {
    memarg(r);
    r.skip(1); // load/store lane
  } else if (op > 0x113) bad(`unknown SIMD instruction 0xfd ${op}`);
}

function miscImmediates(r: Reader, op: number): void {
  if (op <= 7) return; // saturating truncations
  if (op === 8 || op === 12 || op === 10 || op === 14) {
    r.u32();
    r.u32();
  } else if (op === 9 || op === 11 || op === 13 || (op >= 15 && op <= 17)) r.u32();
  else bad(`unknown instruction 0xfc ${op}`);
}

export interface Instr {
  /** Offset of the opcode. */
  at: number;
  /** The opcode, or for prefixed ones prefix << 16 | sub-opcode. */
  op: number;
}

export const SIMD = 0xfd << 16;

/** Calls `visit` for each instruction of the expression at r.p, to the `end` that closes it (included). */
export function walk(r: Reader, end: number, visit: (i: Instr) => void): void {
  let depth = 1;
  while (depth > 0) {
    if (r.p >= end) bad(`function body at byte ${r.p} ends inside a block`);
    const at = r.p;
    let op = r.byte();
    if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06) {
      blockType(r);
      depth++;
    } else if (op === 0x1f) {
      blockType(r); // try_table: its catch clauses, then a block
      for (let n = r.u32(); n > 0; n--) {
        const kind = r.byte();
        if (kind <= 1) r.u32();
        r.u32();
      }
      depth++;
    } else if (op === 0x0b || op === 0x18) {
      if (op === 0x18) r.u32(); // delegate ends a try
      depth--;
    } else if (op === 0x0e) {
      for (let n = r.u32() + 1; n > 0; n--) r.u32();
    } else if (op === 0x11 || op === 0x13) {
      r.u32();
      r.u32();
    } else if (op === 0x1c) {
      r.skip(r.u32());
    } else if (
      op === 0x07 ||
      op === 0x08 ||
      op === 0x09 ||
      op === 0x0c ||
      op === 0x0d ||
      op === 0x10 ||
      op === 0x12 ||
      (op >= 0x20 && op <= 0x26) ||
      op === 0x3f ||
      op === 0x40 ||
      op === 0xd2
    ) {
      r.u32();
    } else if (op >= 0x28 && op <= 0x3e) memarg(r);
    else if (op === 0x41) r.skipSigned(32);
    else if (op === 0x42) r.skipSigned(64);
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0xd0) r.byte();
    else if (op === 0xfc) {
      const sub = r.u32();
      miscImmediates(r, sub);
      op = (0xfc << 16) | sub;
    } else if (op === 0xfd) {
      const sub = r.u32();
      simdImmediates(r, sub);
      op = SIMD | sub;
    } else if (op === 0xfe) {
      const sub = r.u32();
      if (sub === 0x03)
        r.byte(); // atomic.fence
      else if (sub <= 0x4e) memarg(r);
      else bad(`unknown atomic instruction 0xfe ${sub}`);
      op = (0xfe << 16) | sub;
    } else if (!(
      op <= 0x01 ||
      op === 0x05 ||
      op === 0x0a ||
      op === 0x0f ||
      op === 0x19 ||
      op === 0x1a ||
      op === 0x1b ||
      (op >= 0x45 && op <= 0xc4) ||
      op === 0xd1
    )) {
      bad(`unknown opcode 0x${op.toString(16)} at byte ${at}`);
    }
    visit({ at, op });
  }
  if (r.p !== end) bad(`function body ends at byte ${r.p}, its size says ${end}`);
}

/** A function the module defines: its index among the defined ones, its type, where its body is. */
export interface Body {
  index: number;
  type: FuncType;
  /** Its type's index in the type section. */
  typeIndex: number;
  /** Offsets of its body (locals, then code) in the module. */
  start: number;
  end: number;
}

/** The module's function bodies, in order, with its code section (undefined: no code section, no bodies). */
export function functionBodies(wasm: Uint8Array): { code?: Section; bodies: Body[] } {
  const secs = sections(wasm);
  const find = (id: number) => secs.find((x) => x.id === id);
  const code = find(10);
  if (!code) return { bodies: [] };
  const types = find(1);
  const funcs = find(3);
  if (!types || !funcs) bad('a code section without type and function sections');
  const sigs = funcTypes(wasm, types!);
  const typeOf = functionTypes(wasm, funcs!);
  const r = new Reader(wasm, code.start);
  const count = r.u32();
  if (count !== typeOf.length) bad(`${count} function bodies for ${typeOf.length} functions`);
  const bodies: Body[] = [];
  for (let f = 0; f < count; f++) {
    const size = r.u32();
    if (r.p + size > code.end) bad(`function body ${f} runs past its section`);
    const type = sigs[typeOf[f]];
    if (!type) bad(`function ${f} has no type ${typeOf[f]}`);
    bodies.push({ index: f, type, typeIndex: typeOf[f], start: r.p, end: r.p + size });
    r.p += size;
  }
  return { code, bodies };
}

/** How many functions the module imports: they come first in the function index space, before the defined ones. */
export function importedFunctions(wasm: Uint8Array): number {
  const imports = sections(wasm).find((x) => x.id === 2);
  if (!imports) return 0;
  const r = new Reader(wasm, imports.start);
  const name = () => r.skip(r.u32());
  const limits = () => {
    const flags = r.byte();
    r.u32();
    if (flags & 1) r.u32();
  };
  let functions = 0;
  for (let n = r.u32(); n > 0; n--) {
    name();
    name();
    const kind = r.byte();
    if (kind === 0) {
      r.u32();
      functions++;
    } else if (kind === 1) {
      r.byte();
      limits();
    } else if (kind === 2) limits();
    else if (kind === 3) r.skip(2);
    else if (kind === 4) {
      r.byte();
      r.u32();
    } else bad(`unknown import kind ${kind}`);
  }
  return functions;
}

/** A function to add to a module: its type index and its body (locals, then code). */
export interface NewFunction {
  type: number;
  body: ArrayLike<number>;
}

/** A wasm vector of byte strings as chunks: its length, then each item. */
const vector = (items: ArrayLike<number>[]): ArrayLike<number>[] => [leb(items.length), ...items];
const size = (chunks: ArrayLike<number>[]) => chunks.reduce((n, c) => n + c.length, 0);

/**
 * `wasm` with the function bodies that `rewrite` returns new bytes for (locals and code) replaced, and the `added`
 * functions defined after the module's own (the first gets index importedFunctions + bodies), every other byte as
 * it was; the input itself when nothing changed. A FlattenError on a module it cannot read.
 */
export function rewriteBodies(
  wasm: Uint8Array,
  rewrite: (f: Body) => ArrayLike<number> | null,
  added: NewFunction[] = [],
): Uint8Array {
  const { code, bodies } = functionBodies(wasm);
  const replaced = bodies.map(rewrite);
  if (!code || (replaced.every((b) => b === null) && !added.length)) return wasm;
  const next = [
    ...replaced.map((b, i) => b ?? wasm.subarray(bodies[i].start, bodies[i].end)),
    ...added.map((f) => f.body),
  ];
  const section = (id: number, content: ArrayLike<number>[]) => [[id, ...leb(size(content))], ...content];
  const parts: ArrayLike<number>[] = [];
  if (added.length) {
    // the function section: each defined function's type index, the added ones' after
    const funcs = sections(wasm).find((x) => x.id === 3)!;
    const types = [...functionTypes(wasm, funcs), ...added.map((f) => f.type)].map(leb);
    parts.push(wasm.subarray(0, funcs.header), ...section(3, vector(types)), wasm.subarray(funcs.end, code.header));
  } else parts.push(wasm.subarray(0, code.header));
  parts.push(...section(10, [leb(next.length), ...next.flatMap((b) => [leb(b.length), b])]), wasm.subarray(code.end));
  const out = new Uint8Array(size(parts));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Calls `visit` for each instruction of a function body's code (its local declarations skipped). */
export function bodyCode(wasm: Uint8Array, f: Body, visit: (i: Instr) => void): void {
  const r = new Reader(wasm, f.start);
  for (let g = r.u32(); g > 0; g--) {
    r.u32();
    r.byte();
  }
  walk(r, f.end, visit);
}

/** The offsets of the i32 fields a function reads through its first parameter (`local.get 0; i32.load offset`). */
export function fieldsRead(wasm: Uint8Array, f: Body): Set<number> {
  const read = new Set<number>();
  let afterParam0 = false;
  bodyCode(wasm, f, (i) => {
    if (afterParam0 && i.op === 0x28) {
      const m = new Reader(wasm, i.at + 1);
      m.u32(); // align
      read.add(m.u32());
    }
    afterParam0 = i.op === 0x20 && wasm[i.at + 1] === 0;
  });
  return read;
}

/**
 * `wasm` with `f`'s body replaced by `body(original)`, where `original` is the index of f's own body, kept as a
 * function added after the module's: a kernel in front of the one it replaces, calling it for what it does not do.
 */
export function inFront(wasm: Uint8Array, f: Body, body: (original: number) => ArrayLike<number>): Uint8Array {
  const original = importedFunctions(wasm) + functionBodies(wasm).bodies.length;
  const ours = body(original);
  return rewriteBodies(wasm, (g) => (g.index === f.index ? ours : null), [
    { type: f.typeIndex, body: wasm.subarray(f.start, f.end) },
  ]);
}
