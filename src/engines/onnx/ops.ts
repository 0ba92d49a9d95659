import { toFloat32, type TensorData } from '../../core/tensor.js';
import { linearAttention } from '../../ops/linear_attention.js';
import type { Conv2dOptions, Ops, Tensor } from '../../ops/ops.js';
import { linearResampleMatrix } from '../../ops/resample.js';
import * as F from './fold.js';
import { BATCH_MARK, type Graph, type Value } from './graph.js';
import { canonical, plainLayout, reshapeLayout, rowTail, sameRows, transposeLayout, type Layout } from './layout.js';
import type { AttrValue } from './proto.js';
import { gemmChannels, meanOfSource, rowScaledAttention, scaleChannels, sliceGather, unscaled } from './rewrites.js';
import { depthwiseNchwc } from './nchwc.js';
import { depthwiseAsMatmul } from './toeplitz.js';
import { axisOf, dense, h, isConst, isView, last, layoutOf, phys, same, t, Views } from './views.js';

/** What a traced graph is written for. */
export interface OnnxOpsOptions {
  /**
   * 'web': onnxruntime-web's wasm build, whose LayerNormalization kernel is scalar: LayerNorms of at least
   * WEB_LAYERNORM_MIN elements a sample become elementwise ops and mean reductions (0.55–0.82× its time in Chromium;
   * below that size the extra nodes cost more than they save). Default: one LayerNormalization node each.
   */
  target?: 'node' | 'web';
}

/** Elements a sample from which a web graph writes LayerNorm as elementwise ops (bench: 3200 slower, 12544 faster). */
export const WEB_LAYERNORM_MIN = 8192;

/** Elements of one sample of a traced shape (an axis that carries the batch counts its size for one). */
const perSample = (g: Graph, shape: number[]) => shape.reduce((a, d) => a * (g.isBatchDim(d) ? d / BATCH_MARK : d), 1);

const sameLayout = (a: Layout, b: Layout) => same(a.dims, b.dims) && same(a.perm, b.perm) && same(a.shape, b.shape);

/**
 * Ops that record an ONNX graph instead of computing. Anything whose inputs are all known at trace
 * time (weights, masks, bias tables, softplus temperatures, interpolation matrices) is computed here
 * and becomes one initializer; everything else becomes nodes in the forms ORT's CPU fusions match
 * (Gemm with its bias, the Erf GELU pattern, LayerNormalization, Transpose into FusedMatMul).
 * Reshapes and transposes are pending layouts (views.ts) until a node needs the exact tensor: chains of
 * them cost at most one Transpose, and row-wise ops (Gemm, LayerNorm, Softmax, elementwise, last-axis
 * reductions and slices) run on the stored rows whatever order they are in, so the token stream stays
 * one 2-D (rows, C) tensor and window partitions fold into the head split. Where an op's inputs come
 * from nodes that can be written more cheaply together with it, rewrites.ts replaces them.
 */
export class OnnxOps implements Ops {
  readonly engine = 'onnx';
  private readonly views: Views;
  constructor(
    readonly g: Graph,
    private readonly opts: OnnxOpsOptions = {},
  ) {
    this.views = new Views(g);
  }

  /** The tensor in its logical shape, as a graph value (for the graph's outputs). */
  real(x: Tensor): Value {
    return this.views.real(x);
  }

