import {
  addTo,
  BR,
  END,
  f32Load,
  F32_ADD,
  F32X4_ADD,
  F32X4_MUL,
  f32Store,
  I32_AND,
  I32_EQZ,
  I32_GE_S,
  I32_GT_S,
  I32_LE_S,
  I32_SHL,
  I32_SUB,
  I32_ADD,
  i32c,
  ifElse,
  ifThen,
  lane,
  locals,
  localGet as get,
  localSet as set,
  LOOP,
  loopUntil,
  offsetRow,
  RELAXED_MADD as MADD,
  RETURN,
  seq,
  simdOp as simd,
  splatLoad,
  UNREACHABLE,
  V128,
  V128_ZERO as ZERO,
  v128Load,
  v128Store,
  VOID,
  type Code,
} from './asm.js';
import { bodyCode, functionBodies, rewriteBodies, SIMD, type Body, type FuncType } from './code.js';

/**
 * Our SGEMM micro-kernel for onnxruntime-web's wasm build, as a wasm function body. It keeps the contract of MLAS's
 * `MlasSgemmKernelZero` / `MlasSgemmKernelAdd` (the functions it replaces, `replaceSgemmKernels` below):
 *
 *   rows = kernel(A, B, C, CountK, CountM, CountN, lda, ldc, alpha)
 *
 * C[0..rows, 0..CountN] = alpha · A[0..rows, 0..CountK] · B (zero mode), or += that (add mode); A is row-major with
 * lda floats a row, C with ldc; B is packed as MLAS packs it: panels of 16 columns, each CountK rows of 16 floats
 * (the last panel zero-padded), one panel after the other. It returns how many rows it did (the caller loops).
 *
 * Why: MLAS's wasm kernel computes each a·b + c as a multiply then an add; ours does relaxed SIMD's FMA, half the
 * vector instructions. Its tile is MLAS's, 2 rows × a whole 16-column panel: per step of k, 4 loads of B, 2 broadcast
 * loads of A and 8 FMAs on 8 independent accumulators, in 14 vector registers (V8 has 15 on x64). 4 rows × 8 columns
 * (the same 6 loads and 8 FMAs, but 4 broadcasts) took 1.11–1.18× its time in Chromium on an AMD EPYC, whose
 * broadcast loads take a vector pipe; 6 rows × 8 (12 accumulators) spills registers in V8's code, and 5 × 8, 3 × 16
 * or k unrolled were no faster (bench/RESULTS.md).
 */

// the function's parameters (wasm32: size_t is i32)
const A = 0;
const B = 1;
const C = 2;
const K = 3;
const M = 4;
const N = 5;
const LDA = 6;
const LDC = 7;
const ALPHA = 8;
// i32 locals
const LDA4 = 9; // lda in bytes
const LDC4 = 10;
const PANEL = 11; // the current 16-column panel of B
const CBLK = 12; // C at the panel's first column
const PB = 13;
const KK = 14;
const P = 15; // a store address
const COLS = 16; // columns left from a half's first one
/** Rows a call does, most first: 1 must be last. */
const ROWS = [2, 1];
const MAX_ROWS = ROWS[0];
const PA = 17; // PA..PA+MAX_ROWS-1: the rows' A pointers
const I32_LOCALS = PA + MAX_ROWS - LDA4;
// v128 locals
const ACC = PA + MAX_ROWS; // ACC + 4·i + j: row i, columns 4j..4j+3 of the panel
const BV = ACC + 4 * MAX_ROWS; // BV..BV+3: the step's 16 floats of B
const AV = BV + 4;
const ALPHAV = AV + 1;
const V128_LOCALS = ALPHAV + 1 - ACC;

const bits = (local: number, mask: number): Code => [...get(local), ...i32c(mask), I32_AND];
/** acc (v128 local) += the 4 floats at P + offset, in add mode. */
const addC = (zero: boolean, acc: number, offset: number): Code =>
  zero ? [] : [...get(acc), ...get(P), ...v128Load(offset), ...F32X4_ADD, ...set(acc)];
const storeV = (v: number, offset: number): Code => [...get(P), ...get(v), ...v128Store(offset)];

