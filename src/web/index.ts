/**
 * The browser entry of the package (`flatten-transformer/web`, and the `browser` condition of the package itself):
 * the pipeline of the Node API on onnxruntime-web, wasm (threads where the page is cross-origin isolated) or
 * WebGPU. No Node built-ins are reachable from here (test/web/entry_bundle.test.ts bundles it for the browser).
 *
 *   const classify = await pipeline('image-classification', 'models/fmnist/', { device: 'auto' });
 *   const [top] = await classify(canvas); // { label: 'Sneaker', score: 0.9 }
 */
import { FlattenError } from '../core/errors.js';
import { ReadBudget } from '../io/budget.js';
import { MAX_PIXELS, prepareDecoded, toBatch } from '../io/image_pixels.js';
import { MODEL_INPUT } from '../api/export_graph.js';
import { checkFolderGraph, imageInput, topClasses, type Classification } from '../api/exported.js';
import { OrtSession } from '../engines/onnx/ort_session.js';
import type { ModelDType } from '../engines/onnx/quantize/dtype.js';
import type { WebProgress } from './fetch.js';
import { decodeWebImage, type WebImageInput } from './image.js';
import { loadRuntime, type WebDevice } from './runtime.js';
import { resolveModel, type WebModelSource } from './source.js';

export type { Classification } from '../api/exported.js';
// the demo's registry picker (and any page's): the names a pipeline takes
export { listModels } from '../api/registry.js';
export type { WebProgress } from './fetch.js';
/** A URL's bytes with progress (the pipeline's own downloader), for a page's other files. */
export { download } from './fetch.js';
export type { RawPixels, WebImageInput } from './image.js';
export { relaxedSimdSupported, type WebDevice } from './runtime.js';
/** The rewrite behind `flatten fuse-wasm`: a wasm build's f32x4 multiply-adds as relaxed SIMD's one FMA. */
export { buildFmaWasm, type FmaWasm } from '../engines/onnx/wasm/fma.js';
export type { WebModelSource } from './source.js';
// fine-tuning in the page: a training-step graph (traceTrainStep + webTrainSpec, made in Node) run on onnxruntime-web
export { WebTrainStep, type WebOptimizer, type WebTrainSpec } from '../train/web_step.js';

export type WebTask = 'image-classification' | 'image-feature-extraction';

export interface WebPipelineOptions {
  /** 'auto' (default): WebGPU when `navigator.gpu` gives an adapter, else wasm. 'webgpu' without one is an error. */
  device?: WebDevice | 'auto';
  /**
   * Wasm threads; default min(4, cores) on a cross-origin-isolated page, else 1 (threads need SharedArrayBuffer).
   * onnxruntime-web takes it once: the first pipeline's count holds for the page (`pipeline.threads` says which).
   */
  threads?: number;
  /** 'fp32' (default), 'fp16', 'q8', 'q4': a registry name is exported in it, a folder's file of it is fetched. */
  dtype?: ModelDType;
  /** Weights for a registry name: a URL or bytes of a .safetensors or .pth, or 'random' (seeded; `info.random`). */
  weights?: string | ArrayBuffer | Uint8Array;
  /** Class names, for a model whose files name none (a bare 1000-class .onnx: pass ImageNet's). */
  labels?: string[];
  /** URL prefix where onnxruntime-web's .wasm/.mjs files are served (default: beside its own script). */
  wasmPaths?: string;
  /**
   * The onnxruntime-web build (default: `import('onnxruntime-web')`, wasm + WebGPU); e.g. `onnxruntime-web/wasm`,
   * whose wasm file is half the size, for a page that never uses WebGPU.
   */
  ort?: typeof import('onnxruntime-web');
  /**
   * The build's .wasm for relaxed SIMD (`flatten fuse-wasm`: our FMA SGEMM kernel, fused multiply-adds): a URL or
   * the bytes, made from the same onnxruntime-web version and build as `ort`. Taken where the browser runs relaxed
   * SIMD (`pipeline.fma` says whether it did), once per page like `threads`; 0.69–0.94× the time of the stock .wasm.
   */
  fmaWasm?: string | Uint8Array;
  onProgress?: (p: WebProgress) => void;
  /** Injectable fetch (tests in Node, authenticated hosts). */
  fetch?: typeof fetch;
}

export interface WebPipelineInfo {
  name: string;
  labels: string[];
  imgSize: [number, number];
  channels: number;
  /** Seeded random weights: predictions mean nothing. */
  random: boolean;
  /** Where the model came from: a URL, a file name, 'model bytes', or the registry name with its weights. */
  source: string;
  dtype: ModelDType;
}

interface WebPipelineBase {
  /** The logits (classes) of one image. */
  logits(image: WebImageInput): Promise<Float32Array>;
  /** The execution provider that runs the session. */
  readonly device: WebDevice;
  /** Wasm threads onnxruntime-web runs with. */
  readonly threads: number;
  /** Whether onnxruntime-web runs the fused multiply-add .wasm (`fmaWasm`). */
  readonly fma: boolean;
  readonly info: WebPipelineInfo;
  dispose(): Promise<void>;
}

/** An image in, its top classes (best first, `topk` of them, default 5) out: the Node pipeline's shape. */
export interface WebImagePipeline extends WebPipelineBase {
  (image: WebImageInput, opts?: { topk?: number }): Promise<Classification[]>;
  /** Several images, run as one batch: a list per image. */
  (images: WebImageInput[], opts?: { topk?: number }): Promise<Classification[][]>;
}

