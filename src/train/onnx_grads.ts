import * as tf from '@tensorflow/tfjs';
import type { VisionModel } from '../models/model.js';
import { OnnxTrainStep } from './onnx_step.js';
import type { LiveWeights } from './params.js';
import type { StepBatch, StepGrads } from './step.js';

export interface OnnxGradientsOptions {
  /** The trainer's batch size. */
  batch: number;
  /** Run the batch as micro-batches of this many images, one graph of that size (default: the whole batch). */
  micro?: number;
  /** ORT intra-op threads. */
  threads?: number;
}

/**
 * The trainer's gradients from ONNX Runtime training-step graphs (`--engine onnx`): each graph reads the live
 * parameters' current values and its gradients come back as tf tensors, so clipping, AdamW, checkpoints and
 * resume are the tfjs trainer's own. Same contract as lossAndGrads: with micro-batches, each part's mean-loss
 * gradient is weighted by its share of the batch, which is the whole batch's gradient, with the activation
 * memory of one micro-batch (a second graph takes a last, smaller part when the batch does not divide).
 */
export class OnnxGradients {
  private constructor(
    readonly model: VisionModel,
    private readonly steps: Map<number, OnnxTrainStep>,
    readonly micro: number,
  ) {}

  static async create(model: VisionModel, o: OnnxGradientsOptions): Promise<OnnxGradients> {
    const micro = Math.min(o.micro ?? o.batch, o.batch);
    const steps = new Map<number, OnnxTrainStep>();
    try {
      for (const n of new Set([micro, o.batch % micro || micro]))
        steps.set(n, await OnnxTrainStep.create(model, n, { threads: o.threads }));
    } catch (e) {
      for (const s of steps.values()) await s.release();
      throw e;
    }
    return new OnnxGradients(model, steps, micro);
  }

  /** The batch's loss, logits and gradients at the live weights, in this object's micro-batches (`b.micro` is not read). */
  async grads(live: LiveWeights, b: StepBatch): Promise<StepGrads> {
    const B = b.y.length;
    const { model } = this;
    const per = model.inChans * model.imgSize[0] * model.imgSize[1];
    const K = model.numClasses;
    const params = live.paramValues();
    const sums = new Map<string, Float32Array>();
    const logits = new Float32Array(B * K);
    let loss = 0;
    for (let start = 0; start < B; start += this.micro) {
      const n = Math.min(this.micro, B - start);
      const out = await this.steps.get(n)!.run(params, {
        x: b.x.subarray(start * per, (start + n) * per),
        y: b.y.subarray(start, start + n),
        smoothing: b.smoothing,
        dropKeys: b.dropKeys,
        first: start,
      });
      const w = n / B; // the part's mean loss, weighted into the batch's mean
      loss += w * out.loss;
      logits.set(out.logits, start * K);
      for (const [k, g] of out.grads) {
        const sum = sums.get(k);
        if (!sum) sums.set(k, n === B ? g : g.map((v) => w * v));
        else for (let i = 0; i < g.length; i++) sum[i] += w * g[i];
      }
    }
    const shapes = new Map(live.params.map((p) => [p.path, p.variable.shape]));
    const grads = new Map([...sums].map(([k, g]) => [k, tf.tensor(g, shapes.get(k)!, 'float32')]));
    return { loss, logits, grads };
  }

  async release(): Promise<void> {
    for (const s of this.steps.values()) await s.release();
  }
}
