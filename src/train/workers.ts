import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import type { TfjsBackend } from '../engines/tfjs/backend_name.js';
import type { VisionModel } from '../models/model.js';
import type { LiveWeights } from './params.js';
import { lossAndGrads, type ShareOf, type StepBatch, type StepGrads } from './step.js';

/** One share of a batch, as a worker computes it (see lossAndGrads). */
export type ShareJob = StepBatch & { share: ShareOf };

export type ToWorker =
  | {
      type: 'init';
      model: string;
      kwargs: Record<string, unknown>;
      backend: TfjsBackend | undefined;
      weights: Map<string, TensorData>;
    }
  | { type: 'weights'; values: Map<string, Float32Array> }
  | ({ type: 'step' } & ShareJob);

type FromWorker =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'grads'; loss: number; logits: Float32Array; grads: [string, Float32Array][] };

/**
 * The worker thread entry. Built code runs grad_worker.js directly; from TypeScript sources (tsx, vitest)
 * the thread first registers tsx, which a worker does not inherit from its parent.
 */
function spawn(): Worker {
  const url = new URL(import.meta.url.endsWith('.ts') ? './grad_worker.ts' : './grad_worker.js', import.meta.url);
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  return new Worker(
    `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`,
    { eval: true },
  );
}

/** A worker and the reply it owes: each has at most one request in flight. */
class GradWorker {
  private pending?: { resolve: (m: FromWorker) => void; reject: (e: Error) => void };
  private failure?: Error;

  constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => {
      const p = this.pending;
      this.pending = undefined;
      if (m.type !== 'error') return p?.resolve(m);
      const e = new FlattenError('BAD_ARGUMENT', `gradient worker: ${m.message}`);
      // a failed weight update has no request waiting: keep it, so the next share is refused, not computed on stale weights
      if (p) p.reject(e);
      else this.failure = e;
    });
    const fail = (e: Error) => {
      this.failure = new FlattenError('BAD_ARGUMENT', `gradient worker stopped: ${e.message}`);
      this.pending?.reject(this.failure);
      this.pending = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  request(msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(msg, transfer);
    });
  }

  post(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/**
 * Data-parallel gradients on worker threads. tfjs-wasm runs on one thread in Node, so each extra core gets
 * a worker with its own engine and model copy; a batch is split into contiguous shares, the calling
 * thread computes the first and the workers the rest at the same time, and the shares' gradients add up
 * to the batch's (drop path draws per row, so the split does not change the masks).
 */
export class GradientWorkers {
  private constructor(private readonly workers: GradWorker[]) {}

  get size(): number {
    return this.workers.length;
  }

  /** Starts `count` workers on `model` with the given initial weights (every parameter and buffer). */
  static async start(
    count: number,
    model: string,
    kwargs: Record<string, unknown>,
    backend: TfjsBackend | undefined,
    weights: Map<string, TensorData>,
  ): Promise<GradientWorkers> {
    const workers = Array.from({ length: count }, () => new GradWorker(spawn()));
    const pool = new GradientWorkers(workers);
    try {
      await Promise.all(workers.map((w) => w.request({ type: 'init', model, kwargs, backend, weights })));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Sends the optimizer's new parameter values to every worker (they apply them before their next share). */
  sync(values: Map<string, Float32Array>): void {
    for (const w of this.workers) w.post({ type: 'weights', values });
  }

  /**
   * Loss and gradients of a whole batch (n, C, S, S): shares of ⌈n / threads⌉ rows, the first on this
   * thread's `live` weights, the others on the workers; summed as one StepGrads.
   */
  async batchGrads(model: VisionModel, live: LiveWeights, batch: StepBatch): Promise<StepGrads> {
    const { x, y } = batch;
    const B = y.length;
    const per = model.inChans * model.imgSize[0] * model.imgSize[1];
    const rows = Math.ceil(B / (this.workers.length + 1));
    const remote = this.workers.flatMap((w, i) => {
      const first = (i + 1) * rows;
      if (first >= B) return [];
      const end = Math.min(B, first + rows);
      const job: ShareJob = {
        ...batch,
        x: x.slice(first * per, end * per),
        y: y.slice(first, end),
        share: { total: B, first },
      };
      return [w.request({ type: 'step', ...job }, [job.x.buffer as ArrayBuffer]).then((m) => ({ first, m }))];
    });
    const own = await lossAndGrads(model, live, {
      ...batch,
      x: x.subarray(0, Math.min(rows, B) * per),
      y: y.subarray(0, Math.min(rows, B)),
      share: { total: B, first: 0 },
    });
    const logits = new Float32Array(B * model.numClasses);
    logits.set(own.logits);
    let loss = own.loss;
    const shapeOf = new Map(live.params.map((p) => [p.path, p.variable.shape]));
    for (const { first, m } of await Promise.all(remote)) {
      if (m.type !== 'grads') throw new FlattenError('BAD_ARGUMENT', `gradient worker: unexpected reply '${m.type}'`);
      loss += m.loss;
      logits.set(m.logits, first * model.numClasses);
      for (const [path, g] of m.grads) {
        const mine = own.grads.get(path);
        const theirs = tf.tensor(g, shapeOf.get(path));
        own.grads.set(path, mine ? tf.add(mine, theirs) : theirs);
        if (mine) tf.dispose([mine, theirs]);
      }
    }
    return { loss, logits, grads: own.grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/** A batch's loss and gradients: split with the workers when there are any, else all on this thread. */
export function batchGrads(
  pool: GradientWorkers | undefined,
  model: VisionModel,
  live: LiveWeights,
  batch: StepBatch,
): Promise<StepGrads> {
  return pool ? pool.batchGrads(model, live, batch) : lossAndGrads(model, live, batch);
}
