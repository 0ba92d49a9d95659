import type * as ort from 'onnxruntime-node';
import { FlattenError } from '../../core/errors.js';
import { shapeStr, sizeOf, type TensorData } from '../../core/tensor.js';
import { checkOnnxModel } from './model_check.js';

/**
 * An ONNX Runtime session on either runtime: onnxruntime-node (session.ts opens it for Node) or onnxruntime-web
 * (src/web, in a page). Node-free, so a browser bundle can hold it; both runtimes share onnxruntime-common's API.
 */

/** The part of an onnxruntime module a session uses (onnxruntime-node's or onnxruntime-web's). */
export type OrtModule = Pick<typeof ort, 'InferenceSession' | 'Tensor'>;

/** ORT's highest level: constant folding, the fusions (Gelu, LayerNorm, MatMul+Add, FusedMatMul) and NCHWc layouts. */
export const GRAPH_OPTIMIZATION_LEVEL = 'all' as const;

/**
 * Metadata key of a graph written as onnxruntime-node optimized it (`flatten export --optimize`): its value is the
 * level, 'extended', the highest whose output stays portable (standard ops plus com.microsoft FusedGemm,
 * FusedMatMul and Gelu, which onnxruntime-web runs; 'all' adds NCHWc kernels the wasm build does not have).
 */
export const OPTIMIZED_KEY = 'flatten.optimized';

export interface IoInfo {
  name: string;
  /** Fixed sizes, and names for symbolic axes (`batch`). */
  shape: (number | string)[];
}

export interface OpenOptions {
  runtime: OrtModule;
  /** The model's bytes, or (Node) its path, which ORT then reads itself. */
  model: Uint8Array | string;
  /** The model's bytes, for our own checks before ORT sees them (model_check.ts). */
  bytes: Uint8Array;
  /** What the model is called in error messages. */
  source: string;
  /** Intra-op threads (onnxruntime-web takes its threads from `env.wasm.numThreads` instead). */
  threads: number;
  /** Default: ORT's own (cpu on Node, wasm on the web). */
  executionProviders?: string[];
  optimizedModelPath?: string;
  /**
   * Default 'all'. 'disabled' for a graph ORT already optimized (OPTIMIZED_KEY in its metadata): the page then
   * skips the optimizer, most of a small model's session start-up on onnxruntime-web's first-run code.
   */
  optimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * false: idle intra-op threads sleep instead of spinning between ops. On a loaded host the spinning threads
   * take cores the working ones need: a 2-thread training step ran 1.8× faster without it (bench/RESULTS.md).
   */
  spinning?: boolean;
  /**
   * false: no memory pattern, intermediates come from the arena one by one. For the pvt_v2_b0 training step
   * (batch 8) the planned block made the peak RSS 1.75 GB instead of 0.98 GB, at the same speed.
   */
  memoryPattern?: boolean;
}

const firstLine = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .trim();

/** An ONNX model loaded in ONNX Runtime, with inputs checked against the model's declared shapes. */
export class OrtSession {
  protected constructor(
    private readonly session: ort.InferenceSession,
    private readonly runtime: OrtModule,
    /** What the model is called in error messages (its file, or 'traced graph'). */
    readonly source: string,
    readonly inputs: IoInfo[],
    readonly outputs: string[],
  ) {}

  static async open(o: OpenOptions): Promise<OrtSession> {
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: o.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: o.optimizationLevel ?? GRAPH_OPTIMIZATION_LEVEL,
      logSeverityLevel: 3,
      ...(o.executionProviders ? { executionProviders: o.executionProviders } : {}),
      ...(o.optimizedModelPath ? { optimizedModelFilePath: o.optimizedModelPath } : {}),
      ...(o.memoryPattern === false ? { enableMemPattern: false } : {}),
      ...(o.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    };
    checkOnnxModel(o.bytes, o.source);
    let s: ort.InferenceSession;
    try {
      s =
        typeof o.model === 'string'
          ? await o.runtime.InferenceSession.create(o.model, options)
          : await o.runtime.InferenceSession.create(o.model, options);
    } catch (e) {
      throw new FlattenError('BAD_FILE', `${o.source}: not a loadable ONNX model (${firstLine(e)})`);
    }
    const inputs = s.inputMetadata.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
    return new OrtSession(s, o.runtime, o.source, inputs, [...s.outputNames]);
  }

