/**
 * Small-scale reproduction of the paper's Table 4 module ablation on Fashion-MNIST (`npm run ablation`).
 * Four attention variants of flatten_deit_fmnist, everything else identical: softmax; plain linear
 * (ReLU kernel, no f_p, no DWC); focused (f_p, no DWC); FLatten (f_p + DWC). Each seed trains every
 * variant with the same data order, augmentation and schedule, then evaluates on the full test split.
 *
 *   npx tsx scripts/ablation.ts [--variants softmax,linear,focused,flatten] [--seeds 0,1,2] [--per-class 100] [--test-per-class 200] [--epochs 4] [--out scratch/ablation]
 *   npx tsx scripts/ablation.ts --report      # only rebuild docs/ablation.md, the PNGs and results.json
 *
 * Runs already finished (their metrics.jsonl has every epoch) are not trained again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRAIN_DEFAULTS } from '../src/train/defaults.js';
import { train, type EpochMetrics } from '../src/train/trainer.js';
import { ProgressBar } from '../src/train/progress.js';
import { writeReport, type AblationRun, type AblationSetup } from './ablation_report.js';

const ALL_VARIANTS = ['softmax', 'linear', 'focused', 'flatten'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const setup: AblationSetup = {
  model: 'flatten_deit_fmnist',
  seeds: arg('seeds', '0,1,2').split(',').map(Number),
  perClass: Number(arg('per-class', '100')),
  testPerClass: Number(arg('test-per-class', '200')),
  epochs: Number(arg('epochs', '4')),
  batchSize: Number(arg('batch-size', '64')),
  lr: Number(arg('lr', '2e-3')),
  warmupEpochs: 0.5,
};
const outRoot = arg('out', 'scratch/ablation');
// a subset lets several workers share the runs (e.g. one process per variant); --report reads them all
const VARIANTS = arg('variants', ALL_VARIANTS.join(',')).split(',');

function readHistory(dir: string): EpochMetrics[] {
  const f = join(dir, 'metrics.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EpochMetrics);
}

const runs: AblationRun[] = [];
for (const seed of setup.seeds) {
  for (const variant of VARIANTS) {
    const dir = join(outRoot, `${variant}-s${seed}`);
    let history = readHistory(dir);
    if (!process.argv.includes('--report') && history.length < setup.epochs) {
      const started = Date.now();
      const r = await train(
        {
          ...TRAIN_DEFAULTS,
          model: setup.model,
          kwargs: { attn_type: variant },
          dataset: 'fashion-mnist',
          out: dir,
          epochs: setup.epochs,
          batchSize: setup.batchSize,
          lr: setup.lr,
          warmupEpochs: setup.warmupEpochs,
          seed,
          trainPerClass: setup.perClass,
          testPerClass: setup.testPerClass,
          evalEvery: setup.epochs,
        },
        history.length > 0,
        { progress: new ProgressBar(process.stderr, 60) },
      );
      console.error(
        `${variant} seed ${seed}: test top-1 ${(100 * (r.history.at(-1)?.test?.top1 ?? NaN)).toFixed(2)}% in ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
      history = readHistory(dir);
    }
    if (history.length >= setup.epochs) runs.push({ variant, seed, history });
  }
}
if (VARIANTS.length === ALL_VARIANTS.length) await writeReport(setup, runs);
