import {
  addTo,
  ifElse,
  i32c,
  i32Load,
  i32Store,
  offsetRow,
  I32,
  I32_ADD,
  I32_EQZ,
  I32_LT_U,
  I32_MUL,
  I32_SUB,
  locals,
  localGet as get,
  localSet as set,
  loopUntil,
  END,
  seq,
  simdOp,
  V128,
  v128Load,
  v128Store,
  type Code,
} from './asm.js';
import { bodyCode, fieldsRead, functionBodies, rewriteBodies, SIMD, type Body } from './code.js';

/**
 * Our 4-byte matrix transpose for onnxruntime-web's wasm build, in place of the per-thread worker of MLAS's
 * `MlasTranspose` (uint32), which ORT's Transpose runs for every float transpose that moves one axis: the NHWC ↔ NCHW
 * turns around PVTv2's depthwise convs, among others.
 *
 * Why: MLAS's 4 × 4 block transpose is written for SSE2, NEON, POWER and LSX only; the wasm build moves one element
 * at a time (a (3136, 256) transpose: 1.5 ms, against 0.5 ms for a Mul of the same tensor). Ours moves 4 × 4 blocks:
 * four 16-byte row loads, eight `i8x16.shuffle`s, four 16-byte stores into the output's rows; the rows and columns
 * that do not fill a block go one element at a time, as MLAS's do.
 *
 * The contract is the worker's: worker(context, index) transposes its share of the input's M rows (M × N, row-major)
 * into the same columns of the output (N × M), the share being MLAS's split of M rows over `tasks` workers (the
 * first M mod tasks take one row more). The context is { tasks, input, output, M, N } (5 × i32; read from its code).
 */

const AT = { tasks: 0, input: 4, output: 8, m: 12, n: 16 };

// worker(context, index)
const [CTX, INDEX] = [0, 1];
// i32 locals
const [M, N, Q, R, CNT, IN, OUT, N4, M4, MI, NI, P, O] = Array.from({ length: 13 }, (_, i) => 2 + i);
const I32_LOCALS = 13;
const A = 2 + I32_LOCALS; // A..A+3: the block's rows, then B..B+3: pairs interleaved
const B = A + 4;
const V128_LOCALS = 8;

const ctx = (offset: number): Code => [...get(CTX), ...i32Load(offset)];
/** i8x16.shuffle of two vectors by 32-bit lanes: lanes 0–3 are the first's, 4–7 the second's. */
const shuffle32 = (lanes: number[]): Code => [
  ...simdOp(13),
  ...lanes.flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b)),
];
/** local = a + b · c (i32). */
const setSum = (local: number, a: Code, b: Code, c: Code): Code => [...a, ...b, ...c, I32_MUL, I32_ADD, ...set(local)];

/** Four rows × four columns at P (rows N4 bytes apart) to four rows × four columns at O (rows M4 bytes apart). */
const block = (): Code => {
  const out: Code = [];
  // A_i = input row i's four columns
  for (let i = 0; i < 4; i++) out.push(...offsetRow(P, N4, i), ...v128Load(0), ...set(A + i));
  // B0 = a0[0] a1[0] a0[1] a1[1], B1 = a0[2] a1[2] a0[3] a1[3], B2, B3 the same of rows 2 and 3
  for (const [k, x, y, lanes] of [
    [0, A, A + 1, [0, 4, 1, 5]],
    [1, A, A + 1, [2, 6, 3, 7]],
    [2, A + 2, A + 3, [0, 4, 1, 5]],
    [3, A + 2, A + 3, [2, 6, 3, 7]],
  ] as const)
    out.push(...get(x), ...get(y), ...shuffle32([...lanes]), ...set(B + k));
  // output row j = column j of the four input rows
  for (const [j, x, y, lanes] of [
    [0, B, B + 2, [0, 1, 4, 5]],
    [1, B, B + 2, [2, 3, 6, 7]],
    [2, B + 1, B + 3, [0, 1, 4, 5]],
    [3, B + 1, B + 3, [2, 3, 6, 7]],
  ] as const)
    out.push(...offsetRow(O, M4, j), ...get(x), ...get(y), ...shuffle32([...lanes]), ...v128Store(0));
  return out;
};

/** One 4-byte element from the address `from` leaves to the address `to` leaves. */
const copy = (from: Code, to: Code): Code => [...to, ...from, ...i32Load(0), ...i32Store(0)];

