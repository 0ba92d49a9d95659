import type * as ortWeb from 'onnxruntime-web';
import { FlattenError } from '../core/errors.js';
import { download, type Loader } from './fetch.js';

export type WebDevice = 'wasm' | 'webgpu';

export interface RuntimeOptions {
  device?: WebDevice | 'auto';
  threads?: number;
  wasmPaths?: string;
  /** The onnxruntime-web build to run on (default: `import('onnxruntime-web')`, wasm + WebGPU). */
  ort?: typeof ortWeb;
  /**
   * That build's .wasm rewritten for relaxed SIMD (`flatten fuse-wasm`, or `buildFmaWasm`): a URL or the
   * bytes. Run where the browser has relaxed SIMD, else the build's own .wasm is.
   */
  fmaWasm?: string | Uint8Array;
}

export interface WebRuntime {
  ort: typeof ortWeb;
  device: WebDevice;
  threads: number;
  /** Whether the build runs the fused multiply-add .wasm (`fmaWasm`). */
  fma: boolean;
}

/** A module of one function that uses f32x4.relaxed_madd (0xfd 0x105): valid only where relaxed SIMD is on. */
export const RELAXED_SIMD_PROBE = (() => {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
  const body = [0x00, ...zero, ...zero, ...zero, 0xfd, 0x85, 0x02, 0x0b];
  const types = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b]; // () → v128
  const head = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  return Uint8Array.from([
    ...head,
    ...types,
    0x03,
    0x02,
    0x01,
    0x00,
    0x0a,
    body.length + 2,
    0x01,
    body.length,
    ...body,
  ]);
})();

/** Whether this JavaScript engine runs relaxed SIMD (Chromium ≥ 114 does; Node 20 only behind a flag). */
export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
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

/**
 * What each onnxruntime-web build was started with: its wasm module takes `numThreads` and its binary once, at its
 * first session.
 */
const started = new WeakMap<object, Promise<{ threads: number; fma: boolean }>>();

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

/** The wasm threads and, where relaxed SIMD runs, the fused .wasm that `ort` starts with. */
async function startRuntime(ort: typeof ortWeb, o: RuntimeOptions, loader?: Loader) {
  const fma = o.fmaWasm !== undefined && relaxedSimdSupported();
  if (fma) {
    const f = o.fmaWasm!;
    const bytes = typeof f === 'string' ? await download(f, loader ?? { fetch: globalThis.fetch.bind(globalThis) }) : f;
    // the magic number only: validating 14 MB here would cost what onnxruntime-web's own compile costs again
    if (![0x00, 0x61, 0x73, 0x6d].every((x, i) => bytes[i] === x))
      throw new FlattenError('BAD_FILE', `${typeof f === 'string' ? f : 'fmaWasm'}: not a WebAssembly module`);
    ort.env.wasm.wasmBinary = bytes;
  }
  const threads = threadsFor(o.threads);
  ort.env.wasm.numThreads = threads;
  return { threads, fma };
}

/** onnxruntime-web, set up for `o` on first use: its execution provider, wasm threads and wasm binary. */
export async function loadRuntime(o: RuntimeOptions, loader?: Loader): Promise<WebRuntime> {
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
  // the start is kept as a promise, set before its first await: pipelines made at once start the runtime once
  let start = started.get(ort.env);
  if (start === undefined) {
    start = startRuntime(ort, o, loader);
    started.set(ort.env, start);
    start.catch(() => started.delete(ort.env)); // a bad fmaWasm leaves the runtime unstarted for the next try
  }
  return { ort, device: gpu ? 'webgpu' : 'wasm', ...(await start) };
}
