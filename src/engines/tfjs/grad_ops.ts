import * as tf from '@tensorflow/tfjs';
import type { Conv2dOptions, Tensor } from '../../ops/ops.js';
import { batchMatMul, matMulFast, swapLast, TfjsOps } from './ops.js';

type T = tf.Tensor;
type T4 = tf.Tensor4D;
const t = (x: Tensor): T => x as unknown as T;
const h = (x: T): Tensor => x as unknown as Tensor;

/**
 * Dense 'valid' conv with a filter gradient the wasm backend can run (it has no Conv2DBackpropFilter kernel):
 * df[i, j, c, o] = Σ x[b, y·s + i, x·s + j, c]·dy[b, y, x, o] is itself a convolution, of x with the batch moved
 * into the channels, (C, Hp, Wp, B), by dy as a (Ho, Wo, B, O) filter dilated by the stride. XNNPACK runs it
 * 5–20× faster than an im2col matmul (224² stem, 7×7 stride 4: 6 ms against 111 ms). The input gradient uses
 * Conv2DBackpropInput.
 */
const denseConv = (stride: number) =>
  tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
    const [x, f, save] = args as [T, T, tf.GradSaveFunc];
    const value = tf.conv2d(x as T4, f as T4, stride, 'valid');
    save([x, f]);
    return {
      value,
      gradFunc: (dy: T, saved: T[]) =>
        tf.tidy(() => {
          const [xs, fs] = saved as [T4, T4];
          const [kh, kw, cin, cout] = fs.shape;
          const dx = tf.conv2dTranspose(dy as T4, fs, xs.shape, stride, 'valid');
          const xT = tf.transpose(xs, [3, 1, 2, 0]) as T4; // (C, Hp, Wp, B)
          const dyT = tf.transpose(dy, [1, 2, 0, 3]) as T4; // (Ho, Wo, B, O)
          const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', stride); // (C, kh', kw', O), kh' ≥ kh when (Hp − kh) % s ≠ 0
          const df = tf.transpose(tf.slice(full, [0, 0, 0, 0], [cin, kh, kw, cout]), [1, 2, 0, 3]); // (kh, kw, C, O)
          return [dx, df];
        }),
    };
  });

/**
 * Stride-1 'valid' depthwise conv with hand-written gradients (the wasm backend has no
 * DepthwiseConv2dNativeBackprop* kernels): dx is a depthwise conv of the fully padded dy with the
 * flipped filter, and df[i, j, c] = Σ x[·, o+i, o+j, c]·dy[·, o, c] is a depthwise conv of x with dy.
 */
const depthwiseConv = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, f, save] = args as [T, T, tf.GradSaveFunc];
  const value = tf.depthwiseConv2d(x as T4, f as T4, 1, 'valid');
  save([x, f]);
  return {
    value,
    gradFunc: (dy: T, saved: T[]) =>
      tf.tidy(() => {
        const [xs, fs] = saved as [T4, T4];
        const [kh, kw, c] = fs.shape;
        const [b, ho, wo] = dy.shape;
        const dyPad = tf.pad(dy, [
          [0, 0],
          [kh - 1, kh - 1],
          [kw - 1, kw - 1],
          [0, 0],
        ]) as T4;
        const dx = tf.depthwiseConv2d(dyPad, tf.reverse(fs, [0, 1]) as T4, 1, 'valid');
        // df as one depthwise conv: the batch joins the channels, (1, Hp, Wp, B·C) ⋆ dy as a (Ho, Wo, B·C, 1)
        // filter gives (1, kh, kw, B·C); summing over the batch leaves (kh, kw, C)
        const [, hp, wp] = xs.shape;
        const xT = tf.transpose(xs, [1, 2, 0, 3]).reshape([1, hp, wp, b * c]) as T4;
        const dyT = tf.transpose(dy, [1, 2, 0, 3]).reshape([ho, wo, b * c, 1]) as T4;
        const df = tf.sum(tf.depthwiseConv2d(xT, dyT, 1, 'valid').reshape([kh, kw, b, c]), 2);
        return [dx, df.reshape([kh, kw, c, 1])];
      }),
  };
});

