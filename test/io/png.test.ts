import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { FlattenError } from '../../src/core/errors.js';
import { ReadBudget } from '../../src/io/budget.js';
import { prepareImage, prepareWithoutSharp } from '../../src/io/image.js';
import { decodePng } from '../../src/io/png.js';
import { samplePicture } from '../analysis/images.js';

const dir = mkdtempSync(join(tmpdir(), 'flatten-png-'));
const photo = join(dir, 'photo.png');
beforeAll(() => samplePicture(photo, 300, 200));

/** sharp's own decode of a PNG: the reference every variant must match exactly. */
async function reference(png: Buffer, grey: boolean) {
  const img = grey ? sharp(png).toColourspace('b-w') : sharp(png);
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

describe('our PNG decoder (used when sharp has no native binary)', () => {
  it('decodes every colour type and bit depth exactly as sharp does', async () => {
    const base = sharp(photo).resize(37, 23);
    const variants: [string, Buffer][] = [
      ['rgb8', await base.clone().png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer()],
      ['rgba8', await base.clone().ensureAlpha(0.6).png().toBuffer()],
      ['grey8', await base.clone().grayscale().png().toBuffer()],
      ['grey16', await base.clone().grayscale().toColourspace('grey16').png().toBuffer()],
      ['rgb16', await base.clone().toColourspace('rgb16').png().toBuffer()],
      ['palette8', await base.clone().png({ palette: true, colours: 200 }).toBuffer()],
      ['palette1', await base.clone().png({ palette: true, colours: 2 }).toBuffer()],
      ['palette4 + alpha', await base.clone().ensureAlpha(0.5).png({ palette: true, colours: 12 }).toBuffer()],
    ];
    for (const [what, png] of variants) {
      const ours = decodePng(new Uint8Array(png), what);
      const ref = await reference(png, ours.channels <= 2);
      expect([ours.width, ours.height, ours.channels], what).toEqual([ref.width, ref.height, ref.channels]);
      // 16 bits: we keep the high byte, sharp rounds v/257, so the two may differ by one level
      const tolerance = what.endsWith('16') ? 1 : 0;
      expect(Math.max(...ours.data.map((v, i) => Math.abs(v - ref.data[i]))), what).toBeLessThanOrEqual(tolerance);
    }
  });

  it('applies the eval geometry close to sharp (resize, center crop, grey and colour)', async () => {
    for (const [file, pre, ch] of [
      [photo, { imgSize: 224, crop: true, mean: [0, 0, 0], std: [1, 1, 1] }, 3],
      ['examples/images/bag.png', { imgSize: 28, crop: false, mean: [0], std: [1] }, 1],
    ] as const) {
      const a = await prepareImage(file, pre, ch);
      const b = prepareWithoutSharp(file, pre, ch, file, new ReadBudget(1e9));
      expect(b.pixels.length).toBe(a.pixels.length);
      let sum = 0;
      for (let i = 0; i < a.pixels.length; i++) sum += Math.abs(a.pixels[i] - b.pixels[i]);
      expect(sum / a.pixels.length, file).toBeLessThan(2.5); // mean difference in 0…255 levels
    }
  });

  it('names broken, truncated and interlaced files', async () => {
    const png = new Uint8Array(await sharp(photo).png().toBuffer());
    const interlaced = new Uint8Array(await sharp(photo).png({ progressive: true }).toBuffer());
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([1, 2, 3]), /no PNG signature/],
      [png.subarray(0, 40), /truncated|runs past the end/],
      [png.subarray(0, png.length - 200), /truncated|runs past the end|corrupt image data/],
      [interlaced, /interlaced PNGs need sharp/],
    ];
    for (const [bytes, re] of cases) {
      let err: unknown;
      try {
        decodePng(bytes, 'x.png');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FlattenError);
      expect((err as FlattenError).message).toMatch(re);
    }
    expect(readFileSync(photo).length).toBeGreaterThan(0);
  });
});