/** One image in, the pooled features the head reads out (C); a list of images, one row each. */
export interface WebFeaturePipeline extends WebPipelineBase {
  (image: WebImageInput): Promise<Float32Array>;
  (images: WebImageInput[]): Promise<Float32Array[]>;
}

export function pipeline(
  task: 'image-classification',
  model: WebModelSource,
  options?: WebPipelineOptions,
): Promise<WebImagePipeline>;
export function pipeline(
  task: 'image-feature-extraction',
  model: WebModelSource,
  options?: WebPipelineOptions,
): Promise<WebFeaturePipeline>;
export async function pipeline(
  task: WebTask,
  model: WebModelSource,
  options: WebPipelineOptions = {},
): Promise<WebImagePipeline | WebFeaturePipeline> {
  if (task !== 'image-classification' && task !== 'image-feature-extraction')
    throw new FlattenError(
      'BAD_ARGUMENT',
      `unknown task '${String(task)}'; available: image-classification, image-feature-extraction`,
    );
  const loader = { fetch: options.fetch ?? globalThis.fetch.bind(globalThis), onProgress: options.onProgress };
  // the runtime (its fused .wasm a download too) and the model's files come at the same time
  const [runtime, g] = await Promise.all([loadRuntime(options, loader), resolveModel(model, options, loader)]);
  options.onProgress?.({ stage: 'session', file: g.source, loaded: 0 });
  const open = (ep: WebDevice) =>
    OrtSession.open({
      runtime: runtime.ort,
      model: g.bytes,
      bytes: g.bytes,
      source: g.source,
      threads: runtime.threads,
      executionProviders: [ep],
      // the wasm build's optimizer runs on first-run code: most of a small model's session start-up
      ...(g.optimized ? { optimizationLevel: 'disabled' as const } : {}),
    });
  let device = runtime.device;
  let session: OrtSession;
  try {
    session = await open(device);
  } catch (e) {
    if (device !== 'webgpu') throw e;
    // 'auto' only: a WebGPU session that does not start falls back to wasm; asked for by name, it is the error
    if ((options.device ?? 'auto') !== 'auto') {
      if (/backend not found/.test((e as Error).message))
        throw new FlattenError(
          'BAD_ARGUMENT',
          "device 'webgpu': this onnxruntime-web build has no WebGPU backend (options.ort: use 'onnxruntime-web', not its /wasm build)",
        );
      throw e;
    }
    device = 'wasm';
    session = await open(device);
  }
  const input = imageInput(session, g.source);
  try {
    if (g.folder) checkFolderGraph(g.folder, input);
    else if (g.channels !== undefined && g.channels !== input.channels)
      throw new FlattenError('BAD_FILE', `${g.source}: the graph takes ${input.channels} channels, not ${g.channels}`);
  } catch (e) {
    await session.release();
    throw e;
  }
  options.onProgress?.({ stage: 'session', file: g.source, loaded: g.bytes.length });
  const { preprocess } = g;
  const channels = input.channels;
  // onnxruntime-web runs one call at a time per session: calls queue here instead of failing
  let queue: Promise<unknown> = Promise.resolve();
  const run = (images: WebImageInput[]) => {
    if (!images.length) throw new FlattenError('BAD_ARGUMENT', `${task}: no images given`);
    const next = queue.then(async () => {
      const prepared = [];
      for (const image of images) {
        const name = typeof image === 'string' ? image : 'image';
        const budget = new ReadBudget(4 * MAX_PIXELS + 4 * preprocess.imgSize ** 2);
        prepared.push(prepareDecoded(await decodeWebImage(image, loader), preprocess, channels, name, budget));
      }
      return session.run({ [MODEL_INPUT]: toBatch(prepared, preprocess) }); // (B, C, S, S) in
    });
    queue = next.catch(() => {});
    return next;
  };
  const logits = async (image: WebImageInput) => (await run([image])).logits.data as Float32Array; // (classes)
  const base: WebPipelineBase = {
    logits,
    device,
    threads: runtime.threads,
    fma: runtime.fma,
    info: {
      name: g.name,
      labels: g.labels,
      imgSize: [preprocess.imgSize, preprocess.imgSize],
      channels,
      random: g.random,
      source: g.source,
      dtype: g.dtype,
    },
    dispose: () => session.release(),
  };
  if (task === 'image-feature-extraction') {
    const features = async (images: WebImageInput | WebImageInput[]) => {
      const list = Array.isArray(images) ? images : [images];
      const out = await run(list);
      if (!out.pooler_output) throw new FlattenError('BAD_FILE', `${g.source}: the model has no 'pooler_output'`);
      const c = out.pooler_output.shape[1];
      const rows = list.map((_, i) => (out.pooler_output.data as Float32Array).slice(i * c, (i + 1) * c)); // (B, C)
      return Array.isArray(images) ? rows : rows[0];
    };
    return Object.assign(features, base) as WebFeaturePipeline;
  }
  const classify = async (images: WebImageInput | WebImageInput[], opts: { topk?: number } = {}) => {
    const k = opts.topk ?? 5;
    if (!(Number.isInteger(k) && k >= 1))
      throw new FlattenError('BAD_ARGUMENT', `topk must be a whole number ≥ 1, got ${k}`);
    const top = topClasses((await run(Array.isArray(images) ? images : [images])).logits, g.labels, k);
    return Array.isArray(images) ? top : top[0];
  };
  return Object.assign(classify, base) as WebImagePipeline;
}
