import { join } from 'node:path';
import { float32, type TensorData } from '../core/tensor.js';
import { fashionMnist } from '../data/fashion_mnist.js';
import { topkHits } from '../train/loss.js';
import { exportOnnx } from './export.js';
import { OnnxSession } from '../engines/onnx/session.js';
import { runTfjs } from '../engines/tfjs/run.js';
import { initTfjs } from '../engines/tfjs/backend.js';
import { writeFileAtomic } from '../io/files.js';
import { attentionHtml, attentionStudy, prepareOutDir, type BlockFocus } from '../analysis/report.js';
import { captureFocused } from '../analysis/capture.js';
import { attentionWeights, meanRowEntropy, FORMS, type AttentionForm } from '../analysis/attention_maps.js';
import { blockRanks, RANK_TOLERANCE_RULE, type RankRow } from '../analysis/rank.js';
import { barChartSvg, pngFromRgb, pngFromSvg, toRgb } from '../analysis/render.js';
import { loadModel } from './model.js';
import { softmaxRows } from './classify.js';
import { attentionTime, timeMs } from './speed.js';

export const DEMO_MODEL = 'flatten_deit_fmnist';

export interface DemoReport {
  model: string;
  weights: string;
  accuracy: { top1: number; top5: number; images: number; seconds: number };
  samples: { index: number; label: string; predicted: string; probability: number }[];
  entropy: Record<AttentionForm, number | null>;
  ranks: RankRow[];
  engines: { engine: string; batch: number; ms: number }[];
  attention: { tokens: number; focusedMs: number; softmaxMs: number }[];
  seconds: number;
}

/** Images `indices` of a dataset split as one normalised batch (B, 1, 28, 28). */
async function batchOf(indices: number[]): Promise<{ x: TensorData; y: Int32Array }> {
  const data = fashionMnist('test');
  const b = await data.load(indices);
  return { x: float32([indices.length, 1, data.imgSize, data.imgSize], b.x), y: b.y };
}

/**
 * The README's main job, on the embedded Fashion-MNIST model: accuracy on the test split (ONNX Runtime),
 * predictions on sample images, focus (row entropy) and rank figures, and a speed table, in one HTML report.
 */
