import { localGet, localSet, RELAXED_MADD } from './asm.js';
import { leb, Reader, rewriteBodies, SIMD, V128, walk, type Body, type Instr } from './code.js';
import { replaceDepthwiseConv } from './depthwise.js';
import { replaceErf } from './erf.js';
import { replaceSgemmKernels } from './sgemm.js';
import { replaceTranspose } from './transpose.js';

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
/** Instructions that push one value and pop none: they can move below a multiply without changing anything. */
const PUSHES = new Set([LOCAL_GET, 0x23 /* global.get */, SIMD | 12 /* v128.const */]);

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

function fuseBody(b: Uint8Array, f: Body): { bytes: number[]; fused: number } | null {
  const { start, end } = f;
  const params = f.type.params.length;
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
  // set/get shuffle costs nothing once the function is optimised. [c, a, b] → [a, b, c] → relaxed_madd: c + a·b
  const [t0, t1, t2] = [0, 1, 2].map((k) => params + locals + k);
  const reordered = [...[t1, t0, t2].flatMap(localSet), ...[t0, t1, t2].flatMap(localGet), ...RELAXED_MADD];
  const patches: Patch[] = [];
  // where instruction k's bytes end: the next one's start, or the body's end
  const after = (k: number) => ins[k + 1]?.at ?? end;
  for (let k = 0; k + 1 < ins.length; k++) {
    if (ins[k].op !== F32X4_MUL) continue;
    if (ins[k + 1].op === F32X4_ADD) {
      // stack [c, a, b] → mul → [c, a·b] → add: c + a·b, the operands of relaxed_madd in the wrong order
      patches.push([ins[k].at, after(k + 1), reordered]);
      k++;
      continue;
    }
    // stack [a, b] → mul → an expression that pushes c and reads nothing below it → add: a·b + c, relaxed_madd's
    // order already; the multiply moves after c (it has no effects, so its place cannot be observed)
    const add = oneValue(ins, k + 1);
    if (add < 0 || ins[add]?.op !== F32X4_ADD) continue;
    patches.push([ins[k].at, after(add), [...b.subarray(ins[k + 1].at, ins[add].at), ...RELAXED_MADD]]);
    k = add;
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
  let fused = 0;
  let functions = 0;
  const bytes = rewriteBodies(wasm, (f) => {
    const body = fuseBody(wasm, f);
    if (!body) return null;
    functions++;
    fused += body.fused;
    return body.bytes;
  });
  return { bytes, fused, functions };
}

export interface FmaWasm extends FusedModule {
  /** MLAS SGEMM kernels replaced by ours (src/engines/onnx/wasm/sgemm.ts): 2, or 0 where they were not found. */
  kernels: number;
  /** Our depthwise convolution in front of MLAS's MlasConv (src/engines/onnx/wasm/depthwise.ts), where found. */
  depthwise: boolean;
  /** Our 4 × 4-block transpose in place of MLAS's uint32 transpose worker (src/engines/onnx/wasm/transpose.ts). */
  transpose: boolean;
  /** Our 4-vector erf in front of MLAS's (src/engines/onnx/wasm/erf.ts), where found. */
  erf: boolean;
}

/**
 * onnxruntime-web's .wasm for engines with relaxed SIMD: MLAS's SGEMM kernels replaced by our FMA kernel, our
 * depthwise convolution in front of MLAS's, our block transpose in place of MLAS's, our erf in front of MLAS's, then
 * every other multiply-add fused. What `flatten fuse-wasm` writes
 * and the web pipeline's `fmaWasm` runs.
 */
export function buildFmaWasm(wasm: Uint8Array): FmaWasm {
  const k = replaceSgemmKernels(wasm);
  const d = replaceDepthwiseConv(k.bytes);
  const t = replaceTranspose(d.bytes);
  const e = replaceErf(t.bytes);
  return {
    ...fuseMultiplyAdd(e.bytes),
    kernels: k.kernels,
    depthwise: d.replaced,
    transpose: t.replaced,
    erf: e.replaced,
  };
}
