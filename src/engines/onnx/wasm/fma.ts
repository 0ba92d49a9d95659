import { FlattenError } from '../../../core/errors.js';
import { functionTypes, leb, paramCounts, Reader, sections, SIMD, V128, walk, type Instr } from './code.js';

/**
 * Fused multiply-add for a wasm build that has none. onnxruntime-web's kernels (MLAS) compute every a·b + c of their
 * matrix, convolution and activation loops as `f32x4.mul` then `f32x4.add`: two instructions where relaxed SIMD has
 * one, `f32x4.relaxed_madd`, which V8 compiles to an FMA (vfmadd) on a CPU with FMA3. This rewrite replaces each
 * mul whose product goes straight into an add by that one instruction: what a C compiler does by default
 * (contraction within an expression), applied to the compiled module. Values change by rounding only (one rounding
 * instead of two, or the same two where the engine has no FMA); the module then needs relaxed SIMD
 * (`relaxedSimdSupported`).
 */

const F32X4_ADD = SIMD | 228;
const F32X4_MUL = SIMD | 230;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
/** Instructions that push one value and pop none: they can move below a multiply without changing anything. */
const PUSHES = new Set([LOCAL_GET, 0x23 /* global.get */, SIMD | 12 /* v128.const */]);
const RELAXED_MADD = [0xfd, 0x85, 0x02]; // f32x4.relaxed_madd: a·b + c of the stack [a, b, c]

export interface FusedModule {
  /** The rewritten module (the input itself when nothing was fused). */
  bytes: Uint8Array;
  /** Multiply-adds fused. */
  fused: number;
  /** Functions that held at least one. */
  functions: number;
}

/** v128 loads (from an address on the stack): v128.load, the extending and splatting loads, the zero-filling ones. */
const isLoad = (op: number) => (op >= SIMD && op <= (SIMD | 10)) || op === (SIMD | 92) || op === (SIMD | 93);

/**
 * If ins[k] starts an expression that pops nothing and pushes one value (a local, a global, a constant, or a load
 * from a local's address), the index after it; else -1.
 */
function oneValue(ins: Instr[], k: number): number {
  const op = ins[k]?.op;
  if (op === LOCAL_GET && isLoad(ins[k + 1]?.op)) return k + 2;
  return PUSHES.has(op) ? k + 1 : -1;
}

/** One function body's fusions: [from, to) of the original bytes and what replaces them. */
type Patch = [from: number, to: number, bytes: number[]];

function fuseBody(
  b: Uint8Array,
  start: number,
  end: number,
  params: number,
): { bytes: number[]; fused: number } | null {
  const r = new Reader(b, start);
  let locals = 0;
  const groups = r.u32();
  const groupsEnd = r.p;
  for (let g = 0; g < groups; g++) {
    locals += r.u32();
    r.byte();
  }
  const codeStart = r.p;
  const ins: Instr[] = [];
  walk(r, end, (i) => ins.push(i));
  // three v128 temporaries after the function's own locals: V8 keeps locals in registers (SSA), so the
  // set/get shuffle costs nothing once the function is optimised
  const [t0, t1, t2] = [0, 1, 2].map((k) => leb(params + locals + k));
  const patches: Patch[] = [];
  for (let k = 0; k + 1 < ins.length; k++) {
    if (ins[k].op !== F32X4_MUL) continue;
    const next = ins[k + 1];
    if (next.op === F32X4_ADD) {
      // stack [c, a, b] → mul → [c, a·b] → add: c + a·b, the operands of relaxed_madd in the wrong order
      const end = ins[k + 2]?.at ?? r.p;
      patches.push([
        ins[k].at,
        end,
        [
          LOCAL_SET,
          ...t1,
          LOCAL_SET,
          ...t0,
          LOCAL_SET,
          ...t2,
          LOCAL_GET,
          ...t0,
          LOCAL_GET,
          ...t1,
          LOCAL_GET,
          ...t2,
          ...RELAXED_MADD,
        ],
      ]);
      k++;
    } else {
      // stack [a, b] → mul → an expression that pushes c and reads nothing below it → add: a·b + c, relaxed_madd's
      // order already; the multiply moves after c (it has no effects, and cannot trap)
      const after = oneValue(ins, k + 1);
      if (after < 0 || ins[after]?.op !== F32X4_ADD) continue;
      patches.push([ins[k].at, ins[after + 1]?.at ?? r.p, [...b.subarray(next.at, ins[after].at), ...RELAXED_MADD]]);
      k = after;
    }
  }
  if (!patches.length) return null;
  const out = [...leb(groups + 1), ...b.subarray(groupsEnd, codeStart), 3, V128];
  let p = codeStart;
  for (const [from, to, bytes] of patches) {
    for (let i = p; i < from; i++) out.push(b[i]);
    out.push(...bytes);
    p = to;
  }
  for (let i = p; i < end; i++) out.push(b[i]);
  return { bytes: out, fused: patches.length };
}

/** `wasm` with its f32x4 multiply-adds fused (see above). Throws a FlattenError on a module it cannot read. */
export function fuseMultiplyAdd(wasm: Uint8Array): FusedModule {
  const secs = sections(wasm);
  const find = (id: number) => secs.find((s) => s.id === id);
  const code = find(10);
  if (!code) return { bytes: wasm, fused: 0, functions: 0 };
  const types = find(1);
  const funcs = find(3);
  if (!types || !funcs)
    throw new FlattenError('BAD_FILE', 'wasm module: a code section without type and function sections');
  const params = paramCounts(wasm, types);
  const typeOf = functionTypes(wasm, funcs);
  const r = new Reader(wasm, code.start);
  const count = r.u32();
  if (count !== typeOf.length)
    throw new FlattenError('BAD_FILE', `wasm module: ${count} function bodies for ${typeOf.length} functions`);
  const bodies: (Uint8Array | number[])[] = [];
  let fused = 0;
  let functions = 0;
  for (let f = 0; f < count; f++) {
    const size = r.u32();
    const start = r.p;
    if (start + size > code.end)
      throw new FlattenError('BAD_FILE', `wasm module: function body ${f} runs past its section`);
    const nParams = params[typeOf[f]];
    if (nParams === undefined)
      throw new FlattenError('BAD_FILE', `wasm module: function ${f} has no type ${typeOf[f]}`);
    const body = fuseBody(wasm, start, start + size, nParams);
    if (body) {
      functions++;
      fused += body.fused;
      bodies.push(body.bytes);
    } else bodies.push(wasm.subarray(start, start + size));
    r.p = start + size;
  }
  if (!functions) return { bytes: wasm, fused: 0, functions: 0 };
  const sectionBody: number[][] = [leb(count)];
  let size = sectionBody[0].length;
  for (const body of bodies) {
    const head = leb(body.length);
    size += head.length + body.length;
    sectionBody.push(head);
  }
  const head = [10, ...leb(size)];
  const out = new Uint8Array(code.header + head.length + size + (wasm.length - code.end));
  let o = 0;
  const put = (x: ArrayLike<number>) => {
    out.set(x, o);
    o += x.length;
  };
  put(wasm.subarray(0, code.header));
  put(head);
  put(sectionBody[0]);
  bodies.forEach((body, i) => {
    put(sectionBody[i + 1]);
    put(body);
  });
  put(wasm.subarray(code.end));
  return { bytes: out, fused, functions };
}
