import type { TensorData } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import { stageMap } from '../models/model.js';
import { checkImageInput } from './forward.js';
import { engineRunner, type EngineName } from './engine.js';
import type { LoadedModel } from './model.js';
import { resolveIndices } from './size.js';

export interface IntermediatesOptions {
  /** Stages to return (default: the model's `outIndices`, else all); negative counts from the end. */
  indices?: number[];
  /** 'tfjs' (default) or 'onnx'. */
  engine?: EngineName;
}

export interface Intermediates {
  /** (B, num_classes); absent for a features-only model. */
  logits?: TensorData;
  /** (B, C_last): the pooled features. */
  features: TensorData;
  /** The chosen stages' NCHW maps (B, C_i, H_i, W_i), in the order asked. */
  intermediates: TensorData[];
}

/**
 * timm's `forward_intermediates`: one forward that returns the final output and the chosen stages' feature maps,
 * as a backbone hands them on (images (B, C, H, W) at the model's size, already normalised).
 */
export async function forwardIntermediates(
  m: LoadedModel,
  images: TensorData,
  o: IntermediatesOptions = {},
): Promise<Intermediates> {
  checkImageInput(m.model, images);
  const n = m.model.stageNames.length;
  const indices = resolveIndices(o.indices ?? m.outIndices ?? [...Array(n).keys()], n, m.name);
  const r: Record<string, TensorData> = await engineRunner(o.engine ?? 'tfjs')(m.weights, [images], (ctx, x) => {
    const { logits, features, stages } = m.model.forward(ctx, x);
    const out: Record<string, Tensor> = { features };
    if (!m.featuresOnly) out.logits = logits;
    indices.forEach((i, k) => (out[`map${k}`] = stageMap(ctx, stages[i])));
    return out;
  });
  return { logits: r.logits, features: r.features, intermediates: indices.map((_, k) => r[`map${k}`]) };
}

/** The feature maps of a backbone (`createModel(name, { featuresOnly: true, outIndices })`), NCHW. */
export async function extractFeatures(
  m: LoadedModel,
  images: TensorData,
  o: Omit<IntermediatesOptions, 'indices'> = {},
): Promise<TensorData[]> {
  return (await forwardIntermediates(m, images, o)).intermediates;
}
