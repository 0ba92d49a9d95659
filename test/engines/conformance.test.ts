import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/rng.js';
import type { TensorData } from '../../src/core/tensor.js';
import { MetaOps } from '../../src/engines/meta/ops.js';
import { OnnxOps } from '../../src/engines/onnx/ops.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { traceOnnx, type TraceInput } from '../../src/engines/onnx/trace.js';
import { TfjsOps } from '../../src/engines/tfjs/ops.js';
import { runTfjs } from '../../src/engines/tfjs/run.js';
import type { Ops, Tensor } from '../../src/ops/ops.js';

/*
 * Op-by-op conformance of the three engines. Every Ops method runs on a table of cases; for each case
 * TfjsOps (eager) is the reference, OnnxOps is traced and run on ONNX Runtime, and MetaOps only walks
 * shapes. Values must agree within 1e-5 · max(1, max|tfjs|), shapes exactly, and MetaOps' MACs must equal
 * a count made here from SPEC §3's definition. OnnxOps rewrites what it records (pending layouts, row-wise
 * ops on stored rows, constant folding, scale folds into Gemm), so the cases feed each op through
 * transposes and reshapes, constants and the producer patterns those rewrites match.
 */

/** An operand of a case. */
interface Arg {
  shape: number[];
  /**
   * Known at trace time: bound like a state_dict weight (an initializer with data), so OnnxOps may fold
   * or rewrite around it. Otherwise a graph input, whose values ORT only sees at run time.
   */
  constant: boolean;
  /** Uniform range of the random values. */
  range: [number, number];
}

interface Case {
  name: string;
  args: Arg[];
  fn: (o: Ops, ...xs: Tensor[]) => Tensor;
  /** MACs by SPEC §3 (every matmul, linear and conv), given the output shape; 0 when absent. */
  macs?: (out: number[]) => number;
  /**
   * A known disagreement between engines, described: the case runs as `it.fails`, so the suite stays green
   * while the bug stands and turns red once it is fixed (then delete this field).
   */
  bug?: string;
}

/** Every op of the interface; `engine` and `shape` are not ops (shape is checked on every case). */
type OpName = Exclude<keyof Ops, 'engine' | 'shape'>;

const x = (...shape: number[]): Arg => ({ shape, constant: false, range: [-2, 2] });
const w = (...shape: number[]): Arg => ({ shape, constant: true, range: [-2, 2] });
const within = (a: Arg, lo: number, hi: number): Arg => ({ ...a, range: [lo, hi] });
/** Away from 0: divisors, roots, non-integer powers. */
const pos = (a: Arg): Arg => within(a, 0.5, 2);
const neg = (a: Arg): Arg => within(a, -2, -0.5);

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const iota = (n: number) => [...Array(n).keys()];

/** Fixed values for constants made inside a case (o.constant), drawn once so both engines see the same. */
const fixed = mulberry32(0x5eed);
function table(shape: number[], lo = -2, hi = 2): TensorData {
  return { dtype: 'float32', shape, data: Float32Array.from({ length: prod(shape) }, () => lo + (hi - lo) * fixed()) };
}

/** (B, N, h·d) tokens → (B, h, N, d) heads: a transposed view whose rows are still contiguous in its source. */
function heads(o: Ops, t: Tensor, h: number): Tensor {
  const [b, n, c] = o.shape(t);
  return o.transpose(o.reshape(t, [b, n, h, c / h]), [0, 2, 1, 3]);
}
/** The last two axes swapped: a view whose rows are strided in its source. */
function swap(o: Ops, t: Tensor): Tensor {
  const p = iota(o.shape(t).length);
  p.push(...p.splice(-2).reverse());
  return o.transpose(t, p);
}
/** Tokens (B, H·W, C) → image (B, C, H, W), as the models hand tokens to a conv. */
function image(o: Ops, t: Tensor, hh: number, ww: number): Tensor {
  const [b, , c] = o.shape(t);
  return o.transpose(o.reshape(t, [b, hh, ww, c]), [0, 3, 1, 2]);
}
/** torch.roll along one axis, written here from slices and a concat (Swin's cyclic shift). */
function roll(o: Ops, t: Tensor, shift: number, axis: number): Tensor {
  const s = o.shape(t);
  const n = s[axis];
  const k = ((shift % n) + n) % n;
  const at = (b: number, size: number) =>
    o.slice(
      t,
      s.map((_, i) => (i === axis ? b : 0)),
      s.map((d, i) => (i === axis ? size : d)),
    );
  return o.concat([at(n - k, k), at(0, n - k)], axis);
}

// MACs by definition: every output element of a product accumulates over the contracted length
const mm = (k: number) => (out: number[]) => prod(out) * k;
const conv = (inPerGroup: number, kh: number, kw: number) => (out: number[]) => prod(out) * inPerGroup * kh * kw;

/**
 * Linear attention per (batch, head) by its definition (Q·KᵀV/n) / (Q·mean(K) + ε): Q·mean(K) is N·d, KᵀV is
 * d·n·d and Q·(KᵀV) is N·d·d multiply-accumulates.
 */
const attention = (bh: number, nq: number, nk: number, d: number) => () => bh * (nq * d + nk * d * d + nq * d * d);
const phi = (a: Arg): Arg => within(a, 0.1, 1);

type Binary = 'add' | 'sub' | 'mul' | 'div';

/** Broadcasts, size-1 axes, scalars and every layout pairing the elementwise paths of OnnxOps distinguish. */
function binaryCases(op: Binary, range: [number, number]): Case[] {
  const f = (o: Ops, a: Tensor, b: Tensor) => o[op](a, b);
  const r = (a: Arg) => within(a, ...range);
  return [
    { name: 'same shape', args: [r(x(3, 5)), r(x(3, 5))], fn: f },
    { name: 'broadcast both ways (2,1,4)·(3,1)', args: [r(x(2, 1, 4)), r(x(3, 1))], fn: f },
    { name: 'lower-rank second operand', args: [r(x(2, 3, 4)), r(x(4))], fn: f },
    { name: 'lower-rank first operand', args: [r(x(3, 1)), r(x(2, 3, 4))], fn: f },
    { name: 'size-1 axes on both sides', args: [r(x(1, 3, 1)), r(x(2, 1, 5))], fn: f },
    { name: 'rank-0 input and a tensor', args: [r(x()), r(x(2, 3))], fn: f },
    { name: 'two rank-0 inputs', args: [r(x()), r(x())], fn: f },
    {
      name: 'transposed view and a plain tensor',
      args: [r(x(3, 4, 5)), r(x(4, 3, 5))],
      fn: (o, a, b) => f(o, o.transpose(a, [1, 0, 2]), b),
    },
    {
      name: 'plain tensor and a strided view',
      args: [r(x(2, 5, 4)), r(x(2, 4, 5))],
      fn: (o, a, b) => f(o, a, swap(o, b)),
    },
    {
      name: 'two head-split views (same layout)',
      args: [r(x(2, 6, 6)), r(x(2, 6, 6))],
      fn: (o, a, b) => f(o, heads(o, a, 2), heads(o, b, 2)),
    },
    {
      name: 'views of different layouts',
      args: [r(x(4, 6)), r(x(3, 2, 4))],
      fn: (o, a, b) => f(o, o.reshape(o.transpose(a, [1, 0]), [2, 3, 4]), o.transpose(b, [1, 0, 2])),
    },
    {
      name: 'head-split view and a lower-rank input',
      args: [r(x(2, 6, 6)), r(x(6, 3))],
      fn: (o, a, b) => f(o, heads(o, a, 2), b),
    },
    {
      name: 'head-split view and a constant row',
      args: [r(x(2, 6, 6)), r(w(3))],
      fn: (o, a, b) => f(o, heads(o, a, 2), b),
    },
    {
      name: 'constant (1,1,1,d) and a head-split view',
      args: [r(w(1, 1, 1, 3)), r(x(2, 6, 6))],
      fn: (o, a, b) => f(o, a, heads(o, b, 2)),
    },
    {
      name: 'strided view and a constant row',
      args: [r(x(2, 4, 5)), r(w(4))],
      fn: (o, a, b) => f(o, swap(o, a), b),
    },
    { name: 'constant varying along a middle axis', args: [r(x(2, 3, 4)), r(w(1, 3, 1))], fn: f },
    {
      name: 'rows in the same order, stored in different shapes',
      args: [r(x(3, 2, 4)), r(x(6, 4))],
      fn: (o, a, b) => f(o, o.transpose(a, [1, 0, 2]), o.transpose(o.reshape(b, [3, 2, 4]), [1, 0, 2])),
    },
    {
      name: 'reordered rows and a per-row column',
      args: [r(x(3, 2, 4)), r(x(3, 2, 1))],
      fn: (o, a, b) => f(o, o.transpose(a, [1, 0, 2]), o.transpose(b, [1, 0, 2])),
    },
    { name: 'two constants (folded at trace time)', args: [r(w(2, 3)), r(w(3))], fn: f },
    { name: 'constant first, input second', args: [r(w(4)), r(x(3, 4))], fn: f },
  ];
}

