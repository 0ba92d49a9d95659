import { join } from 'node:path';
import { float32, type TensorData } from '../../core/tensor.js';
import { fashionMnist } from '../../data/fashion_mnist.js';
import { topkHits } from '../../train/loss.js';
import { exportOnnx } from '../../api/export.js';
import { OnnxSession } from '../../engines/onnx/session.js';
import { runTfjs } from '../../engines/tfjs/run.js';
import { initTfjs } from '../../engines/tfjs/backend.js';
import { writeFileAtomic } from '../../io/files.js';
import { attentionHtml, attentionStudy, prepareOutDir, type BlockFocus } from '../../analysis/report.js';
import { captureFocused } from '../../analysis/capture.js';
import { attentionWeights, meanRowEntropy, FORMS, type AttentionForm } from '../../analysis/attention_maps.js';
import { blockRanks, rankChartPng, type RankRow } from '../../analysis/rank.js';
import { pngFromRgb, toRgb } from '../../analysis/render.js';
import { createModel } from '../../api/model.js';
import { softmaxRows } from '../../api/classify.js';
import { attentionTime, timeMs } from './speed.js';
import { demoHtml } from './html.js';
import { DEMO_MODEL } from './model.js';

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
  const m = createModel(DEMO_MODEL);
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
    const { logits } = await session.run({ pixel_values: x });
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
  const probs = softmaxRows((await session.run({ pixel_values: sx })).logits);
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
    engines.push({ engine: 'onnx', batch, ms: await timeMs(() => session.run({ pixel_values: x }), 10) });
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
  writeFileAtomic(join(out, 'rank.png'), await rankChartPng('rank of each head’s attention matrix (sample 0)', ranks));
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
