import type { TensorData } from '../core/tensor.js';
import { gradName, traceTrainStep, type TrainStepGraph } from '../engines/onnx/grad/step.js';
import { probeNchwcBlock } from '../engines/onnx/nchwc_probe.js';
import { OnnxSession } from '../engines/onnx/session.js';
import type { VisionModel } from '../models/model.js';
import { stepFeeds, type OnnxStepInput } from './step_inputs.js';

export interface OnnxStepResult {
  /** The batch's mean loss. */
  loss: number;
  /** (B, K) logits, for accuracy. */
  logits: Float32Array;
  /** Gradients of the mean loss by parameter path (parameters the forward does not read have none). */
  grads: Map<string, Float32Array>;
}

/**
 * A model's training step on ONNX Runtime: one graph (grad/step.ts) computing the loss, the logits and every
 * parameter's gradient for a batch of fixed size, fed the current parameter values on every call, so the
 * optimizer can live anywhere. Drop path draws the same masks as the tfjs trainer for the same keys.
 */
export class OnnxTrainStep {
  private constructor(
    readonly model: VisionModel,
    readonly batch: number,
    readonly graph: TrainStepGraph,
    private readonly session: OnnxSession,
  ) {}

  static async create(model: VisionModel, batch: number, opts: { threads?: number } = {}): Promise<OnnxTrainStep> {
    const params = new Map<string, number[]>();
    const buffers = new Map<string, TensorData>();
    for (const s of model.table.specs.values()) {
      if (s.buffer) buffers.set(s.path, s.buffer);
      else params.set(s.path, s.shape);
    }
    const input = [batch, model.inChans, ...model.imgSize];
    const graph = traceTrainStep(
      // large depthwise convs on ORT's NCHWc kernels (engines/onnx/nchwc.ts), which only onnxruntime-node has
      { params, buffers, input, classes: model.numClasses, name: 'train_step', nchwcBlock: await probeNchwcBlock() },
      (ctx, x) => model.forward(ctx, x).logits,
    );
    // threads sleep between ops (spinning ones took the cores of the working ones on a shared host); no memory
    // pattern (it planned 1.75 GB for what takes 0.98 GB without it, pvt_v2_b0 at batch 8)
    const session = await OnnxSession.create(graph.bytes, 'training step graph', {
      threads: opts.threads,
      spinning: false,
      memoryPattern: false,
    });
    return new OnnxTrainStep(model, batch, graph, session);
  }

  /**
   * Loss, logits and gradients at the given parameter values, for a batch of this graph's size whose rows
   * start at row `first` of the trainer's batch (so that micro-batches draw that batch's drop-path masks).
   */
  async run(params: Map<string, Float32Array>, b: OnnxStepInput): Promise<OnnxStepResult> {
    const { model } = this;
    const feeds: Record<string, TensorData> = {};
    const f = (shape: number[], data: Float32Array): TensorData => ({ dtype: 'float32', shape, data });
    const input = [this.batch, model.inChans, ...model.imgSize];
    for (const d of stepFeeds(input, model.numClasses, this.graph.masks, b)) feeds[d.name] = f(d.shape, d.data);
    for (const s of model.table.specs.values()) if (!s.buffer) feeds[s.path] = f(s.shape, params.get(s.path)!);
    const out = await this.session.run(feeds);
    const grads = new Map(this.graph.grads.map((k) => [k, out[gradName(k)].data as Float32Array]));
    return { loss: (out.loss.data as Float32Array)[0], logits: out.logits.data as Float32Array, grads };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
