import { FlattenError } from '../core/errors.js';
import { checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';

export { checkDType, MODEL_DTYPES, type ModelDType } from '../engines/onnx/quantize/dtype.js';

/** The file of each dtype in a model folder, as transformers.js names them (its dtype → file-suffix table). */
export const DTYPE_FILES: Record<ModelDType, string> = {
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  q8: 'onnx/model_quantized.onnx',
  q4: 'onnx/model_q4.onnx',
};

/** `fp32,q8` → ['fp32', 'q8'], each checked, none twice (`what` names the option). */
export function parseDtypeList(v: string, what = '--dtype'): ModelDType[] {
  const list = v.split(',').map((d) => checkDType(d.trim(), what));
  const twice = list.find((d, i) => list.indexOf(d) !== i);
  if (twice) throw new FlattenError('BAD_ARGUMENT', `${what} names '${twice}' twice`);
  return list;
}
