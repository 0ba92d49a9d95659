import type * as ort from 'onnxruntime-node';
import { importPackage } from '../../core/optional.js';
import { defaultThreads } from '../../core/threads.js';
import { readFileBytes } from '../../io/files.js';
import { OrtSession, type OpenOptions } from './ort_session.js';

export { GRAPH_OPTIMIZATION_LEVEL, type IoInfo } from './ort_session.js';

export interface SessionOptions {
  /** Intra-op threads; default FLATTEN_THREADS, else every core. */
  threads?: number;
  /** Write the graph as ORT optimized it (for node counts and inspection). */
  optimizedModelPath?: string;
  /** ORT's graph optimization level; default 'all' (see OpenOptions.optimizationLevel). */
  optimizationLevel?: OpenOptions['optimizationLevel'];
  /** Whether idle intra-op threads spin (ORT's default) rather than sleep; see OpenOptions.spinning. */
  spinning?: boolean;
  /** ORT's memory pattern (one block planned for all intermediates); see OpenOptions.memoryPattern. */
  memoryPattern?: boolean;
}

/** An ONNX model loaded in onnxruntime-node (the session itself, runtime-neutral, is ort_session.ts). */
export class OnnxSession extends OrtSession {
  static async create(model: Uint8Array | string, source: string, opts: SessionOptions = {}): Promise<OnnxSession> {
    // onnxruntime-node loads with the first session, so that importing the library does not pay for it
    const runtime = await importPackage<typeof ort>('onnxruntime-node', 'the onnx engine');
    // for a path, our checks read the file and ORT still reads it itself
    const bytes = typeof model === 'string' ? readFileBytes(model) : model;
    return OrtSession.open({
      runtime,
      model,
      bytes,
      source,
      threads: opts.threads ?? defaultThreads(),
      optimizedModelPath: opts.optimizedModelPath,
      optimizationLevel: opts.optimizationLevel,
      spinning: opts.spinning,
      memoryPattern: opts.memoryPattern,
    });
  }
}
