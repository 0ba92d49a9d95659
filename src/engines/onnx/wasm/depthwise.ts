import {
  addTo,
  CALL,
  END,
  f32c,
  f32Load,
  f32Store,
  F32,
  F32_ADD,
  F32_MUL,
  F32X4_SPLAT,
  I32,
  I32_ADD,
  I32_AND,
  I32_EQ,
  I32_EQZ,
  I32_GT_S,
  I32_GE_S,
  I32_LT_S,
  I32_LT_U,
  I32_MUL,
  I32_NE,
  I32_REM_U,
  I32_SUB,
  i32c,
  i32Load,
  ifElse,
  ifThen,
  locals,
  localGet as get,
  localSet as set,
  loopUntil,
  RELAXED_MADD as MADD,
  RETURN,
  SELECT,
  seq,
  splatLoad,
  V128,
  v128Load,
  v128Store,
  type Code,
} from './asm.js';
import { fieldsRead, functionBodies, inFront, leb, type Body } from './code.js';

/**
 * A direct depthwise convolution for onnxruntime-web's wasm build, in front of MLAS's `MlasConv`.
 *
 * Why: the SIMD build of MLAS has no depthwise kernel (its direct one is compiled for the scalar build only), so a
 * depthwise Conv runs as one im2col and one 1-row SGEMM per channel: PVTv2-B0's 3×3 convs on (256, 56, 56) take
 * ~3.7 ms each there, against ~0.5 ms of multiply-adds. Ours runs each channel straight from the image: 4-column
 * vectors along a row, 4 of them at once (16 outputs, 4 independent FMA chains), every tap an `f32x4.relaxed_madd`
 * of an unaligned load and the tap's weight in all lanes; the columns whose window crosses the left or right edge
 * are scalar, and the rows that cross the top or bottom edge skip the taps outside.
 *
 * It takes the call only when the convolution is exactly that: 2-D, one input channel and one filter per group,
 * a k × k kernel with k in {3, 5, 7}, stride and dilation 1, padding (k - 1) / 2 on all four sides, no
 * accumulation into the output (Beta 0) and the identity activation (the bias is added); every other call goes on
 * to MLAS's own `MlasConv`, kept in the module as an added function. One thread: the call is over before MLAS
 * would have split its channels.
 */

/** Byte offsets in MLAS_CONV_PARAMETERS as onnxruntime-web 1.30's wasm32 build lays it out (read from a call). */
const AT = {
  activation: 0, // MLAS_ACTIVATION*: its first field is the kind, 0 the identity
  dimensions: 4,
  batch: 8,
  groups: 12,
  inputChannels: 16, // per group
  unknown: 20, // a field this build has before InputShape: 0 in every call we take
  inputShape: 24,
  kernelShape: 36,
  dilation: 48,
  padding: 60, // top, left, bottom, right
  stride: 84,
  filterCount: 96, // per group
  outputShape: 100,
  inputSize: 112,
  outputSize: 116,
  k: 120,
  beta: 124,
  algorithm: 128,
};
/** What MlasConv reads of its parameters (and MLAS's other conv routines do not all read): how it is found. */
const FINGERPRINT = [
  AT.batch,
  AT.groups,
  AT.inputChannels,
  AT.filterCount,
  AT.inputSize,
  AT.outputSize,
  AT.k,
  AT.algorithm,
];
const KERNELS = [3, 5, 7];

// MlasConv(Parameters, Input, Filter, Bias, WorkingBuffer, Output, ThreadPool)
const [PAR, IN, FIL, BIAS, OUT] = [0, 1, 2, 3, 5];
const PARAMS = 7;
// i32 locals
const [CH, NCH, G, H, W, W4, PLANE4, INC, OROW, FC, FR, OH, I0, NR, ROW, OW, RP, FP, NN, LIM] = Array.from(
  { length: 20 },
  (_, i) => PARAMS + i,
);
const I32_LOCALS = 20;
// f32, then v128 locals
const [BV, SA] = [PARAMS + I32_LOCALS, PARAMS + I32_LOCALS + 1];
const F32_LOCALS = 2;
const V0 = PARAMS + I32_LOCALS + F32_LOCALS;
const [BVV, WV, ACC] = [V0, V0 + 1, V0 + 2]; // ACC..ACC+3: the accumulators
const V128_LOCALS = 6;

