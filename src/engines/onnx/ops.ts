import { toFloat32, type TensorData } from '../../core/tensor.js';
import type { Conv2dOptions, Ops, Tensor } from '../../ops/ops.js';
import { linearResampleMatrix } from '../../ops/resample.js';
import * as F from './fold.js';
import { BATCH_MARK, type Graph, type Value } from './graph.js';
import {
  canonical,
  groups,
  isPlain,
  plainLayout,
  reshapeLayout,
  rowTail,
  sameRows,
  transposeLayout,
  withLastAxis,
  type Layout,
} from './layout.js';
import type { AttrValue } from './proto.js';

/**
 * A tensor whose reshapes and transposes no node has needed yet: model code sees `shape`, the graph
 * holds `of`, and `layout` says how one reads as the other.
 */
interface View {
  readonly shape: number[];
  readonly of: Value;
  readonly layout: Layout;
}
type Handle = Value | View;

const h = (x: Tensor): Handle => x as unknown as Handle;
const t = (x: Handle): Tensor => x as unknown as Tensor;
const isView = (x: Handle): x is View => 'of' in x;
const phys = (x: Handle): Value => (isView(x) ? x.of : x);
const layoutOf = (x: Handle): Layout => (isView(x) ? x.layout : plainLayout(x.shape));
const isConst = (x: Handle): x is Value & { data: Float32Array } => !isView(x) && x.data !== undefined;
const last = (s: readonly number[]) => s[s.length - 1];
const axisOf = (rank: number, a: number) => (a < 0 ? a + rank : a);
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const sameLayout = (a: Layout, b: Layout) => same(a.dims, b.dims) && same(a.perm, b.perm) && same(a.shape, b.shape);
const dense = (x: Value): F.Dense => ({ shape: x.shape, data: x.data! });

/** Name of a constant computed from others: the first named input's name plus the op chain. */
function derived(inputs: Value[], op: string): string | undefined {
  const base = inputs.find((i) => i.hint && !i.hint.startsWith('scalar('))?.hint;
  return base && `${base}/${op}`;
}

/** A tensor as rows of its logical last axis: `p` holds them contiguously, `k` source axes make up a row. */
interface Rows {
  p: Value;
  k: number;
  layout: Layout;
}

/**
 * Ops that record an ONNX graph instead of computing. Anything whose inputs are all known at trace
 * time (weights, masks, bias tables, softplus temperatures, interpolation matrices) is computed here
 * and becomes one initializer; everything else becomes nodes in the forms ORT's CPU fusions match
 * (Gemm with its bias, the Erf GELU pattern, LayerNormalization, Transpose into FusedMatMul).
 * Reshapes and transposes are layouts (layout.ts) until a node needs the exact tensor: chains of them
 * cost at most one Transpose, and row-wise ops (Gemm, LayerNorm, Softmax, elementwise, last-axis
 * reductions and slices) run on the stored rows whatever order they are in, so the token stream stays
 * one 2-D (rows, C) tensor and window partitions fold into the head split.
 */
export class OnnxOps implements Ops {
  readonly engine = 'onnx';
  /** Nodes already emitted for a layout, by source value and layout. */
  private readonly cache = new Map<string, Value>();
  constructor(readonly g: Graph) {}

  private view(of: Value, layout: Layout): Tensor {
    return t(isPlain(layout) && same(layout.shape, of.shape) ? of : { shape: layout.shape, of, layout });
  }

  /** The tensor in its logical shape: the pending layout becomes Reshape → Transpose → Reshape, each only if needed. */
  real(x: Tensor): Value {
    const X = this.settle(h(x));
    return isView(X) ? this.reshaped(X.of, X.shape) : X;
  }

  /**
   * Carry out a layout's transposition, leaving only a plain reshape pending: the smallest Transpose of
   * the source split into its canonical axes, once per source and layout.
   */
  private settle(x: Handle): Handle {
    if (!isView(x)) return x;
    const c = canonical(x.layout);
    if (isPlain(c)) return x;
    const key = `T${x.of.id}:${c.dims}:${c.perm}`;
    let r = this.cache.get(key);
    if (!r) {
      const src = this.reshaped(x.of, c.dims);
      this.cache.set(
        key,
        (r = this.g.emit(
          'Transpose',
          [src],
          c.perm.map((i) => c.dims[i]),
          { perm: c.perm },
        )),
      );
    }
    return h(this.view(r, plainLayout(x.shape)));
  }

