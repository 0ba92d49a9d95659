/**
 * Fine-tuning where only an ONNX runtime is at hand, a web page above all: the training-step graph of
 * traceTrainStep (portable opset 17, no NCHWc) run by onnxruntime-web (or onnxruntime-node, whose API is the
 * same), with SGD or AdamW in plain TypeScript on the returned gradients. Browser-safe: imports no Node module.
 * The page needs the graph's bytes, a WebTrainSpec (JSON) and the initial parameter values.
 */
import type { MaskInput, TrainStepGraph } from '../engines/onnx/grad/step.js';
import type { VisionModel } from '../models/model.js';
import { stepFeeds, type OnnxStepInput } from './step_inputs.js';

/** What a training step needs of onnxruntime-web's (or -node's) module. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => object;
}

interface OrtSession {
  run(feeds: Record<string, object>): Promise<Record<string, { data: unknown }>>;
  release(): Promise<void>;
}

/** Everything but the bytes that a page needs to run a training-step graph: plain JSON. */
export interface WebTrainSpec {
  /** (B, C, H, W): the graph's fixed batch. */
  input: number[];
  classes: number;
  masks: MaskInput[];
  /** Trainable parameters, in graph-input order; `noDecay` as the trainer's AdamW has it. */
  params: { path: string; shape: number[]; noDecay: boolean }[];
  /** The parameters with a gradient output (`<path>.grad`). */
  grads: string[];
}

export type WebOptimizer =
  | { kind: 'sgd'; lr: number; momentum?: number }
  | { kind: 'adamw'; lr: number; weightDecay?: number; beta1?: number; beta2?: number; eps?: number };

/** The spec of `model`'s training-step graph of batch `batch` (made in Node, sent to the page). */
export function webTrainSpec(model: VisionModel, graph: TrainStepGraph, batch: number): WebTrainSpec {
  const params = [...model.table.specs.values()]
    .filter((s) => !s.buffer)
    .map((s) => ({ path: s.path, shape: s.shape, noDecay: s.noDecay }));
  return {
    input: [batch, model.inChans, ...model.imgSize],
    classes: model.numClasses,
    masks: graph.masks,
    params,
    grads: graph.grads,
  };
}

/**
 * A training loop's step on an ONNX runtime session: feeds the batch, its targets and drop-path masks
 * (step_inputs.ts, as the Node trainer does) and the current parameters, then updates the parameters in place.
 * SGD is torch.optim.SGD (v ← μ·v + g, w ← w − lr·v); AdamW is the trainer's (torch.optim.AdamW).
 */
export class WebTrainStep {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  /** The parameters AdamW's weight decay applies to (all but the spec's `noDecay` ones). */
  private readonly decays: Set<string>;
  private t = 0;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly spec: WebTrainSpec,
    /** Current parameter values by path, updated by every step. */
    readonly values: Map<string, Float32Array>,
    readonly optimizer: WebOptimizer,
  ) {
    this.decays = new Set(spec.params.filter((p) => !p.noDecay).map((p) => p.path));
  }

  static async create(
    ort: OrtModule,
    bytes: Uint8Array,
    spec: WebTrainSpec,
    values: Map<string, Float32Array>,
    optimizer: WebOptimizer,
    sessionOptions: object = {},
  ): Promise<WebTrainStep> {
    const session = await ort.InferenceSession.create(bytes, sessionOptions);
    return new WebTrainStep(ort, session, spec, values, optimizer);
  }

  /** One optimizer step on a batch of the graph's size; returns the batch's loss (before the update) and logits (B, K). */
  async step(b: OnnxStepInput): Promise<{ loss: number; logits: Float32Array }> {
    const { spec, ort } = this;
    const feeds: Record<string, object> = {};
    for (const d of stepFeeds(spec.input, spec.classes, spec.masks, b))
      feeds[d.name] = new ort.Tensor('float32', d.data, d.shape);
    for (const p of spec.params) feeds[p.path] = new ort.Tensor('float32', this.values.get(p.path)!, p.shape);
    const out = await this.session.run(feeds);
    this.t++;
    for (const path of spec.grads) this.update(path, out[`${path}.grad`].data as Float32Array, this.decays.has(path));
    return { loss: (out.loss.data as Float32Array)[0], logits: out.logits.data as Float32Array };
  }

  private update(path: string, g: Float32Array, decays: boolean): void {
    const o = this.optimizer;
    const w = this.values.get(path)!;
    const state = (s: Map<string, Float32Array>) => s.get(path) ?? s.set(path, new Float32Array(w.length)).get(path)!;
    if (o.kind === 'sgd') {
      const v = state(this.v);
      const mu = o.momentum ?? 0;
      for (let i = 0; i < w.length; i++) {
        v[i] = mu * v[i] + g[i];
        w[i] -= o.lr * v[i];
      }
      return;
    }
    const [b1, b2, eps] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8];
    const shrink = decays ? 1 - o.lr * (o.weightDecay ?? 0) : 1;
    const [c1, c2] = [1 - b1 ** this.t, 1 - b2 ** this.t];
    const [m, v] = [state(this.m), state(this.v)];
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      w[i] = w[i] * shrink - (o.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
