/**
 * One benchmark configuration, alone in its process so that its peak RSS is its own.
 * argv[2] is a JSON Job; the result is printed as one `RESULT {json}` line.
 */
import { readFileSync } from 'node:fs';
import { loadOnnx, runExported } from '../src/api/export.js';
import { initWeights } from '../src/nn/init.js';
import { makeCtx } from '../src/ops/ctx.js';
import type { Tensor } from '../src/ops/ops.js';
import { buildNamed } from '../src/models/build.js';
import { Graph } from '../src/engines/onnx/graph.js';
import { OnnxOps } from '../src/engines/onnx/ops.js';
import { encodeModel } from '../src/engines/onnx/proto.js';
import { OnnxSession } from '../src/engines/onnx/session.js';
import { traceOnnx } from '../src/engines/onnx/trace.js';
import { attentionModule, type AttentionVariant } from './attention.js';
import { median } from './report.js';

export type Job =
  | { kind: 'sgemm'; threads: number; n: number; minRuns: number }
  | {
      kind: 'model';
      engine: 'onnx' | 'tfjs';
      model: string;
      file?: string;
      batch: number;
      threads: number;
      minRuns: number;
      maxSeconds: number;
    }
  | {
      kind: 'attention';
      variant: AttentionVariant;
      tokens: number;
      dim: number;
      threads: number;
      minRuns: number;
      maxSeconds: number;
    }
  | { kind: 'pair'; a: AttentionSpec; b: AttentionSpec; dim: number; threads: number; rounds: number; roundMs: number }
  | { kind: 'c2c'; rounds: number; bounces: number }
  | { kind: 'phases'; file: string; imgSize: number; slots: number; gapS: number };

/** One slot of the `phases` job: the core-to-core latency, then medians (ms) of what depends on it. */
export interface PhaseSlot {
  at: string;
  c2cNs: number;
  /** Best of 10 runs of the 2-thread 1024³ sgemm, GFLOP/s: the machine's capability in this slot. */
  sgemm2Gflops: number;
  model2Ms: number;
  model1Ms: number;
  focused2Ms: number;
  softmax2Ms: number;
}

export interface AttentionSpec {
  variant: AttentionVariant;
  tokens: number;
}

/** Two attention modules timed in alternation: per round, the median of each (ms). */
export interface PairTiming {
  aMs: number[];
  bMs: number[];
}

export interface Timing {
  medianMs: number;
  minMs: number;
  runs: number;
  /** Every timed run, ascending (for pooling passes). */
  timesMs: number[];
  /** Peak resident set of the whole process (MiB), and before the engine got its model. */
  peakRssMiB: number;
  baseRssMiB: number;
}

/**
 * Peak RSS (MiB) of this process image: VmHWM, which starts afresh at exec. (getrusage's maxRSS would
 * carry over the parent's peak from before the fork.)
 */
