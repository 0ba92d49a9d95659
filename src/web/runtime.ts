import type * as ortWeb from 'onnxruntime-web';
import { FlattenError } from '../core/errors.js';

export type WebDevice = 'wasm' | 'webgpu';

export interface RuntimeOptions {
  device?: WebDevice | 'auto';
  threads?: number;
  wasmPaths?: string;
  /** The onnxruntime-web build to run on (default: `import('onnxruntime-web')`, wasm + WebGPU). */
  ort?: typeof ortWeb;
}

export interface WebRuntime {
  ort: typeof ortWeb;
  device: WebDevice;
  threads: number;
}

type Gpu = { requestAdapter(): Promise<unknown | null> };

/** Whether this page can run WebGPU: `navigator.gpu` exists and gives an adapter. */
export async function webgpuAvailable(): Promise<boolean> {
  const gpu = (globalThis.navigator as { gpu?: Gpu } | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** The thread count each onnxruntime-web build was started with: its wasm module takes `numThreads` once, at its first session. */
const started = new WeakMap<object, number>();

/**
 * Wasm threads need SharedArrayBuffer, which browsers give only to cross-origin-isolated pages (COOP/COEP
 * headers): there the default is min(4, cores); elsewhere 1, and more are refused by ORT (it falls back to 1).
 */
function threadsFor(requested: number | undefined): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  const cores = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
  if (requested === undefined) return isolated ? Math.min(4, cores) : 1;
  // false only in a browser that is not isolated (Node leaves it undefined and has worker threads)
  return isolated === false ? 1 : requested;
}

/** onnxruntime-web, set up for `o` on first use: its execution provider and wasm threads. */
export async function loadRuntime(o: RuntimeOptions): Promise<WebRuntime> {
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1))
    throw new FlattenError('BAD_ARGUMENT', `threads must be a whole number ≥ 1, got ${o.threads}`);
  const want = o.device ?? 'auto';
  if (!['wasm', 'webgpu', 'auto'].includes(want))
    throw new FlattenError('BAD_ARGUMENT', `device '${String(want)}' is not available; available: wasm, webgpu, auto`);
  let ort: typeof ortWeb;
  try {
    ort = o.ort ?? (await import('onnxruntime-web'));
  } catch (e) {
    throw new FlattenError(
      'MISSING_PACKAGE',
      `the browser entry needs the package 'onnxruntime-web' (npm install onnxruntime-web): ${String((e as Error)?.message ?? e).split('\n')[0]}`,
    );
  }
  const gpu = want === 'wasm' ? false : await webgpuAvailable();
  if (want === 'webgpu' && !gpu)
    throw new FlattenError(
      'BAD_ARGUMENT',
      "device 'webgpu': this browser gives no WebGPU adapter (navigator.gpu is missing or has none); use device 'wasm', or 'auto' to fall back to it",
    );
  if (o.wasmPaths !== undefined) ort.env.wasm.wasmPaths = o.wasmPaths;
  let threads = started.get(ort.env);
  if (threads === undefined) {
    threads = threadsFor(o.threads);
    started.set(ort.env, threads);
    ort.env.wasm.numThreads = threads;
  }
  return { ort, device: gpu ? 'webgpu' : 'wasm', threads };
}