  /** Throws a named BAD_SHAPE error unless `x` fits input `i` (any size on symbolic axes). */
  check(i: IoInfo, x: TensorData): void {
    const want = i.shape;
    const ok = x.shape.length === want.length && want.every((d, k) => typeof d !== 'number' || d === x.shape[k]);
    const wantStr = `(${want.join(', ')})`;
    if (ok) {
      if (x.dtype !== 'float32')
        throw new FlattenError('BAD_SHAPE', `${this.source}: input '${i.name}' must be float32, got ${x.dtype}`);
      // ORT would answer a mismatch with an error of its own (or read past the buffer): say it here.
      if (!x.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || x.data.length !== sizeOf(x.shape))
        throw new FlattenError(
          'BAD_SHAPE',
          `${this.source}: input '${i.name}' has shape ${shapeStr(x.shape)} (${sizeOf(x.shape)} values) but its data holds ${x.data.length}`,
        );
      return;
    }
    // images: name the resolution, which is fixed per export
    const res =
      want.length === 4 &&
      x.shape.length === 4 &&
      x.shape[1] === want[1] &&
      (x.shape[2] !== want[2] || x.shape[3] !== want[3]);
    const hint = res
      ? `; the resolution is fixed when exporting, so resize the image to ${want[2]}×${want[3]} or export again with --resolution ${x.shape[2]}`
      : '';
    throw new FlattenError(
      'BAD_SHAPE',
      `${this.source}: input '${i.name}' has shape ${shapeStr(x.shape)} but the model takes ${wantStr}${hint}`,
    );
  }

  /** Output buffers kept for `reuseOutputs`, by output name and shape. */
  private readonly outBuffers = new Map<string, ort.Tensor>();

  /**
   * Run the model. With `reuseOutputs`, ORT writes each output into a buffer this session keeps for that output
   * and shape, and that buffer is what comes back: it is overwritten by the next call (so do not overlap calls),
   * and what must outlive it has to be copied. ORT then allocates no output of its own; onnxruntime-node 1.30 still
   * hands back a copy, which is dropped. On Linux, freshly allocated outputs page-fault on every call (a 4 MiB
   * output: 200–670 faults per call; with `reuseOutputs` about half): see the README's serving notes for the
   * `GLIBC_TUNABLES` setting that takes this to 0.
   */
  async run(
    feeds: Record<string, TensorData>,
    opts: { reuseOutputs?: boolean } = {},
  ): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const i of this.inputs) {
      const x = feeds[i.name];
      if (!x) throw new FlattenError('BAD_ARGUMENT', `${this.source}: no value for input '${i.name}'`);
      this.check(i, x);
      ortFeeds[i.name] = new this.runtime.Tensor('float32', x.data as Float32Array, x.shape);
    }
    const fetches = opts.reuseOutputs ? this.boundOutputs(feeds) : undefined;
    let r: ort.InferenceSession.OnnxValueMapType;
    try {
      r = fetches ? await this.session.run(ortFeeds, fetches) : await this.session.run(ortFeeds);
    } catch (e) {
      throw new FlattenError('BAD_SHAPE', `${this.source}: onnxruntime rejected the input (${firstLine(e)})`);
    }
    const out: Record<string, TensorData> = {};
    for (const name of this.outputs) {
      // ORT filled the bound buffer; the binding's copy of it (r[name]) is not needed
      const o = (fetches?.[name] ?? r[name]) as ort.Tensor;
      out[name] = { dtype: 'float32', shape: [...o.dims], data: o.data as Float32Array };
    }
    return out;
  }

  /** Kept buffers for every output, when the model declares all output shapes (the batch taken from the feeds). */
  private boundOutputs(feeds: Record<string, TensorData>): Record<string, ort.Tensor> | undefined {
    // our exports have one symbolic axis, the batch of the first input; anything else is left to ORT to allocate
    const sym = this.inputs[0]?.shape[0];
    const batch = feeds[this.inputs[0]?.name]?.shape[0];
    const out: Record<string, ort.Tensor> = {};
    for (const m of this.session.outputMetadata) {
      if (!m.isTensor) return undefined;
      const shape = m.shape.map((d) => (typeof d === 'number' ? d : d === sym ? batch : undefined));
      if (shape.some((d) => typeof d !== 'number')) return undefined;
      const dims = shape as number[];
      const key = `${m.name}:${dims}`;
      let t = this.outBuffers.get(key);
      if (!t)
        this.outBuffers.set(
          key,
          (t = new this.runtime.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims)),
        );
      out[m.name] = t;
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
