/** VJPs of MatMul (batch axes broadcast) and Gemm (the Linear layer's form). */
import { FlattenError } from '../../../core/errors.js';
import type { Value } from '../graph.js';
import type { GradBuilder, Vjp } from './builder.js';

/**
 * Σ over the batch of aᵀ·dy as one 2-D product when b is 2-D (a weight, an interpolation matrix) and the
 * batch only comes from a: a (…, m, k) and dy (…, m, n) read as (M, k) and (M, n) give (k, n) directly,
 * without a batched (…, k, n) intermediate to sum.
 */
function weightGrad(b: GradBuilder, a: Value, dy: Value, shape: number[]): Value {
  const [k, n] = [a.shape[a.shape.length - 1], dy.shape[dy.shape.length - 1]];
  if (shape.length === 2 && a.shape.length > 2) {
    const rows = a.shape.slice(0, -1).reduce((p, d) => p * d, 1);
    const a2 = b.reshape(a, [rows, k]);
    const dy2 = b.reshape(dy, [rows, n]);
    return b.emit('Gemm', [a2, dy2], [k, n], { transA: 1 });
  }
  return b.sumTo(b.matmul(b.swapLast(a), dy), shape);
}

export const matmul: Record<string, Vjp> = {
  // y = a·b, a (…, m, k), b (…, k, n), y and dy (…, m, n): da = dy·bᵀ, db = aᵀ·dy, summed to each shape
  MatMul: (b, node, dy, need) => {
    const [x, w] = node.inputs.map((v) => v!);
    if (x.shape.length < 2 || w.shape.length < 2)
      throw new FlattenError('BAD_ARGUMENT', 'backward: MatMul of a vector (the trace writes matrices)');
    return [
      need[0] ? b.sumTo(b.matmul(dy, b.swapLast(w)), x.shape) : undefined,
      need[1] ? weightGrad(b, x, dy, w.shape) : undefined,
    ];
  },
  // y = a·bᵀ + c with transB (b as (N, K), a Linear's weight), else a·b + c; a (M, K), y and dy (M, N)
  Gemm: (b, node, dy, need) => {
    const [x, w, c] = node.inputs;
    const at = node.attrs ?? {};
    if (at.transA || (at.alpha !== undefined && at.alpha !== 1) || (at.beta !== undefined && at.beta !== 1))
      throw new FlattenError('BAD_ARGUMENT', 'backward: Gemm with transA, alpha or beta (the trace writes none)');
    const transB = at.transB === 1;
    const [M, N] = dy.shape;
    const K = x!.shape[1];
    return [
      // da = dy·b (transB) or dy·bᵀ: (M, K)
      need[0] ? b.emit('Gemm', [dy, w], [M, K], transB ? {} : { transB: 1 }) : undefined,
      // db = dyᵀ·a (N, K) with transB, else aᵀ·dy (K, N)
      need[1]
        ? transB
          ? b.emit('Gemm', [dy, x], [N, K], { transA: 1 })
          : b.emit('Gemm', [x, dy], [K, N], { transA: 1 })
        : undefined,
      // dc = Σ over rows of dy, to c's shape
      c && need[2] ? b.sumTo(dy, c.shape) : undefined,
    ];
  },
};
