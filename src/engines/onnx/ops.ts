import { toFloat32, type TensorData } from '../../core/tensor.js';
import type { Conv2dOptions, Ops, Tensor } from '../../ops/ops.js';
import { linearResampleMatrix } from '../../ops/resample.js';
import * as F from './fold.js';
import { BATCH_MARK, type Graph, type Value } from './graph.js';

const v = (x: Tensor): Value => x as unknown as Value;
const t = (x: Value): Tensor => x as unknown as Tensor;
const axisOf = (rank: number, a: number) => (a < 0 ? a + rank : a);
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const dense = (x: Value): F.Dense => ({ shape: x.shape, data: x.data! });

/** Name of a constant computed from others: the first named input's name plus the op chain. */
function derived(inputs: Value[], op: string): string | undefined {
  const base = inputs.find((i) => i.hint && !i.hint.startsWith('scalar('))?.hint;
  return base && `${base}/${op}`;
}

/**
 * Ops that record an ONNX graph instead of computing. Anything whose inputs are all known at trace
 * time (weights, masks, bias tables, softplus temperatures, interpolation matrices) is computed here
 * and becomes one initializer; everything else becomes nodes in the forms ORT's CPU fusions match.
 * Reshape chains, inverse transposes and transposes that only move size-1 axes are simplified as
 * they are recorded, so the model code can stay written for readability.
 */
export class OnnxOps implements Ops {
  readonly engine = 'onnx';
  constructor(readonly g: Graph) {}

  private fold(inputs: Value[], op: string, r: F.Dense): Tensor {
    return t(this.g.constant(r.shape, r.data, derived(inputs, op)));
  }

  shape(x: Tensor): number[] {
    return [...v(x).shape];
  }
  constant(d: TensorData): Tensor {
    // the op set is float-only; integer tables reach models as index arrays (see `gather`)
    return t(this.g.constant(d.shape, toFloat32(d)));
  }
  scalar(x: number): Tensor {
    return t(this.g.scalar(x));
  }

  private binary(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: Tensor, b: Tensor, f: (x: number, y: number) => number, unit: number): Tensor {
    const [A, B] = [v(a), v(b)];
    if (A.data && B.data) return this.fold([A, B], op, F.binary(dense(A), dense(B), f));
    const shape = F.broadcastShapes(A.shape, B.shape);
    // x + 0, x − 0, x · 1, x / 1 with a scalar: nothing to compute
    if (B.data && B.shape.length === 0 && B.data[0] === unit && same(shape, A.shape)) return a;
    return t(this.g.emit(op, [A, B], shape));
  }
  add(a: Tensor, b: Tensor) {
    return this.binary('Add', a, b, (x, y) => x + y, 0);
  }
  sub(a: Tensor, b: Tensor) {
    return this.binary('Sub', a, b, (x, y) => x - y, 0);
  }
  mul(a: Tensor, b: Tensor) {
    return this.binary('Mul', a, b, (x, y) => x * y, 1);
  }
  div(a: Tensor, b: Tensor) {
    return this.binary('Div', a, b, (x, y) => x / y, 1);
  }

  private unary(op: string, x: Tensor, f: (x: number) => number): Tensor {
    const X = v(x);
    if (X.data) return this.fold([X], op, F.unary(dense(X), f));
    return t(this.g.emit(op, [X], X.shape));
  }
  pow(x: Tensor, p: number) {
    const X = v(x);
    if (X.data) return this.fold([X], 'Pow', F.unary(dense(X), (a) => a ** p));
    // small integer powers as products: exact, and cheaper than Pow
    if (p === 1) return x;
    if (p === 2) return this.mul(x, x);
    if (p === 3) return this.mul(this.mul(x, x), x);
    return t(this.g.emit('Pow', [X, this.g.scalar(p)], X.shape));
  }
  sqrt(x: Tensor) {
    return this.unary('Sqrt', x, Math.sqrt);
  }
  abs(x: Tensor) {
    return this.unary('Abs', x, Math.abs);
  }
  relu(x: Tensor) {
    return this.unary('Relu', x, (a) => Math.max(a, 0));
  }
  softplus(x: Tensor) {
    // PyTorch's threshold: x above 20 is returned as is
    return this.unary('Softplus', x, (a) => (a > 20 ? a : Math.log1p(Math.exp(a))));
  }
  gelu(x: Tensor) {
    // 0.5·(x·(1 + erf(x/√2))): the exact pattern ORT's GeluFusion turns into one Gelu kernel
    const e = t(this.g.emit('Erf', [v(this.div(x, this.scalar(Math.SQRT2)))], v(x).shape));
    return this.mul(this.mul(x, this.add(e, this.scalar(1))), this.scalar(0.5));
  }