/** Elementwise unary ops: plain, both kinds of view, a constant (folded), rank 0 and size-1 axes. */
function unaryCases(op: 'sqrt' | 'abs' | 'relu' | 'gelu' | 'softplus', lo: number, hi: number): Case[] {
  const f = (o: Ops, a: Tensor) => o[op](a);
  const r = (a: Arg) => within(a, lo, hi);
  return [
    { name: 'plain', args: [r(x(4, 7))], fn: f },
    { name: 'head-split view', args: [r(x(2, 6, 6))], fn: (o, a) => f(o, heads(o, a, 3)) },
    { name: 'strided view', args: [r(x(2, 3, 5))], fn: (o, a) => f(o, swap(o, a)) },
    { name: 'constant (folded)', args: [r(w(3, 4))], fn: f },
    { name: 'constant view (folded)', args: [r(w(3, 4))], fn: (o, a) => f(o, swap(o, a)) },
    { name: 'rank 0', args: [r(x())], fn: f },
    { name: 'size-1 axes', args: [r(x(1, 5, 1))], fn: f },
  ];
}

/** Reductions shared by sum and mean. */
function reduceCases(op: 'sum' | 'mean'): Case[] {
  const f = (axes: number[], keep?: boolean) => (o: Ops, a: Tensor) => o[op](a, axes, keep);
  return [
    { name: 'last axis', args: [x(3, 4, 5)], fn: f([2]) },
    { name: 'last axis, keepDims', args: [x(3, 4, 5)], fn: f([-1], true) },
    { name: 'first axis', args: [x(3, 4, 5)], fn: f([0]) },
    { name: 'middle axis, keepDims', args: [x(3, 4, 5)], fn: f([1], true) },
    { name: 'axis −2 of 2-D', args: [x(6, 5)], fn: f([-2]) },
    { name: 'negative axes [−1, −3]', args: [x(3, 4, 5)], fn: f([-1, -3]) },
    { name: 'unsorted axes [2, 0], keepDims', args: [x(3, 4, 5)], fn: f([2, 0], true) },
    { name: 'all axes → scalar', args: [x(3, 4, 5)], fn: f([0, 1, 2]) },
    { name: 'all axes, keepDims', args: [x(3, 4, 5)], fn: f([0, 1, 2], true) },
    { name: 'a size-1 axis', args: [x(3, 1, 5)], fn: f([1]) },
    { name: 'rank 1 → scalar', args: [x(7)], fn: f([0]) },
    { name: 'last axis of a head-split view', args: [x(2, 6, 6)], fn: (o, a) => f([-1])(o, heads(o, a, 2)) },
    {
      name: 'last axis of a head-split view, keepDims',
      args: [x(2, 6, 6)],
      fn: (o, a) => f([3], true)(o, heads(o, a, 2)),
    },
    { name: 'token axis of a head-split view', args: [x(2, 6, 6)], fn: (o, a) => f([-2])(o, heads(o, a, 2)) },
    {
      name: 'token axis of a head-split view, keepDims',
      args: [x(2, 6, 6)],
      fn: (o, a) => f([2], true)(o, heads(o, a, 3)),
    },
    { name: 'head axis of a head-split view', args: [x(2, 6, 6)], fn: (o, a) => f([1])(o, heads(o, a, 2)) },
    { name: 'last axis of a strided view', args: [x(2, 3, 5)], fn: (o, a) => f([-1])(o, swap(o, a)) },
    { name: 'axis −2 of a strided view', args: [x(2, 3, 5)], fn: (o, a) => f([-2], true)(o, swap(o, a)) },
    {
      name: 'axis −2 of tokens transposed from an image',
      args: [x(2, 3, 4, 4)],
      fn: (o, a) => f([1])(o, o.transpose(o.reshape(a, [2, 3, 16]), [0, 2, 1])),
    },
    // numpy's axis=(): nothing reduced, keepDims or not (ONNX's empty axes would mean all of them)
    { name: 'no axes (identity)', args: [x(3, 4)], fn: f([]) },
    {
      name: 'no axes, keepDims, of a head-split view',
      args: [x(2, 4, 6)],
      fn: (o, a) => f([], true)(o, heads(o, a, 2)),
    },
    { name: 'no axes of a constant', args: [w(3, 4)], fn: f([]) },
    { name: 'constant (folded)', args: [w(3, 4, 5)], fn: f([1]) },
    { name: 'constant, two axes, keepDims (folded)', args: [w(3, 4, 5)], fn: f([0, -1], true) },
  ];
}

// constants made inside cases, drawn once here (not per engine call) so that every engine gets the same values
const C23 = table([2, 3]);
const C0 = table([]);
const C4 = table([4]);
const C234 = table([2, 3, 4]);
const C2143 = table([2, 1, 4, 3]);
const INT32 = Int32Array.from({ length: 6 }, (_, i) => ((i * 7) % 5) - 2);
const INT64 = BigInt64Array.from([3n, -1n, 0n, 7n]);