const param = (offset: number): Code => [...get(PAR), ...i32Load(offset)];
const eq = (a: Code, b: Code): Code => [...a, ...b, I32_EQ];
const all = (...conds: Code[]): Code => [...conds.flat(), ...new Array<number>(conds.length - 1).fill(I32_AND)];
/** The smaller (or larger) of two i32 expressions. */
const pick = (a: Code, b: Code, op: number): Code => [...a, ...b, ...a, ...b, op, SELECT];
const incr = (local: number) => addTo(local, i32c(1));

/** The calls we take (see above), as one i32. */
const takes = (): Code =>
  all(
    eq(param(AT.dimensions), i32c(2)),
    eq(param(AT.inputChannels), i32c(1)),
    eq(param(AT.unknown), i32c(0)),
    eq(param(AT.filterCount), i32c(1)),
    eq(param(AT.kernelShape), param(AT.kernelShape + 4)),
    eq(param(AT.dilation), i32c(1)),
    eq(param(AT.dilation + 4), i32c(1)),
    eq(param(AT.stride), i32c(1)),
    eq(param(AT.stride + 4), i32c(1)),
    eq([...param(AT.padding), ...i32c(2), I32_MUL, ...i32c(1), I32_ADD], param(AT.kernelShape)),
    ...[4, 8, 12].map((o) => eq(param(AT.padding + o), param(AT.padding))),
    eq(param(AT.outputShape), param(AT.inputShape)),
    eq(param(AT.outputShape + 4), param(AT.inputShape + 4)),
    eq(param(AT.inputSize), [...param(AT.inputShape), ...param(AT.inputShape + 4), I32_MUL]),
    eq(param(AT.outputSize), param(AT.inputSize)),
    [...get(PAR), ...f32Load(AT.beta), ...f32c(0), 0x5b /* f32.eq */],
    [...param(AT.activation), ...i32c(0), I32_NE],
    // the kind, read even where the pointer is null (address 0 is in bounds; the line above rules it out)
    [...param(AT.activation), ...i32Load(0), I32_EQZ],
  );

/**
 * Every tap of the window at OW: RP walks the rows inside the image (from ROW, column OW − p), FP the filter's
 * rows (from FR); `tap(j)` is column j's step.
 */
function taps(k: number, tap: (j: number) => Code): Code {
  const p = (k - 1) / 2;
  return seq(
    [...get(ROW), ...get(OW), ...i32c(p), I32_SUB, ...i32c(4), I32_MUL, I32_ADD, ...set(RP)],
    [...get(FR), ...set(FP), ...get(NR), ...set(NN)],
    loopUntil(
      [...get(NN), I32_EQZ],
      ...Array.from({ length: k }, (_, j) => tap(j)),
      addTo(RP, get(W4)),
      addTo(FP, i32c(4 * k)),
      addTo(NN, i32c(-1)),
    ),
  );
}

/** `m` vectors of 4 outputs at OW (all taps' columns inside the row), then OW += 4m. */
function vectors(k: number, m: number): Code {
  const tap = (j: number): Code =>
    seq(
      get(FP),
      splatLoad(4 * j),
      set(WV),
      ...Array.from({ length: m }, (_, i) =>
        seq(get(RP), v128Load(16 * i + 4 * j), get(WV), get(ACC + i), MADD, set(ACC + i)),
      ),
    );
  return seq(
    ...Array.from({ length: m }, (_, i) => seq(get(BVV), set(ACC + i))),
    taps(k, tap),
    ...Array.from({ length: m }, (_, i) =>
      seq(get(OROW), get(OW), i32c(4), [I32_MUL, I32_ADD], get(ACC + i), v128Store(16 * i)),
    ),
    addTo(OW, i32c(4 * m)),
  );
}

/** The output at OW with each tap's column checked (the window crosses the row's edge), then OW += 1. */
function point(k: number): Code {
  const p = (k - 1) / 2;
  const tap = (j: number): Code =>
    ifThen(
      [...get(OW), ...i32c(j - p), I32_ADD, ...get(W), I32_LT_U],
      seq(get(SA), get(FP), f32Load(4 * j), get(RP), f32Load(4 * j), [F32_MUL, F32_ADD], set(SA)),
    );
  return seq(
    get(BV),
    set(SA),
    taps(k, tap),
    get(OROW),
    get(OW),
    i32c(4),
    [I32_MUL, I32_ADD],
    get(SA),
    f32Store(0),
    incr(OW),
  );
}

