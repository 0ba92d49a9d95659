/**
 * Which training engine is faster, per family: one trainer step (label smoothing 0.1, drop path, clipping at 5,
 * AdamW) of the tfjs engine and of the ONNX Runtime engine, on one thread each, alternating A B A B in one
 * process, for each family's smallest released config and flatten_deit_fmnist. The ratio is taken per pair
 * (median, min–max), since this host's speed drifts; `flatten train`'s default engine follows this table
 * (src/train/defaults.ts). Each model runs in a child process, so that one model's tfjs heap does not weigh on the next.
 *
 *   npx tsx bench/train_engines.ts [--batch 4] [--small-batch 64] [--pairs 3] [model …]   (default: every family below;
 *                                  --batch for 224² models, --small-batch for the 28² one)
 *   npx tsx bench/train_engines.ts --one <model> <batch> <pairs> <micro>   (one model, a JSON line: what the table runs)
 *   npx tsx bench/train_engines.ts --rss <model> <batch> [micro]   peak RSS of 2 ORT steps alone, in micro-batches
 */
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/core/rng.js';
import { initTfjs } from '../src/engines/tfjs/backend.js';
import { buildNamed } from '../src/models/build.js';
import { initWeights } from '../src/nn/init.js';
import { OnnxGradients } from '../src/train/onnx_grads.js';
import { AdamW, applyStep } from '../src/train/optim.js';
import { LiveWeights } from '../src/train/params.js';
import { lossAndGrads } from '../src/train/step.js';
import { machine, markdownTable, median } from './report.js';

/** Each family's smallest released config, and the shipped Fashion-MNIST model. */
const FAMILIES = [
  'flatten_deit_fmnist',
  'flatten_deit_tiny',
  'flatten_pvt_v2_b0',
  'flatten_pvt_tiny',
  'flatten_swin_t',
  'flatten_cswin_t',
];

interface Measured {
  model: string;
  batch: number;
  micro: number;
  tfjs: number[];
  onnx: number[];
}

/** `pairs` timed tfjs/ORT step pairs (after one untimed pair), images/s per step. */
async function one(name: string, batch: number, pairs: number, tfjsMicro: number): Promise<Measured> {
  await initTfjs();
  const model = buildNamed(name);
  const live = new LiveWeights(model.table, initWeights(model.table, 0));
  const opt = new AdamW(live.params, { lr: 1e-4, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const r = new Rng(1);
  const [H, W] = model.imgSize;
  const x = Float32Array.from({ length: batch * model.inChans * H * W }, () => r.next() * 2 - 1);
  const y = Int32Array.from({ length: batch }, () => Math.floor(r.next() * model.numClasses));
  const micro = Math.min(tfjsMicro, batch);
  const onnx = await OnnxGradients.create(model, { batch, threads: 1 });
  let k = 0;
  const sides = {
    tfjs: () => lossAndGrads(model, live, { x, y, smoothing: 0.1, dropKeys: [k++], micro }),
    onnx: () => onnx.grads(live, { x, y, smoothing: 0.1, dropKeys: [k++] }),
  };

  const ips: Record<keyof typeof sides, number[]> = { tfjs: [], onnx: [] };
  for (let p = -1; p < pairs; p++) {
    // alternate which side goes first, so that a drifting host favours neither
    const order = (p & 1 ? ['onnx', 'tfjs'] : ['tfjs', 'onnx']) as (keyof typeof sides)[];
    for (const side of order) {
      const t0 = performance.now();
      const { grads } = await sides[side]();
      applyStep(opt, grads, 1e-4, 5);
      tf.dispose([...grads.values()]);
      const s = (performance.now() - t0) / 1000;
      if (p >= 0) ips[side].push(batch / s);
      console.error(`${name} pair ${p}: ${side} ${(batch / s).toFixed(2)} images/s`);
    }
  }
  await onnx.release();
  return { model: name, batch, micro, ...ips };
}

async function all(models: string[], sizes: { batch: number; small: number }, pairs: number) {
  const span = (v: number[], d = 2) =>
    `${median(v).toFixed(d)} (${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)})`;
  const rows: string[][] = [];
  for (const m of models) {
    const batch = buildNamed(m).imgSize[0] > 64 ? sizes.batch : sizes.small;
    // tfjs-wasm has a 4 GB heap and keeps ~0.6 GB of activations per 224² image: micro-batches of 2 there, as its
    // users must, or of 1 where 2 does not fit (the wasm module aborts, so the child is run again)
    const micros = batch > 8 ? [batch] : [2, 1];
    let r: Measured | undefined;
    for (const micro of micros) {
      try {
        const out = execFileSync(
          process.execPath,
          [...process.execArgv, new URL(import.meta.url).pathname, '--one', m, `${batch}`, `${pairs}`, `${micro}`],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
        );
        r = JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
        break;
      } catch {
        console.error(`${m}: the child failed with tfjs micro-batches of ${micro}`);
      }
    }
    if (!r) {
      rows.push([m, `${batch}`, 'failed', '', '']);
      continue;
    }
    console.error(JSON.stringify(r));
    const ratio = r.onnx.map((v, i) => v / r.tfjs[i]);
    rows.push([
      r.model,
      `${r.batch}${r.micro < r.batch ? ` (tfjs: micro-batches of ${r.micro})` : ''}`,
      span(r.tfjs),
      span(r.onnx),
      `**${span(ratio)}**`,
    ]);
  }
  const mc = machine();
  console.log(
    `\nOne AdamW step per side, 1 thread each, ${pairs} pairs alternating A B / B A after one untimed pair; images/s and ORT/tfjs per pair, median (min–max). ${mc.cpu}, Node ${mc.node}, onnxruntime-node ${mc.ort}, tfjs ${mc.tfjs} (wasm)\n`,
  );
  console.log(markdownTable(['model', 'batch', 'tfjs images/s', 'ORT images/s', 'ORT / tfjs'], rows));
}

/** Peak RSS of a process that only runs 2 ORT training steps of `batch` images in micro-batches of `micro`. */
async function rss(name: string, batch: number, micro: number) {
  await initTfjs();
  const model = buildNamed(name);
  const live = new LiveWeights(model.table, initWeights(model.table, 0));
  const [H, W] = model.imgSize;
  const x = new Float32Array(batch * model.inChans * H * W).fill(0.5);
  const y = Int32Array.from({ length: batch }, (_, i) => i % model.numClasses);
  const onnx = await OnnxGradients.create(model, { batch, micro, threads: 1 });
  for (let i = 0; i < 2; i++)
    tf.dispose([...(await onnx.grads(live, { x, y, smoothing: 0.1, dropKeys: [i] })).grads.values()]);
  await onnx.release();
  const mb = Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20);
  console.log(JSON.stringify({ model: name, batch, micro, peak_rss_mb: mb }));
}

const args = process.argv.slice(2);
if (args[0] === '--rss') {
  await rss(args[1], Number(args[2]), Number(args[3] ?? args[2]));
} else if (args[0] === '--one') {
  console.log(JSON.stringify(await one(args[1], Number(args[2]), Number(args[3]), Number(args[4]))));
} else {
  const flag = (f: string, d: number) => {
    const i = args.indexOf(f);
    return i < 0 ? d : Number(args.splice(i, 2)[1]);
  };
  const sizes = { batch: flag('--batch', 4), small: flag('--small-batch', 64) };
  const pairs = flag('--pairs', 3);
  await all(args.length ? args : FAMILIES, sizes, pairs);
}