  private axes(x: Value, axes: number[]): number[] {
    return axes.map((a) => axisOf(x.shape.length, a)).sort((p, q) => p - q);
  }
  private dropAxes(x: Tensor, axes: number[]): Tensor {
    return this.reshape(x, v(x).shape.filter((_, i) => !axes.includes(i)));
  }
  sum(x: Tensor, axes: number[], keepDims = false) {
    const X = v(x);
    const ax = this.axes(X, axes);
    const kept = X.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const r = X.data ? this.fold([X], 'ReduceSum', F.sumKeep(dense(X), ax)) : t(this.g.emit('ReduceSum', [X, this.g.ints(ax)], kept, { keepdims: 1 }));
    return keepDims ? r : this.dropAxes(r, ax);
  }
  mean(x: Tensor, axes: number[], keepDims = false) {
    const X = v(x);
    const ax = this.axes(X, axes);
    if (X.data) {
      const n = ax.reduce((a, i) => a * X.shape[i], 1);
      return this.div(this.sum(x, ax, keepDims), this.scalar(n));
    }
    const kept = X.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const r = t(this.g.emit('ReduceMean', [X], kept, { axes: ax, keepdims: 1 }));
    return keepDims ? r : this.dropAxes(r, ax);
  }
  l2norm(x: Tensor) {
    const X = v(x);
    if (X.data) return this.sqrt(this.sum(this.mul(x, x), [-1], true));
    return t(this.g.emit('ReduceL2', [X], [...X.shape.slice(0, -1), 1], { axes: [X.shape.length - 1], keepdims: 1 }));
  }

