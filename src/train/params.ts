import * as tf from '@tensorflow/tfjs';
import type { StateDict, TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import { makeCtx, type Ctx } from '../ops/ctx.js';
import { type ParamTable } from '../nn/module.js';
import { TrainTfjsOps } from '../engines/tfjs/grad_ops.js';
import type { TrainParam } from './optim.js';
import { dropMask } from './drop_mask.js';

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

  /**
   * A training context with drop path on. Each sample's keep/drop draw is keyed by (keys…, first + its row,
   * the call's index in the forward), so a batch gives the same masks however it is split into micro-batches
   * or shared between worker threads.
   */
  trainCtx(keys: number[], first = 0): Ctx {
    const ctx = makeCtx(this.ops, this.bound, true);
    let call = 0;
    ctx.dropPath = (x, rate) => {
      const v = x as unknown as tf.Tensor;
      const b = v.shape[0];
      const mask = dropMask(keys, first, b, call++, rate);
      return tf.mul(v, tf.tensor(mask, [b, ...v.shape.slice(1).map(() => 1)])) as unknown as Tensor; // (B, 1, …)
    };
    return ctx;
  }

  /** Assigns new values (by path) to trainable parameters: a gradient worker following the optimizer. */
  assign(values: Map<string, Float32Array>): void {
    for (const p of this.params) {
      const v = values.get(p.path);
      if (v) tf.tidy(() => p.variable.assign(tf.tensor(v, p.variable.shape, 'float32')));
    }
  }

  /** The trainable parameters' current values, by path. */
  paramValues(): Map<string, Float32Array> {
    return new Map(this.params.map((p) => [p.path, p.variable.dataSync() as Float32Array]));
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
