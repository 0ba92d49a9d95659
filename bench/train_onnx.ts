/**
 * Training throughput on ONNX Runtime (the training-step graph of src/engines/onnx/grad) against the tfjs
 * trainer and PyTorch eager on the official code, side by side in one process: every round runs one AdamW
 * step (label smoothing 0.1, drop path, clipping at 5) of each side, in a rotating order, and the ratios are
 * taken per round (median, min–max), since this host's speed drifts. PyTorch runs in a child python
 * process (bench/torch_train_step.py) timed between our steps; without torch or the official code it is left out.
 * flatten_deit_fmnist has no official code: its PyTorch side is our definition transcribed in torch_train_step.py.
 *
 *   npx tsx bench/train_onnx.ts [model] [batch] [rounds]
 *   FLATTEN_PYTHON=/usr/bin/python3 FLATTEN_TORCH_PATH=<official models/>:<timm, einops> \
 *     npx tsx bench/train_onnx.ts flatten_pvt_v2_b0 8 5
 * Debian's python3-torch calls the reference BLAS (libblas3) unless OpenBLAS is installed, which makes PyTorch
 * several times slower: install libopenblas0-pthread, or put OpenBLAS's libblas.so.3 first on LD_LIBRARY_PATH.
 *   npx tsx bench/train_onnx.ts --no-tfjs flatten_pvt_v2_b0 8 7  ORT against PyTorch only (tfjs-wasm is 10× slower)
 *   npx tsx bench/train_onnx.ts --rss flatten_pvt_v2_b0 32    peak RSS of ORT training steps alone (a child per size)
 *   npx tsx bench/train_onnx.ts --adamw flatten_deit_fmnist 16 the largest weight difference after 20 AdamW steps
 */
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Rng } from '../src/core/rng.js';
import { sizeOf } from '../src/core/tensor.js';
import { initTfjs } from '../src/engines/tfjs/backend.js';
import { buildNamed } from '../src/models/build.js';
import type { VisionModel } from '../src/models/model.js';
import { initWeights } from '../src/nn/init.js';
import { OnnxGradients } from '../src/train/onnx_grads.js';
import { OnnxTrainStep } from '../src/train/onnx_step.js';
import { AdamW, clipGlobalNorm } from '../src/train/optim.js';
import { LiveWeights } from '../src/train/params.js';
import { lossAndGrads } from '../src/train/step.js';
import { markdownTable, median } from './report.js';

const args = process.argv.slice(2);
const mode = args[0]?.startsWith('--') ? args.shift() : undefined;
const [name = 'flatten_deit_fmnist', batchArg = '64', roundsArg = '5'] = args;
const B = Number(batchArg);

function batchOf(model: VisionModel, seed: number) {
  const r = new Rng(seed);
  const [H, W] = model.imgSize;
  const x = Float32Array.from({ length: B * model.inChans * H * W }, () => r.next() * 2 - 1);
  const y = Int32Array.from({ length: B }, () => Math.floor(r.next() * model.numClasses));
  return { x, y };
}

