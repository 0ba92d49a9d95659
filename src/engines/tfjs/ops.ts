import * as tf from '@tensorflow/tfjs';
import { broadcastShapes, sizeOf, type TensorData } from '../../core/tensor.js';
import { linearAttention } from '../../ops/linear_attention.js';
import type { Conv2dOptions, Ops, Tensor } from '../../ops/ops.js';
import { linearResampleMatrix } from '../../ops/resample.js';

type T = tf.Tensor;
const t = (x: Tensor): T => x as unknown as T;
const h = (x: T): Tensor => x as unknown as Tensor;
const axisOf = (x: T, a: number) => (a < 0 ? a + x.rank : a);

/** x with its last two axes swapped: (…, m, n) → (…, n, m). */
export function swapLast(x: T): T {
  const perm = [...x.shape.keys()];
  perm.push(...perm.splice(-2).reverse());
  return tf.transpose(x, perm);
}

/**
 * Whether tf.matMul broadcasts these batches right. tfjs 4.22's BatchMatMul (wasm and cpu) flattens each side's
 * batch and indexes the smaller one modulo its size: numpy broadcasting only when one side holds the whole batch
 * and the other, less its leading 1s, is a trailing suffix of it (or nothing). Otherwise the result has the
 * broadcast shape but holds only the larger side's count of products, or pairs the wrong matrices.
 */
function stockBroadcasts(ba: number[], bb: number[], batch: number[]): boolean {
  return [
    [ba, bb],
    [bb, ba],
  ].some(([whole, part]) => {
    const lead = part.findIndex((d) => d !== 1);
    const tail = lead < 0 ? [] : part.slice(lead);
    return sizeOf(whole) === sizeOf(batch) && tf.util.arraysEqual(tail, batch.slice(batch.length - tail.length));
  });
}

/**
 * a·b over the last two axes. tfjs-wasm sends a batched matMul (more than one matrix) to a naive kernel
 * (≈ 0.6 GMAC/s) and only a single 2-D product to XNNPACK, so equal batches run as a loop of 2-D products over
 * in-place slices: 2–4× faster, from 2 large matrices (2×3136×32·32: 6.1 → 3.3 ms) to 128 small ones
 * (128×50×32·32: 7.3 → 3.6 ms). Broadcast batches keep the stock kernel where it broadcasts right; the others
 * are broadcast explicitly first.
 */
export function batchMatMul(a: T, b: T): T {
  const [ba, bb] = [a.shape.slice(0, -2), b.shape.slice(0, -2)];
  if (!tf.util.arraysEqual(ba, bb)) {
    const batch = broadcastShapes(ba, bb);
    if (stockBroadcasts(ba, bb, batch)) return tf.matMul(a, b);
    const whole = (x: T) => tf.broadcastTo(x, [...batch, ...x.shape.slice(-2)]);
    return tf.tidy(() => batchMatMul(whole(a), whole(b)));
  }
  if (a.rank < 3) return tf.matMul(a, b);
  const count = sizeOf(ba);
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.rank - 1];
  return tf.tidy(() => {
    const a3 = a.reshape([count, m, k]);
    const b3 = b.reshape([count, k, n]);
    const out = Array.from({ length: count }, (_, i) =>
      tf.matMul(tf.slice(a3, [i, 0, 0], [1, m, k]).reshape([m, k]), tf.slice(b3, [i, 0, 0], [1, k, n]).reshape([k, n])),
    );
    return (count === 1 ? out[0] : tf.stack(out)).reshape([...ba, m, n]); // (…, m, n)
  });
}

/**
 * a·b, or a·bᵀ, over the last two axes, always through plain matMuls. tfjs-wasm runs a matMul with a
 * transposed operand on a generic kernel ≈ 10× slower than the plain one (6400×64·64×192: 57 ms against
 * 5 ms), while an explicit transpose of the operand costs ≈ 1 ms per million elements.
 */
export function matMulFast(a: T, b: T, transposeB = false): T {
  return batchMatMul(a, transposeB ? swapLast(b) : b);
}

/**
 * Eager ops on TensorFlow.js. tfjs convolutions are NHWC with (kh, kw, in, out) filters,
 * so conv2d transposes around the call; everything else maps one to one.
 */
export class TfjsOps implements Ops {
  readonly engine = 'tfjs';

