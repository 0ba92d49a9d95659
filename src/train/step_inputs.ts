import type { MaskInput } from '../engines/onnx/grad/step.js';
import { dropMask } from './drop_mask.js';

/** One graph-sized batch: images (B, C, H, W), labels (B), label smoothing ε and the step's drop-path keys. */
export interface OnnxStepInput {
  x: Float32Array;
  y: Int32Array;
  smoothing: number;
  dropKeys: number[];
  /** The batch's first row in the trainer's batch (default 0). */
  first?: number;
}

/** A float32 input of a training-step graph. */
export interface StepFeed {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** (B, K) target distributions: (1 − ε) on the label plus ε/K on every class (timm's label smoothing). */
export function smoothedTargets(labels: Int32Array, classes: number, smoothing: number): Float32Array {
  const t = new Float32Array(labels.length * classes).fill(smoothing / classes);
  labels.forEach((c, i) => (t[i * classes + c] += 1 - smoothing));
  return t;
}

/**
 * The data inputs of a training-step graph (traceTrainStep) for one batch, whichever runtime runs it:
 * `input` (B, C, H, W), `target` (B, K) and one (B, 1, …) mask per drop-path call, drawn as the tfjs trainer
 * draws them for the same keys and rows. Browser-safe: no Node module is imported.
 */
export function stepFeeds(input: number[], classes: number, masks: MaskInput[], b: OnnxStepInput): StepFeed[] {
  const B = input[0];
  return [
    { name: 'input', shape: input, data: b.x },
    { name: 'target', shape: [B, classes], data: smoothedTargets(b.y, classes, b.smoothing) },
    ...masks.map((m, call) => ({
      name: m.name,
      shape: m.shape,
      data: dropMask(b.dropKeys, b.first ?? 0, B, call, m.rate),
    })),
  ];
}
