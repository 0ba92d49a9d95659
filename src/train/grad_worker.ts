/**
 * A gradient worker thread: holds its own tfjs engine and copy of the model, and computes the loss and
 * gradients of the share of each batch it is sent. The trainer's thread owns the optimizer and sends the
 * updated parameters back after every step. Messages are described in workers.ts.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initTfjs } from '../engines/tfjs/backend.js';
import { buildNamed } from '../models/build.js';
import type { VisionModel } from '../models/model.js';
import { LiveWeights } from './params.js';
import { lossAndGrads } from './step.js';
import type { ToWorker } from './workers.js';

let model: VisionModel | undefined;
let live: LiveWeights | undefined;

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === 'init') {
    await initTfjs(msg.backend);
    model = buildNamed(msg.model, msg.kwargs);
    live = new LiveWeights(model.table, msg.weights);
    parentPort!.postMessage({ type: 'ready' });
  } else if (msg.type === 'weights') {
    live!.assign(msg.values);
  } else {
    const r = await lossAndGrads(model!, live!, msg);
    const grads: [string, Float32Array][] = [];
    for (const [path, g] of r.grads) grads.push([path, (await g.data()) as Float32Array]);
    tf.dispose([...r.grads.values()]);
    parentPort!.postMessage({ type: 'grads', loss: r.loss, logits: r.logits, grads }, [
      r.logits.buffer,
      ...grads.map(([, g]) => g.buffer),
    ] as ArrayBuffer[]);
  }
}

// one message at a time, in order: weights always arrive before the step that needs them
let queue = Promise.resolve();
parentPort!.on('message', (msg: ToWorker) => {
  queue = queue
    .then(() => handle(msg))
    .catch((e: unknown) => parentPort!.postMessage({ type: 'error', message: String((e as Error)?.message ?? e) }));
});
