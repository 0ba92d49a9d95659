/**
 * transformers.js against our pipeline on one model folder: the Fashion-MNIST test split through
 * `@huggingface/transformers`' pipeline('image-classification', dir) and ours, one image per call, per dtype;
 * prints how many top-1s agree, each side's accuracy and the largest probability difference (docs/deploy.md).
 *
 *   npx tsx bench/transformers_js.ts [images, default 10000]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, pipeline as hfPipeline, RawImage } from '@huggingface/transformers';
import { exportModelFolder } from '../src/api/folder.js';
import { fashionMnist } from '../src/data/fashion_mnist.js';
import { MODEL_DTYPES, pipeline } from '../src/index.js';
import { markdownTable } from './report.js';

env.allowRemoteModels = false;
env.useFSCache = false;

const n = Number(process.argv[2] ?? 10000);
const dir = join(mkdtempSync(join(tmpdir(), 'flatten-tjs-bench-')), 'fmnist');
await exportModelFolder({ name: 'flatten_deit_fmnist', out: dir, dtypes: [...MODEL_DTYPES] });
const data = fashionMnist('test');
const rows: string[][] = [];
for (const dtype of MODEL_DTYPES) {
  const theirs = await hfPipeline('image-classification', dir, { dtype });
  const ours = await pipeline('image-classification', dir, { dtype, topK: 1 });
  let same = 0;
  let rightT = 0;
  let rightO = 0;
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    const px = data.pixels.slice(i * 784, (i + 1) * 784);
    const [t] = (await theirs(new RawImage(px, 28, 28, 1), { top_k: 1 })) as { label: string; score: number }[];
    const [o] = await ours({ data: px, width: 28, height: 28, channels: 1 });
    const truth = data.classes[data.labels[i]];
    same += Number(t.label === o.label);
    rightT += Number(t.label === truth);
    rightO += Number(o.label === truth);
    maxDiff = Math.max(maxDiff, Math.abs(t.score - o.score));
  }
  rows.push([
    dtype,
    `${same} / ${n}`,
    `${((100 * rightT) / n).toFixed(2)}%`,
    `${((100 * rightO) / n).toFixed(2)}%`,
    maxDiff.toExponential(1),
  ]);
  await Promise.all([theirs.dispose(), ours.dispose()]);
}
console.log(
  markdownTable(['dtype', 'top-1 equal', 'transformers.js top-1', 'ours top-1', 'max |Δ probability|'], rows),
);
