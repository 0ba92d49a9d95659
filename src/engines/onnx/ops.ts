import { toFloat32, type TensorData } from '../../core/tensor.js';
import type { Conv2dOptions, Ops, Tensor } from '../../ops/ops.js';
import { linearResampleMatrix } from '../../ops/resample.js';
import * as F from './fold.js';
import { BATCH_MARK, type Graph, type Value } from './graph.js';
import type { AttrValue } from './proto.js';

/**
 * A reshape no node has needed yet: model code sees `shape`, the graph holds `of`. Row-wise ops
 * (Gemm, LayerNorm, Softmax, elementwise, last-axis reductions and slices) run on `of` directly, so the
 * token stream stays one 2-D (B·N, C) tensor and most of the model's reshapes never become nodes.
 */
interface View {
  readonly shape: number[];
  readonly of: Value;
}
type Handle = Value | View;

const h = (x: Tensor): Handle => x as unknown as Handle;
const t = (x: Handle): Tensor => x as unknown as Tensor;
const isView = (x: Handle): x is View => 'of' in x;
const phys = (x: Handle): Value => (isView(x) ? x.of : x);
const last = (s: readonly number[]) => s[s.length - 1];
/** The physical tensor's last axis is the logical one, so row-wise ops can run on it. */
const rowsAligned = (x: Handle) => x.shape.length > 0 && last(phys(x).shape) === last(x.shape);
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
 * and becomes one initializer; everything else becomes nodes in the forms ORT's CPU fusions match
 * (Gemm with its bias, the Erf GELU pattern, LayerNormalization, Transpose into FusedMatMul).
 * Reshapes stay views until an op needs the exact shape, inverse transposes cancel, and transposes
 * that only move size-1 axes are reshapes, so model code can stay written for readability.
 */
export class OnnxOps implements Ops {
  readonly engine = 'onnx';
  /** Reshapes already emitted, by source value and target shape. */
  private readonly reshapes = new Map<string, Value>();
  constructor(readonly g: Graph) {}

  /** The tensor in its logical shape, emitting the pending Reshape of a view. */
  real(x: Tensor): Value {
    const X = h(x);
    return isView(X) ? this.reshaped(X.of, X.shape) : X;
  }

  /** `v` as `shape`: one Reshape node per source and shape, and a reshape of a reshape is one reshape. */
  private reshaped(v: Value, shape: number[]): Value {
    const src = v.producer?.op === 'Reshape' ? v.producer.inputs[0]! : v;
    if (same(src.shape, shape)) return src;
    const key = `${src.id}:${shape}`;
    let r = this.reshapes.get(key);
    if (!r) this.reshapes.set(key, (r = this.g.emit('Reshape', [src, this.g.ints(this.reshapeTarget(src.shape, shape))], shape)));
    return r;
  }

  private view(v: Value, shape: number[]): Tensor {
    return t(same(v.shape, shape) ? v : { shape: [...shape], of: v });
  }

  private fold(inputs: Value[], op: string, r: F.Dense): Tensor {
    return t(this.g.constant(r.shape, r.data, derived(inputs, op)));
  }

  /** The int64 target of a Reshape: static sizes, with −1 on the one axis that carries the batch. */
  private reshapeTarget(from: number[], to: number[]): number[] {
    const batched = to.filter((d) => this.g.isBatchDim(d)).length;
    if (batched > 1 || (batched === 0 && from.some((d) => this.g.isBatchDim(d)))) {
      throw new Error(`reshape (${this.g.exportShape(from)}) → (${this.g.exportShape(to)}) mixes the batch with other axes; this model cannot export with a dynamic batch`);
    }
    return to.map((d) => (this.g.isBatchDim(d) ? -1 : d));
  }

  shape(x: Tensor): number[] {
    return [...h(x).shape];
  }
  constant(d: TensorData): Tensor {
    // the op set is float-only; integer tables reach models as index arrays (see `gather`)
    return t(this.g.constant(d.shape, toFloat32(d)));
  }
  scalar(x: number): Tensor {
    return t(this.g.scalar(x));
  }