  private fold(inputs: Value[], op: string, r: F.Dense): Tensor {
    return t(this.g.folded(inputs, op, r));
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

  private binary(
    op: 'Add' | 'Sub' | 'Mul' | 'Div',
    a: Tensor,
    b: Tensor,
    f: (x: number, y: number) => number,
    unit: number,
  ): Tensor {
    const [A, B] = [h(a), h(b)];
    const shape = F.broadcastShapes(A.shape, B.shape);
    if (isConst(A) && isConst(B)) return this.fold([A, B], op, F.binary(dense(A), dense(B), f));
    // x + 0, x − 0, x · 1, x / 1 with a scalar: nothing to compute
    if (isConst(B) && B.data.length === 1 && B.data[0] === unit && same(shape, A.shape)) return a;
    const emit = (x: Value, y: Value, s: number[]) => this.g.emit(op, [x, y], s);
    // one value everywhere: elementwise on the stored tensor, whatever its layout
    for (const [c, x, swap] of [
      [B, A, false],
      [A, B, true],
    ] as const) {
      if (isConst(c) && c.data.length === 1 && same(shape, x.shape)) {
        const s = this.g.scalar(c.data[0]);
        const p = phys(x);
        return this.views.view(swap ? emit(s, p, p.shape) : emit(p, s, p.shape), layoutOf(x));
      }
    }
    // the same layout of same-shaped tensors (a head-split output meeting the DWC's): elementwise on the
    // stored tensors, as their canonical split
    if (same(A.shape, B.shape) && sameLayout(canonical(layoutOf(A)), canonical(layoutOf(B)))) {
      // equal canonical layouts order the elements the same way: one source read in the other's shape,
      // the flatter one, so that a residual stream stays 2-D
      const [pa, pb] = [phys(A), phys(B)];
      const [base, l] = pb.shape.length < pa.shape.length ? [pb, layoutOf(B)] : [pa, layoutOf(A)];
      const [x, y] = [this.views.reshaped(pa, base.shape), this.views.reshaped(pb, base.shape)];
      return this.views.view(emit(x, y, base.shape), l);
    }
    // a constant varying only along the last axis broadcasts over rows in any order
    for (const [c, x, swap] of [
      [B, A, false],
      [A, B, true],
    ] as const) {
      if (isConst(c) && c.shape.slice(0, -1).every((d) => d === 1) && same(shape, x.shape)) {
        const r = this.views.rows(x);
        if (!r) continue;
        const cv = c.shape.length === 1 ? c : this.g.constant([c.data.length], c.data, c.hint, c.weight);
        return this.views.fromRows(r, swap ? emit(cv, r.p, r.p.shape) : emit(r.p, cv, r.p.shape));
      }
    }
    // rows against rows in the same order (a residual meeting a Gemm output, a row by its norm),
    // as they are or once both are transposed into plain layouts
    if (A.shape.length === B.shape.length) {
      for (const [X, Y] of [
        [A, B],
        [this.views.settle(A), this.views.settle(B)],
      ]) {
        const [rx, ry] = [this.views.rows(X), this.views.rows(Y)];
        if (!rx || !ry || !sameRows(rx.layout, rx.k, ry.layout, ry.k)) continue;
        // bring both to 2-D rows when their stored shapes differ, so the stream stays flat from here on
        const flat = !same(rx.p.shape.slice(0, -1), ry.p.shape.slice(0, -1));
        const [px, py] = flat ? [this.views.rows(X, true)!.p, this.views.rows(Y, true)!.p] : [rx.p, ry.p];
        return this.views.fromRows(rx, emit(px, py, [...px.shape.slice(0, -1), last(shape)]));
      }
    }
    return t(emit(this.views.real(a), this.views.real(b), shape));
  }
  add(a: Tensor, b: Tensor) {
    return this.binary('Add', a, b, (x, y) => x + y, 0);
  }
  sub(a: Tensor, b: Tensor) {
    return this.binary('Sub', a, b, (x, y) => x - y, 0);
  }
  mul(a: Tensor, b: Tensor) {
    return (
      scaleChannels(this.views, a, b, (s) => s) ??
      scaleChannels(this.views, b, a, (s) => s) ??
      this.binary('Mul', a, b, (x, y) => x * y, 1)
    );
  }
  div(a: Tensor, b: Tensor) {
    const A = h(a);
    // 1/y as Reciprocal: ORT would fuse a Div(1, y) into the Mul that uses it, dividing the full-size
    // tensor (the normaliser z of linear attention) instead of multiplying it
    if (isConst(A) && A.data.length === 1 && A.data[0] === 1 && !isConst(h(b)) && A.shape.length <= h(b).shape.length)
      return this.unary('Reciprocal', b);
    return scaleChannels(this.views, a, b, (s) => 1 / s) ?? this.binary('Div', a, b, (x, y) => x / y, 1);
  }

  private unary(op: string, x: Tensor, f?: (x: number) => number): Tensor {
    const X = h(x);
    if (f && isConst(X)) return this.fold([X], op, F.unary(dense(X), f));
    // elementwise: any layout
    const p = phys(X);
    return this.views.view(this.g.emit(op, [p], p.shape), layoutOf(X));
  }
  pow(x: Tensor, p: number) {
    const X = h(x);
    if (isConst(X))
      return this.fold(
        [X],
        'Pow',
        F.unary(dense(X), (a) => a ** p),
      );
    // small integer powers as products: exact, and cheaper than Pow
    if (p === 1) return x;
    if (p === 2) return this.mul(x, x);
    if (p === 3) return this.mul(this.mul(x, x), x);
    const ph = phys(X);
    return this.views.view(this.g.emit('Pow', [ph, this.g.scalar(p)], ph.shape), layoutOf(X));
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

  /** A reduction: over the last axis it runs on the stored rows, otherwise on the real tensor. */
  private reduce(op: string, x: Tensor, axes: number[], keepDims: boolean, attrAxes: boolean): Tensor {
    const X = h(x);
    const ax = axes.map((a) => axisOf(X.shape.length, a)).sort((p, q) => p - q);
    const kept = X.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    // ReduceSum takes its axes as an input since opset 13; ReduceMean and ReduceL2 only from opset 18
    const emit = (src: Value, axesIn: number[], outShape: number[]) =>
      attrAxes
        ? this.g.emit(op, [src], outShape, { axes: axesIn, keepdims: 1 })
        : this.g.emit(op, [src, this.g.ints(axesIn)], outShape, { keepdims: 1 });
    const r = ax.length === 1 && ax[0] === X.shape.length - 1 ? this.views.rows(X) : undefined;
    const y = r
      ? this.views.fromRows(r, emit(r.p, [-1], [...r.p.shape.slice(0, -1), 1]))
      : t(emit(this.views.real(x), ax, kept));
    return keepDims
      ? y
      : this.reshape(
          y,
          X.shape.filter((_, i) => !ax.includes(i)),
        );
  }
  sum(x: Tensor, axes: number[], keepDims = false) {
    // no axes, no reduction (Ops): ReduceSum and ReduceMean would read empty axes as all of them
    if (!axes.length) return x;
    const X = h(x);
    if (isConst(X)) {
      const ax = axes.map((a) => axisOf(X.shape.length, a));
      const r = this.fold([X], 'ReduceSum', F.sumKeep(dense(X), ax));
      return keepDims
        ? r
        : this.reshape(
            r,
            X.shape.filter((_, i) => !ax.includes(i)),
          );
    }
    return this.reduce('ReduceSum', x, axes, keepDims, false);
  }
  mean(x: Tensor, axes: number[], keepDims = false) {
    if (!axes.length) return x;
    const X = h(x);
    const r = X.shape.length;
    if (isConst(X)) {
      const n = axes.reduce((a, i) => a * X.shape[axisOf(r, i)], 1);
      return this.div(this.sum(x, axes, keepDims), this.scalar(n));
    }
    if (axes.length === 1 && axisOf(r, axes[0]) === r - 2 && r >= 2) {
      // the mean over tokens (k̄, global pooling) as a (1, n) row of 1/n times x: a GEMV, which ORT runs
      // far faster than ReduceMean over a non-innermost axis
      const n = X.shape[r - 2];
      const ones = t(this.g.constant([1, n], new Float32Array(n).fill(1 / n), `mean(${n})`));
      const y = meanOfSource(this.views, X, r - 2, ones) ?? this.matmul(ones, x);
      return keepDims
        ? y
        : this.reshape(
            y,
            X.shape.filter((_, i) => i !== r - 2),
          );
    }
    return this.reduce('ReduceMean', x, axes, keepDims, true);
  }
  l2norm(x: Tensor) {
    const X = h(x);
    if (isConst(X)) return this.sqrt(this.sum(this.mul(x, x), [-1], true));
    return this.reduce('ReduceL2', x, [-1], true, true);
  }

  matmul(a: Tensor, b: Tensor, transposeB = false) {
    const [A, sa] = unscaled(this.views, a);
    const [B, sb] = unscaled(this.views, transposeB ? this.transpose(b, swapLast(h(b).shape.length)) : b);
    const [ra, rb] = [this.operand(A), this.operand(B)];
    const [m, k] = ra.shape.slice(-2);
    const [k2, n] = rb.shape.slice(-2);
    if (k !== k2) throw new Error(`matmul: inner dims ${k} and ${k2} differ`);
    const y = t(
      this.g.emit('MatMul', [ra, rb], [...F.broadcastShapes(ra.shape.slice(0, -2), rb.shape.slice(0, -2)), m, n]),
    );
    // (s·a)·b = s·(a·b): a scale on the product stays next to the MatMul, where ORT folds it into FusedMatMul
    return sa * sb === 1 ? y : this.mul(y, this.scalar(sa * sb));
  }

  /**
   * A MatMul input. When it is the last-two-axes transpose of a tensor that exists already (kᵀ of
   * the k that fed the mean) or needs no Transpose, that tensor plus a swapping Transpose, which ORT
   * folds into FusedMatMul(transA/transB): the transposition costs nothing.
   */
  private operand(x: Tensor): Value {
    const X = h(x);
    if (isView(X) && X.shape.length >= 2 && !this.views.cheap(X.of, X.layout)) {
      const swap = swapLast(X.shape.length);
      const inner = transposeLayout(X.layout, swap);
      // also when the swapped tensor moves whole blocks (k as heads) and this one single elements (kᵀ)
      if (this.views.cheap(X.of, inner) || innerBlock(inner) > innerBlock(X.layout)) {
        const y = this.views.real(this.views.view(X.of, inner));
        return this.g.emit(
          'Transpose',
          [y],
          swap.map((i) => y.shape[i]),
          { perm: swap },
        );
      }
    }
    return this.views.real(x);
  }

  linearAttention(q: Tensor, k: Tensor, v: Tensor) {
    return rowScaledAttention(this, this.views, q, k, v) ?? linearAttention(this, q, k, v);
  }
  linear(x: Tensor, w: Tensor, b?: Tensor) {
    const X = h(x);
    const W = this.views.real(w);
    const [out, inF] = W.shape;
    if (last(X.shape) !== inF) throw new Error(`linear: input has ${last(X.shape)} features, weight takes ${inF}`);
    // Gemm on 2-D rows, in whatever order they are stored; Gemm(transB) keeps the (out, in) weight as it
    // is stored under its state_dict key and prepacks it once. (ORT writes the bias into the output and then
    // accumulates onto it; MatMul + BiasGelu for fc1 → GELU avoids that but measured slower on Swin-T, as
    // ORT's BiasGelu kernel costs more than its Gelu.)
    const r = this.views.rowsOrReal(X, true);
    return this.views.fromRows(
      r,
      this.g.emit('Gemm', b ? [r.p, W, this.views.real(b)] : [r.p, W], [r.p.shape[0], out], { transB: 1 }),
    );
  }
  /**
   * Conv on NCHW, talking channels-last to the token world on both sides: when the input's channels are
   * contiguous in its source (tokens turned into an image), it is materialized as NHWC and handed over
   * through a Transpose(0,3,1,2); the output goes straight through a Transpose(0,2,3,1) and stays a view.
   * ORT's NCHWc layout pass folds both Transposes into its ReorderInput/ReorderOutput, so the element-wise
   * token ↔ image transposes disappear, and the head-shared DWC only moves blocks of d channels.
   */
  conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}) {
    const { stride = 1, padding = 0, groups = 1 } = opts;
    const X = h(x);
    const W = this.views.real(w);
    const [bs, c, hh, ww] = X.shape;
    const [out, inPer, kh, kw] = W.shape;
    if (c !== inPer * groups) throw new Error(`conv2d: input has ${c} channels, weight takes ${inPer * groups}`);
    // a depthwise conv whose weight is a graph input (the training graph): ORT's NCHWc kernel where the graph
    // is for onnxruntime-node, else a MatMul where the map is small
    if (!W.data && groups === c && inPer === 1 && out === c && stride === 1) {
      const yb = depthwiseNchwc(this, this.g, x, W, padding, b && this.views.real(b));
      if (yb) return yb;
      const y = depthwiseAsMatmul(this, this.g, x, W, padding);
      if (y) return b ? this.add(y, this.reshape(b, [1, c, 1, 1])) : y;
    }
    const oh = Math.floor((hh + 2 * padding - kh) / stride) + 1;
    const ow = Math.floor((ww + 2 * padding - kw) / stride) + 1;
    const nhwc = h(this.transpose(x, [0, 2, 3, 1]));
    let input: Value;
    if (isView(X) && rowTail(layoutOf(nhwc)) !== undefined) {
      const src = this.views.real(t(nhwc));
      input = this.g.emit('Transpose', [src], [bs, c, hh, ww], { perm: [0, 3, 1, 2] });
    } else input = this.views.real(x);
    const attrs = {
      kernel_shape: [kh, kw],
      strides: [stride, stride],
      pads: [padding, padding, padding, padding],
      group: groups,
    };
    const y = this.g.emit('Conv', b ? [input, W, this.views.real(b)] : [input, W], [bs, out, oh, ow], attrs);
    const yn = this.g.emit('Transpose', [y], [bs, oh, ow, out], { perm: [0, 2, 3, 1] });
    return this.views.view(yn, transposeLayout(plainLayout(yn.shape), [0, 3, 1, 2]));
  }
  /** An op over the last axis, on the stored rows. */
  private rowwise(op: string, x: Tensor, extra: Value[], attrs: Record<string, AttrValue>): Tensor {
    const r = this.views.rowsOrReal(h(x));
    return this.views.fromRows(r, this.g.emit(op, [r.p, ...extra], r.p.shape, attrs));
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number) {
    const [g, b] = [this.views.real(gamma), this.views.real(beta)];
    if (this.opts.target !== 'web' || perSample(this.g, h(x).shape) < WEB_LAYERNORM_MIN)
      return this.rowwise('LayerNormalization', x, [g, b], { axis: -1, epsilon: { float: eps } });
    // (x − mean) · 1/√(var + eps) · γ + β over the last axis of the stored rows, two passes as PyTorch's; Reciprocal
    // and Mul rather than Div, so that ORT's LayerNorm fusion leaves it as it is
    const r = this.views.rowsOrReal(h(x));
    const s = r.p.shape; // (…, rows, C)
    const s1 = [...s.slice(0, -1), 1];
    const op = (type: string, inputs: Value[], shape = s, attrs?: Record<string, AttrValue>) =>
      this.g.emit(type, inputs, shape, attrs);
    const mean = (v: Value) => op('ReduceMean', [v], s1, { axes: [-1], keepdims: 1 });
    const d = op('Sub', [r.p, mean(r.p)]);
    const inv = op('Reciprocal', [op('Sqrt', [op('Add', [mean(op('Mul', [d, d])), this.g.scalar(eps)], s1)], s1)], s1);
    return this.views.fromRows(r, op('Add', [op('Mul', [op('Mul', [d, inv]), g]), b]));
  }
  softmax(x: Tensor) {
    return this.rowwise('Softmax', x, [], { axis: -1 });
  }

