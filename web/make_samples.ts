/**
 * Writes the demo's sample images: the first TEST-split image of each Fashion-MNIST class as a 28×28
 * grayscale PNG, plus samples.json (file, label). Run once with `npx tsx web/make_samples.ts`; the PNGs
 * are committed so the page and CI never need the 30 MB dataset package at run time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { fashionMnist } from '../src/data/fashion_mnist.js';
import { SAMPLES_DIR } from './paths.js';
import type { Sample } from './src/shared.js';

const test = fashionMnist('test');
const perClass = test.size / test.classes.length;
const samples: Sample[] = [];
for (let label = 0; label < test.classes.length; label++) {
  // the test split is class-major, so class c starts at c · perClass
  const index = label * perClass;
  const slug = test.classes[label].toLowerCase().replace(/[^a-z]+/g, '-');
  const file = `${label}-${slug}.png`;
  const pixels = test.pixels.subarray(index * 784, (index + 1) * 784);
  await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toFile(join(SAMPLES_DIR, file));
  samples.push({ file, label, testIndex: index });
}
writeFileSync(join(SAMPLES_DIR, 'samples.json'), `${JSON.stringify(samples, null, 1)}\n`);
console.log(`wrote ${samples.length} samples to ${SAMPLES_DIR}`);
