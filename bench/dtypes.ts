/**
 * `npm run bench -- --only dtypes [options]`: the fp32, fp16, q8 and q4 exports measured.
 *   accuracy  flatten_deit_fmnist on the 10,000-image test split through `flatten eval --engine onnx --dtype …`:
 *             top-1 per dtype and the share of images whose prediction equals fp32's (and the q8 levers)
 *   golden    every golden case: max |logit − golden| / max |golden| per dtype
 *   graph     node counts after onnxruntime's optimisation, per model and dtype
 *   latency   file size and latency per dtype as ratios to our fp32, on 1 and 2 threads: in one fresh process per
 *             model, each variant timed back to back with fp32, in rounds (median of the pair ratios, min and max)
 * Options: --parts accuracy,golden,graph,latency  --models a,b  --threads 1,2  --rounds 9  --round-ms 400  --levers
 * (--levers adds the q8 alternatives of docs/quantization.md to flatten_swin_t's latency rows and to accuracy).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportOnnx, ortOptimizedOps, runExported } from '../src/api/export.js';
import { opHistogram } from '../src/engines/onnx/inspect.js';
import { runCase, type CaseConfig } from '../src/api/forward.js';
import { shippedWeights } from '../src/api/model.js';
import { evalCheckpoint } from '../src/api/train.js';
import { encodeModel } from '../src/engines/onnx/proto.js';
import { applyDType, MODEL_DTYPES } from '../src/engines/onnx/quantize/dtype.js';
import { OnnxSession } from '../src/engines/onnx/session.js';
import { readJsonFile } from '../src/io/json.js';
import { readNpyFile } from '../src/io/npy.js';
import { evalCheckpoint as evalWithClassifier } from '../src/train/eval_checkpoint.js';
import { bundleChild, childEnv } from './child_build.js';
import type { DtypeJob, DtypeTiming, Variant } from './dtypes_child.js';
import { machine, markdownTable, median } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return (i >= 0 ? args[i + 1] : dflt).split(',').filter(Boolean);
};
const PARTS = opt('parts', 'accuracy,golden,graph,latency');
const MODELS = opt('models', 'flatten_swin_t,flatten_pvt_v2_b0,flatten_deit_fmnist');
const THREADS = opt('threads', '1,2').map(Number);
const ROUNDS = Number(opt('rounds', '9')[0]);
const ROUND_MS = Number(opt('round-ms', '400')[0]);
const LEVERS = args.includes('--levers');
const GOLDEN = join(here, '../../shared/golden/');
const log = (s: string) => process.stderr.write(`${s}\n`);
const fmt = (v: number, d = 2) => v.toFixed(d);

const DTYPES: Variant[] = MODEL_DTYPES.map((dtype) => ({ label: dtype, dtype }));
/** The q8 alternatives to the default (int7 weights per output channel). */
const Q8_LEVERS: Variant[] = [
  { label: 'q8 uint8 weights', dtype: 'q8', q8: { weights: 'uint8' } },
  { label: 'q8 int8 weights', dtype: 'q8', q8: { weights: 'int8' } },
  { label: 'q8 per-tensor', dtype: 'q8', q8: { perChannel: false } },
];
const out: Record<string, unknown> = { machine: machine(), started: new Date().toISOString() };
const report: string[] = [];

if (PARTS.includes('accuracy')) {
  const model = 'flatten_deit_fmnist';
  const base = { model, dataset: 'fashion-mnist', batchSize: 500, threads: THREADS[THREADS.length - 1] };
  const runs: { label: string; top1: number; predictions: Int32Array }[] = [];
  for (const v of DTYPES) {
    log(`accuracy: ${model} ${v.label}`);
    const r = await evalCheckpoint({ ...base, engine: 'onnx', dtype: v.dtype });
    runs.push({ label: v.label, top1: r.top1, predictions: r.predictions! });
  }
  // the levers go through the same evaluation with their own export (they are not user-facing dtypes)
  for (const v of LEVERS ? Q8_LEVERS : []) {
    log(`accuracy: ${model} ${v.label}`);
    const r = await evalWithClassifier({
      ...base,
      checkpoint: shippedWeights(model)!,
      classifier: async (m, weights) => {
        const fp32 = exportOnnx({ name: model, model: m, checkpoint: weights });
        const s = await OnnxSession.create(encodeModel(applyDType(fp32.proto, 'q8', v.q8)), v.label, {
          threads: base.threads,
        });
        return {
          logits: async (x) => (await runExported(s, x)).logits.data as Float32Array,
          release: () => s.release(),
        };
      },
    });
    runs.push({ label: v.label, top1: r.top1, predictions: r.predictions! });
  }
  const ref = runs[0].predictions;
  const rows = runs.map((r) => {
    const same = r.predictions.reduce((n, p, i) => n + (p === ref[i] ? 1 : 0), 0) / ref.length;
    return [r.label, fmt(100 * r.top1), fmt(100 * (r.top1 - runs[0].top1)), fmt(100 * same)];
  });
  out.accuracy = rows;
  report.push(
    `${model}, fashion-mnist test (10,000 images), \`flatten eval --engine onnx --dtype …\`:\n\n` +
      markdownTable(['dtype', 'top-1 %', 'Δ vs fp32 (points)', 'predictions = fp32 %'], rows),
  );
}