/** 8 columns (v0, v1) to P: whole, or the first COLS of them (1..7). */
function storeHalf(zero: boolean, v0: number, v1: number): Code {
  const whole = seq(addC(zero, v0, 0), addC(zero, v1, 16), storeV(v0, 0), storeV(v1, 16));
  // v0's lane l to P + 4·l
  const scalar = (l: number): Code =>
    seq(get(P), get(v0), lane(l), zero ? [] : [...get(P), ...f32Load(4 * l), F32_ADD], f32Store(4 * l));
  // lanes 2, 3 of v0 to lanes 0, 1 (i8x16.shuffle of bytes 8..15)
  const lanesDown = seq(
    get(v0),
    get(v0),
    simd(13),
    [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
    set(v0),
  );
  const partial = seq(
    ifThen(bits(COLS, 4), addC(zero, v0, 0), storeV(v0, 0), get(v1), set(v0), addTo(P, i32c(16))),
    ifThen(bits(COLS, 2), scalar(0), scalar(1), lanesDown, addTo(P, i32c(8))),
    ifThen(bits(COLS, 1), scalar(0)),
  );
  return ifElse([...get(COLS), ...i32c(8), I32_GE_S], whole, partial);
}

/** The current panel (16 columns, of which N are C's) for `rows` rows. */
function panel(zero: boolean, rows: number): Code {
  const accs = Array.from({ length: 4 * rows }, (_, i) => ACC + i);
  const out = seq(...accs.map((a) => [...ZERO, ...set(a)]));
  for (let i = 0; i < rows; i++) out.push(...offsetRow(A, LDA4, i), ...set(PA + i));
  out.push(...get(PANEL), ...set(PB), ...get(K), ...set(KK));
  // for k in K: b = B[k, 0..15]; acc[i] += A[i, k] · b
  const step = seq(...[0, 1, 2, 3].map((j) => [...get(PB), ...v128Load(16 * j), ...set(BV + j)]));
  for (let i = 0; i < rows; i++) {
    step.push(...get(PA + i), ...splatLoad(), ...set(AV));
    for (let j = 0; j < 4; j++)
      step.push(...get(BV + j), ...get(AV), ...get(ACC + 4 * i + j), ...MADD, ...set(ACC + 4 * i + j));
    step.push(...addTo(PA + i, i32c(4)));
  }
  out.push(...loopUntil([...get(KK), I32_EQZ], step, addTo(PB, i32c(64)), get(KK), i32c(1), [I32_SUB], set(KK)));
  // alpha, then each row to C (+ what is there in add mode): its first 8 columns, then the rest where N > 8
  for (const a of accs) out.push(...get(a), ...get(ALPHAV), ...F32X4_MUL, ...set(a));
  for (let i = 0; i < rows; i++) {
    const v = ACC + 4 * i;
    out.push(...offsetRow(CBLK, LDC4, i), ...set(P), ...get(N), ...set(COLS), ...storeHalf(zero, v, v + 1));
    out.push(
      ...ifThen(
        [...get(N), ...i32c(8), I32_GT_S],
        offsetRow(CBLK, LDC4, i),
        i32c(32),
        [I32_ADD],
        set(P),
        get(N),
        i32c(8),
        [I32_SUB],
        set(COLS),
        storeHalf(zero, v + 2, v + 3),
      ),
    );
  }
  return out;
}

/** The kernel for `rows` rows: every panel of B, then `return rows`. */
function kernel(zero: boolean, rows: number): Code {
  const nextPanel = seq(
    [...get(N), ...i32c(16), I32_SUB, ...set(N)],
    addTo(CBLK, i32c(64)),
    addTo(PANEL, [...get(K), ...i32c(6), I32_SHL]), // K rows of 16 floats
  );
  return seq(
    get(B),
    set(PANEL),
    get(C),
    set(CBLK),
    [LOOP, VOID],
    panel(zero, rows),
    ifThen([...get(N), ...i32c(16), I32_LE_S], i32c(rows), [RETURN]),
    nextPanel,
    [BR, 0, END, UNREACHABLE], // the loop leaves only by `return`
  );
}

/** The whole function body (locals and code) of the zero-mode or add-mode kernel. */
export function sgemmKernelBody(zero: boolean): number[] {
  const decls = locals([I32_LOCALS, 0x7f], [V128_LOCALS, V128]);
  const code = seq(
    get(LDA),
    i32c(2),
    [I32_SHL],
    set(LDA4),
    get(LDC),
    i32c(2),
    [I32_SHL],
    set(LDC4),
    get(ALPHA),
    simd(19),
    set(ALPHAV), // f32x4.splat
  );
  // the most rows of ROWS that remain, then fewer: each call does one block of rows and says how many
  for (const rows of ROWS.slice(0, -1)) code.push(...ifThen([...get(M), ...i32c(rows), I32_GE_S], kernel(zero, rows)));
  return [...decls, ...code, ...kernel(zero, 1), END];
}

const KERNEL_TYPE = { params: [...new Array<number>(8).fill(0x7f), 0x7d], results: [0x7f] };
const sameType = (t: FuncType) =>
  t.params.length === KERNEL_TYPE.params.length &&
  t.params.every((p, i) => p === KERNEL_TYPE.params[i]) &&
  t.results.length === 1 &&
  t.results[0] === 0x7f;

/** v128 loads and f32x4 multiplies of a function body. */
function vectorOps(wasm: Uint8Array, f: Body): { loads: number; muls: number } {
  let loads = 0;
  let muls = 0;
  bodyCode(wasm, f, (i) => {
    if (i.op === SIMD) loads++;
    else if (i.op === (SIMD | 230)) muls++;
  });
  return { loads, muls };
}

/**
 * `wasm` with MLAS's two SGEMM kernels replaced by ours (zero and add mode). They are found by what they are: the
 * module's only two functions of type (i32 × 8, f32) → i32, both doing f32x4 multiplies; the add-mode one loads C
 * as well, so it has the more v128 loads. A module without exactly that pair is returned as it was (`kernels` 0).
 */
export function replaceSgemmKernels(wasm: Uint8Array): { bytes: Uint8Array; kernels: number } {
  const found = functionBodies(wasm)
    .bodies.filter((f) => sameType(f.type))
    .map((f) => ({ index: f.index, ...vectorOps(wasm, f) }))
    .filter((f) => f.muls > 0);
  if (found.length !== 2 || found[0].loads === found[1].loads) return { bytes: wasm, kernels: 0 };
  const [zero, add] = found[0].loads < found[1].loads ? found : [found[1], found[0]];
  const bytes = rewriteBodies(wasm, (f) =>
    f.index === zero.index ? sgemmKernelBody(true) : f.index === add.index ? sgemmKernelBody(false) : null,
  );
  return { bytes, kernels: 2 };
}