  /** Whether the tensor a layout stands for already exists, or costs no Transpose. */
  private cheap(of: Value, l: Layout): boolean {
    const c = canonical(l);
    return isPlain(c) || this.cache.has(`T${of.id}:${c.dims}:${c.perm}`);
  }

  /** `v` as `shape`: one Reshape node per source and shape, and a reshape of a reshape is one reshape. */
  private reshaped(v: Value, shape: number[]): Value {
    const src = v.producer?.op === 'Reshape' ? v.producer.inputs[0]! : v;
    if (same(src.shape, shape)) return src;
    const key = `R${src.id}:${shape}`;
    let r = this.cache.get(key);
    if (!r)
      this.cache.set(
        key,
        (r = this.g.emit('Reshape', [src, this.g.ints(this.reshapeTarget(src.shape, shape))], shape)),
      );
    return r;
  }

  /** The int64 target of a Reshape: static sizes, with −1 on the one axis that carries the batch. */
  private reshapeTarget(from: number[], to: number[]): number[] {
    const batched = to.filter((d) => this.g.isBatchDim(d)).length;
    if (batched > 1 || (batched === 0 && from.some((d) => this.g.isBatchDim(d)))) {
      throw new Error(
        `reshape (${this.g.exportShape(from)}) → (${this.g.exportShape(to)}) mixes the batch with other axes; this model cannot export with a dynamic batch`,
      );
    }
    return to.map((d) => (this.g.isBatchDim(d) ? -1 : d));
  }

  /** The stored rows of `x`, when its logical rows are contiguous there (whatever order the rows are in). */
  private rows(x: Handle, twoD = false): Rows | undefined {
    const layout = layoutOf(x);
    const k = rowTail(layout);
    if (k === undefined) return undefined;
    const c = last(x.shape);
    const of = phys(x);
    const p = !twoD && last(of.shape) === c ? of : this.reshaped(of, [F.sizeOf(of.shape) / c, c]);
    return { p, k, layout };
  }
  /** Rows of `x`, transposing it when they are not contiguous. */
  private rowsOrReal(x: Handle, twoD = false): Rows {
    return this.rows(x, twoD) ?? this.rows(this.settle(x), twoD)!;
  }
  /** The result of a row-wise op on `r`'s rows, in the input's row order. */
  private fromRows(r: Rows, y: Value): Tensor {
    return this.view(y, withLastAxis(r.layout, r.k, last(y.shape)));
  }