/** A gradient summed back to `shape` over the leading axes that the matMul broadcast. */
function unbroadcast(g: T, shape: number[]): T {
  const lead = g.rank - shape.length;
  const axes = [...g.shape.keys()].filter(
    (i) => i < g.rank - 2 && (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)),
  );
  return axes.length ? tf.sum(g, axes).reshape(shape) : g;
}

/**
 * a·b (or a·bᵀ) over the last two axes, batched or not, whose gradients also stay on plain matMuls: the
 * built-in matMul gradient multiplies by transposed operands, which tfjs-wasm runs ≈ 10× slower (see
 * matMulFast). dA = dC·bᵀ and dB = aᵀ·dC (dBᵀ = dCᵀ·a when b was used transposed).
 */
const matMulGrad = (transposeB: boolean) =>
  tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
    const [a, b, save] = args as [T, T, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: matMulFast(a, b, transposeB),
      gradFunc: (dc: T, saved: T[]) => {
        const [as, bs] = saved;
        const da = batchMatMul(dc, transposeB ? bs : swapLast(bs)); // (…, m, k)
        const db = transposeB ? batchMatMul(swapLast(dc), as) : batchMatMul(swapLast(as), dc); // b's shape
        return [unbroadcast(da, as.shape), unbroadcast(db, bs.shape)];
      },
    };
  });
const matMulPlain = matMulGrad(false);
const matMulTransB = matMulGrad(true);

/**
 * TfjsOps for training: the same forward values, but every op's gradient runs on the wasm backend.
 * Linear layers, matmuls and convolutions use the custom gradients above (convs pad explicitly); gather becomes a one-hot matmul
 * (its built-in gradient needs UnsortedSegmentSum, which wasm lacks). Inference keeps the plain TfjsOps.
 */
export class TrainTfjsOps extends TfjsOps {
  override linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
    const xv = t(x);
    const [out, inF] = t(w).shape;
    const y = matMulTransB(xv.reshape([-1, inF]), t(w)); // (M, out)
    return h((b ? tf.add(y, t(b)) : y).reshape([...xv.shape.slice(0, -1), out]));
  }

  override matmul(a: Tensor, b: Tensor, transposeB = false): Tensor {
    return h((transposeB ? matMulTransB : matMulPlain)(t(a), t(b)));
  }

  override conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}): Tensor {
    const { stride = 1, padding = 0, groups = 1 } = opts;
    const [out, inPerGroup] = t(w).shape;
    const inC = t(x).shape[1];
    let nhwc = tf.transpose(t(x), [0, 2, 3, 1]); // (B, H, W, C)
    if (padding)
      nhwc = tf.pad(nhwc, [
        [0, 0],
        [padding, padding],
        [padding, padding],
        [0, 0],
      ]);
    let y: T;
    if (groups === 1) {
      y = denseConv(stride)(nhwc, tf.transpose(t(w), [2, 3, 1, 0])); // filter (kh, kw, in, out)
    } else if (groups === inC && inPerGroup === 1 && out === inC && stride === 1) {
      y = depthwiseConv(nhwc, tf.transpose(t(w), [2, 3, 0, 1])); // filter (kh, kw, C, 1)
    } else {
      return super.conv2d(x, w, b, opts);
    }
    if (b) y = tf.add(y, t(b));
    return h(tf.transpose(y, [0, 3, 1, 2]));
  }

  override gather(x: Tensor, indices: Int32Array, axis: number): Tensor {
    const v = t(x);
    const ax = axis < 0 ? axis + v.rank : axis;
    const n = v.shape[ax];
    const perm = [ax, ...[...v.shape.keys()].filter((i) => i !== ax)];
    const moved = tf.transpose(v, perm); // (n, rest…)
    const onehot = new Float32Array(indices.length * n);
    indices.forEach((idx, r) => (onehot[r * n + idx] = 1));
    const picked = tf.matMul(tf.tensor2d(onehot, [indices.length, n]), moved.reshape([n, -1])); // (len, ∏rest)
    const back = picked.reshape([indices.length, ...moved.shape.slice(1)]);
    return h(
      tf.transpose(
        back,
        perm.map((_, i) => perm.indexOf(i)),
      ),
    );
  }
}
