import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { GOLDEN_DIR } from '../golden.js';
import { flatten } from '../cli/cli.js';
import { samplePicture } from './images.js';
import { prepareImage } from '../../src/io/image.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatten-classify-'));
const png = join(tmp, 'a.png');
const webp = join(tmp, 'b.webp');
const grey16 = join(tmp, 'c16.png');
const rgba = join(tmp, 'd.png');

beforeAll(async () => {
  await samplePicture(png, 300, 200);
  await sharp(png).webp().toFile(webp);
  await sharp(png).grayscale().toColourspace('grey16').png().toFile(grey16);
  await sharp(png).ensureAlpha(0.5).png().toFile(rgba);
});

describe('image preprocessing (the official evaluation transform)', () => {
  it('resizes to the square ⌊256/224·S⌋ then center-crops S, for every input kind', async () => {
    const pre = { imgSize: 224, crop: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    for (const f of [png, webp, grey16, rgba]) {
      const img = await prepareImage(f, pre, 3);
      expect(img.size).toBe(224);
      expect(img.pixels.length).toBe(224 * 224 * 3);
    }
    const grey = await prepareImage(png, { ...pre, imgSize: 28, crop: false }, 1);
    expect(grey.pixels.length).toBe(28 * 28);
  });
});

describe('flatten classify', () => {
  it('classifies several images in one batch with sorted top-k', () => {
    const r = flatten(
      'classify',
      png,
      webp,
      grey16,
      '--config',
      `${GOLDEN_DIR}pvt_v2_llll/config.json`,
      '--checkpoint',
      `${GOLDEN_DIR}pvt_v2_llll/checkpoint.pth`,
      '--top-k',
      '3',
      '--json',
    );
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      predictions: { image: string; top: { score: number; label: string }[] }[];
    };
    expect(out.predictions).toHaveLength(3);
    for (const p of out.predictions) {
      expect(p.top).toHaveLength(3);
      expect(p.top[0].score).toBeGreaterThanOrEqual(p.top[1].score);
      expect(p.top[0].label).toMatch(/^class \d+$/);
    }
  });

  it('uses the ImageNet labels for 1000-class registry models and warns about random weights', () => {
    const r = flatten('classify', png, '--model', 'flatten_pvt_v2_b0', '--top-k', '1', '--json');
    expect(r.stderr).toMatch(/RANDOMLY INITIALISED/);
    const label = JSON.parse(r.stdout).predictions[0].top[0].label as string;
    expect(label.length).toBeGreaterThan(2);
    expect(label).not.toMatch(/^class \d+$/);
  });
});