  matmul(a: Tensor, b: Tensor, transposeB = false) {
    const A = v(a);
    // a Transpose feeding MatMul is folded by ORT into FusedMatMul(transB), or here when b is constant
    const bt = transposeB ? this.transpose(b, swapLast(v(b).shape.length)) : b;
    const B = v(bt);
    const [m, k] = A.shape.slice(-2);
    const [k2, n] = B.shape.slice(-2);
    if (k !== k2) throw new Error(`matmul: inner dims ${k} and ${k2} differ`);
    const batch = F.broadcastShapes(A.shape.slice(0, -2), B.shape.slice(0, -2));
    return t(this.g.emit('MatMul', [A, B], [...batch, m, n]));
  }
  linear(x: Tensor, w: Tensor, b?: Tensor) {
    const [X, W] = [v(x), v(w)];
    const [out, inF] = W.shape;
    if (X.shape[X.shape.length - 1] !== inF) throw new Error(`linear: input has ${X.shape[X.shape.length - 1]} features, weight takes ${inF}`);
    // the (in, out) weight is stored pre-transposed under the state_dict key; MatMul + Add is what
    // ORT fuses (into Gemm or a bias-fused kernel), and MatMul prepacks a constant B once
    const wT = W.data ? this.g.constant([inF, out], F.transpose(dense(W), [1, 0]).data, W.hint) : v(this.transpose(w, [1, 0]));
    const y = t(this.g.emit('MatMul', [X, wT], [...X.shape.slice(0, -1), out]));
    return b ? this.add(y, b) : y;
  }
  conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}) {
    const { stride = 1, padding = 0, groups = 1 } = opts;
    const [X, W] = [v(x), v(w)];
    const [bs, c, hh, ww] = X.shape;
    const [out, inPer, kh, kw] = W.shape;
    if (c !== inPer * groups) throw new Error(`conv2d: input has ${c} channels, weight takes ${inPer * groups}`);
    const oh = Math.floor((hh + 2 * padding - kh) / stride) + 1;
    const ow = Math.floor((ww + 2 * padding - kw) / stride) + 1;
    const attrs = { kernel_shape: [kh, kw], strides: [stride, stride], pads: [padding, padding, padding, padding], group: groups };
    return t(this.g.emit('Conv', b ? [X, W, v(b)] : [X, W], [bs, out, oh, ow], attrs));
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number) {
    const X = v(x);
    return t(this.g.emit('LayerNormalization', [X, v(gamma), v(beta)], X.shape, { axis: -1, epsilon: { float: eps } }));
  }
  softmax(x: Tensor) {
    const X = v(x);
    return t(this.g.emit('Softmax', [X], X.shape, { axis: -1 }));
  }

  reshape(x: Tensor, shape: number[]) {
    const X = v(x);
    const target = resolveShape(X.shape, shape);
    if (same(target, X.shape)) return x;
    if (X.data) return t(this.g.constant(target, X.data, X.hint));
    // a chain of reshapes is one reshape of the first input
    const src = X.producer?.op === 'Reshape' ? X.producer.inputs[0]! : X;
    if (same(target, src.shape)) return t(src);
    return t(this.g.emit('Reshape', [src, this.g.ints(this.reshapeTarget(src.shape, target))], target));
  }

  /** The int64 target of a Reshape: static sizes, with −1 on the one axis that carries the batch. */
  private reshapeTarget(from: number[], to: number[]): number[] {
    const batched = to.filter((d) => this.g.isBatchDim(d)).length;
    if (batched > 1 || (batched === 0 && from.some((d) => this.g.isBatchDim(d)))) {
      throw new Error(`reshape (${this.g.exportShape(from)}) → (${this.g.exportShape(to)}) mixes the batch with other axes; this model cannot export with a dynamic batch`);
    }
    return to.map((d) => (this.g.isBatchDim(d) ? -1 : d));
  }

  transpose(x: Tensor, perm: number[]) {
    let X = v(x);
    let p = perm.map((a) => axisOf(X.shape.length, a));
    if (p.every((a, i) => a === i)) return x;
    if (X.data) return this.fold([X], 'Transpose', F.transpose(dense(X), p));
    // transpose of a transpose is one transpose (or none)
    if (X.producer?.op === 'Transpose') {
      const inner = X.producer.attrs!.perm as number[];
      X = X.producer.inputs[0]!;
      p = p.map((a) => inner[a]);
      if (p.every((a, i) => a === i)) return t(X);
    }
    const shape = p.map((a) => X.shape[a]);
    // moving only size-1 axes keeps the memory order: a free reshape
    const big = p.filter((a) => X.shape[a] !== 1);
    if (big.every((a, i) => i === 0 || big[i - 1] < a)) return this.reshape(t(X), shape);
    return t(this.g.emit('Transpose', [X], shape, { perm: p }));
  }

  slice(x: Tensor, begin: number[], size: number[]) {
    const X = v(x);
    if (same(size, X.shape)) return x;
    if (X.data) return this.fold([X], 'Slice', F.slice(dense(X), begin, size));
    const axes = X.shape.map((_, i) => i).filter((i) => begin[i] !== 0 || size[i] !== X.shape[i]);
    for (const a of axes) if (this.g.isBatchDim(X.shape[a])) throw new Error(`slice along the batch axis ${a} cannot export with a dynamic batch`);
    const g = this.g;
    return t(g.emit('Slice', [X, g.ints(axes.map((a) => begin[a])), g.ints(axes.map((a) => begin[a] + size[a])), g.ints(axes)], [...size]));
  }
  concat(xs: Tensor[], axis: number) {
    if (xs.length === 1) return xs[0];
    const V = xs.map(v);
    const ax = axisOf(V[0].shape.length, axis);
    if (V.every((x) => x.data)) return this.fold(V, 'Concat', F.concat(V.map(dense), ax));
    const shape = [...V[0].shape];
    shape[ax] = V.reduce((n, x) => n + x.shape[ax], 0);
    return t(this.g.emit('Concat', V, shape, { axis: ax }));
  }
  broadcastTo(x: Tensor, shape: number[]) {
    const X = v(x);
    if (same(shape, X.shape)) return x;
    const batched = shape.some((d) => this.g.isBatchDim(d));
    if (X.data && !batched) return this.fold([X], 'Expand', F.broadcastTo(dense(X), shape));
    const pad = shape.length - X.shape.length;
    // Expand broadcasts: a 1 keeps the input's size, so only a batch the input lacks needs the runtime size
    const dims = shape.map((d, i) => (this.g.isBatchDim(d) ? (X.shape[i - pad] === d ? 1 : undefined) : d));
    const parts: Value[] = [];
    let run: number[] = [];
    dims.forEach((d, i) => {
      if (d !== undefined) return void run.push(d);
      if (run.length) parts.push(this.g.ints(run));
      run = [];
      parts.push(this.g.batchDim(shape[i] / BATCH_MARK));
    });
    if (run.length) parts.push(this.g.ints(run));
    const target = parts.length === 1 ? parts[0] : this.g.emit('Concat', parts, [shape.length], { axis: 0 });
    return t(this.g.emit('Expand', [X, target], [...shape]));
  }
  gather(x: Tensor, indices: Int32Array, axis: number) {
    const X = v(x);
    const ax = axisOf(X.shape.length, axis);
    if (X.data) return this.fold([X], 'Gather', F.gather(dense(X), indices, ax));
    const shape = [...X.shape];
    shape[ax] = indices.length;
    return t(this.g.emit('Gather', [X, this.g.ints([...indices])], shape, { axis: ax }));
  }
  interpolateLinear(x: Tensor, axis: number, size: number) {
    const X = v(x);
    const r = X.shape.length;
    const ax = axisOf(r, axis);
    const n = X.shape[ax];
    if (n === size) return x;
    // a constant (size, n) matrix on the resampled axis: one MatMul, no gathers
    const m = this.g.constant([size, n], linearResampleMatrix(n, size), `interp(${n}→${size})`);
    if (ax === r - 2) return this.matmul(t(m), x);
    if (ax === r - 1) return this.matmul(x, t(m), true);
    const perm = [...X.shape.keys()].filter((i) => i !== ax);
    perm.splice(r - 2, 0, ax); // axis just before the last
    const inv = perm.map((_, i) => perm.indexOf(i));
    return this.transpose(this.matmul(t(m), this.transpose(x, perm)), inv);
  }
}

function swapLast(rank: number): number[] {
  const p = [...Array(rank).keys()];
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

function resolveShape(from: number[], to: number[]): number[] {
  const n = F.sizeOf(from);
  const known = F.sizeOf(to.filter((d) => d !== -1));
  const out = to.map((d) => (d === -1 ? n / known : d));
  if (F.sizeOf(out) !== n) throw new Error(`reshape: (${from}) cannot become (${to})`);
  return out;
}
