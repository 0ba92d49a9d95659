import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { env, pipeline as hfPipeline, RawImage } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { exportModelFolder } from '../../src/api/folder.js';
import { fashionMnist } from '../../src/data/fashion_mnist.js';
import { pipeline } from '../../src/index.js';

// a local folder only: never ask the Hub, never write transformers.js' file cache
env.allowRemoteModels = false;
env.useFSCache = false;

const IMAGES = ['bag', 'sneaker', 'tshirt'].map((f) => resolve(`examples/images/${f}.png`));
type Top = { label: string; score: number }[];

describe('transformers.js loads our model folders', () => {
  it("pipeline('image-classification', dir) gives our top-1 on the Fashion-MNIST samples, fp32 and q8", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'flatten-tjs-')), 'fmnist');
    await exportModelFolder({ name: 'flatten_deit_fmnist', out: dir, dtypes: ['fp32', 'q8'], check: false });
    // 40 test images as they are (28² gray: no resize on either side), and the RGB 112² samples, which
    // transformers.js takes as given: its processor converts to RGB or nothing, so they are made gray first
    const data = fashionMnist('test');
    const raw = Array.from({ length: 40 }, (_, i) => data.pixels.slice(i * 784, (i + 1) * 784));
    const gray = await Promise.all(IMAGES.map(async (f) => (await RawImage.read(f)).grayscale()));
    for (const dtype of ['fp32', 'q8'] as const) {
      const theirs = await hfPipeline('image-classification', dir, { dtype });
      const ours = await pipeline('image-classification', dir, { dtype, topK: 1, threads: 1 });
      // one image per call on both sides: q8 quantizes activations per batch
      const top1 = async (run: (x: unknown) => Promise<unknown>, xs: unknown[]) => {
        const out: Top[] = [];
        for (const x of xs) out.push((await run(x)) as Top);
        return out.map((t) => t[0]);
      };
      const t = await top1(
        (x) => theirs(x as RawImage, { top_k: 1 }),
        [...raw.map((d) => new RawImage(d, 28, 28, 1)), ...gray],
      );
      const o = await top1(
        (x) => ours(x as string),
        [...raw.map((d) => ({ data: d, width: 28, height: 28, channels: 1 as const })), ...IMAGES],
      );
      expect(t.map((c) => c.label)).toEqual(o.map((c) => c.label));
      expect(o.slice(40).map((c) => c.label)).toEqual(['Bag', 'Sneaker', 'T-shirt/top']);
      // same pixels in, same graph: the same probabilities (q8 within 0.01: over the 10,000 test images the two
      // sessions' int8 paths differ by up to 0.0064, with every top-1 equal)
      const tol = dtype === 'q8' ? 1e-2 : 1e-5;
      t.slice(0, 40).forEach((c, i) => expect(Math.abs(c.score - o[i].score)).toBeLessThan(tol));
      await theirs.dispose();
      await ours.dispose();
    }
  });
});
