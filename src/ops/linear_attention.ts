import type { Ops, Tensor } from './ops.js';

/**
 * Row-normalised linear attention from primitives, per head: O = (Q·M)·z with M = KᵀV/n and
 * z = 1/(Q·mean(K) + 1e-6). q (B, h, N, d), k and v (B, h, n, d) → (B, h, N, d). Always the cheap order
 * Q(KᵀV): O(N·d²). The `Ops.linearAttention` of engines that have no form of their own.
 */
export function linearAttention(ops: Ops, q: Tensor, k: Tensor, v: Tensor): Tensor {
  const kMean = ops.mean(k, [2], true); // (B, h, 1, d)
  const qk = ops.matmul(q, kMean, true); // (B, h, N, 1)
  const z = ops.div(ops.scalar(1), ops.add(qk, ops.scalar(1e-6))); // (B, h, N, 1)
  return ops.mul(ops.matmul(q, keyValues(ops, k, v)), z);
}

/** M = KᵀV/n, the (B, h, d, d) summary of keys and values that every query reads. */
export function keyValues(ops: Ops, k: Tensor, v: Tensor): Tensor {
  const n = ops.shape(k)[2];
  const kT = ops.transpose(k, [0, 1, 3, 2]); // (B, h, d, n)
  return ops.mul(ops.matmul(kT, v), ops.scalar(1 / n));
}
