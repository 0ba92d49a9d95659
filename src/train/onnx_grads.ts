import * as tf from '@tensorflow/tfjs';
import type { OnnxTrainStep } from './onnx_step.js';
import type { LiveWeights } from './params.js';
import type { StepGrads } from './step.js';

/**
 * The trainer's gradients from the ONNX Runtime training step (`--engine onnx`): the graph reads the live
 * parameters' current values and its gradients come back as tf tensors, so clipping, AdamW, checkpoints and
 * resume are the tfjs trainer's own. Same contract as lossAndGrads over the whole batch.
 */
export async function onnxGrads(
  step: OnnxTrainStep,
  live: LiveWeights,
  x: Float32Array,
  y: Int32Array,
  smoothing: number,
  dropKeys: number[],
): Promise<StepGrads> {
  const out = await step.run(live.paramValues(), x, y, smoothing, dropKeys);
  const shapes = new Map(live.params.map((p) => [p.path, p.variable.shape]));
  const grads = new Map([...out.grads].map(([k, g]) => [k, tf.tensor(g, shapes.get(k)!, 'float32')]));
  return { loss: out.loss, logits: Float32Array.from(out.logits), grads };
}
