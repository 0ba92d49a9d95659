/**
 * Rewrites of nodes already written: each looks back at the producers of an op's inputs and, where a
 * pattern matches, writes an equivalent but cheaper subgraph instead of the node the op would add. The
 * replaced nodes stay in the graph unread and are dropped when it is serialized. Every rewrite returns
 * undefined where it does not apply, and its caller then writes the plain node.
 */
import { keyValues } from '../../ops/linear_attention.js';
import type { Ops, Tensor } from '../../ops/ops.js';
import * as F from './fold.js';
import type { Value } from './graph.js';
import { groups, perRowLayout, plainLayout, type Layout } from './layout.js';
import {
  axisOf,
  dense,
  h,
  isConst,
  isView,
  last,
  layoutOf,
  phys,
  same,
  t,
  type Constant,
  type Handle,
  type Rows,
  type Views,
} from './views.js';

/**
 * x·s (or x / s, `f` maps the constant to the factor) with s a constant per channel of the last axis.
 * Matches: x computed from a Gemm through ReLU, a constant shift and channel-keeping reshapes, none of
 * them read by another node. Exact: the scale moves into the Gemm's weight rows and bias,
 * (ReLU(x·Wᵀ + b) + ε)·s = ReLU(x·(sW)ᵀ + sb) + εs for s > 0. Saves a full pass over the activations
 * (φ's division by the softplus temperature).
 */
export function scaleChannels(views: Views, a: Tensor, b: Tensor, f: (s: number) => number): Tensor | undefined {
  const [A, B] = [h(a), h(b)];
  if (!isConst(B) || isConst(A) || B.data.length < 2 || B.shape.length > A.shape.length) return undefined;
  if (last(B.shape) !== last(A.shape) || !B.shape.slice(0, -1).every((d) => d === 1)) return undefined;
  const r = views.rows(A);
  const y = r && pushScale(views, r.p, B.data.map(f));
  return y && views.fromRows(r, y);
}

/**
 * `v`·s along its last axis, computed by rewriting v's producers; undefined where that is not possible.
 * `readers`: the nodes already reading v that the rewrite replaces (its caller's node, when recursing). Any
 * other reader would keep the original chain alive beside the rewritten one and compute the Gemm twice.
 */
function pushScale(views: Views, v: Value, s: Float32Array, readers = 0): Value | undefined {
  const { g } = views;
  const node = v.producer;
  if (!node || last(v.shape) !== s.length || g.consumers(v) > readers) return undefined;
  const ins = node.inputs as Value[];
  switch (node.op) {
    case 'Gemm': {
      // scaling output channel j scales row j of the (out, in) weight and bias j
      const [x, w, bias] = ins;
      if (node.attrs?.transB !== 1 || !bias || !scalable(w) || !scalable(bias)) return undefined;
      const scaled = (c: Value) => {
        const rows = [c.shape[0], ...c.shape.slice(1).map(() => 1)];
        // a state_dict tensor: folded now, into an initializer named after it; q or k rows of a qkv weight:
        // a Mul after the Slice, which ORT folds at load, so the file keeps one copy of the weight
        if (c.data)
          return g.folded(
            [c],
            'Mul',
            F.binary(dense(c), { shape: rows, data: s }, (x, y) => x * y),
          );
        return g.emit('Mul', [c, g.constant(rows, s, `scale(${s.length})`)], c.shape);
      };
      return g.emit('Gemm', [x, scaled(w), scaled(bias)], v.shape, node.attrs);
    }
    case 'Relu': {
      if (!s.every((c) => c > 0)) return undefined;
      const z = pushScale(views, ins[0], s, 1);
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
      const z = pushScale(views, ins[1 - k], s, 1);
      if (!z) return undefined;
      const data = new Float32Array(F.sizeOf(cs)).map((_, i) => c.data[c.data.length === 1 ? 0 : i] * s[i % s.length]);
      const scaled = g.folded([c], 'Mul', { shape: cs, data });
      return g.emit(node.op, k === 0 ? [scaled, z] : [z, scaled], v.shape);
    }
    case 'Reshape': {
      // a reshape that keeps the channel axis (rows made 3-D for a broadcast)
      const z = last(ins[0].shape) === s.length ? pushScale(views, ins[0], s, 1) : undefined;
      return z && g.emit('Reshape', [z, ins[1]], v.shape);
    }
    default:
      return undefined;
  }
}

