import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { FlattenError } from '../../src/core/errors.js';
import { fuseMultiplyAdd } from '../../src/engines/onnx/wasm/fma.js';
import { flatten } from '../cli/cli.js';
import { HEADER, leb, section, vec } from '../../src/engines/onnx/wasm/module.js';

// ---- the instructions the modules below need ------------------------------------------------------------------

const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const simd = (op: number) => [0xfd, ...leb(op)];
const load = (p: number) => [...get(p), ...simd(0), 0x04, 0x00]; // v128.load align=16 offset=0
const store = [...simd(11), 0x04, 0x00];
const MUL = simd(230);
const ADD = simd(228);
const constV = (xs: number[]) => [...simd(12), ...new Uint8Array(Float32Array.from(xs).buffer)];

/** Functions (pa, pb, pc, pout: i32) that each store a·b + c (or a·b) of the f32x4 values at the pointers. */
const FUNCS: { name: string; locals: number[][]; code: number[]; fuses: number }[] = [
  // [pout, c, a, b] → mul → add: c + a·b (the accumulator below the product)
  {
    name: 'below',
    locals: [],
    code: [...get(3), ...load(2), ...load(0), ...load(1), ...MUL, ...ADD, ...store],
    fuses: 1,
  },
  // a·b, then a local pushed, then add
  {
    name: 'local',
    locals: [[1, V128]],
    code: [...load(2), ...set(4), ...get(3), ...load(0), ...load(1), ...MUL, ...get(4), ...ADD, ...store],
    fuses: 1,
  },
  // a·b + a constant (the polynomials of erf, exp, tanh)
  {
    name: 'const',
    locals: [],
    code: [...get(3), ...load(0), ...load(1), ...MUL, ...constV([1, 2, 3, 4]), ...ADD, ...store],
    fuses: 1,
  },
  // a·b + a load from a local's address
  {
    name: 'load',
    locals: [],
    code: [...get(3), ...load(0), ...load(1), ...MUL, ...load(2), ...ADD, ...store],
    fuses: 1,
  },
  // a product that is stored, not added: left alone
  { name: 'product', locals: [], code: [...get(3), ...load(0), ...load(1), ...MUL, ...store], fuses: 0 },
  // a loop of acc += a·b, three times, inside a block, with a br_table and an if: the walker's control flow
  {
    name: 'loop',
    locals: [
      [1, V128],
      [1, I32],
    ],
    code: [
      ...load(2),
      ...set(4),
      0x41,
      3,
      ...set(5),
      0x02,
      0x40,
      0x03,
      0x40,
      ...get(5),
      0x45,
      0x0d,
      1, // if n == 0: leave the block
      ...get(4),
      ...load(0),
      ...load(1),
      ...MUL,
      ...ADD,
      ...set(4),
      ...get(5),
      0x41,
      1,
      0x6b,
      ...set(5),
      ...get(5),
      0x04,
      0x40,
      0x01,
      0x05,
      0x01,
      0x0b, // if … else … end (nops)
      0x41,
      0,
      0x0e,
      1,
      0,
      0, // br_table [0] 0: back to the loop
      0x0b,
      0x0b,
      ...get(3),
      ...get(4),
      ...store,
    ],
    fuses: 1,
  },
];

/** A module of `funcs` (all (i32 × 4) → ()), exported by name, with one page of memory exported as 'mem'. */
function moduleOf(funcs: { name: string; locals: number[][]; code: number[] }[], trailing: number[] = []): Uint8Array {
  const type = [0x60, ...vec([[I32], [I32], [I32], [I32]]), 0];
  const bodies = funcs.map((f) => {
    // `trailing`: bytes after the closing `end` that the body's size still counts
    const body = [...vec(f.locals), ...f.code, 0x0b, ...trailing];
    return [...leb(body.length), ...body];
  });
  const exports = funcs.map((f, i) => [...leb(f.name.length), ...new TextEncoder().encode(f.name), 0x00, i]);
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([type])),
    ...section(3, vec(funcs.map(() => [0]))),
    ...section(5, vec([[0x00, 1]])), // memory: 1 page
    ...section(7, vec([...exports, [...leb(3), 0x6d, 0x65, 0x6d, 0x02, 0]])),
    ...section(10, vec(bodies)),
  ]);
}
const testModule = () => moduleOf(FUNCS);

/** Runs every function on a = (1, 2, 3, 4), b = (0.5, …), c = (10, …); each one's stored f32x4. */
async function run(bytes: Uint8Array): Promise<Record<string, number[]>> {
  const { instance } = await WebAssembly.instantiate(bytes as Uint8Array<ArrayBuffer>, {});
  const mem = new Float32Array((instance.exports.mem as WebAssembly.Memory).buffer);
  const out: Record<string, number[]> = {};
  for (const f of FUNCS) {
    mem.set([1, 2, 3, 4, 0.5, 0.25, -1, 2, 10, 20, 30, 40], 0);
    (instance.exports[f.name] as (a: number, b: number, c: number, o: number) => void)(0, 16, 32, 48);
    out[f.name] = [...mem.subarray(12, 16)];
  }
  return out;
}