const adamw = (live: LiveWeights) =>
  new AdamW(live.params, { lr: 1e-3, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

/** One trainer step: clipping at 5 and AdamW on the gradients of either engine. */
function apply(opt: AdamW, grads: Map<string, tf.Tensor>, lr: number) {
  tf.tidy(() => opt.apply(clipGlobalNorm(grads, 5).grads, lr));
  tf.dispose([...grads.values()]);
}

/**
 * A PyTorch child on `threads` threads (its BLAS too) answering one timed step per request, or undefined when
 * torch or the model cannot load, or when its parameter count is not ours.
 */
async function torchChild(model: VisionModel, batch: number, threads: number) {
  const family = name.replace(/^flatten_/, '').replace(/_b\d$|_(tiny|small|base|t|s|b|fmnist)$/, '');
  const args = [`flatten_${family}`, name, batch, model.imgSize[0], model.inChans, model.numClasses].map(String);
  const py = spawn(
    process.env.FLATTEN_PYTHON ?? 'python3',
    [new URL('./torch_train_step.py', import.meta.url).pathname, ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: `${threads}`, OPENBLAS_NUM_THREADS: `${threads}` },
    },
  );
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    // protocol lines are JSON objects; anything else on stdout (a print in the model code) is passed on
    for (;;) {
      const { value, done } = await lines.next();
      if (done) return { error: 'the child exited' };
      if ((value as string).startsWith('{')) return JSON.parse(value as string);
      console.error(value);
    }
  };
  const hello = await next().catch((e) => ({ error: String(e) }));
  if (!hello.ready) {
    console.error(`PyTorch side left out: ${hello.error}`);
    py.kill();
    return undefined;
  }
  const ours = [...model.table.specs.values()].reduce((n, p) => n + (p.buffer ? 0 : sizeOf(p.shape)), 0);
  if (hello.params !== ours) {
    console.error(`PyTorch side left out: its model has ${hello.params} parameters, ours ${ours}`);
    py.kill();
    return undefined;
  }
  console.error(`PyTorch ${hello.torch}, ${ours} parameters on both sides`);
  return {
    step: async () => {
      py.stdin.write(`${JSON.stringify({ threads })}\n`);
      const r = await next();
      if (r.error || typeof r.sec !== 'number') throw new Error(`PyTorch step failed: ${r.error ?? JSON.stringify(r)}`);
      return r.sec as number;
    },
    close: () => py.kill(),
  };
}

async function throughput() {
  await initTfjs();
  const model = buildNamed(name);
  const weights = initWeights(model.table, 0);
  const live = new LiveWeights(model.table, weights);
  const opt = adamw(live);
  const { x, y } = batchOf(model, 1);
  // tfjs-wasm keeps ~0.6 GB of activations per 224² image: micro-batches of 2 there, as the trainer's users do
  const micro = model.imgSize[0] > 64 ? 2 : B;
  const onnx = new Map<number, OnnxGradients>();
  for (const t of [1, 2]) onnx.set(t, await OnnxGradients.create(model, { batch: B, threads: t }));
  const torch = [await torchChild(model, B, 1)];
  if (torch[0]) torch.push(await torchChild(model, B, 2));
  let step = 0;
  const sides: Record<string, () => Promise<unknown>> = {};
  // the trainer's side of an ORT step (clipping and tfjs AdamW on the returned gradients), ms per step
  const optMs: number[] = [];
  for (const [t, s] of onnx)
    sides[`ours ORT ${t} thread${t > 1 ? 's' : ''}`] = async () => {
      const grads = (await s.grads(live, { x, y, smoothing: 0.1, dropKeys: [step++] })).grads;
      const t0 = performance.now();
      apply(opt, grads, 1e-4);
      optMs.push(performance.now() - t0);
    };
  if (mode !== '--no-tfjs')
    sides['ours tfjs (1 thread)'] = async () => {
      apply(opt, (await lossAndGrads(model, live, { x, y, smoothing: 0.1, dropKeys: [step++], micro })).grads, 1e-4);
    };
  torch.forEach((child, i) => {
    if (child) sides[`PyTorch eager ${i + 1} thread${i ? 's' : ''}`] = () => child.step();
  });
  const names = Object.keys(sides);
  const ips: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const rounds = Number(roundsArg);
  for (let r = -1; r < rounds; r++) {
    // round −1 warms every side up (allocations, kernel set-up) and is not counted
    for (let k = 0; k < names.length; k++) {
      const n = names[(k + Math.max(r, 0)) % names.length];
      const t0 = performance.now();
      const sec = (await sides[n]()) as number | undefined;
      const s = typeof sec === 'number' ? sec : (performance.now() - t0) / 1000;
      if (r >= 0) ips[n].push(B / s);
      console.error(`round ${r}: ${n} ${(B / s).toFixed(2)} images/s`);
    }
  }
  const span = (v: number[]) => `${median(v).toFixed(2)} (${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)})`;
  console.log(`\n${name}, ${model.imgSize.join('×')}, batch ${B}, ${rounds} rounds: images/s, median (min–max)\n`);
  console.log(
    markdownTable(
      ['side', 'images/s'],
      names.map((n) => [n, span(ips[n])]),
    ),
  );
  const ratio = (a: string, b: (i: number) => number) => ips[a].map((v, i) => v / b(i));
  const [o1, o2, tj] = names;
  const rows: string[][] = [];
  if (tj === 'ours tfjs (1 thread)')
    rows.push(
      [`${o1} / tfjs`, span(ratio(o1, (i) => ips[tj][i]))],
      [`${o2} / tfjs`, span(ratio(o2, (i) => ips[tj][i]))],
    );
  if (torch.every((c) => c) && torch.length === 2) {
    const [p1, p2] = names.filter((n) => n.startsWith('PyTorch'));
    rows.push([`${o1} / PyTorch 1 thread`, span(ratio(o1, (i) => ips[p1][i]))]);
    rows.push([`${o2} / PyTorch at its best`, span(ratio(o2, (i) => Math.max(ips[p1][i], ips[p2][i])))]);
  }
  console.log(`\nratios per round, median (min–max)\n\n${markdownTable(['ratio', 'value'], rows)}`);
  console.log(`\nof an ORT step, clipping + tfjs AdamW: median ${median(optMs).toFixed(0)} ms`);
  for (const c of torch) c?.close();
  for (const s of onnx.values()) await s.release();
}

