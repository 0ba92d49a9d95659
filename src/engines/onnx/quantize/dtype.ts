import { checkChoice } from '../../../core/errors.js';
import type { ModelProto } from '../proto.js';
import { halfWeights } from './fp16.js';
import { quantizeQ4 } from './q4.js';
import { quantizeQ8, type Q8Options } from './q8.js';

/** The variants transformers.js knows by these names: fp32, fp16 weights, dynamic int8, 4-bit weights. */
export const MODEL_DTYPES = ['fp32', 'fp16', 'q8', 'q4'] as const;
export type ModelDType = (typeof MODEL_DTYPES)[number];

/** `dtype` as a ModelDType, or a named error listing the valid ones (`what` says where it came from). */
export function checkDType(dtype: string, what = 'dtype'): ModelDType {
  return checkChoice(dtype, MODEL_DTYPES, what, 'BAD_CONFIG');
}

/** The traced fp32 model in another dtype (`q8` options: the levers docs/quantization.md measures). */
export function applyDType(model: ModelProto, dtype: ModelDType, q8?: Q8Options): ModelProto {
  switch (dtype) {
    case 'fp32':
      return model;
    case 'fp16':
      return halfWeights(model);
    case 'q8':
      return quantizeQ8(model, q8);
    case 'q4':
      return quantizeQ4(model);
  }
}