/** Every channel, for a k × k kernel. */
function kernel(k: number): Code {
  const p = (k - 1) / 2;
  // OW + cols + p > W: fewer than `cols` outputs left whose windows stay inside the row
  const past = (cols: number): Code => [...get(OW), ...i32c(cols + p), I32_ADD, ...get(W), I32_GT_S];
  const row = seq(
    // the taps' rows inside the image: I0 ≤ i < I0 + NR
    pick([...i32c(p), ...get(OH), I32_SUB], i32c(0), I32_GT_S),
    set(I0),
    pick(i32c(k), [...get(H), ...i32c(p), I32_ADD, ...get(OH), I32_SUB], I32_LT_S),
    get(I0),
    [I32_SUB],
    set(NR),
    // ROW: tap row I0's column 0 in the image; FR: the filter's row I0
    [...get(INC), ...get(OH), ...i32c(p), I32_SUB, ...get(I0), I32_ADD, ...get(W4), I32_MUL, I32_ADD, ...set(ROW)],
    [...get(FC), ...get(I0), ...i32c(4 * k), I32_MUL, I32_ADD, ...set(FR)],
    i32c(0),
    set(OW),
    pick(i32c(p), get(W), I32_LT_S),
    set(LIM),
  );
  const columns = seq(
    loopUntil([...get(OW), ...get(LIM), I32_GE_S], point(k)),
    loopUntil(past(16), vectors(k, 4)),
    loopUntil(past(4), vectors(k, 1)),
    loopUntil([...get(OW), ...get(W), I32_GE_S], point(k)),
  );
  return seq(
    i32c(0),
    set(CH),
    loopUntil(
      [...get(CH), ...get(NCH), I32_EQ],
      // the channel's group (the filter and bias it takes), its planes, its bias in all lanes
      [...get(FIL), ...get(CH), ...get(G), I32_REM_U, ...i32c(4 * k * k), I32_MUL, I32_ADD, ...set(FC)],
      ifElse(
        get(BIAS),
        [...get(BIAS), ...get(CH), ...get(G), I32_REM_U, ...i32c(4), I32_MUL, I32_ADD, ...f32Load(0), ...set(BV)],
        [...f32c(0), ...set(BV)],
      ),
      [...get(BV), ...F32X4_SPLAT, ...set(BVV)],
      [...get(IN), ...get(CH), ...get(PLANE4), I32_MUL, I32_ADD, ...set(INC)],
      [...get(OUT), ...get(CH), ...get(PLANE4), I32_MUL, I32_ADD, ...set(OROW)],
      i32c(0),
      set(OH),
      loopUntil([...get(OH), ...get(H), I32_EQ], row, columns, addTo(OROW, get(W4)), incr(OH)),
      incr(CH),
    ),
  );
}

/** The body that takes MlasConv's place: ours where it applies, else a call of MLAS's (function index `original`). */
export function depthwiseConvBody(original: number): Code {
  const decls = locals([I32_LOCALS, I32], [F32_LOCALS, F32], [V128_LOCALS, V128]);
  const setup = seq(
    [...param(AT.inputShape), ...set(H)],
    [...param(AT.inputShape + 4), ...set(W)],
    [...param(AT.groups), ...set(G)],
    [...param(AT.batch), ...get(G), I32_MUL, ...set(NCH)],
    [...get(W), ...i32c(4), I32_MUL, ...set(W4)],
    [...get(H), ...get(W4), I32_MUL, ...set(PLANE4)],
  );
  const dispatch = KERNELS.map((k) => ifThen(eq(param(AT.kernelShape), i32c(k)), kernel(k), [RETURN]));
  const call = [...Array.from({ length: PARAMS }, (_, i) => get(i)).flat(), CALL, ...leb(original)];
  return [...decls, ...ifThen(takes(), setup, ...dispatch), ...call, END];
}

const isConvType = (f: Body) =>
  f.type.results.length === 0 && f.type.params.length === PARAMS && f.type.params.every((t) => t === I32);

/**
 * `wasm` with our depthwise convolution in front of MLAS's `MlasConv`, found as the module's only function of its
 * type, (i32 × 7) → (), that reads all of FINGERPRINT's fields of its first parameter. A module without exactly
 * one is returned as it was (`replaced` false).
 */
export function replaceDepthwiseConv(wasm: Uint8Array): { bytes: Uint8Array; replaced: boolean } {
  const found = functionBodies(wasm).bodies.filter(
    (f) => isConvType(f) && FINGERPRINT.every((o) => fieldsRead(wasm, f).has(o)),
  );
  if (found.length !== 1) return { bytes: wasm, replaced: false };
  // MLAS's own stays, as an added function: ours calls it for everything it does not take
  return { bytes: inFront(wasm, found[0], depthwiseConvBody), replaced: true };
}
