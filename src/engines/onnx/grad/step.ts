import { toFloat32, type TensorData } from '../../../core/tensor.js';
import { makeCtx, type Ctx } from '../../../ops/ctx.js';
import type { Tensor } from '../../../ops/ops.js';
import { Graph, type Value } from '../graph.js';
import { NCHWC, useNchwc } from '../nchwc.js';
import { OnnxOps } from '../ops.js';
import { encodeModel, type ModelProto } from '../proto.js';
import { backward } from './backward.js';
import { crossEntropy } from './loss.js';

export interface TrainStepOptions {
  /** Trainable parameters by state_dict path: graph inputs, so that new values need no new graph. */
  params: Map<string, number[]>;
  /** Everything else the forward reads (buffers: position indices, masks): constants. */
  buffers: Map<string, TensorData>;
  /** The batch (B, C, H, W), fixed in the graph. */
  input: number[];
  classes: number;
  name?: string;
  /**
   * onnxruntime-node's NCHWc channel block on this CPU (`probeNchwcBlock`): large depthwise convs then run on
   * ORT's NCHWc kernels (../nchwc.ts), which only its CPU provider has. Without it the graph is standard
   * opset 17 and runs anywhere (onnxruntime-web).
   */
  nchwcBlock?: number;
}

/** A drop-path mask the graph takes as an input: (B, 1, …) of 0 or 1/(1 − rate) per sample. */
export interface MaskInput {
  name: string;
  shape: number[];
  rate: number;
}

export interface TrainStepGraph {
  model: ModelProto;
  bytes: Uint8Array;
  /** Inputs: `input` (B, C, H, W), `target` (B, K) class distributions, every parameter by path, then the masks. */
  masks: MaskInput[];
  /** Parameters with a gradient, output as `<path>.grad`; the others (unused by the forward) are listed in `unused`. */
  grads: string[];
  unused: string[];
}

/** The output holding parameter `path`'s gradient. */
export const gradName = (path: string) => `${path}.grad`;

/**
 * One training step as one ONNX graph: the forward of `forward` on a fixed batch with drop path drawn from
 * mask inputs, the mean cross-entropy against `target`, and the gradient of that loss w.r.t. every parameter,
 * all in standard opset-17 nodes. Outputs: `loss` (), `logits` (B, K) and `<path>.grad` per parameter.
 */
export function traceTrainStep(opts: TrainStepOptions, forward: (ctx: Ctx, x: Tensor) => Tensor): TrainStepGraph {
  const g = new Graph(false);
  if (opts.nchwcBlock) useNchwc(g, opts.nchwcBlock);
  const ops = new OnnxOps(g);
  const x = g.input('input', opts.input);
  const target = g.input('target', [opts.input[0], opts.classes]);
  const masks: MaskInput[] = [];
  const bound = new Map<string, Tensor>();
  for (const [k, w] of opts.buffers) bound.set(k, g.constant(w.shape, toFloat32(w), k) as unknown as Tensor);
  const paramValues = new Map<string, Value>();
  const ctx = makeCtx(ops, bound, true);
  // a mask per call, in the order the forward meets them (the trainer's draw order)
  ctx.dropPath = (t, rate) => {
    const shape = ops.shape(t).map((d, i) => (i === 0 ? d : 1));
    const name = `drop_path.${masks.length}`;
    masks.push({ name, shape, rate });
    return ops.mul(t, g.input(name, shape) as unknown as Tensor);
  };
  for (const [k, shape] of opts.params) {
    const v = g.input(k, shape);
    paramValues.set(k, v);
    bound.set(k, v as unknown as Tensor);
  }
  const logits = ops.real(forward(ctx, x as unknown as Tensor)); // (B, K)
  const loss = crossEntropy(g, logits, target);
  const keys = [...paramValues.keys()];
  const dws = backward(g, loss, [...paramValues.values()]);
  const outputs: Record<string, Value> = { loss, logits };
  const grads: string[] = [];
  const unused: string[] = [];
  keys.forEach((k, i) => {
    const d = dws[i];
    if (!d) return void unused.push(k);
    grads.push(k);
    outputs[gradName(k)] = d;
  });
  const { proto } = g.toModel(outputs, { name: opts.name ?? 'flatten_train_step' });
  if (proto.nodes.some((n) => n.domain === NCHWC)) proto.opsets.push({ domain: NCHWC, version: 1 });
  return { model: proto, bytes: encodeModel(proto), masks, grads, unused };
}