const cases: Record<OpName, Case[]> = {
  constant: [
    { name: 'float tensor as the output', args: [], fn: (o) => o.constant(C23) },
    { name: 'rank-0 tensor as the output', args: [], fn: (o) => o.constant(C0) },
    { name: 'float row added to an input', args: [x(3, 4)], fn: (o, a) => o.add(a, o.constant(C4)) },
    {
      name: 'int32 tensor, widened to float',
      args: [x(2, 3)],
      fn: (o, a) => o.add(a, o.constant({ dtype: 'int32', shape: [2, 3], data: INT32 })),
    },
    {
      name: 'int64 tensor, widened to float',
      args: [x(4)],
      fn: (o, a) => o.mul(a, o.constant({ dtype: 'int64', shape: [4], data: INT64 })),
    },
    {
      name: 'transposed constant (folded) times an input',
      args: [x(4, 2, 3)],
      fn: (o, a) => o.mul(o.transpose(o.constant(C234), [2, 0, 1]), a),
    },
    {
      name: 'constant times a head-split view',
      args: [x(2, 4, 6)],
      fn: (o, a) => o.mul(o.constant(C2143), heads(o, a, 2)),
    },
  ],
  scalar: [
    { name: 'as the output', args: [], fn: (o) => o.scalar(3.25) },
    { name: 'scalar + scalar (folded)', args: [], fn: (o) => o.add(o.scalar(2), o.scalar(-0.75)) },
    { name: 'x + s', args: [x(2, 3)], fn: (o, a) => o.add(a, o.scalar(0.5)) },
    { name: 's − x', args: [x(2, 3)], fn: (o, a) => o.sub(o.scalar(1.5), a) },
    { name: 'x · s on a strided view', args: [x(2, 3, 4)], fn: (o, a) => o.mul(swap(o, a), o.scalar(-2)) },
    { name: 's · x on a head-split view', args: [x(2, 4, 6)], fn: (o, a) => o.mul(o.scalar(3), heads(o, a, 3)) },
    { name: 'x · 1 on a view (elided)', args: [x(2, 3, 4)], fn: (o, a) => o.mul(swap(o, a), o.scalar(1)) },
    { name: 'x / s', args: [x(3, 4)], fn: (o, a) => o.div(a, o.scalar(0.3)) },
    { name: '1 / x (Reciprocal)', args: [pos(x(3, 4))], fn: (o, a) => o.div(o.scalar(1), a) },
    { name: 's / x', args: [pos(x(3, 4))], fn: (o, a) => o.div(o.scalar(-2.5), a) },
    { name: 'rank-0 input + s', args: [x()], fn: (o, a) => o.add(a, o.scalar(2)) },
    { name: 's − constant (folded)', args: [w(2, 2)], fn: (o, a) => o.sub(o.scalar(4), a) },
  ],
  add: [
    ...binaryCases('add', [-2, 2]),
    { name: 'x + 0 on a view (elided)', args: [x(2, 3, 4)], fn: (o, a) => o.add(swap(o, a), o.scalar(0)) },
    {
      name: 'Linear output + constant table',
      args: [x(5, 4), w(3, 4), w(3), w(5, 3)],
      fn: (o, a, wt, b, t) => o.add(o.linear(a, wt, b), t),
      macs: mm(4),
    },
  ],
  sub: [
    ...binaryCases('sub', [-2, 2]),
    { name: 'x − 0 (elided)', args: [x(3, 4)], fn: (o, a) => o.sub(a, o.scalar(0)) },
    { name: '0 − x on a view', args: [x(2, 3, 4)], fn: (o, a) => o.sub(o.scalar(0), swap(o, a)) },
  ],
  mul: [
    ...binaryCases('mul', [-2, 2]),
    // the per-channel scale folds (scaleChannels/pushScale): exact rewrites of the Gemm that made x
    {
      name: 'Linear output × per-channel constant (folded into the Gemm)',
      args: [x(5, 4), w(3, 4), w(3), pos(w(3))],
      fn: (o, a, wt, b, s) => o.mul(o.linear(a, wt, b), s),
      macs: mm(4),
    },
    {
      name: 'per-channel constant × 3-D Linear output',
      args: [x(2, 5, 4), w(3, 4), w(3), pos(w(1, 1, 3))],
      fn: (o, a, wt, b, s) => o.mul(s, o.linear(a, wt, b)),
      macs: mm(4),
    },
    {
      name: '(ReLU(Linear) + ε) × positive per-channel constant',
      args: [x(2, 5, 4), w(6, 4), w(6), pos(w(6))],
      fn: (o, a, wt, b, s) => o.mul(o.add(o.relu(o.linear(a, wt, b)), o.scalar(1e-3)), s),
      macs: mm(4),
    },
    {
      name: 'ReLU(Linear) × negative per-channel constant (not through the ReLU)',
      args: [x(5, 4), w(3, 4), w(3), neg(w(3))],
      fn: (o, a, wt, b, s) => o.mul(o.relu(o.linear(a, wt, b)), s),
      macs: mm(4),
    },
    {
      name: '(Linear + table − ε) × per-channel constant',
      args: [x(5, 4), w(3, 4), w(3), w(5, 3), pos(w(3))],
      fn: (o, a, wt, b, t, s) => o.mul(o.sub(o.add(o.linear(a, wt, b), t), o.scalar(0.25)), s),
      macs: mm(4),
    },
    {
      name: 'Linear output read before it is scaled (no fold)',
      args: [x(5, 4), w(3, 4), w(3), pos(w(3))],
      fn: (o, a, wt, b, s) => {
        // the Gemm already has a reader when the scale comes: rewriting it would compute the Gemm twice
        const y = o.linear(a, wt, b);
        const first = o.abs(y);
        return o.add(first, o.mul(y, s));
      },
      macs: mm(4),
    },
    {
      name: 'Linear without bias × per-channel constant',
      args: [x(5, 4), w(3, 4), pos(w(3))],
      fn: (o, a, wt, s) => o.mul(o.linear(a, wt), s),
      macs: mm(4),
    },
    {
      name: 'ReLU(q rows of a qkv Linear) × per-channel constant',
      args: [x(5, 4), w(9, 4), w(9), pos(w(3))],
      fn: (o, a, wt, b, s) => o.mul(o.relu(o.slice(o.linear(a, wt, b), [0, 3], [5, 3])), s),
      macs: () => 5 * 9 * 4, // the whole qkv Linear counts, whichever rows are used
    },
    {
      name: 'Linear output × per-channel input (not a constant)',
      args: [x(5, 4), w(3, 4), w(3), x(3)],
      fn: (o, a, wt, b, s) => o.mul(o.linear(a, wt, b), s),
      macs: mm(4),
    },
  ],
  div: [
    ...binaryCases('div', [0.5, 2]),
    { name: 'negative divisors', args: [x(3, 4), neg(x(3, 4))], fn: (o, a, b) => o.div(a, b) },
    {
      name: '(ReLU(Linear) + ε) / softplus(constant temperature)',
      args: [x(2, 5, 4), w(6, 4), w(6), w(6)],
      fn: (o, a, wt, b, t) => o.div(o.add(o.relu(o.linear(a, wt, b)), o.scalar(1e-6)), o.softplus(t)),
      macs: mm(4),
    },
    {
      name: 'Linear output / per-channel constant',
      args: [x(5, 4), w(3, 4), w(3), pos(w(3))],
      fn: (o, a, wt, b, s) => o.div(o.linear(a, wt, b), s),
      macs: mm(4),
    },
    { name: '1 / x (Reciprocal)', args: [pos(x(3, 4))], fn: (o, a) => o.div(o.scalar(1), a) },
    {
      name: '1 / x on a strided view (Reciprocal)',
      args: [pos(x(2, 3, 4))],
      fn: (o, a) => o.div(o.scalar(1), swap(o, a)),
    },
    { name: '1 / constant (folded)', args: [pos(w(3, 4))], fn: (o, a) => o.div(o.scalar(1), a) },
    { name: 'x / 1 (elided)', args: [x(3, 4)], fn: (o, a) => o.div(a, o.scalar(1)) },
  ],
  pow: [
    { name: 'p = 3 on mixed signs', args: [x(3, 4)], fn: (o, a) => o.pow(a, 3) },
    { name: 'p = 2 on mixed signs, strided view', args: [x(2, 3, 4)], fn: (o, a) => o.pow(swap(o, a), 2) },
    { name: 'p = 3 on a head-split view', args: [x(2, 4, 6)], fn: (o, a) => o.pow(heads(o, a, 2), 3) },
    { name: 'p = 3 after ReLU (the focusing function)', args: [x(4, 6)], fn: (o, a) => o.pow(o.relu(a), 3) },
    { name: 'p = 4 on mixed signs', args: [x(3, 4)], fn: (o, a) => o.pow(a, 4) },
    { name: 'p = 1', args: [x(3, 4)], fn: (o, a) => o.pow(a, 1) },
    { name: 'p = 0.5 on positives', args: [pos(x(3, 4))], fn: (o, a) => o.pow(a, 0.5) },
    { name: 'p = −1.5 on positives, view', args: [pos(x(2, 3, 4))], fn: (o, a) => o.pow(swap(o, a), -1.5) },
    { name: 'p = 2.5 on positives', args: [pos(x(5))], fn: (o, a) => o.pow(a, 2.5) },
    { name: 'p = 3 on rank 0', args: [x()], fn: (o, a) => o.pow(a, 3) },
    { name: 'p = 3 on a constant, mixed signs (folded)', args: [w(3, 4)], fn: (o, a) => o.pow(a, 3) },
    { name: 'p = 2.5 on a positive constant (folded)', args: [pos(w(3, 4))], fn: (o, a) => o.pow(a, 2.5) },
  ],
  sqrt: [
    ...unaryCases('sqrt', 0, 4),
    {
      name: 'exact squares and zeros (folded)',
      args: [],
      fn: (o) => o.sqrt(o.constant({ dtype: 'float32', shape: [5], data: Float32Array.of(0, 1, 4, 0.25, 0) })),
    },
  ],
  abs: unaryCases('abs', -2, 2),
  relu: unaryCases('relu', -2, 2),
  gelu: unaryCases('gelu', -6, 6),
  // beyond PyTorch's threshold of 20 on both sides
  softplus: unaryCases('softplus', -30, 30),
  sum: reduceCases('sum'),
  mean: reduceCases('mean'),
  l2norm: [
    { name: 'plain', args: [x(3, 5)], fn: (o, a) => o.l2norm(a) },
    { name: 'rank 1', args: [x(6)], fn: (o, a) => o.l2norm(a) },
    { name: 'head-split view', args: [x(2, 4, 6)], fn: (o, a) => o.l2norm(heads(o, a, 2)) },
    { name: 'strided view', args: [x(2, 3, 5)], fn: (o, a) => o.l2norm(swap(o, a)) },
    { name: 'size-1 last axis', args: [x(4, 1)], fn: (o, a) => o.l2norm(a) },
    { name: 'constant (folded)', args: [w(3, 4)], fn: (o, a) => o.l2norm(a) },
    { name: 'normalised rows (x / ‖x‖)', args: [x(2, 4, 6)], fn: (o, a) => o.div(a, o.l2norm(a)) },
  ],
  matmul: [
    { name: '2-D', args: [x(4, 5), x(5, 3)], fn: (o, a, b) => o.matmul(a, b), macs: mm(5) },
    { name: 'batched', args: [x(2, 4, 5), x(2, 5, 3)], fn: (o, a, b) => o.matmul(a, b), macs: mm(5) },
    {
      name: 'batch broadcast from a trailing suffix (2,3)·(3)',
      args: [x(2, 3, 4, 5), x(3, 5, 2)],
      fn: (o, a, b) => o.matmul(a, b),
      macs: mm(5),
    },
    {
      name: 'batch broadcast on both sides (2,1)·(3)',
      args: [x(2, 1, 4, 5), x(3, 5, 3)],
      fn: (o, a, b) => o.matmul(a, b),
      macs: mm(5),
    },
    {
      name: 'batch broadcast on both sides (1,3)·(2,1)',
      args: [x(1, 3, 4, 5), x(2, 1, 5, 2)],
      fn: (o, a, b) => o.matmul(a, b),
      macs: mm(5),
    },
    {
      name: 'batch broadcast on an inner axis (2,3)·(2,1)',
      args: [x(2, 3, 4, 5), x(2, 1, 5, 2)],
      fn: (o, a, b) => o.matmul(a, b),
      macs: mm(5),
    },
    {
      name: 'transposeB, batch broadcast on both sides (2,1)·(3)',
      args: [x(2, 1, 4, 5), x(3, 3, 5)],
      fn: (o, a, b) => o.matmul(a, b, true),
      macs: mm(5),
    },
    { name: 'batched a, 2-D b', args: [x(2, 3, 4, 5), x(5, 6)], fn: (o, a, b) => o.matmul(a, b), macs: mm(5) },
    { name: '2-D a, batched b', args: [x(4, 5), x(2, 5, 3)], fn: (o, a, b) => o.matmul(a, b), macs: mm(5) },
    { name: 'transposeB', args: [x(2, 4, 5), x(2, 3, 5)], fn: (o, a, b) => o.matmul(a, b, true), macs: mm(5) },
    {
      name: 'transposeB, 2-D a, batched b',
      args: [x(4, 5), x(2, 3, 5)],
      fn: (o, a, b) => o.matmul(a, b, true),
      macs: mm(5),
    },
    {
      name: 'q·kᵀ on head-split views (transposeB)',
      args: [x(2, 5, 6), x(2, 7, 6)],
      fn: (o, q, k) => o.matmul(heads(o, q, 2), heads(o, k, 2), true),
      macs: mm(3),
    },
    {
      name: 'kᵀ·v on head-split views',
      args: [x(2, 5, 6), x(2, 5, 4)],
      fn: (o, k, v) => o.matmul(swap(o, heads(o, k, 2)), heads(o, v, 2)),
      macs: mm(5),
    },
    {
      name: 'kᵀ·v after k̄ used k',
      args: [x(2, 5, 6), x(2, 5, 4)],
      fn: (o, k, v) => {
        const kh = heads(o, k, 2);
        const kv = o.matmul(swap(o, kh), heads(o, v, 2));
        return o.add(kv, o.sum(o.mean(kh, [-2], true), [-1], true));
      },
      macs: mm(5),
    },
    {
      name: 'strided first operand',
      args: [x(2, 5, 4), x(2, 5, 3)],
      fn: (o, a, b) => o.matmul(swap(o, a), b),
      macs: mm(5),
    },
    { name: 'k = 1', args: [x(4, 1), x(1, 3)], fn: (o, a, b) => o.matmul(a, b), macs: mm(1) },
    { name: 'm = n = 1 (dot)', args: [x(1, 6), x(6, 1)], fn: (o, a, b) => o.matmul(a, b), macs: mm(6) },
    {
      name: 'scaled operands (s·a)·(t·b)',
      args: [x(2, 4, 5), x(2, 5, 3)],
      fn: (o, a, b) => o.matmul(o.mul(a, o.scalar(0.5)), o.mul(o.scalar(3), b)),
      macs: mm(5),
    },
    { name: 'constant b', args: [x(3, 4), w(4, 5)], fn: (o, a, b) => o.matmul(a, b), macs: mm(4) },
    { name: 'both constant', args: [w(3, 4), w(2, 4, 5)], fn: (o, a, b) => o.matmul(a, b), macs: mm(4) },
  ],
  // q, k, v are positive as φ's outputs are, so the normaliser Q·mean(K) + 1e-6 stays away from 0
  linearAttention: [
    {
      name: 'plain (B, h, N, d)',
      args: [phi(x(2, 2, 5, 3)), phi(x(2, 2, 5, 3)), x(2, 2, 5, 3)],
      fn: (o, q, k, v) => o.linearAttention(q, k, v),
      macs: attention(2 * 2, 5, 5, 3),
    },
    {
      name: 'fewer keys than queries (n < N, PVT)',
      args: [phi(x(1, 2, 6, 4)), phi(x(1, 2, 3, 4)), x(1, 2, 3, 4)],
      fn: (o, q, k, v) => o.linearAttention(q, k, v),
      macs: attention(2, 6, 3, 4),
    },
    {
      name: 'head-split views of tokens',
      args: [phi(x(2, 5, 6)), phi(x(2, 4, 6)), x(2, 4, 6)],
      fn: (o, q, k, v) => o.linearAttention(heads(o, q, 2), heads(o, k, 2), heads(o, v, 2)),
      macs: attention(2 * 2, 5, 4, 3),
    },
    {
      name: 'queries as rows times a factor per row (φ(q) = s·u)',
      args: [phi(x(2, 5, 6)), phi(x(2, 5, 1)), phi(x(2, 5, 6)), x(2, 5, 6)],
      fn: (o, u, s, k, v) => o.linearAttention(heads(o, o.mul(u, s), 3), heads(o, k, 3), heads(o, v, 3)),
      macs: attention(2 * 3, 5, 5, 2),
    },
    {
      name: 'queries as a factor per row times rows, 2-D rows',
      args: [phi(x(10, 4)), phi(x(10, 1)), phi(x(2, 2, 5, 2)), x(2, 2, 5, 2)],
      fn: (o, u, s, k, v) => o.linearAttention(o.transpose(o.reshape(o.mul(s, u), [2, 5, 2, 2]), [0, 2, 1, 3]), k, v),
      macs: attention(2 * 2, 5, 5, 2),
    },
    {
      name: 'queries times a factor per row, no head split',
      args: [phi(x(2, 2, 5, 3)), phi(x(2, 2, 5, 1)), phi(x(2, 2, 5, 3)), x(2, 2, 5, 3)],
      fn: (o, u, s, k, v) => o.linearAttention(o.mul(u, s), k, v),
      macs: attention(2 * 2, 5, 5, 3),
    },
    {
      name: 'queries times a factor shared by the heads (not per row)',
      args: [phi(x(2, 2, 5, 3)), phi(x(2, 1, 5, 1)), phi(x(2, 2, 5, 3)), x(2, 2, 5, 3)],
      fn: (o, u, s, k, v) => o.linearAttention(o.mul(u, s), k, v),
      macs: attention(2 * 2, 5, 5, 3),
    },
    {
      name: 'one head, d = 1',
      args: [phi(x(1, 1, 4, 1)), phi(x(1, 1, 4, 1)), x(1, 1, 4, 1)],
      fn: (o, q, k, v) => o.linearAttention(q, k, v),
      macs: attention(1, 4, 4, 1),
    },
  ],
  linear: [
    { name: '2-D with bias', args: [x(5, 4), w(3, 4), w(3)], fn: (o, a, wt, b) => o.linear(a, wt, b), macs: mm(4) },
    { name: '2-D without bias', args: [x(5, 4), w(3, 4)], fn: (o, a, wt) => o.linear(a, wt), macs: mm(4) },
    { name: 'rank 1', args: [x(4), w(3, 4), w(3)], fn: (o, a, wt, b) => o.linear(a, wt, b), macs: mm(4) },
    { name: '3-D', args: [x(2, 5, 4), w(6, 4), w(6)], fn: (o, a, wt, b) => o.linear(a, wt, b), macs: mm(4) },
    {
      name: '4-D with size-1 axes',
      args: [x(2, 1, 3, 4), w(5, 4), w(5)],
      fn: (o, a, wt, b) => o.linear(a, wt, b),
      macs: mm(4),
    },
    {
      name: 'head merge view (rows reordered)',
      args: [x(2, 3, 4, 6), w(5, 6), w(5)],
      fn: (o, a, wt, b) => o.linear(o.transpose(a, [0, 2, 1, 3]), wt, b),
      macs: mm(6),
    },
    {
      name: 'heads merged back to tokens',
      args: [x(2, 5, 6), w(4, 6), w(4)],
      fn: (o, a, wt, b) => o.linear(o.reshape(o.transpose(heads(o, a, 2), [0, 2, 1, 3]), [2, 5, 6]), wt, b),
      macs: mm(6),
    },
    {
      name: 'strided view (transposed features)',
      args: [x(2, 4, 5), w(3, 4), w(3)],
      fn: (o, a, wt, b) => o.linear(swap(o, a), wt, b),
      macs: mm(4),
    },
    {
      name: 'Linear of a Linear on a view',
      args: [x(2, 3, 4, 6), w(5, 6), w(5), w(2, 5)],
      fn: (o, a, w1, b1, w2) => o.linear(o.linear(o.transpose(a, [0, 2, 1, 3]), w1, b1), w2),
      macs: (out) => (prod(out) / 2) * 5 * 6 + prod(out) * 5,
    },
    { name: 'out = 1', args: [x(5, 4), w(1, 4), w(1)], fn: (o, a, wt, b) => o.linear(a, wt, b), macs: mm(4) },
    { name: 'in = 1', args: [x(5, 1), w(3, 1), w(3)], fn: (o, a, wt, b) => o.linear(a, wt, b), macs: mm(1) },
    {
      name: 'weight and bias as inputs',
      args: [x(5, 4), x(3, 4), x(3)],
      fn: (o, a, wt, b) => o.linear(a, wt, b),
      macs: mm(4),
    },
    { name: 'constant input', args: [w(5, 4), w(3, 4), w(3)], fn: (o, a, wt, b) => o.linear(a, wt, b), macs: mm(4) },
  ],
  conv2d: [
    {
      name: '3×3, padding 1, bias',
      args: [x(1, 3, 6, 6), w(4, 3, 3, 3), w(4)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { padding: 1 }),
      macs: conv(3, 3, 3),
    },
    {
      name: '3×3, stride 2, padding 1, no bias, batch 2',
      args: [x(2, 3, 7, 7), w(5, 3, 3, 3)],
      fn: (o, a, k) => o.conv2d(a, k, undefined, { stride: 2, padding: 1 }),
      macs: conv(3, 3, 3),
    },
    {
      name: '3×3, stride 2, padding 1 on an even size',
      args: [x(1, 2, 6, 8), w(3, 2, 3, 3), w(3)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { stride: 2, padding: 1 }),
      macs: conv(2, 3, 3),
    },
    {
      name: '1×1',
      args: [x(1, 4, 5, 5), w(6, 4, 1, 1), w(6)],
      fn: (o, a, k, b) => o.conv2d(a, k, b),
      macs: conv(4, 1, 1),
    },
    {
      name: 'patch embedding 4×4, stride 4',
      args: [x(1, 3, 8, 8), w(8, 3, 4, 4), w(8)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { stride: 4 }),
      macs: conv(3, 4, 4),
    },
    {
      name: 'overlapping 7×7, stride 4, padding 3 (PVTv2)',
      args: [x(1, 3, 9, 9), w(4, 3, 7, 7), w(4)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { stride: 4, padding: 3 }),
      macs: conv(3, 7, 7),
    },
    {
      name: 'non-square kernel and image',
      args: [x(1, 2, 5, 7), w(3, 2, 3, 1), w(3)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { padding: 1 }),
      macs: conv(2, 3, 1),
    },
    {
      name: 'stride beyond the kernel',
      args: [x(1, 2, 9, 9), w(3, 2, 2, 2)],
      fn: (o, a, k) => o.conv2d(a, k, undefined, { stride: 3 }),
      macs: conv(2, 2, 2),
    },
    {
      name: 'depthwise 3×3, padding 1',
      args: [x(2, 6, 5, 5), w(6, 1, 3, 3), w(6)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { padding: 1, groups: 6 }),
      macs: conv(1, 3, 3),
    },
    {
      name: 'depthwise 5×5, stride 2, padding 2, no bias',
      args: [x(1, 4, 9, 9), w(4, 1, 5, 5)],
      fn: (o, a, k) => o.conv2d(a, k, undefined, { stride: 2, padding: 2, groups: 4 }),
      macs: conv(1, 5, 5),
    },
    {
      name: 'depthwise on tokens turned into an image (DWC)',
      args: [x(2, 20, 6), w(6, 1, 3, 3), w(6)],
      fn: (o, t, k, b) => o.conv2d(image(o, t, 4, 5), k, b, { padding: 1, groups: 6 }),
      macs: conv(1, 3, 3),
    },
    {
      name: 'dense on tokens turned into an image, back to tokens',
      args: [x(1, 16, 3), w(4, 3, 2, 2), w(4)],
      fn: (o, t, k, b) => {
        const y = o.conv2d(image(o, t, 4, 4), k, b, { stride: 2 });
        return o.transpose(o.reshape(y, [1, 4, 4]), [0, 2, 1]); // (1, 4 tokens, 4 channels)
      },
      macs: conv(3, 2, 2),
    },
    {
      name: 'head-shared DWC on a head-split view',
      args: [x(1, 16, 6), w(3, 1, 3, 3), w(3)],
      fn: (o, t, k, b) => {
        // (B, N, h·d) → (B·h, d, H, W) as the focused attention's DWC sees v
        const v = o.reshape(o.transpose(o.reshape(t, [1, 4, 4, 2, 3]), [0, 3, 4, 1, 2]), [2, 3, 4, 4]);
        return o.conv2d(v, k, b, { padding: 1, groups: 3 });
      },
      macs: conv(1, 3, 3),
    },
    {
      name: 'strided image view (H and W swapped)',
      args: [x(1, 2, 5, 4), w(3, 2, 3, 3), w(3)],
      fn: (o, a, k, b) => o.conv2d(swap(o, a), k, b, { padding: 1 }),
      macs: conv(2, 3, 3),
    },
    {
      name: 'grouped, 2 groups',
      args: [x(1, 4, 5, 5), w(6, 2, 3, 3), w(6)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { padding: 1, groups: 2 }),
      macs: conv(2, 3, 3),
    },
    {
      name: 'grouped, 3 groups of 2 → 1, stride 2',
      args: [x(1, 6, 7, 7), w(3, 2, 3, 3), w(3)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { stride: 2, padding: 1, groups: 3 }),
      macs: conv(2, 3, 3),
    },
    {
      name: 'depthwise with a channel multiplier of 2',
      args: [x(1, 3, 5, 5), w(6, 1, 3, 3)],
      fn: (o, a, k) => o.conv2d(a, k, undefined, { groups: 3 }),
      macs: conv(1, 3, 3),
    },
    {
      name: 'weight and bias as inputs',
      args: [x(1, 2, 5, 5), x(3, 2, 3, 3), x(3)],
      fn: (o, a, k, b) => o.conv2d(a, k, b, { padding: 1 }),
      macs: conv(2, 3, 3),
    },
    {
      name: 'constant image',
      args: [w(1, 2, 4, 4), w(3, 2, 3, 3)],
      fn: (o, a, k) => o.conv2d(a, k, undefined),
      macs: conv(2, 3, 3),
    },
  ],
  layerNorm: [
    {
      name: '2-D, eps 1e-5',
      args: [x(4, 8), w(8), w(8)],
      fn: (o, a, g, b) => o.layerNorm(a, g, b, 1e-5),
    },
    {
      name: '3-D, eps 1e-6',
      args: [x(2, 5, 6), w(6), w(6)],
      fn: (o, a, g, b) => o.layerNorm(a, g, b, 1e-6),
    },
    { name: 'rank 1', args: [x(7), w(7), w(7)], fn: (o, a, g, b) => o.layerNorm(a, g, b, 1e-5) },
    {
      name: 'head-split view (rows reordered)',
      args: [x(2, 4, 6), w(3), w(3)],
      fn: (o, a, g, b) => o.layerNorm(heads(o, a, 2), g, b, 1e-5),
    },
    {
      name: 'strided view',
      args: [x(2, 5, 4), w(5), w(5)],
      fn: (o, a, g, b) => o.layerNorm(swap(o, a), g, b, 1e-5),
    },
    {
      name: 'tokens from an image',
      args: [x(2, 3, 2, 4), w(3), w(3)],
      fn: (o, a, g, b) => o.layerNorm(o.transpose(o.reshape(a, [2, 3, 8]), [0, 2, 1]), g, b, 1e-5),
    },
    { name: 'C = 1', args: [x(4, 1), w(1), w(1)], fn: (o, a, g, b) => o.layerNorm(a, g, b, 1e-5) },
    {
      name: 'large eps',
      args: [within(x(3, 5), -0.1, 0.1), w(5), w(5)],
      fn: (o, a, g, b) => o.layerNorm(a, g, b, 0.5),
    },
    {
      name: 'gamma and beta as inputs',
      args: [x(3, 6), x(6), x(6)],
      fn: (o, a, g, b) => o.layerNorm(a, g, b, 1e-5),
    },
    {
      name: 'after a Linear on a view',
      args: [x(2, 3, 4, 6), w(5, 6), w(5), w(5), w(5)],
      fn: (o, a, wt, bias, g, b) => o.layerNorm(o.linear(o.transpose(a, [0, 2, 1, 3]), wt, bias), g, b, 1e-5),
      macs: mm(6),
    },
  ],
  softmax: [
    { name: '2-D', args: [x(4, 7)], fn: (o, a) => o.softmax(a) },
    { name: 'rank 1', args: [x(5)], fn: (o, a) => o.softmax(a) },
    { name: 'head-split view (rows reordered)', args: [x(2, 4, 6)], fn: (o, a) => o.softmax(heads(o, a, 3)) },
    { name: 'strided view', args: [x(2, 3, 5)], fn: (o, a) => o.softmax(swap(o, a)) },
    { name: 'size-1 last axis', args: [x(3, 1)], fn: (o, a) => o.softmax(a) },
    { name: 'large logits (±50)', args: [within(x(3, 6), -50, 50)], fn: (o, a) => o.softmax(a) },
    {
      name: 'attention scores q·kᵀ plus a bias table',
      args: [x(2, 5, 6), x(2, 5, 6), w(2, 5, 5)],
      fn: (o, q, k, t) => o.softmax(o.add(o.matmul(heads(o, q, 2), heads(o, k, 2), true), t)),
      macs: mm(3),
    },
    { name: 'constant', args: [w(2, 4)], fn: (o, a) => o.softmax(a) },
  ],
  reshape: [
    { name: 'merge leading axes', args: [x(2, 3, 4)], fn: (o, a) => o.reshape(a, [6, 4]) },
    { name: 'with −1', args: [x(2, 3, 4)], fn: (o, a) => o.reshape(a, [2, -1]) },
    { name: 'insert size-1 axes', args: [x(2, 3, 4)], fn: (o, a) => o.reshape(a, [1, 2, 1, 12, 1]) },
    { name: 'to rank 0', args: [x(1, 1)], fn: (o, a) => o.reshape(a, []) },
    { name: 'from rank 0', args: [x()], fn: (o, a) => o.reshape(a, [1, 1]) },
    { name: 'same shape', args: [x(3, 4)], fn: (o, a) => o.reshape(a, [3, 4]) },
    {
      name: 'split axes of a strided view',
      args: [x(6, 4)],
      fn: (o, a) => o.reshape(o.transpose(a, [1, 0]), [2, 2, 2, 3]),
    },
    {
      name: 'merge across the axes of a strided view',
      args: [x(2, 3)],
      fn: (o, a) => o.reshape(o.transpose(a, [1, 0]), [6]),
    },
    {
      name: 'window partition (Swin)',
      args: [x(1, 4, 4, 2)],
      fn: (o, a) => o.reshape(o.transpose(o.reshape(a, [1, 2, 2, 2, 2, 2]), [0, 1, 3, 2, 4, 5]), [4, 4, 2]),
    },
    {
      name: 'window partition, then a row op and window reverse',
      args: [x(1, 4, 6, 2), w(2)],
      fn: (o, a, s) => {
        const win = o.reshape(o.transpose(o.reshape(a, [1, 2, 2, 3, 2, 2]), [0, 1, 3, 2, 4, 5]), [6, 4, 2]);
        const y = o.mul(win, s);
        return o.reshape(o.transpose(o.reshape(y, [1, 2, 3, 2, 2, 2]), [0, 1, 3, 2, 4, 5]), [1, 4, 6, 2]);
      },
    },
    { name: 'of a constant', args: [w(2, 6)], fn: (o, a) => o.reshape(a, [3, 1, 4]) },
    {
      name: 'head-split view flattened',
      args: [x(2, 4, 6)],
      fn: (o, a) => o.reshape(heads(o, a, 2), [4, 12]),
    },
  ],
  transpose: [
    { name: '2-D', args: [x(3, 5)], fn: (o, a) => o.transpose(a, [1, 0]) },
    { name: '3-D rotation', args: [x(2, 3, 4)], fn: (o, a) => o.transpose(a, [2, 0, 1]) },
    { name: 'head split', args: [x(2, 4, 6)], fn: (o, a) => heads(o, a, 3) },
    { name: 'identity', args: [x(2, 3)], fn: (o, a) => o.transpose(a, [0, 1]) },
    { name: 'with size-1 axes', args: [x(1, 3, 1, 4)], fn: (o, a) => o.transpose(a, [3, 2, 0, 1]) },
    {
      name: 'of a transposed view',
      args: [x(2, 3, 4, 5)],
      fn: (o, a) => o.transpose(o.transpose(a, [0, 2, 1, 3]), [3, 1, 0, 2]),
    },
    {
      name: 'transpose ∘ transpose = identity',
      args: [x(2, 3, 4)],
      fn: (o, a) => o.transpose(o.transpose(a, [1, 2, 0]), [2, 0, 1]),
    },
    {
      name: 'of a reshape of a transpose',
      args: [x(4, 6)],
      fn: (o, a) => o.transpose(o.reshape(o.transpose(a, [1, 0]), [2, 3, 2, 2]), [1, 3, 0, 2]),
    },
    { name: 'of a constant (folded)', args: [w(2, 3, 4)], fn: (o, a) => o.transpose(a, [1, 2, 0]) },
    { name: 'rank 1', args: [x(5)], fn: (o, a) => o.transpose(a, [0]) },
    {
      name: 'negative perm entries',
      args: [x(2, 3, 4)],
      fn: (o, a) => o.transpose(a, [-1, 0, -2]),
    },
  ],
  slice: [
    { name: 'last axis', args: [x(4, 6)], fn: (o, a) => o.slice(a, [0, 2], [4, 3]) },
    { name: 'inner axis', args: [x(3, 5, 4)], fn: (o, a) => o.slice(a, [0, 1, 0], [3, 3, 4]) },
    { name: 'first axis', args: [x(5, 3)], fn: (o, a) => o.slice(a, [2, 0], [2, 3]) },
    { name: 'several axes', args: [x(3, 5, 4)], fn: (o, a) => o.slice(a, [1, 2, 1], [2, 2, 2]) },
    { name: 'to size-1 axes', args: [x(3, 5, 4)], fn: (o, a) => o.slice(a, [2, 0, 3], [1, 5, 1]) },
    { name: 'whole tensor', args: [x(3, 4)], fn: (o, a) => o.slice(a, [0, 0], [3, 4]) },
    { name: 'rank 1', args: [x(7)], fn: (o, a) => o.slice(a, [3], [4]) },
    {
      name: 'last axis of a head-split view',
      args: [x(2, 4, 6)],
      fn: (o, a) => o.slice(heads(o, a, 2), [0, 0, 0, 1], [2, 2, 4, 2]),
    },
    {
      name: 'token axis of a head-split view',
      args: [x(2, 4, 6)],
      fn: (o, a) => o.slice(heads(o, a, 2), [0, 0, 1, 0], [2, 2, 2, 3]),
    },
    {
      name: 'last axis of a strided view',
      args: [x(2, 5, 4)],
      fn: (o, a) => o.slice(swap(o, a), [0, 0, 1], [2, 4, 3]),
    },
    {
      name: 'k out of one qkv Linear',
      args: [x(2, 5, 4), w(9, 4), w(9)],
      fn: (o, a, wt, b) => o.slice(o.linear(a, wt, b), [0, 0, 3], [2, 5, 3]),
      macs: () => 2 * 5 * 9 * 4, // the whole qkv Linear
    },
    {
      name: 'v out of a qkv Linear without bias, on a view',
      args: [x(2, 3, 5, 4), w(9, 4)],
      fn: (o, a, wt) => o.slice(o.linear(o.transpose(a, [0, 2, 1, 3]), wt), [0, 0, 0, 6], [2, 5, 3, 3]),
      macs: () => 2 * 5 * 3 * 9 * 4,
    },
    {
      name: 'q out of a qkv Linear whose weight is an input',
      args: [x(5, 4), x(9, 4), x(9)],
      fn: (o, a, wt, b) => o.slice(o.linear(a, wt, b), [0, 0], [5, 3]),
      macs: () => 5 * 9 * 4,
    },
    { name: 'of a constant (folded)', args: [w(3, 5, 4)], fn: (o, a) => o.slice(a, [1, 1, 0], [2, 3, 2]) },
  ],
  concat: [
    { name: 'axis 0', args: [x(2, 3), x(4, 3)], fn: (o, a, b) => o.concat([a, b], 0) },
    { name: 'axis 1 of 3-D', args: [x(2, 3, 4), x(2, 1, 4)], fn: (o, a, b) => o.concat([a, b], 1) },
    { name: 'axis −1', args: [x(2, 3, 4), x(2, 3, 2)], fn: (o, a, b) => o.concat([a, b], -1) },
    {
      name: 'three pieces with a size-1 piece',
      args: [x(2, 2, 3), x(2, 1, 3), x(2, 4, 3)],
      fn: (o, a, b, c) => o.concat([a, b, c], -2),
    },
    { name: 'a single piece', args: [x(2, 3)], fn: (o, a) => o.concat([a], 1) },
    {
      name: 'views',
      args: [x(2, 4, 6), x(2, 3, 4)],
      fn: (o, a, b) => o.concat([heads(o, a, 2), o.reshape(swap(o, b), [2, 2, 2, 3])], 2),
    },
    { name: 'with a constant piece', args: [x(3, 2), w(3, 4)], fn: (o, a, b) => o.concat([b, a], 1) },
    { name: 'constants (folded)', args: [w(2, 3), w(2, 2)], fn: (o, a, b) => o.concat([a, b], -1) },
    { name: 'roll along one axis (one Gather)', args: [x(2, 5, 3)], fn: (o, a) => roll(o, a, 2, 1) },
    {
      name: 'roll along rows then columns (cyclic shift)',
      args: [x(1, 4, 5, 2)],
      fn: (o, a) => roll(o, roll(o, a, -1, 1), -2, 2),
    },
    {
      name: 'slices of one tensor out of order, with a gap',
      args: [x(6, 4)],
      fn: (o, a) => o.concat([o.slice(a, [4, 0], [2, 4]), o.slice(a, [0, 0], [3, 4])], 0),
    },
    {
      name: 'slices of two tensors',
      args: [x(3, 4), x(3, 4)],
      fn: (o, a, b) => o.concat([o.slice(a, [0, 0], [3, 2]), o.slice(b, [0, 1], [3, 3])], 1),
    },
  ],
  broadcastTo: [
    { name: 'size-1 axes repeated', args: [x(1, 3, 1)], fn: (o, a) => o.broadcastTo(a, [2, 3, 4]) },
    { name: 'new leading axes', args: [x(4)], fn: (o, a) => o.broadcastTo(a, [2, 3, 4]) },
    { name: 'rank 0 to a shape', args: [x()], fn: (o, a) => o.broadcastTo(a, [2, 3]) },
    { name: 'size 1 to size 1 and more', args: [x(1, 1)], fn: (o, a) => o.broadcastTo(a, [1, 5]) },
    { name: 'identity', args: [x(2, 3)], fn: (o, a) => o.broadcastTo(a, [2, 3]) },
    { name: 'of a transposed view', args: [x(3, 1)], fn: (o, a) => o.broadcastTo(swap(o, a), [4, 1, 3]) },
    {
      name: 'of a head-split view',
      args: [x(1, 2, 6)],
      fn: (o, a) => o.broadcastTo(heads(o, a, 2), [3, 2, 2, 3]),
    },
    { name: 'of a constant (folded)', args: [w(3, 1)], fn: (o, a) => o.broadcastTo(a, [2, 3, 4]) },
  ],
  gather: [
    { name: 'axis 0', args: [x(5, 3)], fn: (o, a) => o.gather(a, Int32Array.of(4, 0, 2), 0) },
    { name: 'axis 1', args: [x(2, 5, 3)], fn: (o, a) => o.gather(a, Int32Array.of(1, 3), 1) },
    { name: 'axis −1', args: [x(2, 3, 5)], fn: (o, a) => o.gather(a, Int32Array.of(4, 3, 2, 1, 0), -1) },
    {
      name: 'repeated and out-of-order indices',
      args: [x(4, 3)],
      fn: (o, a) => o.gather(a, Int32Array.of(2, 2, 0, 3, 2, 1, 1), 0),
    },
    { name: 'a single index', args: [x(3, 4)], fn: (o, a) => o.gather(a, Int32Array.of(2), 1) },
    { name: 'rank 1', args: [x(6)], fn: (o, a) => o.gather(a, Int32Array.of(5, 1, 1), 0) },
    {
      name: 'of a head-split view',
      args: [x(2, 4, 6)],
      fn: (o, a) => o.gather(heads(o, a, 2), Int32Array.of(3, 0), 2),
    },
    { name: 'of a strided view', args: [x(2, 3, 4)], fn: (o, a) => o.gather(swap(o, a), Int32Array.of(0, 2), -1) },
    {
      name: 'bias-table lookup of a constant (folded)',
      args: [w(9, 2)],
      fn: (o, a) =>
        o.gather(
          a,
          Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 9),
          0,
        ),
    },
  ],
  interpolateLinear: [
    { name: 'up, last axis', args: [x(2, 3, 4)], fn: (o, a) => o.interpolateLinear(a, -1, 8) },
    { name: 'down, last axis', args: [x(2, 7)], fn: (o, a) => o.interpolateLinear(a, 1, 3) },
    { name: 'up, axis −2', args: [x(2, 3, 4)], fn: (o, a) => o.interpolateLinear(a, -2, 7) },
    { name: 'down, axis 0 of 3-D', args: [x(6, 2, 3)], fn: (o, a) => o.interpolateLinear(a, 0, 4) },
    { name: 'up, axis 1 of 4-D', args: [x(2, 5, 3, 2)], fn: (o, a) => o.interpolateLinear(a, 1, 9) },
    { name: 'non-integer ratio 5 → 7', args: [x(3, 5)], fn: (o, a) => o.interpolateLinear(a, 1, 7) },
    { name: 'to size 1', args: [x(2, 6)], fn: (o, a) => o.interpolateLinear(a, -1, 1) },
    { name: 'from size 1', args: [x(2, 1, 3)], fn: (o, a) => o.interpolateLinear(a, 1, 4) },
    { name: 'same size', args: [x(2, 4)], fn: (o, a) => o.interpolateLinear(a, 0, 2) },
    {
      name: 'rank 1',
      args: [x(4)],
      fn: (o, a) => o.interpolateLinear(a, 0, 6),
    },
    {
      name: 'of a head-split view',
      args: [x(2, 4, 6)],
      fn: (o, a) => o.interpolateLinear(heads(o, a, 2), 2, 6),
    },
    { name: 'of a strided view', args: [x(2, 3, 4)], fn: (o, a) => o.interpolateLinear(swap(o, a), -1, 5) },
    {
      name: 'position-embedding resize of a constant, both axes',
      args: [w(1, 4, 4, 3)],
      fn: (o, a) => o.interpolateLinear(o.interpolateLinear(a, 1, 6), 2, 3),
    },
  ],
};