/** WebAssembly.validate, for our Uint8Arrays (typed over any ArrayBufferLike). */
const valid = (b: Uint8Array) => WebAssembly.validate(b as Uint8Array<ArrayBuffer>);

const refused = (bytes: Uint8Array, pattern: RegExp) => {
  let err: unknown;
  try {
    fuseMultiplyAdd(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FlattenError);
  expect((err as FlattenError).code).toBe('BAD_FILE');
  expect((err as FlattenError).message).toMatch(pattern);
  expect((err as FlattenError).message).not.toMatch(/\n/);
};

const ORT_WASM = join(
  dirname(createRequire(import.meta.url).resolve('onnxruntime-web')),
  'ort-wasm-simd-threaded.wasm',
);

describe('fused multiply-add rewrite of a wasm module', () => {
  const stock = testModule();
  const fused = fuseMultiplyAdd(stock);

  it('fuses each mul whose product goes straight into an add, and nothing else', () => {
    expect(valid(stock)).toBe(true);
    expect(fused.fused).toBe(FUNCS.reduce((s, f) => s + f.fuses, 0));
    expect(fused.functions).toBe(FUNCS.filter((f) => f.fuses).length);
    // relaxed SIMD is off in Node 20 by default: the rewrite is only valid where it is on
    expect(valid(fused.bytes)).toBe(false);
  });

  it('computes what the stock module computes, with relaxed SIMD on', async () => {
    const want = await run(stock);
    expect(want.below).toEqual([10.5, 20.5, 27, 48]);
    expect(want.loop).toEqual([11.5, 21.5, 21, 64]);
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    expect(valid(fused.bytes)).toBe(true);
    // these products and sums are exact in float32, so FMA's single rounding gives the same values
    expect(await run(fused.bytes)).toEqual(want);
  });

  it('leaves a module with nothing to fuse byte for byte as it was', () => {
    const none = Uint8Array.from([...HEADER, ...section(1, vec([[0x60, 0, 0]]))]);
    expect(fuseMultiplyAdd(none)).toEqual({ bytes: none, fused: 0, functions: 0 });
  });

  it("rewrites onnxruntime-web's own build into a module that validates with relaxed SIMD", () => {
    const ort = new Uint8Array(readFileSync(ORT_WASM));
    const r = fuseMultiplyAdd(ort);
    expect(r.fused).toBeGreaterThan(100);
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    expect(valid(r.bytes)).toBe(true);
  });

  it('names what is wrong with a module it cannot read', () => {
    refused(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), /not a WebAssembly 1\.0 binary/);
    refused(stock.subarray(0, stock.length - 5), /runs past the end|truncated/);
    // an opcode the walker does not know: never guess where an instruction ends
    refused(moduleOf([{ name: 'f', locals: [], code: [0xff] }]), /unknown opcode 0xff at byte \d+/);
    refused(moduleOf([{ name: 'f', locals: [], code: [0xfd, ...leb(0x200)] }]), /unknown SIMD instruction 0xfd 512/);
    // bytes after the body's closing end, within the size the code section gives it
    refused(
      moduleOf([{ name: 'f', locals: [], code: [] }], [0x01]),
      /function body ends at byte \d+, its size says \d+/,
    );
    // a block that never ends inside its body
    refused(moduleOf([{ name: 'f', locals: [], code: [0x02, 0x40] }]), /ends inside a block/);
  });
});

describe('flatten fuse-wasm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flatten-fuse-wasm-'));

  it('writes the fused module, and refuses to replace a file or to read a bad one', () => {
    const input = join(dir, 'in.wasm');
    writeFileSync(input, testModule());
    const out = join(dir, 'out.wasm');
    const r = flatten('fuse-wasm', input, out);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^wrote .*out\.wasm: 5 multiply-adds fused in 5 functions/);
    expect(new Uint8Array(readFileSync(out))).toEqual(fuseMultiplyAdd(testModule()).bytes);

    const again = flatten('fuse-wasm', input, out);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/out\.wasm: exists \(pass --overwrite to replace it\)\n$/);

    const bad = join(dir, 'bad.wasm');
    writeFileSync(bad, 'not wasm');
    const target = join(dir, 'never.wasm');
    const r2 = flatten('fuse-wasm', bad, target);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/bad\.wasm: wasm module: not a WebAssembly 1\.0 binary/);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(target)).toBe(false);
  });
});
