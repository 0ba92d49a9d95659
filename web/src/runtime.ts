/**
 * The models the page classifies with, all through the package's browser entry on onnxruntime-web:
 * the shipped flatten_deit_fmnist (its weights fetched once, shared with the tfjs analysis), any registry
 * model with seeded random weights, or a dropped-in .onnx / model folder written by `flatten export`.
 */
import { download, pipeline, type WebImagePipeline, type WebPipelineOptions } from 'flatten-transformer/web';
import { FMA_WASM_PATH, ORT_PATH, RANDOM_WEIGHTS_PATH, SHIPPED_ONNX_PATH } from './shared.js';

export type Device = NonNullable<WebPipelineOptions['device']>;
export type Progress = Parameters<NonNullable<WebPipelineOptions['onProgress']>>[0];

/** What the user picked: the shipped model, a registry name (random weights), or dropped files. */
export type ModelChoice =
  { kind: 'shipped' } | { kind: 'registry'; name: string } | { kind: 'files'; files: File[]; label: string };

export interface LoadedModel {
  pipe: WebImagePipeline;
  choice: ModelChoice;
  /** The safetensors bytes of the shipped model (or of the build's random fallback), for the analysis. */
  safetensors?: { bytes: Uint8Array; url: string };
  /** True when the weights are random: a registry pick, or the shipped file missing. */
  random: boolean;
}

/** The shipped weights at the registry's path, else the seeded random ones web/build.ts writes. */
async function shippedWeights(weightsPath: string, onProgress: (p: Progress) => void) {
  const missing = !(await fetch(weightsPath, { method: 'HEAD' })).ok;
  const url = missing ? RANDOM_WEIGHTS_PATH : weightsPath;
  return { bytes: await download(url, { fetch: globalThis.fetch.bind(globalThis), onProgress }), url, random: missing };
}

interface Adapter {
  isFallbackAdapter?: boolean;
  info?: { architecture?: string };
}

/**
 * 'auto' resolved here: WebGPU when navigator.gpu gives a hardware adapter, else wasm. A software adapter
 * (SwiftShader, what headless Chromium has here) gives the same answers, but its first run compiles every
 * shader on the CPU (12-23 s for the shipped model here, then 1.4 s a run, against wasm's 16 ms).
 */
async function autoDevice(): Promise<'wasm' | 'webgpu'> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  const software = adapter?.isFallbackAdapter === true || adapter?.info?.architecture === 'swiftshader';
  return adapter && !software ? 'webgpu' : 'wasm';
}

/**
 * The onnxruntime-web build for a device, each its own chunk loaded on first use: wasm runs on the plain
 * build (a 14 MB .wasm, half the WebGPU build's, so the first prediction comes sooner), WebGPU on the JSEP
 * build. Separate builds are separate wasm instances, which also keeps clear of an onnxruntime-web 1.30
 * fault: in one instance, releasing a wasm session after a WebGPU session was created breaks the WebGPU
 * session ("no GPU data for input" on its next run; reproduced in Chromium here).
 */
function ortFor(device: 'wasm' | 'webgpu'): Promise<NonNullable<WebPipelineOptions['ort']>> {
  return device === 'webgpu' ? import('onnxruntime-web') : import('onnxruntime-web/wasm');
}

/**
 * Builds the pipeline of a choice. Nothing of the previously loaded model is touched: the caller swaps
 * only once this resolves, so a bad file leaves the old model working.
 */
export async function loadModel(
  choice: ModelChoice,
  opts: { device: Device; threads?: number; fma: boolean; weightsPath: string; onProgress: (p: Progress) => void },
): Promise<LoadedModel> {
  const device = opts.device === 'auto' ? await autoDevice() : opts.device;
  const base: WebPipelineOptions = {
    device,
    threads: opts.threads,
    ort: await ortFor(device),
    wasmPaths: new URL(ORT_PATH, location.href).href,
    // made from the plain build's .wasm: the wasm device's build only (WebGPU runs the JSEP build)
    ...(device === 'wasm' && opts.fma ? { fmaWasm: new URL(FMA_WASM_PATH, location.href).href } : {}),
    onProgress: opts.onProgress,
  };
  if (choice.kind === 'shipped') {
    // the graph web/build.ts exported (and optimized) from the same weights; the weights, for the tfjs analysis
    const [pipe, { bytes, url, random }] = await Promise.all([
      pipeline('image-classification', new URL(SHIPPED_ONNX_PATH, location.href).href, base),
      shippedWeights(opts.weightsPath, opts.onProgress),
    ]);
    return { pipe, choice, safetensors: { bytes, url }, random: random || pipe.info.random };
  }
  if (choice.kind === 'registry') {
    const pipe = await pipeline('image-classification', choice.name, { ...base, weights: 'random' });
    return { pipe, choice, random: true };
  }
  const [only] = choice.files;
  const pipe = await pipeline('image-classification', choice.files.length === 1 ? only : choice.files, base);
  return { pipe, choice, random: pipe.info.random };
}