  reshape(x: Tensor, shape: number[]) {
    const X = h(x);
    const target = resolveShape(X.shape, shape);
    if (same(target, X.shape)) return x;
    if (isConst(X)) return t(this.g.constant(target, X.data, X.hint, X.weight));
    const l = reshapeLayout(layoutOf(X), target);
    // a reshape that cuts across permuted axes needs the transposed tensor first
    return l ? this.views.view(phys(X), l) : this.views.view(this.views.real(x), plainLayout(target));
  }

  transpose(x: Tensor, perm: number[]) {
    const X = h(x);
    const p = perm.map((a) => axisOf(X.shape.length, a));
    if (p.every((a, i) => a === i)) return x;
    if (isConst(X)) return this.fold([X], 'Transpose', F.transpose(dense(X), p));
    return this.views.view(phys(X), transposeLayout(layoutOf(X), p));
  }

  slice(x: Tensor, begin: number[], size: number[]) {
    const X = h(x);
    if (same(size, X.shape)) return x;
    if (isConst(X)) return this.fold([X], 'Slice', F.slice(dense(X), begin, size));
    const axes = X.shape.map((_, i) => i).filter((i) => begin[i] !== 0 || size[i] !== X.shape[i]);
    const g = this.g;
    const r = X.shape.length - 1;
    // a slice of channels (q, k, v out of qkv) works on the stored rows
    const rows = axes.length === 1 && axes[0] === r ? this.views.rows(X) : undefined;
    if (rows) {
      const [b0, b1] = [begin[r], begin[r] + size[r]];
      const parts = gemmChannels(this.views, rows, b0, b1);
      if (parts) return parts;
      const y = g.emit(
        'Slice',
        [rows.p, g.ints([b0]), g.ints([b1]), g.ints([-1])],
        [...rows.p.shape.slice(0, -1), size[r]],
      );
      return this.views.fromRows(rows, y);
    }
    for (const a of axes)
      if (g.isBatchDim(X.shape[a]))
        throw new Error(`slice along the batch axis ${a} cannot export with a dynamic batch`);
    return t(
      g.emit(
        'Slice',
        [
          this.views.real(x),
          g.ints(axes.map((a) => begin[a])),
          g.ints(axes.map((a) => begin[a] + size[a])),
          g.ints(axes),
        ],
        [...size],
      ),
    );
  }
  concat(xs: Tensor[], axis: number) {
    if (xs.length === 1) return xs[0];
    const H = xs.map(h);
    const ax = axisOf(H[0].shape.length, axis);
    if (H.every(isConst)) return this.fold(H as Value[], 'Concat', F.concat((H as Value[]).map(dense), ax));
    const pieces = xs.map((x) => this.views.real(x));
    const gathered = sliceGather(this.views, pieces, ax);
    if (gathered) return gathered;
    const shape = [...H[0].shape];
    shape[ax] = H.reduce((n, x) => n + x.shape[ax], 0);
    return t(this.g.emit('Concat', pieces, shape, { axis: ax }));
  }

