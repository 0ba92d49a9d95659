import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Slice for tfjs-wasm that reads its input in place. The stock kernel (tfjs 4.22) copies the whole input
 * out of the wasm heap (readSync) on every call, so taking q, k and v out of a (B, N, 3C) tensor copied it
 * three times: with the garbage collection that followed, ≈ 20% of a flatten_deit_fmnist training step.
 * This one copies only the output, one contiguous run at a time.
 */
function sliceInPlace({
  inputs,
  attrs,
  backend,
}: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') throw new Error('Slice: string tensors are not supported on the wasm backend');
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as tf.Tensor,
    attrs!.begin as number[],
    attrs!.size as number[],
  );
  const out = wasm.makeOutput(size, x.dtype);
  if (size.some((s) => s === 0)) return out;
  const src = wasm.typedArrayFromHeap(x);
  const dst = wasm.typedArrayFromHeap(out);
  const strides = [...tf.util.computeStrides(x.shape), 1];
  // the innermost axes taken whole, plus the next (partly taken) one, form one contiguous run
  let axis = x.shape.length - 1;
  while (axis > 0 && begin[axis] === 0 && size[axis] === x.shape[axis]) axis--;
  const run = size[axis] * strides[axis];
  let offset = begin.reduce((acc, b, i) => acc + b * strides[i], 0);
  const idx = new Array<number>(axis).fill(0); // odometer over the outer axes 0 … axis−1
  for (let written = 0; written < dst.length; written += run) {
    dst.set(src.subarray(offset, offset + run), written);
    for (let i = axis - 1; i >= 0; i--) {
      offset += strides[i];
      if (++idx[i] < size[i]) break;
      offset -= size[i] * strides[i];
      idx[i] = 0;
    }
  }
  return out;
}

/** Replaces stock wasm kernels that are much slower than they need to be; idempotent. */
export function installWasmKernels(): void {
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({ kernelName: 'Slice', backendName: 'wasm', kernelFunc: sliceInPlace as unknown as tf.KernelFunc });
}
