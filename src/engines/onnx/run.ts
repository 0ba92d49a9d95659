import type { TensorData } from '../../core/tensor.js';
import type { Tensor } from '../../ops/ops.js';
import type { Ctx } from '../../ops/ctx.js';
import { OnnxSession } from './session.js';
import { applyDType, type ModelDType } from './quantize/dtype.js';
import { traceOnnx } from './trace.js';

/**
 * The `onnx` engine runner: trace `fn` into a graph at the inputs' exact shapes, run it once on
 * onnxruntime-node (threads from FLATTEN_THREADS, else every core) and return the outputs.
 * Repeated inference should keep an OnnxSession instead (see api/export.ts), which pays the trace
 * and the session setup once.
 */
export async function runOnnx<K extends string>(
  weights: Map<string, TensorData>,
  inputs: TensorData[],
  fn: (ctx: Ctx, ...xs: Tensor[]) => Record<K, Tensor>,
  opts: { dtype?: ModelDType } = {},
): Promise<Record<K, TensorData>> {
  const names = inputs.map((_, i) => (inputs.length === 1 ? 'input' : `input${i}`));
  const { bytes } = traceOnnx(
    weights,
    inputs.map((x, i) => ({ name: names[i], shape: x.shape })),
    fn,
    { transform: opts.dtype && ((m) => applyDType(m, opts.dtype!)) },
  );
  const session = await OnnxSession.create(bytes, 'traced graph');
  try {
    return (await session.run(Object.fromEntries(inputs.map((x, i) => [names[i], x])))) as Record<K, TensorData>;
  } finally {
    await session.release();
  }
}
