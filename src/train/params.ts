import * as tf from '@tensorflow/tfjs';
import type { StateDict, TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import { makeCtx, type Ctx, type ParamTable } from '../nn/module.js';
import { TrainTfjsOps } from '../engines/tfjs/grad_ops.js';
import type { TrainParam } from './optim.js';
import { Rng } from './rng.js';

/**
 * A model's weights as live tfjs state: a Variable per trainable parameter and a constant per buffer,
 * both bound by official state_dict path.
 */
export class LiveWeights {
  readonly ops = new TrainTfjsOps();
  readonly params: TrainParam[] = [];
  private readonly bound = new Map<string, Tensor>();

  constructor(
    readonly table: ParamTable,
    weights: Map<string, TensorData>,
  ) {
    for (const spec of table.specs.values()) {
      const w = weights.get(spec.path)!;
      if (spec.buffer) {
        this.bound.set(spec.path, this.ops.constant(w));
        continue;
      }
      const variable = tf.variable(tf.tensor(w.data as Float32Array, w.shape, 'float32'), true);
      this.params.push({ path: spec.path, variable, noDecay: spec.noDecay });
      this.bound.set(spec.path, variable as unknown as Tensor);
    }
  }

  /** An inference context (drop path off). */
  evalCtx(): Ctx {
    return makeCtx(this.ops, this.bound, false);
  }

  /** A training context whose drop-path masks come from `rng`: one keep/drop draw per sample. */
  trainCtx(rng: Rng): Ctx {
    const ctx = makeCtx(this.ops, this.bound, true);
    ctx.dropPath = (x, rate) => {
      const v = x as unknown as tf.Tensor;
      const keep = 1 - rate;
      const b = v.shape[0];
      const mask = Float32Array.from({ length: b }, () => Math.floor(keep + rng.next()) / keep); // 0 or 1/keep
      return tf.mul(v, tf.tensor(mask, [b, ...v.shape.slice(1).map(() => 1)])) as unknown as Tensor; // (B, 1, …)
    };
    return ctx;
  }

  /** Every parameter and buffer as data, in state_dict order. */
  async stateDict(): Promise<StateDict> {
    const sd: StateDict = new Map();
    for (const spec of this.table.specs.values()) {
      if (spec.buffer) {
        sd.set(spec.path, spec.buffer);
        continue;
      }
      const t = this.bound.get(spec.path) as unknown as tf.Tensor;
      sd.set(spec.path, { dtype: 'float32', shape: t.shape, data: (await t.data()) as Float32Array });
    }
    return sd;
  }

  dispose(): void {
    for (const t of this.bound.values()) (t as unknown as tf.Tensor).dispose();
  }
}