  shape(x: Tensor): number[] {
    return t(x).shape;
  }
  constant(d: TensorData): Tensor {
    if (d.dtype === 'float32') return h(tf.tensor(d.data as Float32Array, d.shape, 'float32'));
    return h(tf.tensor(Int32Array.from(d.data as ArrayLike<number | bigint>, Number), d.shape, 'int32'));
  }
  scalar(v: number): Tensor {
    return h(tf.scalar(v));
  }
  add(a: Tensor, b: Tensor) {
    return h(tf.add(t(a), t(b)));
  }
  sub(a: Tensor, b: Tensor) {
    return h(tf.sub(t(a), t(b)));
  }
  mul(a: Tensor, b: Tensor) {
    return h(tf.mul(t(a), t(b)));
  }
  div(a: Tensor, b: Tensor) {
    return h(tf.div(t(a), t(b)));
  }
  pow(x: Tensor, p: number) {
    // integer powers as repeated products: exact, and differentiable at 0
    if (p === 2) return h(tf.square(t(x)));
    if (p === 3) return h(tf.mul(tf.square(t(x)), t(x)));
    return h(tf.pow(t(x), tf.scalar(p)));
  }
  sqrt(x: Tensor) {
    return h(tf.sqrt(t(x)));
  }
  abs(x: Tensor) {
    return h(tf.abs(t(x)));
  }
  relu(x: Tensor) {
    return h(tf.relu(t(x)));
  }
  gelu(x: Tensor) {
    const v = t(x);
    return h(tf.mul(tf.mul(v, 0.5), tf.add(tf.erf(tf.mul(v, Math.SQRT1_2)), 1)));
  }
  softplus(x: Tensor) {
    return h(tf.softplus(t(x)));
  }
  sum(x: Tensor, axes: number[], keepDims = false) {
    return h(tf.sum(t(x), axes, keepDims));
  }
  mean(x: Tensor, axes: number[], keepDims = false) {
    return h(tf.mean(t(x), axes, keepDims));
  }
  l2norm(x: Tensor) {
    return h(tf.sqrt(tf.sum(tf.square(t(x)), -1, true)));
  }
  matmul(a: Tensor, b: Tensor, transposeB = false) {
    return h(matMulFast(t(a), t(b), transposeB));
  }
  linearAttention(q: Tensor, k: Tensor, v: Tensor) {
    return linearAttention(this, q, k, v);
  }
  linear(x: Tensor, w: Tensor, b?: Tensor) {
    const xv = t(x);
    const [out, inF] = t(w).shape;
    const flat = xv.reshape([-1, inF]);
    // not tf.fused.matMul: its bias path with transposeB gives wrong results on the wasm backend (tfjs 4.22)
    const y0 = matMulFast(flat, t(w), true); // (M, out)
    const y = b ? tf.add(y0, t(b)) : y0;
    return h(y.reshape([...xv.shape.slice(0, -1), out]));
  }
  conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}): Tensor {
    const { stride = 1, padding = 0, groups = 1 } = opts;
    const [out, inPerGroup, kh, kw] = t(w).shape;
    const [, inC] = (t(x) as tf.Tensor4D).shape; // NCHW
    const depthwise = groups === inC && inPerGroup === 1;
    if (groups !== 1 && !depthwise) return this.groupedConv2d(x, w, b, opts);
    const nhwc = tf.transpose(t(x), [0, 2, 3, 1]);
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [padding, padding],
      [padding, padding],
      [0, 0],
    ];
    let y: T;
    if (groups === 1) {
      const filter = tf.transpose(t(w), [2, 3, 1, 0]) as tf.Tensor4D; // (kh, kw, in, out)
      y = tf.conv2d(nhwc as tf.Tensor4D, filter, stride, padding ? pad : 'valid');
    } else {
      // output channel c·mult + j is filter j of input channel c, in PyTorch as in tfjs
      const filter = tf.transpose(t(w).reshape([inC, out / inC, kh, kw]), [2, 3, 0, 1]) as tf.Tensor4D; // (kh, kw, in, mult)
      y = tf.depthwiseConv2d(nhwc as tf.Tensor4D, filter, stride, padding ? pad : 'valid');
    }
    if (b) y = tf.add(y, t(b));
    return h(tf.transpose(y, [0, 3, 1, 2]));
  }
  /**
   * Groups that are neither one nor one per input channel (tfjs has no such conv): a dense conv per group on its
   * slice of the channels, concatenated. Through `this.conv2d`, so that a subclass's dense conv serves them too.
   */
  private groupedConv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions): Tensor {
    const { groups = 1 } = opts;
    const [out, inPerGroup] = t(w).shape;
    const outPerGroup = out / groups;
    const part = (v: T, axis: number, g: number, n: number) =>
      tf.slice(
        v,
        v.shape.map((_, i) => (i === axis ? g * n : 0)),
        v.shape.map((d, i) => (i === axis ? n : d)),
      );
    const ys = Array.from({ length: groups }, (_, g) =>
      t(
        this.conv2d(
          h(part(t(x), 1, g, inPerGroup)),
          h(part(t(w), 0, g, outPerGroup)),
          b && h(part(t(b), 0, g, outPerGroup)),
          { ...opts, groups: 1 },
        ),
      ),
    );
    return h(tf.concat(ys, 1));
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number) {
    const v = t(x);
    const { mean, variance } = tf.moments(v, -1, true);
    return h(tf.add(tf.mul(tf.mul(tf.sub(v, mean), tf.rsqrt(tf.add(variance, eps))), t(gamma)), t(beta)));
  }
  softmax(x: Tensor) {
    return h(tf.softmax(t(x)));
  }
  reshape(x: Tensor, shape: number[]) {
    return h(tf.reshape(t(x), shape));
  }
  transpose(x: Tensor, perm: number[]) {
    const v = t(x);
    const p = perm.map((a) => axisOf(v, a));
    return h(tf.transpose(v, p));
  }
  slice(x: Tensor, begin: number[], size: number[]) {
    return h(tf.slice(t(x), begin, size));
  }
  concat(xs: Tensor[], axis: number) {
    return h(tf.concat(xs.map(t), axis));
  }
  broadcastTo(x: Tensor, shape: number[]) {
    return h(tf.broadcastTo(t(x), shape));
  }
  gather(x: Tensor, indices: Int32Array, axis: number) {
    return h(tf.gather(t(x), tf.tensor1d(indices, 'int32'), axisOf(t(x), axis)));
  }
  interpolateLinear(x: Tensor, axis: number, size: number) {
    const v = t(x);
    const ax = axisOf(v, axis);
    const n = v.shape[ax];
    if (n === size) return x;
    // move the axis last, resample with a (size, n) matrix, move it back
    const perm = [...v.shape.keys()].filter((i) => i !== ax).concat(ax);
    const moved = tf.transpose(v, perm);
    const m = tf.tensor2d(linearResampleMatrix(n, size), [size, n]);
    const flat = matMulFast(moved.reshape([-1, n]), m, true); // (…, size)
    const back = flat.reshape([...moved.shape.slice(0, -1), size]);
    const inv = perm.map((_, i) => perm.indexOf(i));
    return h(tf.transpose(back, inv));
  }
}
