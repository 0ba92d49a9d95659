import * as tf from '@tensorflow/tfjs';

/**
 * log-softmax over the last axis as x − max − log Σ exp(x − max): the wasm backend has no LogSoftmax kernel.
 * The result does not depend on the max, so its gradient through the max cancels. logits (B, K) → (B, K)
 */
export function logSoftmax(logits: tf.Tensor2D): tf.Tensor2D {
  const shifted = tf.sub(logits, tf.max(logits, -1, true));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
}

/**
 * Mean cross-entropy against smoothed targets: (1 − ε) on the label and ε/K spread over all K classes
 * (timm's LabelSmoothingCrossEntropy). logits (B, K), labels (B) → scalar.
 */
export function smoothedCrossEntropy(logits: tf.Tensor2D, labels: Int32Array, smoothing: number): tf.Scalar {
  const k = logits.shape[1];
  const logp = logSoftmax(logits);
  // one-hot built here: the wasm OneHot kernel writes int32 bits into float32 outputs (tfjs 4.22)
  const onehot = new Float32Array(labels.length * k);
  labels.forEach((c, i) => (onehot[i * k + c] = 1));
  const nll = tf.neg(tf.sum(tf.mul(logp, tf.tensor2d(onehot, [labels.length, k])), -1)); // (B)
  if (!smoothing) return tf.mean(nll);
  const uniform = tf.neg(tf.mean(logp, -1)); // (B)
  return tf.mean(tf.add(tf.mul(nll, 1 - smoothing), tf.mul(uniform, smoothing)));
}

/** For each row of logits (B·K values), whether the label is the top-1 and within the top-5 (ties count against). */
export function topkHits(logits: Float32Array, k: number, labels: Int32Array): { top1: number; top5: number } {
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    const target = row[labels[i]];
    let above = 0;
    for (let j = 0; j < k; j++) if (row[j] > target || (row[j] === target && j < labels[i])) above++;
    if (above === 0) top1++;
    if (above < 5) top5++;
  }
  return { top1, top5 };
}
