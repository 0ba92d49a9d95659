import {
  addTo,
  CALL,
  END,
  I32,
  I32_ADD,
  I32_AND,
  I32_EQ,
  I32_MUL,
  i32c,
  ifThen,
  locals,
  localGet as get,
  localSet as set,
  loopUntil,
  RELAXED_MADD as MADD,
  seq,
  simdOp,
  V128,
  v128Load,
  v128Store,
  type Code,
} from './asm.js';
import { bodyCode, functionBodies, inFront, leb, SIMD, type Body } from './code.js';

/**
 * Our vector erf for onnxruntime-web's wasm build, in front of MLAS's `MlasErfKernel` (what ORT's Erf and Gelu run).
 *
 * Why: MLAS's wasm loop does one 4-float vector at a time through a chain of ~25 dependent steps (two polynomials,
 * then an exp), with NaN-exact min/max and saturating conversions that V8 lowers to 5–7 instructions each; the CPU
 * cannot overlap enough iterations to hide the chain, and erf is ~90% of Gelu's time (a (3136, 256) Gelu: 4.4 of
 * 5 ms). Ours runs the same arithmetic on four vectors at once, step by step (16 floats per iteration, four
 * independent chains), with relaxed SIMD's one-instruction min, max and truncation, whose results equal the exact
 * ones on every input this computation gives them (see `erfVectors`); the last N mod 16 floats go to MLAS's own
 * loop, kept as an added function. Alone in Node on 802,816 floats, paired with MLAS's fused kernel in one process:
 * 0.53–0.60× its time (2 and 8 vectors an iteration: 0.68–0.73×).
 *
 * The arithmetic is MLAS's, step for step, with its constants (its erf is a published faithfully-rounded erff:
 * two polynomials split at |x| = 0.921875, the upper one through 1 − exp(−p(|x|))), and every multiply-add fused
 * as `fuseMultiplyAdd` fuses MLAS's own: the values are bit for bit those of the fused build's MLAS kernel (tested).
 */

/** MLAS's erf constants (float32). */
const K = {
  upperAbs: 3.925,
  split: 0.921875,
  small: [-5.99104969e-4, 4.99339588e-3, -2.67667342e-2, 1.12818025e-1, -3.76124859e-1, 1.28379151e-1],
  big: [1.7294893e-5, -3.8320868e-4, 3.88393435e-3, -2.42545605e-2, 1.06777847e-1, 6.34846687e-1, 1.28717512e-1],
  expLower: -88.3762626647949,
  log2Reciprocal: 1.44269504088896341,
  log2Hi: -6.93145752e-1,
  log2Lo: -1.42860677e-6,
  exp: [1.38319808e-3, 8.37550033e-3, 4.16689515e-2, 1.66664466e-1, 4.99999851e-1, 1.0, 1.0],
  roundC: 1.2582912e7, // 1.5 · 2^23: adding then subtracting it rounds to an integer
};

/** v128.const with `v` (float32) in every lane, or the i32 bits `bits`. */
function splat(v: number, bits?: number): Code {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  for (let i = 0; i < 4; i++) bits === undefined ? d.setFloat32(4 * i, v, true) : d.setInt32(4 * i, bits, true);
  return [...simdOp(12), ...b];
}
const op = {
  and: simdOp(78),
  andnot: simdOp(79), // a & ~b
  or: simdOp(80),
  xor: simdOp(81),
  gt: simdOp(68),
  mul: simdOp(230),
  sub: simdOp(229),
  shl: simdOp(171), // i32x4.shl
  addI: simdOp(174), // i32x4.add
  min: simdOp(269), // f32x4.relaxed_min
  max: simdOp(270), // f32x4.relaxed_max
  trunc: simdOp(257), // i32x4.relaxed_trunc_f32x4_s
};

// kernel(Input, Output, N)
const [IN, OUT, N] = [0, 1, 2];
const [END_IN, REST] = [3, 4]; // i32 locals
const I32_LOCALS = 2;
const U = 4; // vectors an iteration
// v128 locals: per vector u, at V0 + u·PER + slot
const V0 = 3 + I32_LOCALS;
const SLOTS = ['x', 'sign', 'abs', 'sq', 'small', 'mask', 'absBig', 'big', 'r', 'fx', 'y'] as const;
const PER = SLOTS.length;
const at = (u: number, s: (typeof SLOTS)[number]) => V0 + u * PER + SLOTS.indexOf(s);
const V128_LOCALS = U * PER;

/** For each vector: slot = code(u) (code leaves one v128). */
const each = (slot: (typeof SLOTS)[number], code: (u: number) => Code): Code =>
  seq(...Array.from({ length: U }, (_, u) => [...code(u), ...set(at(u, slot))]));
/** Horner: slot = slot · x + c for each c, the vectors interleaved. */
const horner = (slot: (typeof SLOTS)[number], x: (typeof SLOTS)[number], cs: number[]): Code =>
  seq(...cs.map((c) => each(slot, (u) => [...get(at(u, slot)), ...get(at(u, x)), ...splat(c), ...MADD])));

