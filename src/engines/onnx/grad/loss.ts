import type { Graph, Value } from '../graph.js';

/**
 * Mean cross-entropy of logits (B, K) against target distributions (B, K), in the graph:
 * −(1/B)·Σ target·log softmax(logits) → a scalar. With targets (1 − ε)·onehot + ε/K this is the trainer's
 * label-smoothed loss (train/loss.ts: (1 − ε)·nll + ε·mean over classes of −log p), term by term.
 */
export function crossEntropy(g: Graph, logits: Value, target: Value): Value {
  const [B] = logits.shape;
  const logp = g.emit('LogSoftmax', [logits], logits.shape, { axis: -1 }); // (B, K)
  const total = g.emit('ReduceSum', [g.emit('Mul', [logp, target], logits.shape)], [], { keepdims: 0 }); // ()
  return g.emit('Mul', [total, g.scalar(-1 / B)], []);
}