/** What one engine made of one case. */
interface Out {
  shape: number[];
  data?: Float32Array;
  macs?: number;
  error?: string;
  /** OnnxOps' own idea of the shape at trace time, which the graph declares as the output's shape. */
  traced?: number[];
}

const message = (e: unknown) => String((e as Error)?.stack ?? e);

/** Random operands of every case of a method, from a seed derived from the method's name. */
function operands(method: string, list: Case[]): TensorData[][] {
  let seed = 2166136261;
  for (const ch of method) seed = Math.imul(seed ^ ch.charCodeAt(0), 16777619) >>> 0;
  const rand = mulberry32(seed);
  return list.map((c) =>
    c.args.map((a) => {
      const [lo, hi] = a.range;
      return {
        dtype: 'float32',
        shape: [...a.shape],
        data: Float32Array.from({ length: prod(a.shape) }, () => lo + (hi - lo) * rand()),
      };
    }),
  );
}

/** The case's operands in order: constants bound by name (`p`), inputs in turn from `xs`. */
function bind(c: Case, p: (key: string) => Tensor, xs: Tensor[], key: (j: number) => string): Tensor[] {
  let k = 0;
  return c.args.map((a, j) => (a.constant ? p(key(j)) : xs[k++]));
}

async function onTfjs(c: Case, data: TensorData[]): Promise<Out> {
  try {
    const weights = new Map(data.flatMap((d, j) => (c.args[j].constant ? [[`a${j}`, d] as const] : [])));
    const inputs = data.filter((_, j) => !c.args[j].constant);
    const { y } = await runTfjs(weights, inputs, (ctx, ...xs) => {
      const args = bind(
        c,
        (k) => ctx.p(k),
        xs,
        (j) => `a${j}`,
      );
      return { y: c.fn(ctx.ops, ...args) };
    });
    // an int32 constant stays int32 on tfjs: compare its values as floats
    return { shape: [...y.shape], data: Float32Array.from(y.data as ArrayLike<number>) };
  } catch (e) {
    return { shape: [], error: message(e) };
  }
}