const peakRss = () => Number(/VmHWM:\s*(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;

/**
 * Untimed warm-up for at least 2 s (on this VM the first few runs of a new session take up to twice as
 * long), then at least `minRuns` timed runs and more while under `maxSeconds`.
 */
async function time(
  run: () => Promise<unknown>,
  minRuns: number,
  maxSeconds: number,
  baseRssMiB: number,
): Promise<Timing> {
  const warm = performance.now();
  do await run();
  while (performance.now() - warm < 2000);
  const ts: number[] = [];
  const start = performance.now();
  while (ts.length < minRuns || (performance.now() - start) / 1000 < maxSeconds) {
    const t = performance.now();
    await run();
    ts.push(performance.now() - t);
    if (ts.length >= 200) break;
  }
  ts.sort((a, b) => a - b);
  return {
    medianMs: ts[ts.length >> 1],
    minMs: ts[0],
    runs: ts.length,
    timesMs: ts,
    peakRssMiB: peakRss(),
    baseRssMiB,
  };
}

const random = (shape: number[]) => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.random() - 0.5;
  return { dtype: 'float32' as const, shape, data };
};

/** sgemm through ORT: a MatMul whose (n, n) weight is a constant initializer, prepacked like model weights. */
async function sgemmRunner(n: number, threads: number) {
  const g = new Graph(false);
  const ops = new OnnxOps(g);
  const x = g.input('x', [n, n]) as unknown as Tensor;
  const w = g.constant([n, n], random([n, n]).data, 'w', true) as unknown as Tensor;
  const { proto } = g.toModel({ y: ops.real(ops.matmul(x, w)) }, { name: 'sgemm' });
  const s = await OnnxSession.create(encodeModel(proto), 'sgemm', { threads });
  const input = random([n, n]);
  return () => s.run({ x: input }, { reuseOutputs: true });
}

async function sgemm(job: Extract<Job, { kind: 'sgemm' }>) {
  const base = peakRss();
  const t = await time(await sgemmRunner(job.n, job.threads), job.minRuns, 1, base);
  return { ...t, gflops: (2 * job.n ** 3) / (t.medianMs * 1e6) };
}

async function model(job: Extract<Job, { kind: 'model' }>) {
  const m = buildNamed(job.model);
  const x = random([job.batch, 3, ...m.imgSize]);
  if (job.engine === 'onnx') {
    // the exported file, as users deploy it: the process holds no JS copy of the weights
    const base = peakRss();
    const s = await loadOnnx(job.file!, { threads: job.threads });
    return time(() => runExported(s, x, { reuseOutputs: true }), job.minRuns, job.maxSeconds, base);
  }
  const tf = await import('@tensorflow/tfjs');
  const { initTfjs } = await import('../src/engines/tfjs/backend.js');
  const { TfjsOps } = await import('../src/engines/tfjs/ops.js');
  await initTfjs();
  const ops = new TfjsOps();
  const base = peakRss();
  // weights bound once, as an application keeps them; each run is one forward and a read-back
  const bound = new Map<string, Tensor>();
  for (const [k, v] of initWeights(m.table)) bound.set(k, ops.constant(v));
  const ctx = makeCtx(ops, bound);
  const input = ops.constant(x) as unknown as import('@tensorflow/tfjs').Tensor;
  return time(
    async () => {
      const y = tf.tidy(
        () => m.forward(ctx, input as unknown as Tensor).logits as unknown as import('@tensorflow/tfjs').Tensor,
      );
      await y.data();
      y.dispose();
    },
    job.minRuns,
    job.maxSeconds,
    base,
  );
}

/** One attention module as an ORT session, and a call that runs it once on a fixed random input. */
async function attentionRunner(spec: AttentionSpec, dim: number, threads: number) {
  const side = Math.round(Math.sqrt(spec.tokens));
  const mod = attentionModule(spec.variant, dim, side);
  const { bytes } = traceOnnx(initWeights(mod.table), [{ name: 'x', shape: [1, spec.tokens, dim] }], (ctx, x) => ({
    y: mod.forward(ctx, x),
  }));
  const s = await OnnxSession.create(bytes, spec.variant, { threads });
  const x = random([1, spec.tokens, dim]);
  return () => s.run({ x }, { reuseOutputs: true });
}

async function attention(job: Extract<Job, { kind: 'attention' }>) {
  const base = peakRss();
  const run = await attentionRunner(job, job.dim, job.threads);
  return time(run, job.minRuns, job.maxSeconds, base);
}

/**
 * A ratio between two modules, measured so that both see the same host phases: rounds of ~`roundMs` of A then
 * ~`roundMs` of B (B first on odd rounds), each round's median per module. The host's load changes over seconds,
 * so two rows timed minutes apart can differ by 2× for reasons that have nothing to do with the modules.
 */
async function pair(job: Extract<Job, { kind: 'pair' }>): Promise<PairTiming> {
  const [a, b] = [
    await attentionRunner(job.a, job.dim, job.threads),
    await attentionRunner(job.b, job.dim, job.threads),
  ];
  const slot = async (run: () => Promise<unknown>) => {
    const ts: number[] = [];
    const start = performance.now();
    do {
      const t = performance.now();
      await run();
      ts.push(performance.now() - t);
    } while (performance.now() - start < job.roundMs);
    return ts.sort((x, y) => x - y)[ts.length >> 1];
  };
  for (const run of [a, b]) {
    const warm = performance.now();
    do await run();
    while (performance.now() - warm < 1000);
  }
  const out: PairTiming = { aMs: [], bMs: [] };
  for (let r = 0; r < job.rounds; r++) {
    if (r % 2) {
      out.bMs.push(await slot(b));
      out.aMs.push(await slot(a));
    } else {
      out.aMs.push(await slot(a));
      out.bMs.push(await slot(b));
    }
  }
  return out;
}

/**
 * Core-to-core latency: the main thread and a worker bounce one counter in a shared cache line, and each round
 * gives the mean round trip (ns). A 2-thread ORT op pays about this for each cache line that the other core
 * wrote last; on this VM it moves between ~150 and ~500 ns, and 2-thread speed moves with it.
 */
async function coreToCore(job: Extract<Job, { kind: 'c2c' }>): Promise<{ roundTripNs: number[] }> {
  const { Worker } = await import('node:worker_threads');
  const cell = new Int32Array(new SharedArrayBuffer(64));
  // the worker answers every odd value with the next even one, and stops at −1
  const echo = `const { workerData } = require('node:worker_threads'); const a = new Int32Array(workerData);
    for (;;) { const v = Atomics.load(a, 0); if (v < 0) break; if (v & 1) Atomics.store(a, 0, v + 1); }`;
  const worker = new Worker(echo, { eval: true, workerData: cell.buffer });
  await new Promise((resolve) => worker.once('online', resolve));
  const roundTripNs: number[] = [];
  // round 0 warms both threads up and is dropped
  for (let r = 0; r <= job.rounds; r++) {
    Atomics.store(cell, 0, 0);
    const t = performance.now();
    for (let i = 0; i < job.bounces; i++) {
      Atomics.store(cell, 0, 2 * i + 1);
      while (Atomics.load(cell, 0) !== 2 * i + 2);
    }
    if (r > 0) roundTripNs.push(((performance.now() - t) * 1e6) / job.bounces);
  }
  Atomics.store(cell, 0, -1);
  await worker.terminate();
  return { roundTripNs };
}

/**
 * The host's phases in one process: every `gapS` seconds, a core-to-core probe and then, back to back, the
 * 2-thread sgemm, the model on 2 and on 1 thread, and the focused and softmax attention modules (N = 3136) on
 * 2 threads. Rows from separate processes minutes apart cannot show what moves with the core-to-core latency;
 * these can.
 */
async function phases(job: Extract<Job, { kind: 'phases' }>): Promise<{ slots: PhaseSlot[] }> {
  const x = random([1, 3, job.imgSize, job.imgSize]);
  const [m2, m1] = [await loadOnnx(job.file, { threads: 2 }), await loadOnnx(job.file, { threads: 1 })];
  const focused = await attentionRunner({ variant: 'focused', tokens: 3136 }, 64, 2);
  const softmax = await attentionRunner({ variant: 'softmax', tokens: 3136 }, 64, 2);
  const gemm = await sgemmRunner(1024, 2);
  const sorted = async (run: () => Promise<unknown>, runs: number) => {
    const ts: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await run();
      ts.push(performance.now() - t);
    }
    return ts.sort((a, b) => a - b);
  };
  const medianOf = async (run: () => Promise<unknown>, runs: number) => (await sorted(run, runs))[runs >> 1];
  const model = (s: OnnxSession) => () => runExported(s, x, { reuseOutputs: true });
  // warm-up: a new session's first runs are slow on this VM
  for (const [run, runs] of [
    [gemm, 5],
    [model(m2), 5],
    [model(m1), 5],
    [focused, 50],
    [softmax, 10],
  ] as const)
    await sorted(run, runs);
  const slots: PhaseSlot[] = [];
  for (let i = 0; i < job.slots; i++) {
    if (i) await new Promise((resolve) => setTimeout(resolve, job.gapS * 1000));
    const { roundTripNs } = await coreToCore({ kind: 'c2c', rounds: 3, bounces: 200_000 });
    slots.push({
      at: new Date().toISOString(),
      c2cNs: median(roundTripNs),
      sgemm2Gflops: (2 * 1024 ** 3) / ((await sorted(gemm, 10))[0] * 1e6),
      model2Ms: await medianOf(model(m2), 10),
      model1Ms: await medianOf(model(m1), 8),
      focused2Ms: await medianOf(focused, 100),
      softmax2Ms: await medianOf(softmax, 20),
    });
  }
  return { slots };
}

const job = JSON.parse(process.argv[2] ?? readFileSync(0, 'utf8')) as Job;
const result =
  job.kind === 'sgemm'
    ? await sgemm(job)
    : job.kind === 'model'
      ? await model(job)
      : job.kind === 'pair'
        ? await pair(job)
        : job.kind === 'c2c'
          ? await coreToCore(job)
          : job.kind === 'phases'
            ? await phases(job)
            : await attention(job);
console.log(`RESULT ${JSON.stringify(result)}`);