export async function runDemo(out: string, log: (line: string) => void = () => {}): Promise<DemoReport> {
  const t0 = performance.now();
  prepareOutDir(out);
  const m = loadModel(DEMO_MODEL);
  const random = m.source === 'random';
  const data = fashionMnist('test');
  const labels = data.classes;

  // 1. accuracy over the 10,000 test images through one exported graph
  log(`evaluating ${m.name} (${random ? 'RANDOM weights' : m.source}) on the Fashion-MNIST test split…`);
  const session = await OnnxSession.create(exportOnnx({ name: m.name, checkpoint: m.weights }).bytes, m.name);
  const tEval = performance.now();
  let top1 = 0;
  let top5 = 0;
  const all = Array.from({ length: data.size }, (_, i) => i);
  for (let s = 0; s < all.length; s += 1000) {
    const { x, y } = await batchOf(all.slice(s, s + 1000));
    const { logits } = await session.run({ input: x });
    const hits = topkHits(logits.data as Float32Array, m.model.numClasses, y);
    top1 += hits.top1;
    top5 += hits.top5;
  }
  const accuracy = {
    top1: top1 / data.size,
    top5: top5 / data.size,
    images: data.size,
    seconds: (performance.now() - tEval) / 1000,
  };
  log(
    `top-1 ${(accuracy.top1 * 100).toFixed(2)}%, top-5 ${(accuracy.top5 * 100).toFixed(2)}% in ${accuracy.seconds.toFixed(1)} s`,
  );

  // 2. samples: the first test image of every class
  const sampleIdx = labels.map((_, c) => c * (data.size / labels.length));
  const { x: sx, y: sy } = await batchOf(sampleIdx);
  const probs = softmaxRows((await session.run({ input: sx })).logits);
  const samples = sampleIdx.map((index, i) => {
    const p = probs[i];
    const best = p.indexOf(Math.max(...p));
    return { index, label: labels[sy[i]], predicted: labels[best], probability: p[best] };
  });

  // 3. focus and rank on the samples (q and k captured from the tfjs run of the same model)
  log('measuring focus (row entropy) and rank…');
  await initTfjs();
  const entropySum = Object.fromEntries(FORMS.map((f) => [f, 0])) as Record<AttentionForm, number>;
  const entropyCount = Object.fromEntries(FORMS.map((f) => [f, 0])) as Record<AttentionForm, number>;
  let ranks: RankRow[] = [];
  let figures: BlockFocus[] = [];
  const pixels = data.pixels;
  for (let i = 0; i < sampleIdx.length; i++) {
    const one = float32([1, 1, 28, 28], (sx.data as Float32Array).slice(i * 784, (i + 1) * 784));
    if (i === 0) {
      const img = toRgb(pixels.subarray(sampleIdx[0] * 784, (sampleIdx[0] + 1) * 784), 28, 1);
      const study = await attentionStudy(m.model, m.weights, one, img, { out: join(out, 'attention') });
      figures = study.blocks;
    }
    const { blocks } = await captureFocused(m.model, m.weights, one);
    if (i === 0) ranks = blocks.flatMap((b) => blockRanks(b));
    for (const b of blocks) {
      for (const f of FORMS) {
        for (let h = 0; h < b.heads; h++) {
          const w = attentionWeights(b, h, f);
          if (!w) continue;
          entropySum[f] += meanRowEntropy(w, b.tokens, b.keys);
          entropyCount[f]++;
        }
      }
    }
  }
  const entropy = Object.fromEntries(
    FORMS.map((f) => [f, entropyCount[f] ? entropySum[f] / entropyCount[f] : null]),
  ) as Record<AttentionForm, number | null>;

  // 4. speed: both engines on this model, and focused vs softmax attention as N grows
  log('timing engines and attention scaling…');
  const engines: DemoReport['engines'] = [];
  for (const batch of [1, 64]) {
    const { x } = await batchOf(Array.from({ length: batch }, (_, i) => i));
    engines.push({ engine: 'onnx', batch, ms: await timeMs(() => session.run({ input: x }), 10) });
    engines.push({
      engine: 'tfjs',
      batch,
      ms: await timeMs(() => runTfjs(m.weights, [x], (ctx, xi) => ({ y: m.model.forward(ctx, xi).logits })), 3),
    });
  }
  await session.release();
  const attention: DemoReport['attention'] = [];
  for (const n of [196, 784, 3136])
    attention.push({
      tokens: n,
      focusedMs: await attentionTime('focused', n),
      softmaxMs: await attentionTime('softmax', n),
    });

  const report: DemoReport = {
    model: m.name,
    weights: m.source,
    accuracy,
    samples,
    entropy,
    ranks,
    engines,
    attention,
    seconds: (performance.now() - t0) / 1000,
  };
  await writeSamples(out, sampleIdx, pixels);
  const rankPng = await pngFromSvg(
    barChartSvg(
      'rank of each head’s attention matrix (sample 0)',
      ranks.map((r) => `${r.block.replace('.attn', '')}#${r.head}`),
      [
        { label: 'linear, no DWC', colour: '#999999', values: ranks.map((r) => r.rank_linear) },
        { label: 'with DWC (M_eq)', colour: '#2255cc', values: ranks.map((r) => r.rank_equivalent) },
        { label: 'softmax', colour: '#dd8800', values: ranks.map((r) => r.rank_softmax) },
      ],
      'rank',
    ),
  );
  writeFileAtomic(join(out, 'rank.png'), new Uint8Array(rankPng));
  writeFileAtomic(join(out, 'demo.json'), new TextEncoder().encode(JSON.stringify(report, null, 2)));
  writeFileAtomic(
    join(out, 'attention', 'index.html'),
    new TextEncoder().encode(attentionHtml(`${m.name}: attention of sample 0`, figures)),
  );
  writeFileAtomic(join(out, 'index.html'), new TextEncoder().encode(demoHtml(report, random)));
  return { ...report, seconds: (performance.now() - t0) / 1000 };
}