/** A Gemm weight or bias known at trace time: a constant, or rows a Slice takes of one (q, k, v of qkv). */
const scalable = (v: Value) =>
  v.data !== undefined || (v.producer?.op === 'Slice' && v.producer.inputs[0]!.data !== undefined);

/** The constant a value holds: itself, or the constant a Reshape node reads (a broadcast table made 2-D). */
function constantOf(v: Value): Constant | undefined {
  const src = v.producer?.op === 'Reshape' ? v.producer.inputs[0]! : v;
  return src.data ? (src as Constant) : undefined;
}

/**
 * A MatMul operand as the unscaled tensor (in the same layout) and its factor. Matches: a Mul by a
 * scalar constant. Exact: (c·a)·b = c·(a·b). Saves nothing by itself; the caller puts the factor on the
 * product, next to the MatMul, where ORT folds it into FusedMatMul's alpha instead of running the Mul.
 */
export function unscaled(views: Views, x: Tensor): [Tensor, number] {
  const X = h(x);
  const mul = phys(X).producer;
  if (mul?.op !== 'Mul') return [x, 1];
  const [p, q] = mul.inputs as Value[];
  const [src, c] = q.data?.length === 1 ? [p, q] : p.data?.length === 1 ? [q, p] : [];
  if (!src || !c || !same(src.shape, phys(X).shape)) return [x, 1];
  return [isView(X) ? views.view(src, X.layout) : t(src), c.data![0]];
}

/**
 * The mean over logical axis `a` as the GEMV `ones`·x (`ones` (1, n) of 1/n), taken on the source of a
 * view. Matches: a view whose axis `a` is one run of source axes (k split into heads, (B, h, N, d) over
 * the stored (B·N, C) rows). Exact: the GEMV reads the same elements, in the stored order. Saves the
 * heads' Transpose, which no other node needs. The result keeps the view's layout, `a` now size 1.
 */
export function meanOfSource(views: Views, X: Handle, a: number, ones: Tensor): Tensor | undefined {
  if (!isView(X)) return undefined;
  const l = X.layout;
  const [s, e] = groups(l)[a];
  const src = l.perm.slice(s, e);
  if (!src.length || src.some((f, i) => f !== src[0] + i)) return undefined;
  const [f0, f1] = [src[0], src[src.length - 1] + 1];
  const inner = F.sizeOf(l.dims.slice(f1));
  const outer = F.sizeOf(l.dims.slice(0, f0));
  const n = F.sizeOf(l.dims.slice(f0, f1));
  const rows = views.reshaped(X.of, outer === 1 ? [n, inner] : [outer, n, inner]);
  const y = views.g.emit('MatMul', [views.real(ones), rows], outer === 1 ? [1, inner] : [outer, 1, inner]);
  // the source axes [f0, f1) are gone: renumber the rest
  const dims = [...l.dims.slice(0, f0), ...l.dims.slice(f1)];
  const perm = l.perm.filter((_, i) => i < s || i >= e).map((f) => (f >= f1 ? f - (f1 - f0) : f));
  const shape = l.shape.map((d, i) => (i === a ? 1 : d));
  return views.view(y, { dims, perm, shape } satisfies Layout);
}

/**
 * Channels [b0, b1) of a Linear's output rows. Matches: rows written by a Gemm whose weight is a
 * constant (q, k, v out of one qkv Linear). Exact: output channel j depends only on weight row j and
 * bias j. Saves the Split copy of the outputs: each part is a Gemm on Slices of the weight and bias,
 * which ORT computes at load (constant folding), so the file keeps the one state_dict weight.
 */