  private binary(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: Tensor, b: Tensor, f: (x: number, y: number) => number, unit: number): Tensor {
    const [A, B] = [h(a), h(b)];
    const shape = F.broadcastShapes(A.shape, B.shape);
    if (!isView(A) && !isView(B) && A.data && B.data) return this.fold([A, B], op, F.binary(dense(A), dense(B), f));
    // x + 0, x − 0, x · 1, x / 1 with a scalar: nothing to compute
    if (!isView(B) && B.data?.length === 1 && B.data[0] === unit && same(shape, A.shape)) return a;
    const [pa, pb] = [phys(A), phys(B)];
    const emit = (x: Value, y: Value, s: number[]) => this.view(this.g.emit(op, [x, y], s), shape);
    if (same(A.shape, B.shape)) {
      // the same layout on both sides: elementwise on the physical tensors
      if (same(pa.shape, pb.shape)) return emit(pa, pb, pa.shape);
      // rows in two layouts (a residual stream meeting a Gemm output): bring both to the flatter one,
      // so the stream stays 2-D from here on
      if (rowsAligned(A) && rowsAligned(B)) {
        const flat = pa.shape.length <= pb.shape.length ? pa.shape : pb.shape;
        return emit(this.reshaped(pa, flat), this.reshaped(pb, flat), flat);
      }
    }
    // a constant that varies only along the last axis broadcasts over any row layout
    const rowConst = (c: Handle, x: Handle) =>
      !isView(c) && c.data && c.shape.slice(0, -1).every((d) => d === 1) && same(shape, x.shape) && (c.data.length === 1 || rowsAligned(x));
    const squeeze = (c: Value) => (c.data!.length === 1 ? this.g.scalar(c.data![0]) : this.g.constant([c.data!.length], c.data!, c.hint));
    if (rowConst(B, A)) return emit(pa, squeeze(B as Value), pa.shape);
    if (rowConst(A, B)) return emit(squeeze(A as Value), pb, pb.shape);
    // rows against rows (e.g. (B, N, C) by a (B, N, 1) norm): equal leading dims, logical and physical
    const lead = (x: Handle) => x.shape.slice(0, -1);
    const plead = (x: Value) => x.shape.slice(0, -1);
    if (same(lead(A), lead(B)) && rowsAligned(A) && rowsAligned(B) && same(plead(pa), plead(pb))) return emit(pa, pb, [...plead(pa), last(shape)]);
    return t(this.g.emit(op, [this.real(a), this.real(b)], shape));
  }
  add(a: Tensor, b: Tensor) {
    return this.binary('Add', a, b, (x, y) => x + y, 0);
  }
  sub(a: Tensor, b: Tensor) {
    return this.binary('Sub', a, b, (x, y) => x - y, 0);
  }
  mul(a: Tensor, b: Tensor) {
    return this.rescaleRows(a, b) ?? this.rescaleRows(b, a) ?? this.binary('Mul', a, b, (x, y) => x * y, 1);
  }

  /**
   * (x / n)·m with n and m one value per row (focusing: u³/‖u³‖·‖u‖) is x·(m / n): the division
   * moves to the small per-row tensors and the full-size tensor takes one pass instead of two.
   */
  private rescaleRows(a: Tensor, b: Tensor): Tensor | undefined {
    const [A, B] = [h(a), h(b)];
    const [pa, pb] = [phys(A), phys(B)];
    const div = pa.producer;
    if (div?.op !== 'Div' || (!isView(B) && B.data)) return undefined;
    const [x, n] = div.inputs as Value[];
    const perRow = (v: Value) => last(v.shape) === 1 && same(v.shape.slice(0, -1), pa.shape.slice(0, -1));
    if (!same(x.shape, pa.shape) || !perRow(n) || !same(n.shape, pb.shape) || !same(A.shape.slice(0, -1), B.shape.slice(0, -1)) || last(B.shape) !== 1) return undefined;
    const scale = this.g.emit('Div', [pb, n], n.shape);
    return this.view(this.g.emit('Mul', [x, scale], x.shape), A.shape);
  }
  div(a: Tensor, b: Tensor) {
    return this.binary('Div', a, b, (x, y) => x / y, 1);
  }

  private unary(op: string, x: Tensor, f?: (x: number) => number): Tensor {
    const X = h(x);
    if (f && !isView(X) && X.data) return this.fold([X], op, F.unary(dense(X), f));
    const p = phys(X);
    return this.view(this.g.emit(op, [p], p.shape), X.shape);
  }
  pow(x: Tensor, p: number) {
    const X = h(x);
    if (!isView(X) && X.data) return this.fold([X], 'Pow', F.unary(dense(X), (a) => a ** p));
    // small integer powers as products: exact, and cheaper than Pow
    if (p === 1) return x;
    if (p === 2) return this.mul(x, x);
    if (p === 3) return this.mul(this.mul(x, x), x);
    const ph = phys(X);
    return this.view(this.g.emit('Pow', [ph, this.g.scalar(p)], ph.shape), X.shape);
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
    // (x·(1 + erf(x/√2)))·0.5: the exact pattern ORT's GeluFusion turns into one Gelu kernel
    const e = this.unary('Erf', this.div(x, this.scalar(Math.SQRT2)));
    return this.mul(this.mul(x, this.add(e, this.scalar(1))), this.scalar(0.5));
  }