/** All cases of a method traced into one graph (one ORT session), each case its own inputs and output. */
async function onOnnx(method: string, list: Case[], data: TensorData[][]): Promise<Out[]> {
  const key = (i: number) => (j: number) => `c${i}_a${j}`;
  const weights = new Map<string, TensorData>();
  const inputs: TraceInput[] = [];
  const feeds: Record<string, TensorData> = {};
  list.forEach((c, i) =>
    c.args.forEach((a, j) => {
      if (a.constant) weights.set(key(i)(j), data[i][j]);
      else {
        inputs.push({ name: key(i)(j), shape: a.shape });
        feeds[key(i)(j)] = data[i][j];
      }
    }),
  );
  // a case that fails to trace is reported on its own; the others still build the graph
  const errors = new Map<number, string>();
  const traced = new Map<number, number[]>();
  const { bytes } = traceOnnx(weights, inputs, (ctx, ...xs) => {
    const outs: Record<string, Tensor> = {};
    let k = 0;
    list.forEach((c, i) => {
      const mine = xs.slice(k, (k += c.args.filter((a) => !a.constant).length));
      try {
        const y = c.fn(ctx.ops, ...bind(c, (n) => ctx.p(n), mine, key(i)));
        traced.set(i, ctx.ops.shape(y));
        outs[`out${i}`] = y;
      } catch (e) {
        errors.set(i, message(e));
      }
    });
    return outs;
  });
  const session = await OnnxSession.create(bytes, `conformance graph of ${method}`, { threads: 1 });
  try {
    const r = await session.run(feeds);
    return list.map((_, i) =>
      errors.has(i)
        ? { shape: [], error: errors.get(i) }
        : { shape: r[`out${i}`].shape, data: r[`out${i}`].data as Float32Array, traced: traced.get(i) },
    );
  } finally {
    await session.release();
  }
}