/** Peak RSS of ORT training steps alone: this process builds the graph and runs 2 steps, nothing else. */
async function rss() {
  const model = buildNamed(name);
  const weights = initWeights(model.table, 0);
  const params = new Map([...weights].map(([k, w]) => [k, w.data as Float32Array]));
  const before = process.memoryUsage().rss;
  const s = await OnnxTrainStep.create(model, B, { threads: 1 });
  const { x, y } = batchOf(model, 1);
  for (let i = 0; i < 2; i++) await s.run(params, { x, y, smoothing: 0.1, dropKeys: [i] });
  const mb = (v: number) => Math.round(v / 2 ** 20);
  console.log(
    JSON.stringify({
      model: name,
      batch: B,
      rss_before_mb: mb(before),
      peak_rss_mb: mb(process.resourceUsage().maxRSS * 1024),
    }),
  );
}

/** 20 AdamW steps from the same weights and data on both engines: the largest weight difference per tensor. */
async function adamwDrift() {
  await initTfjs();
  const model = buildNamed(name, { drop_path_rate: 0 });
  const weights = initWeights(model.table, 0);
  const [a, b] = [new LiveWeights(model.table, weights), new LiveWeights(model.table, weights)];
  const [oa, ob] = [adamw(a), adamw(b)];
  const s = await OnnxGradients.create(model, { batch: B, threads: 1 });
  for (let i = 0; i < 20; i++) {
    const { x, y } = batchOf(model, 10 + i);
    apply(oa, (await s.grads(a, { x, y, smoothing: 0.1, dropKeys: [] })).grads, 1e-3);
    apply(ob, (await lossAndGrads(model, b, { x, y, smoothing: 0.1, dropKeys: [] })).grads, 1e-3);
  }
  const [va, vb] = [a.paramValues(), b.paramValues()];
  let worst = { path: '', diff: 0, rel: 0 };
  for (const [k, w] of vb) {
    const diff = va.get(k)!.reduce((m, v, i) => Math.max(m, Math.abs(v - w[i])), 0);
    const rel = diff / Math.max(1, ...w.map(Math.abs));
    if (rel > worst.rel) worst = { path: k, diff, rel };
  }
  console.log(JSON.stringify({ model: name, batch: B, steps: 20, lr: 1e-3, largest: worst }));
}

await (mode === '--rss' ? rss() : mode === '--adamw' ? adamwDrift() : throughput());