  /** A reduction: over the last axis it runs on any row layout, otherwise on the real tensor. */
  private reduce(op: string, x: Tensor, axes: number[], keepDims: boolean, attrAxes: boolean): Tensor {
    const X = h(x);
    const ax = axes.map((a) => axisOf(X.shape.length, a)).sort((p, q) => p - q);
    const kept = X.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const lastOnly = ax.length === 1 && ax[0] === X.shape.length - 1 && rowsAligned(X);
    const src = lastOnly ? phys(X) : this.real(x);
    const axesIn = lastOnly ? [-1] : ax;
    const outShape = lastOnly ? [...src.shape.slice(0, -1), 1] : kept;
    // ReduceSum takes its axes as an input since opset 13; ReduceMean and ReduceL2 only from opset 18
    const r = attrAxes ? this.g.emit(op, [src], outShape, { axes: axesIn, keepdims: 1 }) : this.g.emit(op, [src, this.g.ints(axesIn)], outShape, { keepdims: 1 });
    const y = this.view(r, kept);
    return keepDims ? y : this.reshape(y, X.shape.filter((_, i) => !ax.includes(i)));
  }
  sum(x: Tensor, axes: number[], keepDims = false) {
    const X = h(x);
    if (!isView(X) && X.data) {
      const ax = axes.map((a) => axisOf(X.shape.length, a));
      const r = this.fold([X], 'ReduceSum', F.sumKeep(dense(X), ax));
      return keepDims ? r : this.reshape(r, X.shape.filter((_, i) => !ax.includes(i)));
    }
    return this.reduce('ReduceSum', x, axes, keepDims, false);
  }
  mean(x: Tensor, axes: number[], keepDims = false) {
    const X = h(x);
    if (!isView(X) && X.data) {
      const n = axes.reduce((a, i) => a * X.shape[axisOf(X.shape.length, i)], 1);
      return this.div(this.sum(x, axes, keepDims), this.scalar(n));
    }
    return this.reduce('ReduceMean', x, axes, keepDims, true);
  }
  l2norm(x: Tensor) {
    const X = h(x);
    if (!isView(X) && X.data) return this.sqrt(this.sum(this.mul(x, x), [-1], true));
    return this.reduce('ReduceL2', x, [-1], true, true);
  }

