/**
 * Training throughput of one model on the tfjs engine: AdamW steps on synthetic images, after one
 * warm-up step (wasm heap growth, kernel setup). Prints images/s, peak tensor bytes (sampled between
 * micro-batches, so a lower bound) and peak RSS.
 *
 *   npx tsx bench/ablation/train_speed.ts [model] [batch] [steps] [wasm|cpu] [micro-batch] [threads]
 *   npx tsx bench/ablation/train_speed.ts flatten_pvt_v2_b0 8 3 wasm 2 2
 *
 * threads > 1 splits each batch with gradient workers, as `flatten train --engine tfjs --threads` does (default: 1).
 */
import * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { initTfjs, type TfjsBackend } from '../../src/engines/tfjs/backend.js';
import { buildNamed } from '../../src/models/build.js';
import { initWeights } from '../../src/nn/init.js';
import { AdamW, clipGlobalNorm } from '../../src/train/optim.js';
import { LiveWeights } from '../../src/train/params.js';
import { Rng } from '../../src/core/rng.js';
import { batchGrads, GradientWorkers } from '../../src/train/workers.js';

const [name = 'flatten_deit_fmnist', batchArg = '64', stepsArg = '5', backend = 'wasm', microArg, threadsArg = '1'] =
  process.argv.slice(2);
const B = Number(batchArg);
const steps = Number(stepsArg);
await initTfjs(backend as TfjsBackend);
const model = buildNamed(name);
const weights = initWeights(model.table, 0);
const live = new LiveWeights(model.table, weights);
const threads = Number(threadsArg);
const pool =
  threads > 1 ? await GradientWorkers.start(threads - 1, name, {}, backend as TfjsBackend, weights) : undefined;
const opt = new AdamW(live.params, { lr: 1e-4, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
const rng = new Rng(1);
const [s] = model.imgSize;
const x = Float32Array.from({ length: B * model.inChans * s * s }, () => rng.next() * 2 - 1);
const micro = Number(microArg ?? B);
const y = Int32Array.from({ length: B }, (_, i) => i % model.numClasses);
let peakBytes = 0;
let peakRss = 0;
const times: number[] = [];
for (let i = 0; i <= steps; i++) {
  const t0 = performance.now();
  const { grads } = await batchGrads(pool, model, live, { x, y, smoothing: 0.1, dropKeys: [i], micro });
  peakBytes = Math.max(peakBytes, tf.memory().numBytes);
  tf.tidy(() => opt.apply(clipGlobalNorm(grads, 5).grads, 1e-4));
  tf.dispose([...grads.values()]);
  pool?.sync(live.paramValues());
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  if (i > 0) times.push((performance.now() - t0) / 1000);
  console.error(`step ${i}${i === 0 ? ' (warm-up)' : ''}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}
const sec = times.reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    model: name,
    backend: tf.getBackend(),
    threads,
    batch: B,
    micro_batch: micro,
    steps,
    img: s,
    images_per_sec: +((B * steps) / sec).toFixed(2),
    sec_per_step: +(sec / steps).toFixed(3),
    peak_tensor_mb: Math.round(peakBytes / 2 ** 20),
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    load_avg_1m: +loadavg()[0].toFixed(2),
  }),
);
await pool?.close();
