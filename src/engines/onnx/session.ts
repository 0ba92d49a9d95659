import * as ort from 'onnxruntime-node';
import { FlattenError } from '../../core/errors.js';
import { shapeStr, type TensorData } from '../../core/tensor.js';
import { defaultThreads } from '../../core/threads.js';

/** ORT's highest level: constant folding, the fusions (Gelu, LayerNorm, MatMul+Add, FusedMatMul) and NCHWc layouts. */
export const GRAPH_OPTIMIZATION_LEVEL = 'all' as const;

export interface SessionOptions {
  /** Intra-op threads; default FLATTEN_THREADS, else every core. */
  threads?: number;
  /** Write the graph as ORT optimized it (for node counts and inspection). */
  optimizedModelPath?: string;
}

export interface IoInfo {
  name: string;
  /** Fixed sizes, and names for symbolic axes (`batch`). */
  shape: (number | string)[];
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0].trim();

/** An ONNX model loaded in onnxruntime-node, with inputs checked against the model's declared shapes. */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** What the model is called in error messages (its file, or 'traced graph'). */
    readonly source: string,
    readonly inputs: IoInfo[],
    readonly outputs: string[],
  ) {}

  static async create(model: Uint8Array | string, source: string, opts: SessionOptions = {}): Promise<OnnxSession> {
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads ?? defaultThreads(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: GRAPH_OPTIMIZATION_LEVEL,
      logSeverityLevel: 3,
      ...(opts.optimizedModelPath ? { optimizedModelFilePath: opts.optimizedModelPath } : {}),
    };
    let s: ort.InferenceSession;
    try {
      s = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    } catch (e) {
      throw new FlattenError('BAD_FILE', `${source}: not a loadable ONNX model (${firstLine(e)})`);
    }
    const inputs = s.inputMetadata.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
    return new OnnxSession(s, source, inputs, [...s.outputNames]);
  }

  /** Throws a named BAD_SHAPE error unless `x` fits input `i` (any size on symbolic axes). */
  check(i: IoInfo, x: TensorData): void {
    const want = i.shape;
    const ok = x.shape.length === want.length && want.every((d, k) => typeof d !== 'number' || d === x.shape[k]);
    const wantStr = `(${want.join(', ')})`;
    if (ok) {
      if (x.dtype !== 'float32') throw new FlattenError('BAD_SHAPE', `${this.source}: input '${i.name}' must be float32, got ${x.dtype}`);
      return;
    }
    // images: name the resolution, which is fixed per export
    const res = want.length === 4 && x.shape.length === 4 && x.shape[1] === want[1] && (x.shape[2] !== want[2] || x.shape[3] !== want[3]);
    const hint = res ? `; the resolution is fixed when exporting, so resize the image to ${want[2]}×${want[3]} or export again with --resolution ${x.shape[2]}` : '';
    throw new FlattenError('BAD_SHAPE', `${this.source}: input '${i.name}' has shape ${shapeStr(x.shape)} but the model takes ${wantStr}${hint}`);
  }

  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const i of this.inputs) {
      const x = feeds[i.name];
      if (!x) throw new FlattenError('BAD_ARGUMENT', `${this.source}: no value for input '${i.name}'`);
      this.check(i, x);
      ortFeeds[i.name] = new ort.Tensor('float32', x.data as Float32Array, x.shape);
    }
    let r: ort.InferenceSession.OnnxValueMapType;
    try {
      r = await this.session.run(ortFeeds);
    } catch (e) {
      throw new FlattenError('BAD_SHAPE', `${this.source}: onnxruntime rejected the input (${firstLine(e)})`);
    }
    const out: Record<string, TensorData> = {};
    for (const name of this.outputs) {
      const o = r[name] as ort.Tensor;
      out[name] = { dtype: 'float32', shape: [...o.dims], data: o.data as Float32Array };
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