/** U vectors from IN to OUT: erf, as MLAS computes it. */
function erfVectors(): Code {
  const g = (u: number, s: (typeof SLOTS)[number]) => get(at(u, s));
  const [p0, ...small] = K.small;
  const [b0, ...big] = K.big;
  const [e0, ...exp] = K.exp;
  return seq(
    each('x', (u) => [...get(IN), ...v128Load(16 * u)]),
    each('sign', (u) => [...g(u, 'x'), ...splat(0, 0x80000000 | 0), ...op.and]),
    // |x| ≤ 3.925: the min's operands are never NaN-dependent here but for x NaN, where MLAS's min gives NaN
    // too (relaxed_min on x64 is minps(c, |x|), which returns its second operand, |x|, when either is NaN)
    each('abs', (u) => [...splat(K.upperAbs), ...g(u, 'x'), ...splat(0, 0x7fffffff), ...op.and, ...op.min]),
    each('sq', (u) => [...g(u, 'abs'), ...g(u, 'abs'), ...op.mul]),
    // |x| ≤ 0.921875: x · (1 + x² · p(x²)), as |x| · … (the sign goes back at the end)
    each('small', () => splat(p0)),
    horner('small', 'sq', small),
    each('small', (u) => [...g(u, 'small'), ...g(u, 'abs'), ...g(u, 'abs'), ...MADD]),
    each('mask', (u) => [...g(u, 'abs'), ...splat(K.split), ...op.gt]),
    each('small', (u) => [...g(u, 'small'), ...g(u, 'mask'), ...op.andnot]),
    // above: 1 − exp(−(|x| + |x| · q(|x|))), on |x| (zero in the lanes of the other branch)
    each('absBig', (u) => [...g(u, 'mask'), ...g(u, 'abs'), ...op.and]),
    each('big', () => splat(b0)),
    horner('big', 'absBig', big),
    each('big', (u) => [...g(u, 'big'), ...g(u, 'absBig'), ...g(u, 'absBig'), ...MADD]),
    each('big', (u) => [...splat(K.expLower), ...g(u, 'big'), ...splat(0, 0x80000000 | 0), ...op.xor, ...op.max]),
    // exp(v) = 2^r · e^fx, r = round(v / ln 2), fx = v − r · ln 2 (in two parts)
    each('r', (u) => [
      ...splat(K.log2Reciprocal),
      ...g(u, 'big'),
      ...splat(K.roundC),
      ...MADD,
      ...splat(K.roundC),
      ...op.sub,
    ]),
    each('fx', (u) => [...g(u, 'r'), ...splat(K.log2Hi), ...g(u, 'big'), ...MADD]),
    each('fx', (u) => [...g(u, 'r'), ...splat(K.log2Lo), ...g(u, 'fx'), ...MADD]),
    each('y', () => splat(e0)),
    horner('y', 'fx', exp),
    // · 2^r: r's bits shifted into the exponent field (r is an integer in [−128, 0] here: truncation is exact)
    each('y', (u) => [
      ...g(u, 'y'),
      ...g(u, 'r'),
      ...op.trunc,
      ...splat(0, 127),
      ...op.addI,
      ...i32c(23),
      ...op.shl,
      ...op.mul,
    ]),
    each('y', (u) => [...splat(1), ...g(u, 'y'), ...op.sub]),
    // each lane holds one branch's value, the other's is 0: or them, then the sign
    ...Array.from({ length: U }, (_, u) => [
      ...get(OUT),
      ...g(u, 'small'),
      ...g(u, 'y'),
      ...op.or,
      ...g(u, 'sign'),
      ...op.or,
      ...v128Store(16 * u),
    ]),
  );
}

/** The body in MlasErfKernel's place: blocks of 16 floats here, the rest by MLAS's (function index `original`). */
export function erfKernelBody(original: number): Code {
  const decls = locals([I32_LOCALS, I32], [V128_LOCALS, V128]);
  const code = seq(
    // END_IN: after the last whole block of U vectors
    [...get(IN), ...get(N), ...i32c(-4 * U), I32_AND, ...i32c(4), I32_MUL, I32_ADD, ...set(END_IN)],
    [...get(N), ...i32c(4 * U - 1), I32_AND, ...set(REST)],
    loopUntil([...get(IN), ...get(END_IN), I32_EQ], erfVectors(), addTo(IN, i32c(16 * U)), addTo(OUT, i32c(16 * U))),
    ifThen(get(REST), get(IN), get(OUT), get(REST), [CALL, ...leb(original)]),
  );
  return [...decls, ...code, END];
}

/** Whether a body holds both f32.consts (the scalar tail's) that mark MLAS's erf, and SIMD. */
function isMlasErf(wasm: Uint8Array, f: Body): boolean {
  const bits = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return b.join(',');
  };
  const marks = new Set([bits(K.upperAbs), bits(K.split)]);
  const seen = new Set<string>();
  let simd = 0;
  bodyCode(wasm, f, (i) => {
    if (i.op === 0x43) {
      const c = wasm.subarray(i.at + 1, i.at + 5).join(',');
      if (marks.has(c)) seen.add(c);
    } else if (i.op >= SIMD && i.op < SIMD + 0x10000) simd++;
  });
  return seen.size === marks.size && simd > 0;
}

/**
 * `wasm` with our erf in front of MLAS's `MlasErfKernel`, found as the module's only function of type
 * (i32, i32, i32) → () that uses SIMD and holds the scalar constants 3.925 and 0.921875 (its tail loop's). A
 * module without exactly one is returned as it was (`replaced` false).
 */
export function replaceErf(wasm: Uint8Array): { bytes: Uint8Array; replaced: boolean } {
  const { bodies } = functionBodies(wasm);
  const found = bodies.filter(
    (f) =>
      f.type.results.length === 0 &&
      f.type.params.length === 3 &&
      f.type.params.every((t) => t === I32) &&
      isMlasErf(wasm, f),
  );
  if (found.length !== 1) return { bytes: wasm, replaced: false };
  return { bytes: inFront(wasm, found[0], erfKernelBody), replaced: true };
}
