import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll } from 'vitest';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { TRAIN_DEFAULTS } from '../../src/train/defaults.js';
import type { TrainOptions } from '../../src/train/trainer.js';

/** A tiny FLatten-DeiT on 12×12 RGB (3×3 patch tokens + cls) that trains in well under a second per epoch. */
export const TINY_KWARGS = {
  in_chans: 3,
  img_size: 12,
  patch_size: 4,
  embed_dim: 8,
  depth: 1,
  num_heads: 1,
  mlp_ratio: 1,
  drop_path_rate: 0.1,
};

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `flatten-${prefix}-`));
}

/**
 * root/{train,val}/{top,bottom}/*.png: 'top' images are bright in the upper half, 'bottom' in the lower
 * half (a horizontal flip keeps the label), with seeded noise. `corrupt` adds that many broken .png files to train/top.
 */
export async function makeImageFolder(perClass: number, corrupt = 0): Promise<string> {
  const root = tmp('folder');
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 60;
  for (const split of ['train', 'val']) {
    for (const [label, cls] of ['top', 'bottom'].entries()) {
      const dir = join(root, split, cls);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < perClass; i++) {
        const px = Buffer.alloc(16 * 16 * 3);
        for (let r = 0; r < 16; r++)
          for (let c = 0; c < 16; c++)
            for (let ch = 0; ch < 3; ch++) px[(r * 16 + c) * 3 + ch] = (r < 8 === (label === 0) ? 180 : 40) + noise();
        await sharp(px, { raw: { width: 16, height: 16, channels: 3 } })
          .png()
          .toFile(join(dir, `${i}.png`));
      }
    }
  }
  for (let i = 0; i < corrupt; i++)
    writeFileSync(join(root, 'train', 'top', `broken${i}.png`), Buffer.from('\x89PNG\r\n\x1a\nnot really a png'));
  return root;
}

export function tinyOptions(dataset: string, out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    model: 'flatten_deit_fmnist',
    kwargs: TINY_KWARGS,
    dataset,
    out,
    epochs: 2,
    batchSize: 8,
    lr: 5e-3,
    warmupEpochs: 0.5,
    evalBatchSize: 16,
    seed: 3,
    threads: 1, // one thread unless a test asks for workers (each costs a tfjs start-up)
    ...extra,
  };
}

/**
 * What every trainer test file sets up: tfjs, a 2-class image folder (12 images per class per split) and
 * temporary run folders, all removed after the file's tests. Call at the top level of a test file.
 */
export function trainerFixture() {
  const dirs: string[] = [];
  const fx = {
    folder: '',
    quiet: { log: () => {} },
    /** A fresh temporary folder, removed after the file's tests. */
    out(name: string): string {
      return fx.track(tmp(name));
    },
    /** Removes `dir` after the file's tests too. */
    track(dir: string): string {
      dirs.push(dir);
      return dir;
    },
  };
  beforeAll(async () => {
    await initTfjs();
    fx.folder = fx.track(await makeImageFolder(12));
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return fx;
}