/** The worker's body (locals and code). */
export function transposeWorkerBody(): Code {
  const decls = locals([I32_LOCALS, I32], [V128_LOCALS, V128]);
  const split = seq(
    [...ctx(AT.m), ...set(M)],
    [...ctx(AT.n), ...set(N)],
    [...get(M), ...ctx(AT.tasks), 0x6e /* i32.div_u */, ...set(Q)],
    [...get(M), ...get(Q), ...ctx(AT.tasks), I32_MUL, I32_SUB, ...set(R)],
    // the first R workers take Q + 1 rows, the others Q; CNT rows from row MI (MI is the first row here)
    ifElse(
      [...get(INDEX), ...get(R), I32_LT_U],
      [...get(INDEX), ...get(Q), ...i32c(1), I32_ADD, I32_MUL, ...set(MI), ...get(Q), ...i32c(1), I32_ADD, ...set(CNT)],
      [...get(INDEX), ...get(Q), I32_MUL, ...get(R), I32_ADD, ...set(MI), ...get(Q), ...set(CNT)],
    ),
    [...get(N), ...i32c(4), I32_MUL, ...set(N4)],
    [...get(M), ...i32c(4), I32_MUL, ...set(M4)],
    setSum(IN, ctx(AT.input), get(MI), get(N4)), // input row MI
    setSum(OUT, ctx(AT.output), get(MI), i32c(4)), // output column MI
    [...get(CNT), ...set(MI)],
  );
  const lessThan = (local: number, v: number): Code => [...get(local), ...i32c(v), I32_LT_U];
  const rowBlocks = loopUntil(
    lessThan(MI, 4),
    [...get(IN), ...set(P), ...get(OUT), ...set(O), ...get(N), ...set(NI)],
    loopUntil(lessThan(NI, 4), block(), addTo(P, i32c(16)), setSum(O, get(O), get(M4), i32c(4)), addTo(NI, i32c(-4))),
    // the columns left: one column of the four rows at a time
    loopUntil(
      [...get(NI), I32_EQZ],
      ...[0, 1, 2, 3].map((i) => copy(offsetRow(P, N4, i), [...get(O), ...i32c(4 * i), I32_ADD])),
      addTo(P, i32c(4)),
      addTo(O, get(M4)),
      addTo(NI, i32c(-1)),
    ),
    setSum(IN, get(IN), get(N4), i32c(4)),
    addTo(OUT, i32c(16)),
    addTo(MI, i32c(-4)),
  );
  // the rows left: one row at a time into one output column
  const rows = loopUntil(
    [...get(MI), I32_EQZ],
    [...get(IN), ...set(P), ...get(OUT), ...set(O), ...get(N), ...set(NI)],
    loopUntil([...get(NI), I32_EQZ], copy(get(P), get(O)), addTo(P, i32c(4)), addTo(O, get(M4)), addTo(NI, i32c(-1))),
    addTo(IN, get(N4)),
    addTo(OUT, i32c(4)),
    addTo(MI, i32c(-1)),
  );
  return [...decls, ...split, ...rowBlocks, ...rows, END];
}

/** What a function reads through its first parameter, what it stores (by width), whether it calls or uses SIMD. */
function shape(wasm: Uint8Array, f: Body) {
  let [stores32, narrowStores, calls, simd, divs] = [0, 0, 0, 0, 0];
  bodyCode(wasm, f, (i) => {
    if (i.op === 0x36) stores32++;
    else if (i.op >= 0x37 && i.op <= 0x3e) narrowStores++;
    else if (i.op === 0x10 || i.op === 0x11) calls++;
    else if (i.op === 0x6e) divs++;
    else if (i.op >= SIMD && i.op < SIMD + 0x10000) simd++;
  });
  return { read: fieldsRead(wasm, f), stores32, narrowStores, calls, simd, divs };
}

/**
 * `wasm` with MLAS's uint32 transpose worker replaced by ours. Found as the module's only function of type
 * (i32, i32) → () that reads the context's five fields (offsets 0–16 of its first parameter, nothing else there),
 * divides (the row split), stores 4-byte words and nothing narrower, and neither calls nor uses SIMD. A module
 * without exactly one is returned as it was (`replaced` false).
 */
export function replaceTranspose(wasm: Uint8Array): { bytes: Uint8Array; replaced: boolean } {
  const fields = Object.values(AT);
  const found = functionBodies(wasm).bodies.filter((f) => {
    if (f.type.results.length || f.type.params.length !== 2 || f.type.params.some((t) => t !== I32)) return false;
    const s = shape(wasm, f);
    return (
      s.read.size === fields.length &&
      fields.every((o) => s.read.has(o)) &&
      s.divs > 0 &&
      s.stores32 >= 8 &&
      !s.narrowStores &&
      !s.calls &&
      !s.simd
    );
  });
  if (found.length !== 1) return { bytes: wasm, replaced: false };
  const body = transposeWorkerBody();
  return { bytes: rewriteBodies(wasm, (f) => (f.index === found[0].index ? body : null)), replaced: true };
}
