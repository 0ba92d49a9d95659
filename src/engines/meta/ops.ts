import { broadcastShapes, type TensorData } from '../../core/tensor.js';
import { linearAttention } from '../../ops/linear_attention.js';
import type { Conv2dOptions, Ops, Tensor } from '../../ops/ops.js';

/** A tensor of the meta engine: a shape and nothing else. */
interface Meta {
  shape: number[];
}

const m = (x: Tensor): Meta => x as unknown as Meta;
const of = (shape: number[]): Tensor => ({ shape }) as unknown as Tensor;
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const norm = (rank: number, a: number) => (a < 0 ? a + rank : a);

/**
 * Shape-only engine: runs a forward without numbers, checks every shape and counts the multiply-accumulates
 * of conv, linear and matmul (norms, activations, softmax, elementwise ops and interpolation are free).
 */
export class MetaOps implements Ops {
  readonly engine = 'meta';
  macs = 0;

  shape(x: Tensor) {
    return [...m(x).shape];
  }
  constant(d: TensorData) {
    return of([...d.shape]);
  }
  scalar() {
    return of([]);
  }
  private ew(a: Tensor, b: Tensor) {
    return of(broadcastShapes(m(a).shape, m(b).shape));
  }
  add(a: Tensor, b: Tensor) {
    return this.ew(a, b);
  }
  sub(a: Tensor, b: Tensor) {
    return this.ew(a, b);
  }
  mul(a: Tensor, b: Tensor) {
    return this.ew(a, b);
  }
  div(a: Tensor, b: Tensor) {
    return this.ew(a, b);
  }
  private same(x: Tensor) {
    return of([...m(x).shape]);
  }
  pow(x: Tensor) {
    return this.same(x);
  }
  sqrt(x: Tensor) {
    return this.same(x);
  }
  abs(x: Tensor) {
    return this.same(x);
  }
  relu(x: Tensor) {
    return this.same(x);
  }
  gelu(x: Tensor) {
    return this.same(x);
  }
  softplus(x: Tensor) {
    return this.same(x);
  }
  softmax(x: Tensor) {
    return this.same(x);
  }
  layerNorm(x: Tensor) {
    return this.same(x);
  }
  private reduce(x: Tensor, axes: number[], keepDims = false) {
    const s = m(x).shape;
    const ax = axes.map((a) => norm(s.length, a));
    return of(keepDims ? s.map((d, i) => (ax.includes(i) ? 1 : d)) : s.filter((_, i) => !ax.includes(i)));
  }
  sum(x: Tensor, axes: number[], keepDims?: boolean) {
    return this.reduce(x, axes, keepDims);
  }
  mean(x: Tensor, axes: number[], keepDims?: boolean) {
    return this.reduce(x, axes, keepDims);
  }
  l2norm(x: Tensor) {
    return this.reduce(x, [-1], true);
  }
  matmul(a: Tensor, b: Tensor, transposeB = false) {
    const sa = m(a).shape;
    const sb = m(b).shape;
    const [mm, k] = sa.slice(-2);
    const [k2, n] = transposeB ? [sb[sb.length - 1], sb[sb.length - 2]] : sb.slice(-2);
    if (k !== k2) throw new Error(`matmul: inner dims ${k} and ${k2} differ`);
    const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2));
    this.macs += prod(batch) * mm * k * n;
    return of([...batch, mm, n]);
  }
  linearAttention(q: Tensor, k: Tensor, v: Tensor) {
    return linearAttention(this, q, k, v);
  }
  linear(x: Tensor, w: Tensor) {
    const s = m(x).shape;
    const [out, inF] = m(w).shape;
    if (s[s.length - 1] !== inF) throw new Error(`linear: input has ${s[s.length - 1]} features, weight takes ${inF}`);
    this.macs += prod(s.slice(0, -1)) * inF * out;
    return of([...s.slice(0, -1), out]);
  }
  conv2d(x: Tensor, w: Tensor, _b: Tensor | undefined, opts: Conv2dOptions = {}) {
    const { stride = 1, padding = 0, groups = 1 } = opts;
    const [b, c, hh, ww] = m(x).shape;
    const [out, inPer, kh, kw] = m(w).shape;
    if (c !== inPer * groups) throw new Error(`conv2d: input has ${c} channels, weight takes ${inPer * groups}`);
    const oh = Math.floor((hh + 2 * padding - kh) / stride) + 1;
    const ow = Math.floor((ww + 2 * padding - kw) / stride) + 1;
    this.macs += b * out * oh * ow * inPer * kh * kw;
    return of([b, out, oh, ow]);
  }
  reshape(x: Tensor, shape: number[]) {
    const n = prod(m(x).shape);
    const known = prod(shape.filter((d) => d !== -1));
    const out = shape.map((d) => (d === -1 ? n / known : d));
    if (prod(out) !== n) throw new Error(`reshape: (${m(x).shape}) cannot become (${shape})`);
    return of(out);
  }
  transpose(x: Tensor, perm: number[]) {
    const s = m(x).shape;
    return of(perm.map((p) => s[norm(s.length, p)]));
  }
  slice(x: Tensor, begin: number[], size: number[]) {
    const s = m(x).shape;
    size.forEach((d, i) => {
      if (begin[i] + d > s[i]) throw new Error(`slice: [${begin}]+[${size}] exceeds (${s})`);
    });
    return of([...size]);
  }
  concat(xs: Tensor[], axis: number) {
    const s = [...m(xs[0]).shape];
    const ax = norm(s.length, axis);
    s[ax] = xs.reduce((a, x) => a + m(x).shape[ax], 0);
    return of(s);
  }
  broadcastTo(_x: Tensor, shape: number[]) {
    return of([...shape]);
  }
  gather(x: Tensor, indices: Int32Array, axis: number) {
    const s = [...m(x).shape];
    s[norm(s.length, axis)] = indices.length;
    return of(s);
  }
  interpolateLinear(x: Tensor, axis: number, size: number) {
    const s = [...m(x).shape];
    s[norm(s.length, axis)] = size;
    return of(s);
  }
}