  private fold(inputs: Value[], op: string, r: F.Dense): Tensor {
    return t(this.g.constant(r.shape, r.data, derived(inputs, op)));
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
        return this.view(swap ? emit(s, p, p.shape) : emit(p, s, p.shape), layoutOf(x));
      }
    }
    // the same layout of same-shaped tensors (a head-split output meeting the DWC's): elementwise on the
    // stored tensors, as their canonical split
    if (same(A.shape, B.shape) && sameLayout(canonical(layoutOf(A)), canonical(layoutOf(B)))) {
      // equal canonical layouts order the elements the same way: one source read in the other's shape,
      // the flatter one, so that a residual stream stays 2-D
      const [pa, pb] = [phys(A), phys(B)];
      const [base, l] = pb.shape.length < pa.shape.length ? [pb, layoutOf(B)] : [pa, layoutOf(A)];
      const [x, y] = [this.reshaped(pa, base.shape), this.reshaped(pb, base.shape)];
      return this.view(emit(x, y, base.shape), l);
    }
    // a constant varying only along the last axis broadcasts over rows in any order
    for (const [c, x, swap] of [
      [B, A, false],
      [A, B, true],
    ] as const) {
      if (isConst(c) && c.shape.slice(0, -1).every((d) => d === 1) && same(shape, x.shape)) {
        const r = this.rows(x);
        if (!r) continue;
        const cv = c.shape.length === 1 ? c : this.g.constant([c.data.length], c.data, c.hint, c.weight);
        return this.fromRows(r, swap ? emit(cv, r.p, r.p.shape) : emit(r.p, cv, r.p.shape));
      }
    }
    // rows against rows in the same order (a residual meeting a Gemm output, a row by its norm),
    // as they are or once both are transposed into plain layouts
    if (A.shape.length === B.shape.length) {
      for (const [X, Y] of [
        [A, B],
        [this.settle(A), this.settle(B)],
      ]) {
        const [rx, ry] = [this.rows(X), this.rows(Y)];
        if (!rx || !ry || !sameRows(rx.layout, rx.k, ry.layout, ry.k)) continue;
        // bring both to 2-D rows when their stored shapes differ, so the stream stays flat from here on
        const flat = !same(rx.p.shape.slice(0, -1), ry.p.shape.slice(0, -1));
        const [px, py] = flat ? [this.rows(X, true)!.p, this.rows(Y, true)!.p] : [rx.p, ry.p];
        return this.fromRows(rx, emit(px, py, [...px.shape.slice(0, -1), last(shape)]));
      }
    }
    return t(emit(this.real(a), this.real(b), shape));
  }
  add(a: Tensor, b: Tensor) {
    return this.binary('Add', a, b, (x, y) => x + y, 0);
  }
  sub(a: Tensor, b: Tensor) {
    return this.binary('Sub', a, b, (x, y) => x - y, 0);
  }
  mul(a: Tensor, b: Tensor) {
    return (
      this.scaleChannels(a, b, (s) => s) ??
      this.scaleChannels(b, a, (s) => s) ??
      this.binary('Mul', a, b, (x, y) => x * y, 1)
    );
  }
  div(a: Tensor, b: Tensor) {
    const A = h(a);
    // 1/y as Reciprocal: ORT would fuse a Div(1, y) into the Mul that uses it, dividing the full-size
    // tensor (the normaliser z of linear attention) instead of multiplying it
    if (isConst(A) && A.data.length === 1 && A.data[0] === 1 && !isConst(h(b)) && A.shape.length <= h(b).shape.length)
      return this.unary('Reciprocal', b);
    return this.scaleChannels(a, b, (s) => 1 / s) ?? this.binary('Div', a, b, (x, y) => x / y, 1);
  }

  /**
   * x·s (or x / s) with s a constant per channel of the last axis, folded into the Linear that made x:
   * φ's division by the softplus temperature, (ReLU(x·Wᵀ + b) + ε) / σ, becomes ReLU(x·(W/σ)ᵀ + b/σ) + ε/σ
   * (σ > 0), which saves a full pass over the activations. Undefined when x does not come from a Gemm
   * through ops that commute with the scale.
   */
  private scaleChannels(a: Tensor, b: Tensor, f: (s: number) => number): Tensor | undefined {
    const [A, B] = [h(a), h(b)];
    if (!isConst(B) || isConst(A) || B.data.length < 2 || B.shape.length > A.shape.length) return undefined;
    if (last(B.shape) !== last(A.shape) || !B.shape.slice(0, -1).every((d) => d === 1)) return undefined;
    const r = this.rows(A);
    const y = r && this.pushScale(r.p, B.data.map(f));
    return y && this.fromRows(r, y);
  }

  /**
   * `v`·s along its last axis, computed by rewriting v's producers; undefined where that is not possible.
   * `readers`: the nodes already reading v that the rewrite replaces (its caller's node, when recursing). Any
   * other reader would keep the original chain alive beside the rewritten one and compute the Gemm twice.
   */
  private pushScale(v: Value, s: Float32Array, readers = 0): Value | undefined {
    const node = v.producer;
    if (!node || last(v.shape) !== s.length || this.g.consumers(v) > readers) return undefined;
    const g = this.g;
    const ins = node.inputs as Value[];
    switch (node.op) {
      case 'Gemm': {
        // scaling output channel j scales row j of the (out, in) weight and bias j
        const [x, w, bias] = ins;
        if (node.attrs?.transB !== 1 || !bias || !scalable(w) || !scalable(bias)) return undefined;
        const scaled = (t: Value) => {
          const rows = [t.shape[0], ...t.shape.slice(1).map(() => 1)];
          // a state_dict tensor: folded now, into an initializer named after it; q or k rows of a qkv weight:
          // a Mul after the Slice, which ORT folds at load, so the file keeps one copy of the weight
          if (t.data)
            return this.real(
              this.fold(
                [t],
                'Mul',
                F.binary(dense(t), { shape: rows, data: s }, (a, b) => a * b),
              ),
            );
          return g.emit('Mul', [t, g.constant(rows, s, `scale(${s.length})`)], t.shape);
        };
        return g.emit('Gemm', [x, scaled(w), scaled(bias)], v.shape, node.attrs);
      }
      case 'Relu': {
        if (!s.every((c) => c > 0)) return undefined;
        const z = this.pushScale(ins[0], s, 1);
        return z && g.emit('Relu', [z], v.shape);
      }
      case 'Add':
      case 'Sub': {
        // (z ± c)·s = z·s ± c·s with c a constant (a scalar ε, a position encoding)
        const k = ins.findIndex((i) => constantOf(i) !== undefined);
        const c = k < 0 ? undefined : constantOf(ins[k]);
        if (!c || ins[1 - k].shape.length !== v.shape.length || !same(ins[1 - k].shape, v.shape)) return undefined;
        const cs = c.data.length === 1 ? [s.length] : ins[k].shape;
        if (c.data.length > 1 && last(cs) !== s.length) return undefined;
        const z = this.pushScale(ins[1 - k], s, 1);
        if (!z) return undefined;
        const data = new Float32Array(F.sizeOf(cs)).map(
          (_, i) => c.data[c.data.length === 1 ? 0 : i] * s[i % s.length],
        );
        const scaled = g.constant(cs, data, derived([c], 'Mul'));
        return g.emit(node.op, k === 0 ? [scaled, z] : [z, scaled], v.shape);
      }
      case 'Reshape': {
        // a reshape that keeps the channel axis (rows made 3-D for a broadcast)
        const z = last(ins[0].shape) === s.length ? this.pushScale(ins[0], s, 1) : undefined;
        return z && g.emit('Reshape', [z, ins[1]], v.shape);
      }
      default:
        return undefined;
    }
  }

  private unary(op: string, x: Tensor, f?: (x: number) => number): Tensor {
    const X = h(x);
    if (f && isConst(X)) return this.fold([X], op, F.unary(dense(X), f));
    // elementwise: any layout
    const p = phys(X);
    return this.view(this.g.emit(op, [p], p.shape), layoutOf(X));
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
    return this.view(this.g.emit('Pow', [ph, this.g.scalar(p)], ph.shape), layoutOf(X));
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
    const r = ax.length === 1 && ax[0] === X.shape.length - 1 ? this.rows(X) : undefined;
    const y = r ? this.fromRows(r, emit(r.p, [-1], [...r.p.shape.slice(0, -1), 1])) : t(emit(this.real(x), ax, kept));
    return keepDims
      ? y
      : this.reshape(
          y,
          X.shape.filter((_, i) => !ax.includes(i)),
        );
  }
  sum(x: Tensor, axes: number[], keepDims = false) {
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
      const y = this.meanOfSource(X, r - 2, ones) ?? this.matmul(ones, x);
      return keepDims
        ? y
        : this.reshape(
            y,
            X.shape.filter((_, i) => i !== r - 2),
          );
    }
    return this.reduce('ReduceMean', x, axes, keepDims, true);
  }
  /**
   * The mean over logical axis `a` of a view whose axis is one run of source axes (k split into heads,
   * (B, h, N, d) over the stored (B·N, C) rows), taken on the source: the GEMV reads the rows as they are
   * stored and the heads' Transpose is never needed. The result keeps the view's layout, `a` now size 1.
   */
  private meanOfSource(X: Handle, a: number, ones: Tensor): Tensor | undefined {
    if (!isView(X)) return undefined;
    const l = X.layout;
    const [s, e] = groups(l)[a];
    const src = l.perm.slice(s, e);
    if (!src.length || src.some((f, i) => f !== src[0] + i)) return undefined;
    const [f0, f1] = [src[0], src[src.length - 1] + 1];
    const inner = F.sizeOf(l.dims.slice(f1));
    const outer = F.sizeOf(l.dims.slice(0, f0));
    const n = F.sizeOf(l.dims.slice(f0, f1));
    const rows = this.reshaped(X.of, outer === 1 ? [n, inner] : [outer, n, inner]);
    const y = this.g.emit('MatMul', [this.real(ones), rows], outer === 1 ? [1, inner] : [outer, 1, inner]);
    // the source axes [f0, f1) are gone: renumber the rest
    const dims = [...l.dims.slice(0, f0), ...l.dims.slice(f1)];
    const perm = l.perm.filter((_, i) => i < s || i >= e).map((f) => (f >= f1 ? f - (f1 - f0) : f));
    const shape = l.shape.map((d, i) => (i === a ? 1 : d));
    return this.view(y, { dims, perm, shape });
  }

  l2norm(x: Tensor) {
    const X = h(x);
    if (isConst(X)) return this.sqrt(this.sum(this.mul(x, x), [-1], true));
    return this.reduce('ReduceL2', x, [-1], true, true);
  }

  matmul(a: Tensor, b: Tensor, transposeB = false) {
    const [A, sa] = this.unscaled(a);
    const [B, sb] = this.unscaled(transposeB ? this.transpose(b, swapLast(h(b).shape.length)) : b);
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

  /** A tensor scaled by a constant, as the unscaled tensor (in the same layout) and the factor. */
  private unscaled(x: Tensor): [Tensor, number] {
    const X = h(x);
    const mul = phys(X).producer;
    if (mul?.op !== 'Mul') return [x, 1];
    const [p, q] = mul.inputs as Value[];
    const [src, c] = q.data?.length === 1 ? [p, q] : p.data?.length === 1 ? [q, p] : [];
    if (!src || !c || !same(src.shape, phys(X).shape)) return [x, 1];
    return [isView(X) ? this.view(src, X.layout) : t(src), c.data![0]];
  }
  /**
   * A MatMul input. When it is the last-two-axes transpose of a tensor that exists already (kᵀ of
   * the k that fed the mean) or needs no Transpose, that tensor plus a swapping Transpose, which ORT
   * folds into FusedMatMul(transA/transB): the transposition costs nothing.
   */
  private operand(x: Tensor): Value {
    const X = h(x);
    if (isView(X) && X.shape.length >= 2 && !this.cheap(X.of, X.layout)) {
      const swap = swapLast(X.shape.length);
      const inner = transposeLayout(X.layout, swap);
      // also when the swapped tensor moves whole blocks (k as heads) and this one single elements (kᵀ)
      if (this.cheap(X.of, inner) || innerBlock(inner) > innerBlock(X.layout)) {
        const y = this.real(this.view(X.of, inner));
        return this.g.emit(
          'Transpose',
          [y],
          swap.map((i) => y.shape[i]),
          { perm: swap },
        );
      }
    }
    return this.real(x);
  }

  linear(x: Tensor, w: Tensor, b?: Tensor) {
    const X = h(x);
    const W = this.real(w);
    const [out, inF] = W.shape;
    if (last(X.shape) !== inF) throw new Error(`linear: input has ${last(X.shape)} features, weight takes ${inF}`);
    // Gemm on 2-D rows, in whatever order they are stored; Gemm(transB) keeps the (out, in) weight as it
    // is stored under its state_dict key and prepacks it once. (ORT writes the bias into the output and then
    // accumulates onto it; MatMul + BiasGelu for fc1 → GELU avoids that but measured slower on Swin-T, as
    // ORT's BiasGelu kernel costs more than its Gelu.)
    const r = this.rowsOrReal(X, true);
    return this.fromRows(
      r,
      this.g.emit('Gemm', b ? [r.p, W, this.real(b)] : [r.p, W], [r.p.shape[0], out], { transB: 1 }),
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
    const W = this.real(w);
    const [bs, c, hh, ww] = X.shape;
    const [out, inPer, kh, kw] = W.shape;
    if (c !== inPer * groups) throw new Error(`conv2d: input has ${c} channels, weight takes ${inPer * groups}`);
    const oh = Math.floor((hh + 2 * padding - kh) / stride) + 1;
    const ow = Math.floor((ww + 2 * padding - kw) / stride) + 1;
    const nhwc = h(this.transpose(x, [0, 2, 3, 1]));
    let input: Value;
    if (isView(X) && rowTail(layoutOf(nhwc)) !== undefined) {
      const src = this.real(t(nhwc));
      input = this.g.emit('Transpose', [src], [bs, c, hh, ww], { perm: [0, 3, 1, 2] });
    } else input = this.real(x);
    const attrs = {
      kernel_shape: [kh, kw],
      strides: [stride, stride],
      pads: [padding, padding, padding, padding],
      group: groups,
    };
    const y = this.g.emit('Conv', b ? [input, W, this.real(b)] : [input, W], [bs, out, oh, ow], attrs);
    const yn = this.g.emit('Transpose', [y], [bs, oh, ow, out], { perm: [0, 2, 3, 1] });
    return this.view(yn, transposeLayout(plainLayout(yn.shape), [0, 3, 1, 2]));
  }
  /** An op over the last axis, on the stored rows. */
  private rowwise(op: string, x: Tensor, extra: Value[], attrs: Record<string, AttrValue>): Tensor {
    const r = this.rowsOrReal(h(x));
    return this.fromRows(r, this.g.emit(op, [r.p, ...extra], r.p.shape, attrs));
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number) {
    return this.rowwise('LayerNormalization', x, [this.real(gamma), this.real(beta)], {
      axis: -1,
      epsilon: { float: eps },
    });
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
    return l ? this.view(phys(X), l) : this.view(this.real(x), plainLayout(target));
  }

  transpose(x: Tensor, perm: number[]) {
    const X = h(x);
    const p = perm.map((a) => axisOf(X.shape.length, a));
    if (p.every((a, i) => a === i)) return x;
    if (isConst(X)) return this.fold([X], 'Transpose', F.transpose(dense(X), p));
    return this.view(phys(X), transposeLayout(layoutOf(X), p));
  }

  slice(x: Tensor, begin: number[], size: number[]) {
    const X = h(x);
    if (same(size, X.shape)) return x;
    if (isConst(X)) return this.fold([X], 'Slice', F.slice(dense(X), begin, size));
    const axes = X.shape.map((_, i) => i).filter((i) => begin[i] !== 0 || size[i] !== X.shape[i]);
    const g = this.g;
    const r = X.shape.length - 1;
    // a slice of channels (q, k, v out of qkv) works on the stored rows
    const rows = axes.length === 1 && axes[0] === r ? this.rows(X) : undefined;
    if (rows) {
      const [b0, b1] = [begin[r], begin[r] + size[r]];
      const gemm = rows.p.producer;
      if (gemm?.op === 'Gemm' && gemm.inputs[1]!.data) {
        // q, k, v out of one qkv Linear: a Gemm on the weight's rows each, which ORT slices at load time
        // (constant folding), so the file keeps the state_dict weight and no Split copies the outputs
        const part = (v: Value, axis: number) =>
          g.emit(
            'Slice',
            [v, g.ints([b0]), g.ints([b1]), g.ints([axis])],
            v.shape.map((d, i) => (i === axis ? b1 - b0 : d)),
          );
        const [a, w, bias] = gemm.inputs as Value[];
        const inputs = bias ? [a, part(w, 0), part(bias, 0)] : [a, part(w, 0)];
        return this.fromRows(rows, g.emit('Gemm', inputs, [rows.p.shape[0], b1 - b0], { transB: 1 }));
      }
      const y = g.emit(
        'Slice',
        [rows.p, g.ints([b0]), g.ints([b1]), g.ints([-1])],
        [...rows.p.shape.slice(0, -1), size[r]],
      );
      return this.fromRows(rows, y);
    }
    for (const a of axes)
      if (g.isBatchDim(X.shape[a]))
        throw new Error(`slice along the batch axis ${a} cannot export with a dynamic batch`);
    return t(
      g.emit(
        'Slice',
        [this.real(x), g.ints(axes.map((a) => begin[a])), g.ints(axes.map((a) => begin[a] + size[a])), g.ints(axes)],
        [...size],
      ),
    );
  }
  concat(xs: Tensor[], axis: number) {
    if (xs.length === 1) return xs[0];
    const H = xs.map(h);
    const ax = axisOf(H[0].shape.length, axis);
    if (H.every(isConst)) return this.fold(H as Value[], 'Concat', F.concat((H as Value[]).map(dense), ax));
    const pieces = xs.map((x) => this.real(x));
    const gathered = this.sliceGather(pieces, ax);
    if (gathered) return gathered;
    const shape = [...H[0].shape];
    shape[ax] = H.reduce((n, x) => n + x.shape[ax], 0);
    return t(this.g.emit('Concat', pieces, shape, { axis: ax }));
  }

  /**
   * Pieces sliced out of one tensor along the concat axis (torch.roll: Swin's cyclic shift) are one Gather
   * of that tensor, one pass instead of a Slice per piece and a Concat. A roll over rows then columns
   * (a gather on the axis just before) becomes one gather over both axes together.
   */
  private sliceGather(pieces: Value[], ax: number): Tensor | undefined {
    let src: Value | undefined;
    const idx: number[] = [];
    for (const p of pieces) {
      const s = p.producer;
      if (s?.op !== 'Slice' || (src && s.inputs[0] !== src)) return undefined;
      src = s.inputs[0]!;
      const [starts, ends, axes] = (s.inputs.slice(1) as Value[]).map((v) => v.ints!);
      if (axes.length !== 1 || axisOf(src.shape.length, axes[0]) !== ax) return undefined;
      for (let i = starts[0]; i < ends[0]; i++) idx.push(i);
    }
    if (!src) return undefined;
    const shape = [...src.shape];
    shape[ax] = idx.length;
    const prev = src.producer;
    if (prev?.op === 'Gather' && prev.attrs?.axis === ax - 1) {
      // rows i of the first gather and columns j of this one: element (i, j) of the merged axis is i·W + j
      const [base, first] = prev.inputs as Value[];
      const w = base.shape[ax];
      const merged = first.ints!.flatMap((i) => idx.map((j) => i * w + j));
      const flat = [...base.shape.slice(0, ax - 1), base.shape[ax - 1] * w, ...base.shape.slice(ax + 1)];
      const out = [...flat];
      out[ax - 1] = merged.length;
      const y = this.g.emit('Gather', [this.reshaped(base, flat), this.g.ints(merged)], out, { axis: ax - 1 });
      return this.view(y, plainLayout(shape));
    }
    return t(this.g.emit('Gather', [src, this.g.ints(idx)], shape, { axis: ax }));
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

/** Contiguous elements a layout's Transpose moves at once: the source's last axis if it stays last, else 1. */
function innerBlock(l: Layout): number {
  const c = canonical(l);
  const n = c.dims.length;
  return n && c.perm[n - 1] === n - 1 ? c.dims[n - 1] : 1;
}

/** A Gemm weight or bias known at trace time: a constant, or rows a Slice takes of one (q, k, v of qkv). */
const scalable = (v: Value) =>
  v.data !== undefined || (v.producer?.op === 'Slice' && v.producer.inputs[0]!.data !== undefined);

/** The constant a value holds: itself, or the constant a Reshape node reads (a broadcast table made 2-D). */
function constantOf(v: Value): (Value & { data: Float32Array }) | undefined {
  const src = v.producer?.op === 'Reshape' ? v.producer.inputs[0]! : v;
  return src.data ? (src as Value & { data: Float32Array }) : undefined;
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