  broadcastTo(x: Tensor, shape: number[]) {
    const X = this.views.real(x);
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
    const X = this.views.real(x);
    const ax = axisOf(X.shape.length, axis);
    if (X.data) return this.fold([X], 'Gather', F.gather(dense(X), indices, ax));
    const shape = [...X.shape];
    shape[ax] = indices.length;
    return t(this.g.emit('Gather', [X, this.g.ints([...indices])], shape, { axis: ax }));
  }
  interpolateLinear(x: Tensor, axis: number, size: number): Tensor {
    const X = h(x);
    const r = X.shape.length;
    const ax = axisOf(r, axis);
    const n = X.shape[ax];
    if (n === size) return x;
    // a constant (size, n) matrix on the resampled axis: one MatMul, no gathers
    // a vector as one row: the MatMuls below resample matrices
    if (r === 1) return this.reshape(this.interpolateLinear(this.reshape(x, [1, n]), 1, size), [size]);
    const m = t(this.g.constant([size, n], linearResampleMatrix(n, size), `interp(${n}→${size})`));
    if (ax === r - 2) return this.matmul(m, x);
    if (ax === r - 1) return this.matmul(x, m, true);
    const perm = [...X.shape.keys()].filter((i) => i !== ax);
    perm.splice(r - 2, 0, ax); // the resampled axis just before the last
    const inv = perm.map((_, i) => perm.indexOf(i));
    return this.transpose(this.matmul(m, this.transpose(x, perm)), inv);
  }
}

/** Contiguous elements a layout's Transpose moves at once: the source's last axis if it stays last, else 1. */
function innerBlock(l: Layout): number {
  const c = canonical(l);
  const n = c.dims.length;
  return n && c.perm[n - 1] === n - 1 ? c.dims[n - 1] : 1;
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