async function writeSamples(out: string, idx: number[], pixels: Uint8Array): Promise<void> {
  for (const i of idx) {
    const img = toRgb(pixels.subarray(i * 784, (i + 1) * 784), 28, 1, 112);
    writeFileAtomic(join(out, `sample_${i}.png`), new Uint8Array(await pngFromRgb(img.data, img.size)));
  }
}

function demoHtml(r: DemoReport, random: boolean): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const fmt = (v: number | null, d = 3) => (v === null ? '–' : v.toFixed(d));
  const banner = random
    ? `<p style="background:#fdd;padding:8px"><b>RANDOMLY INITIALISED MODEL</b>: no shipped weights were found, so every number below describes random weights.</p>`
    : '';
  const samples = r.samples
    .map(
      (s) =>
        `<td><img src="sample_${s.index}.png" width="84"><br>${s.label}<br><b style="color:${s.label === s.predicted ? 'green' : 'red'}">${s.predicted}</b> ${(s.probability * 100).toFixed(0)}%</td>`,
    )
    .join('');
  const engines = r.engines
    .map(
      (e) =>
        `<tr><td>${e.engine}</td><td>${e.batch}</td><td>${e.ms.toFixed(2)}</td><td>${((e.batch * 1000) / e.ms).toFixed(0)}</td></tr>`,
    )
    .join('');
  const att = r.attention
    .map(
      (a) =>
        `<tr><td>${a.tokens}</td><td>${a.focusedMs.toFixed(2)}</td><td>${a.softmaxMs.toFixed(2)}</td><td>${(a.softmaxMs / a.focusedMs).toFixed(1)}×</td></tr>`,
    )
    .join('');
  const ent = FORMS.map((f) => `<tr><td>${f}</td><td>${fmt(r.entropy[f])}</td></tr>`).join('');
  const ranks = r.ranks
    .map(
      (x) =>
        `<tr><td>${x.block}</td><td>${x.head}</td><td>${x.tokens}</td><td>${x.head_dim}</td><td>${x.rank_linear ?? '–'}</td><td>${x.rank_equivalent ?? '–'}</td><td>${x.rank_softmax ?? '–'}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>flatten-transformer demo</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 8px;border:1px solid #ddd;text-align:center}</style></head><body>
<h1>FLatten Transformer demo: ${r.model}</h1>${banner}
<p>Weights: ${r.weights}. Generated in ${r.seconds.toFixed(1)} s.</p>
<h2>Fashion-MNIST test split</h2><p>top-1 <b>${pct(r.accuracy.top1)}</b>, top-5 ${pct(r.accuracy.top5)} on ${r.accuracy.images} images (ONNX Runtime, ${r.accuracy.seconds.toFixed(1)} s).</p>
<h2>Samples</h2><table><tr>${samples}</tr></table><p>true label, then the prediction (green when right).</p>
<h2>Focus: mean row entropy of attention (nats, lower = sharper)</h2><p>Over every focused block and head, on the ${r.samples.length} samples; all forms use the model's own q and k.</p><table><tr><th>form</th><th>entropy</th></tr>${ent}</table>
<p><a href="attention/index.html">Attention maps of sample 0</a>: focused vs plain linear vs softmax, per block.</p>
<h2>Rank (SVD, tolerance ${RANK_TOLERANCE_RULE})</h2><img src="rank.png"><table><tr><th>block</th><th>head</th><th>tokens</th><th>head dim</th><th>linear (no DWC)</th><th>with DWC</th><th>softmax</th></tr>${ranks}</table>
<h2>Speed on this machine (median ms)</h2><table><tr><th>engine</th><th>batch</th><th>ms</th><th>images/s</th></tr>${engines}</table>
<table><tr><th>tokens N (C = 64, 1 head)</th><th>focused linear ms</th><th>softmax ms</th><th>softmax / focused</th></tr>${att}</table>
</body></html>`;
}
