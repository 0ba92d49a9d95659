import * as tf from '@tensorflow/tfjs';
import type { TensorData } from '../../core/tensor.js';
import type { Tensor } from '../../ops/ops.js';
import { LazyBound, makeCtx, type Ctx } from '../../ops/ctx.js';
import { initTfjs } from './backend.js';
import { TfjsOps } from './ops.js';

/**
 * Run `fn` eagerly on tfjs with the given weights bound by path; every returned tensor is read back
 * to TensorData and all intermediates are freed.
 */
export async function runTfjs<K extends string>(
  weights: Map<string, TensorData>,
  inputs: TensorData[],
  fn: (ctx: Ctx, ...xs: Tensor[]) => Record<K, Tensor>,
): Promise<Record<K, TensorData>> {
  await initTfjs();
  const ops = new TfjsOps();
  // bound on first use, inside the tidy below but kept: the finally frees them
  const bound = new LazyBound(weights, (v) => tf.keep(ops.constant(v) as unknown as tf.Tensor) as unknown as Tensor);
  try {
    const outs = tf.tidy(() => {
      const xs = inputs.map((x) => ops.constant(x));
      return fn(makeCtx(ops, bound), ...xs) as unknown as Record<K, tf.Tensor>;
    });
    const result = {} as Record<K, TensorData>;
    for (const [k, t] of Object.entries(outs) as [K, tf.Tensor][]) {
      result[k] = { dtype: 'float32', shape: t.shape, data: (await t.data()) as Float32Array };
      t.dispose();
    }
    return result;
  } finally {
    for (const t of bound.values()) (t as unknown as tf.Tensor).dispose();
  }
}