function onMeta(c: Case, data: TensorData[]): Out {
  try {
    const m = new MetaOps();
    const y = c.fn(m, ...data.map((d) => m.constant(d)));
    return { shape: m.shape(y), macs: m.macs };
  } catch (e) {
    return { shape: [], error: message(e) };
  }
}

/** max|a − b|, where it is, and max|a|; NaN anywhere counts as an infinite error. */
function compare(a: Float32Array, b: Float32Array) {
  let err = 0;
  let at = -1;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    const e = Number.isNaN(d) ? Infinity : d;
    if (e > err || at < 0) [err, at] = [e, i];
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { err, at, scale };
}

describe('engine conformance, op by op', () => {
  it('every op the engines implement has cases', () => {
    // the table's type already demands a key per Ops method; this holds the engines to the same list at run time
    const methods = (proto: object) => new Set(Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor'));
    const [tf, ox, me] = [TfjsOps, OnnxOps, MetaOps].map((k) => methods(k.prototype));
    const shared = [...tf].filter((n) => ox.has(n) && me.has(n) && n !== 'shape');
    expect(Object.keys(cases).sort()).toEqual(shared.sort());
    for (const [method, list] of Object.entries(cases)) expect(list.length, method).toBeGreaterThanOrEqual(2);
  });

  for (const [method, list] of Object.entries(cases) as [OpName, Case[]][]) {
    describe(method, () => {
      const got: { tfjs: Out; onnx: Out; meta: Out }[] = [];
      let graphError: string | undefined;
      beforeAll(async () => {
        const data = operands(method, list);
        let onnx: Out[] = [];
        try {
          onnx = await onOnnx(method, list, data);
        } catch (e) {
          graphError = message(e);
        }
        for (const [i, c] of list.entries())
          got.push({ tfjs: await onTfjs(c, data[i]), onnx: onnx[i], meta: onMeta(c, data[i]) });
      });

      list.forEach((c, i) =>
        (c.bug ? it.fails : it)(c.bug ? `${c.name} [known bug]` : c.name, () => {
          expect(graphError, 'the ONNX graph of this method').toBeUndefined();
          const { tfjs, onnx, meta } = got[i];
          for (const [engine, r] of Object.entries({ tfjs, onnx, meta })) expect(r.error, engine).toBeUndefined();
          expect(onnx.shape, 'onnx shape').toEqual(tfjs.shape);
          expect(onnx.traced, 'shape OnnxOps traced').toEqual(onnx.shape);
          expect(meta.shape, 'meta shape').toEqual(tfjs.shape);
          const a = tfjs.data!;
          const b = onnx.data!;
          expect(b.length).toBe(a.length);
          // the cases keep every value finite, so a NaN or ∞ from the reference is a fault too
          expect(
            a.every((v) => Number.isFinite(v)),
            'tfjs values are finite',
          ).toBe(true);
          const { err, at, scale } = compare(a, b);
          const tol = 1e-5 * Math.max(1, scale);
          expect(err, `max|tfjs − onnx| at flat index ${at}: tfjs ${a[at]}, onnx ${b[at]}`).toBeLessThanOrEqual(tol);
          expect(meta.macs, 'meta MACs').toBe(c.macs?.(tfjs.shape) ?? 0);
        }),
      );
    });
  }
});