  matmul(a: Tensor, b: Tensor, transposeB = false) {
    const A = this.real(a);
    // a Transpose feeding MatMul is folded by ORT into FusedMatMul(transB), or here when b is constant
    const B = this.real(transposeB ? this.transpose(b, swapLast(h(b).shape.length)) : b);
    const [m, k] = A.shape.slice(-2);
    const [k2, n] = B.shape.slice(-2);
    if (k !== k2) throw new Error(`matmul: inner dims ${k} and ${k2} differ`);
    const batch = F.broadcastShapes(A.shape.slice(0, -2), B.shape.slice(0, -2));
    return t(this.g.emit('MatMul', [A, B], [...batch, m, n]));
  }
  linear(x: Tensor, w: Tensor, b?: Tensor) {
    const X = h(x);
    const W = this.real(w);
    const [out, inF] = W.shape;
    if (last(X.shape) !== inF) throw new Error(`linear: input has ${last(X.shape)} features, weight takes ${inF}`);
    // Gemm takes 2-D rows: every leading axis folds into one, whatever view the input is in
    const rows = F.sizeOf(X.shape) / inF;
    const p = phys(X);
    const a = this.reshaped(p, [rows, inF]);
    // Gemm(transB) keeps the (out, in) weight as stored under its state_dict key, prepacks it once,
    // and adds the bias in the same kernel
    const y = this.g.emit('Gemm', b ? [a, W, this.real(b)] : [a, W], [rows, out], { transB: 1 });
    return this.view(y, [...X.shape.slice(0, -1), out]);
  }
  conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}) {
    const { stride = 1, padding = 0, groups = 1 } = opts;
    const [X, W] = [this.real(x), this.real(w)];
    const [bs, c, hh, ww] = X.shape;
    const [out, inPer, kh, kw] = W.shape;
    if (c !== inPer * groups) throw new Error(`conv2d: input has ${c} channels, weight takes ${inPer * groups}`);
    const oh = Math.floor((hh + 2 * padding - kh) / stride) + 1;
    const ow = Math.floor((ww + 2 * padding - kw) / stride) + 1;
    const attrs = { kernel_shape: [kh, kw], strides: [stride, stride], pads: [padding, padding, padding, padding], group: groups };
    return t(this.g.emit('Conv', b ? [X, W, this.real(b)] : [X, W], [bs, out, oh, ow], attrs));
  }
  /** An op over the last axis: runs on the physical rows when they line up. */
  private rowwise(op: string, x: Tensor, extra: Value[], attrs: Record<string, AttrValue>): Tensor {
    const X = h(x);
    const src = rowsAligned(X) ? phys(X) : this.real(x);
    return this.view(this.g.emit(op, [src, ...extra], src.shape, attrs), X.shape);
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number) {
    return this.rowwise('LayerNormalization', x, [this.real(gamma), this.real(beta)], { axis: -1, epsilon: { float: eps } });
  }
  softmax(x: Tensor) {
    return this.rowwise('Softmax', x, [], { axis: -1 });
  }

  reshape(x: Tensor, shape: number[]) {
    const X = h(x);
    const target = resolveShape(X.shape, shape);
    if (same(target, X.shape)) return x;
    if (!isView(X) && X.data) return t(this.g.constant(target, X.data, X.hint));
    return this.view(phys(X), target);
  }

  transpose(x: Tensor, perm: number[]) {
    const X0 = h(x);
    let p = perm.map((a) => axisOf(X0.shape.length, a));
    if (p.every((a, i) => a === i)) return x;
    if (!isView(X0) && X0.data) return this.fold([X0], 'Transpose', F.transpose(dense(X0), p));
    const shape = p.map((a) => X0.shape[a]);
    // moving only size-1 axes keeps the memory order: a reshape
    const big = p.filter((a) => X0.shape[a] !== 1);
    if (big.every((a, i) => i === 0 || big[i - 1] < a)) return this.reshape(x, shape);
    let X = this.real(x);
    // transpose of a transpose is one transpose (or none)
    if (X.producer?.op === 'Transpose') {
      const inner = X.producer.attrs!.perm as number[];
      X = X.producer.inputs[0]!;
      p = p.map((a) => inner[a]);
      if (p.every((a, i) => a === i)) return t(X);
    }
    return t(this.g.emit('Transpose', [X], shape, { perm: p }));
  }

  slice(x: Tensor, begin: number[], size: number[]) {
    const X = h(x);
    if (same(size, X.shape)) return x;
    if (!isView(X) && X.data) return this.fold([X], 'Slice', F.slice(dense(X), begin, size));
    const axes = X.shape.map((_, i) => i).filter((i) => begin[i] !== 0 || size[i] !== X.shape[i]);
    const g = this.g;
    const r = X.shape.length - 1;
    // a slice of channels (q, k, v out of qkv) works on any row layout
    if (axes.length === 1 && axes[0] === r && rowsAligned(X)) {
      const p = phys(X);
      const y = g.emit('Slice', [p, g.ints([begin[r]]), g.ints([begin[r] + size[r]]), g.ints([-1])], [...p.shape.slice(0, -1), size[r]]);
      return this.view(y, size);
    }
    for (const a of axes) if (g.isBatchDim(X.shape[a])) throw new Error(`slice along the batch axis ${a} cannot export with a dynamic batch`);
    const src = this.real(x);
    return t(g.emit('Slice', [src, g.ints(axes.map((a) => begin[a])), g.ints(axes.map((a) => begin[a] + size[a])), g.ints(axes)], [...size]));
  }
  concat(xs: Tensor[], axis: number) {
    if (xs.length === 1) return xs[0];
    const H = xs.map(h);
    const ax = axisOf(H[0].shape.length, axis);
    if (H.every((x) => !isView(x) && x.data)) return this.fold(H as Value[], 'Concat', F.concat((H as Value[]).map(dense), ax));
    const shape = [...H[0].shape];
    shape[ax] = H.reduce((n, x) => n + x.shape[ax], 0);
    return t(this.g.emit('Concat', xs.map((x) => this.real(x)), shape, { axis: ax }));
  }
  broadcastTo(x: Tensor, shape: number[]) {
    const X = this.real(x);
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
    const X = this.real(x);
    const ax = axisOf(X.shape.length, axis);
    if (X.data) return this.fold([X], 'Gather', F.gather(dense(X), indices, ax));
    const shape = [...X.shape];
    shape[ax] = indices.length;
    return t(this.g.emit('Gather', [X, this.g.ints([...indices])], shape, { axis: ax }));
  }
  interpolateLinear(x: Tensor, axis: number, size: number) {
    const X = h(x);
    const r = X.shape.length;
    const ax = axisOf(r, axis);
    const n = X.shape[ax];
    if (n === size) return x;
    // a constant (size, n) matrix on the resampled axis: one MatMul, no gathers
    const m = t(this.g.constant([size, n], linearResampleMatrix(n, size), `interp(${n}→${size})`));
    if (ax === r - 2) return this.matmul(m, x);
    if (ax === r - 1) return this.matmul(x, m, true);
    const perm = [...X.shape.keys()].filter((i) => i !== ax);
    perm.splice(r - 2, 0, ax); // the resampled axis just before the last
    const inv = perm.map((_, i) => perm.indexOf(i));
    return this.transpose(this.matmul(m, this.transpose(x, perm)), inv);
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
