import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { TfjsBackend } from './backend_name.js';
import { installWasmKernels } from './kernels.js';

export type { TfjsBackend };

let ready: Promise<string> | undefined;

/** wasm unless FLATTEN_TFJS_BACKEND says otherwise (read only where `process` exists, i.e. not in browsers). */
function defaultBackend(): TfjsBackend {
  const env = globalThis.process?.env.FLATTEN_TFJS_BACKEND;
  return (env as TfjsBackend) || 'wasm';
}

/**
 * Selects the tfjs backend once per process. wasm is the default: it runs every forward op the
 * models need (Erf, depthwise conv, batched matmul) with SIMD kernels, ~20× the pure-JS cpu backend.
 * `FLATTEN_TFJS_BACKEND=cpu` overrides it (the cpu backend also has every gradient kernel).
 */
export function initTfjs(backend: TfjsBackend = defaultBackend()): Promise<string> {
  ready ??= (async () => {
    if (backend === 'wasm') installWasmKernels();
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`tfjs backend '${backend}' could not be initialised`);
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}