export function gemmChannels(views: Views, rows: Rows, b0: number, b1: number): Tensor | undefined {
  const { g } = views;
  const gemm = rows.p.producer;
  if (gemm?.op !== 'Gemm' || !gemm.inputs[1]!.data) return undefined;
  const part = (v: Value, axis: number) =>
    g.emit(
      'Slice',
      [v, g.ints([b0]), g.ints([b1]), g.ints([axis])],
      v.shape.map((d, i) => (i === axis ? b1 - b0 : d)),
    );
  const [a, w, bias] = gemm.inputs as Value[];
  const inputs = bias ? [a, part(w, 0), part(bias, 0)] : [a, part(w, 0)];
  return views.fromRows(rows, g.emit('Gemm', inputs, [rows.p.shape[0], b1 - b0], { transB: 1 }));
}

/**
 * A concat along `ax` of `pieces` as one Gather. Matches: pieces that are all Slices of one tensor along
 * `ax` (torch.roll: Swin's cyclic shift), and, when that tensor is itself a Gather on the axis just before,
 * both gathers together (a roll over rows then columns). Exact: a gather of the concatenated index lists
 * picks the same elements; for two gathers, element (i, j) of the merged axis is i·W + j. Saves a Slice
 * per piece and the Concat, one pass instead of two (or, merged, one of four).
 */
export function sliceGather(views: Views, pieces: Value[], ax: number): Tensor | undefined {
  const { g } = views;
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
    const [base, first] = prev.inputs as Value[];
    const w = base.shape[ax];
    const merged = first.ints!.flatMap((i) => idx.map((j) => i * w + j));
    const flat = [...base.shape.slice(0, ax - 1), base.shape[ax - 1] * w, ...base.shape.slice(ax + 1)];
    const out = [...flat];
    out[ax - 1] = merged.length;
    const y = g.emit('Gather', [views.reshaped(base, flat), g.ints(merged)], out, { axis: ax - 1 });
    return views.view(y, plainLayout(shape));
  }
  return t(g.emit('Gather', [src, g.ints(idx)], shape, { axis: ax }));
}

/**
 * Linear attention (see `Ops.linearAttention`) on queries that are rows times one factor per row, q = s·u:
 * φ(q) = f_p(·), whose last step scales each token's row u^p by ‖·‖/‖u^p‖. Matches: q (B, h, N, d) a view
 * of a Mul of rows (R, C) by a factor (R, 1), with q's last axis inside a row (the heads split off the
 * channels), so that s is one number per query. Exact: s cancels between the numerator and the normaliser
 * except against the 1e-6, so O = (u·M)·s / (s·(u·mean(K)) + 1e-6). Saves the full-size Mul that forms
 * s·u: the factor meets only the (B, h, N, 1) normaliser, and the Mul is dropped unless something else
 * reads it.
 */
export function rowScaledAttention(ops: Ops, views: Views, q: Tensor, k: Tensor, v: Tensor): Tensor | undefined {
  const Q = h(q);
  const mul = phys(Q).producer;
  if (mul?.op !== 'Mul') return undefined;
  const c = last(phys(Q).shape);
  const [u, s] = [...(mul.inputs as Value[])].sort((a, b) => last(b.shape) - last(a.shape)); // (R, C), (R, 1)
  if (c === 1 || !same(u.shape, phys(Q).shape) || !same(s.shape, [...u.shape.slice(0, -1), 1])) return undefined;
  const l = perRowLayout(layoutOf(Q), c);
  if (!l || last(l.shape) !== 1) return undefined;
  const dir = views.view(u, layoutOf(Q)); // (B, h, N, d)
  const f = views.view(s, l); // (B, 1, N, 1)
  const kMean = ops.mean(k, [2], true); // (B, h, 1, d)
  const qk = ops.matmul(dir, kMean, true); // (B, h, N, 1)
  const z = ops.div(f, ops.add(ops.mul(qk, f), ops.scalar(1e-6))); // (B, h, N, 1)
  return ops.mul(ops.matmul(dir, keyValues(ops, k, v)), z);
}