if (PARTS.includes('golden')) {
  const cases = readJsonFile<{ cases: string[] }>(`${GOLDEN}manifest.json`).cases;
  const rows: string[][] = [];
  for (const name of cases) {
    const dir = `${GOLDEN}${name}/`;
    const config = readJsonFile<CaseConfig>(`${dir}config.json`);
    const [input, golden] = [readNpyFile(`${dir}input.npy`), readNpyFile(`${dir}output.npy`).data as Float32Array];
    const row = [name];
    for (const { dtype } of DTYPES) {
      const y = (await runCase(config, `${dir}checkpoint.pth`, input, { engine: 'onnx', dtype })).output
        .data as Float32Array;
      let [err, max] = [0, 0];
      y.forEach((v, i) => ([err, max] = [Math.max(err, Math.abs(v - golden[i])), Math.max(max, Math.abs(golden[i]))]));
      row.push((err / max).toExponential(1));
    }
    rows.push(row);
  }
  out.golden = rows;
  report.push(
    'Golden cases, max |logit − golden| / max |golden| (`runCase(…, { engine: "onnx", dtype })`):\n\n' +
      markdownTable(['case', ...MODEL_DTYPES], rows),
  );
}

if (PARTS.includes('graph')) {
  // what ORT runs: its node counts after optimisation (level 'all'), the matmul kinds spelled out
  const KINDS = [
    'Gemm',
    'MatMul',
    'FusedMatMul',
    'DynamicQuantizeLinear',
    'DynamicQuantizeMatMul',
    'MatMulIntegerToFloat',
    'MatMulNBits',
  ];
  const rows: string[][] = [];
  for (const model of MODELS) {
    const fp32 = exportOnnx({ name: model });
    for (const { dtype } of DTYPES) {
      const proto = applyDType(fp32.proto, dtype);
      const ops = await ortOptimizedOps(encodeModel(proto), { threads: 1 });
      const h = opHistogram(ops.map((o) => o.replace(/^com\.microsoft\./, '')));
      rows.push([model, dtype, String(proto.nodes.length), String(ops.length), ...KINDS.map((k) => String(h[k] ?? 0))]);
    }
  }
  out.graph = rows;
  report.push(
    "Nodes as written and after onnxruntime's optimisation (level 'all'), with the matmul kinds it runs:\n\n" +
      markdownTable(['model', 'dtype', 'written', 'after ORT', ...KINDS], rows),
  );
}

if (PARTS.includes('latency')) {
  const childJs = join(here, 'results', 'dtypes_child.mjs');
  mkdirSync(dirname(childJs), { recursive: true });
  await bundleChild(join(here, 'dtypes_child.ts'), childJs);
  const rows: string[][] = [];
  for (const model of MODELS) {
    const variants = [...DTYPES, ...(LEVERS && model === 'flatten_swin_t' ? Q8_LEVERS : [])];
    for (const threads of THREADS) {
      log(`latency: ${model}, ${threads} thread(s), ${variants.length} variants × ${ROUNDS} rounds`);
      const job: DtypeJob = { model, variants, threads, batch: 1, rounds: ROUNDS, roundMs: ROUND_MS };
      const r = spawnSync(process.execPath, [childJs, JSON.stringify(job)], {
        env: childEnv,
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`${model} t${threads}: ${r.stderr?.slice(-500)}`);
      const t = JSON.parse(line.slice(7)) as DtypeTiming;
      const fp32Ms = median(t.pairs.flat().map((p) => p.fp32Ms));
      variants.forEach((v, i) => {
        const ratios = i ? t.pairs[i].map((p) => p.ms / p.fp32Ms) : [1];
        rows.push([
          model,
          v.label,
          String(threads),
          fmt(t.bytes[i] / 2 ** 20, 1),
          fmt(t.bytes[i] / t.bytes[0]),
          fmt(i ? median(t.pairs[i].map((p) => p.ms)) : fp32Ms, 1),
          i ? fmt(median(ratios)) : '1',
          i ? `${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}` : '',
        ]);
      });
    }
  }
  out.latency = rows;
  report.push(
    `Batch 1, onnxruntime-node 1.30, all variants of a model in one process; ${ROUNDS} rounds, in each every variant timed back to back with fp32 (≥ ${ROUND_MS} ms and ≥ 3 runs each, median; fp32 first on even rounds, second on odd ones); latency ÷ fp32 = median of the ${ROUNDS} pair ratios (min–max):\n\n` +
      markdownTable(
        ['model', 'dtype', 'threads', 'MiB', 'size ÷ fp32', 'ms (median)', 'latency ÷ fp32', 'min–max'],
        rows,
      ),
  );
}

const file = join(here, 'results', `dtypes-${out.started as string}.json`.replace(/:/g, '-'));
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(out, null, 1));
console.log(report.join('\n\n'));
log(`wrote ${file}`);
