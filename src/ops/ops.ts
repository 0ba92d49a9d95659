import type { TensorData } from '../core/tensor.js';

/**
 * An opaque tensor handle owned by one engine. Model code never looks inside: it only passes
 * handles back to the `Ops` that made them, which is what lets the same forward run eagerly
 * (tfjs), be recorded as an ONNX graph, or be walked for shapes and MACs (meta).
 */
export interface Tensor {
  readonly __tensor?: never;
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  groups?: number;
}

/**
 * The engine-neutral op set (cf. keras.ops). Semantics follow PyTorch: NCHW images, (out, in, kh, kw)
 * conv weights, (out, in) linear weights, numpy broadcasting for elementwise ops, negative axes allowed.
 * Every op is a pure function of its inputs and reads no tensor values, so shapes are static.
 */
export interface Ops {
  readonly engine: string;
  shape(x: Tensor): number[];

  /** A value baked into the computation (masks, index tables, interpolation weights). */
  constant(t: TensorData): Tensor;
  scalar(v: number): Tensor;

  add(a: Tensor, b: Tensor): Tensor;
  sub(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  div(a: Tensor, b: Tensor): Tensor;
  /** Elementwise x^p for a constant exponent. */
  pow(x: Tensor, p: number): Tensor;
  sqrt(x: Tensor): Tensor;
  abs(x: Tensor): Tensor;
  relu(x: Tensor): Tensor;
  /** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
  gelu(x: Tensor): Tensor;
  /** ln(1 + eˣ) (PyTorch returns x above 20; the difference is below float precision). */
  softplus(x: Tensor): Tensor;

  /** Sum over `axes`; no axes reduce nothing and return x as it is (numpy's axis=(), not reduce-all). */
  sum(x: Tensor, axes: number[], keepDims?: boolean): Tensor;
  /** Mean over `axes`; no axes reduce nothing, as in `sum`. */
  mean(x: Tensor, axes: number[], keepDims?: boolean): Tensor;
  /** L2 norm over the last axis, kept as a size-1 axis. */
  l2norm(x: Tensor): Tensor;

  /** (..., m, k) × (..., k, n) → (..., m, n); with transposeB, b is (..., n, k). Leading dims broadcast. */
  matmul(a: Tensor, b: Tensor, transposeB?: boolean): Tensor;
  /** PyTorch Linear: x (..., in) · wᵀ + b with w (out, in). */
  linear(x: Tensor, w: Tensor, b?: Tensor): Tensor;
  /** PyTorch Conv2d (cross-correlation, zero padding) on NCHW input with (out, in/groups, kh, kw) weights. */
  conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts?: Conv2dOptions): Tensor;
  /**
   * Row-normalised linear attention per head: (Q·KᵀV/n) / (Q·mean(K) + 1e-6), q (B, h, N, d), k and v
   * (B, h, n, d) → (B, h, N, d). One op so that an engine may write it its own way; engines without one
   * run the composite in ops/linear_attention.ts.
   */
  linearAttention(q: Tensor, k: Tensor, v: Tensor): Tensor;
  /** LayerNorm over the last axis with biased variance. */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor;
  /** Softmax over the last axis. */
  softmax(x: Tensor): Tensor;

  reshape(x: Tensor, shape: number[]): Tensor;
  transpose(x: Tensor, perm: number[]): Tensor;
  slice(x: Tensor, begin: number[], size: number[]): Tensor;
  concat(xs: Tensor[], axis: number): Tensor;
  /** Repeat size-1 axes to `shape` (numpy broadcasting). */
  broadcastTo(x: Tensor, shape: number[]): Tensor;
  /** Rows of x along `axis` picked by constant indices. */
  gather(x: Tensor, indices: Int32Array, axis: number): Tensor;
  /** 1-D linear resampling along `axis` to `size` (align_corners = false, PyTorch's F.interpolate 'linear'). */
  interpolateLinear(x: Tensor, axis: number, size: number): Tensor;
}
