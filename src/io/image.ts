import { FlattenError } from '../core/errors.js';
import { importPackage } from '../core/optional.js';
import { ReadBudget } from './budget.js';
import { readFileBytes } from './files.js';
import {
  checkRaw,
  MAX_PIXELS,
  prepareDecoded,
  type ImagePreprocess,
  type PreparedImage,
  type RawImage,
} from './image_pixels.js';
import { isPng } from './png.js';

export { toBatch, type ImagePreprocess, type PreparedImage, type RawImage } from './image_pixels.js';

export interface ImageReadOptions {
  /** Names an image given as bytes in messages (default 'image'). */
  name?: string;
  /**
   * Charged with the decoded size (width × height × 4 bytes, what sharp holds at most) before decoding, and
   * with the output pixels. By default the limit is what MAX_PIXELS allows: an image's file size says little
   * about its pixels, so the file-size default of the other readers does not fit here.
   */
  budget?: ReadBudget;
}

/**
 * Decode any JPEG/PNG/WebP/GIF/TIFF (grayscale, alpha and 16-bit included) and apply the official eval
 * geometry: resize to the square S = ⌊256/224·img⌋ (aspect not kept) then center-crop img, or resize
 * straight to img. Bicubic resampling; alpha is flattened onto white.
 */
export async function prepareImage(
  image: string | Uint8Array | RawImage,
  pre: ImagePreprocess,
  channels: 1 | 3,
  opts: ImageReadOptions = {},
): Promise<PreparedImage> {
  const name = typeof image === 'string' ? image : (opts.name ?? 'image');
  let sharp: typeof import('sharp');
  try {
    sharp = (await importPackage<{ default: typeof import('sharp') }>('sharp', 'decoding images')).default;
  } catch (e) {
    // without sharp's native binary, PNGs and decoded pixels still work (our own decoder and resize)
    if (e instanceof FlattenError && e.code === 'MISSING_PACKAGE' && !needsSharp(image))
      return prepareWithoutSharp(image, pre, channels, name, opts.budget ?? new ReadBudget(4 * MAX_PIXELS));
    throw e;
  }
  const raw = typeof image === 'string' || image instanceof Uint8Array ? undefined : checkRaw(image, name);
  const file = raw
    ? Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength)
    : (image as string | Uint8Array);
  const input = raw ? { raw: { width: raw.width, height: raw.height, channels: raw.channels } } : {};
  const size = pre.imgSize;
  const s = pre.crop ? Math.floor((256 / 224) * size) : size;
  const off = Math.round((s - size) / 2);
  const budget = opts.budget ?? new ReadBudget(4 * MAX_PIXELS + 4 * size * size);
  try {
    const meta = await sharp(file, { ...input, failOn: 'truncated', limitInputPixels: MAX_PIXELS }).metadata();
    if (!meta.width || !meta.height)
      throw new FlattenError('BAD_FILE', `${name}: not a readable image (no dimensions)`);
    budget.charge(4 * meta.width * meta.height, `${name}: decoding ${meta.width}×${meta.height} pixels`);
    budget.charge(size * size * channels, `${name}: pixels`);
    let img = sharp(file, { ...input, failOn: 'truncated', limitInputPixels: MAX_PIXELS, sequentialRead: true })
      .flatten({ background: '#ffffff' })
      .resize(s, s, { fit: 'fill', kernel: 'cubic' });
    // extract after resize crops the resized image (one pipeline, no re-encode)
    if (pre.crop) img = img.extract({ left: off, top: off, width: size, height: size });
    img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
    const { data, info } = await img.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels)
      throw new FlattenError('BAD_FILE', `${name}: decoded ${info.channels} channels, expected ${channels}`);
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), size, channels };
  } catch (e) {
    if (e instanceof FlattenError) throw e;
    const msg = (e as Error).message ?? String(e);
    if (/pixel limit/i.test(msg))
      throw new FlattenError('BAD_FILE', `${name}: image is larger than ${MAX_PIXELS / 1e6} megapixels`);
    if (/ENOENT|no such file/i.test(msg)) throw new FlattenError('BAD_FILE', `${name}: file not found`);
    throw new FlattenError('BAD_FILE', `${name}: not a readable image (${msg.split('\n')[0]})`);
  }
}

/** Anything but a PNG file or decoded pixels needs sharp. */
function needsSharp(image: string | Uint8Array | RawImage): boolean {
  if (typeof image === 'string') return !/\.png$/i.test(image);
  return image instanceof Uint8Array && !isPng(image);
}

/** The same geometry as the sharp path, on our own PNG decoder and bicubic resize (image_pixels.ts). */
export function prepareWithoutSharp(
  image: string | Uint8Array | RawImage,
  pre: ImagePreprocess,
  channels: 1 | 3,
  name: string,
  budget: ReadBudget,
): PreparedImage {
  return prepareDecoded(typeof image === 'string' ? readFileBytes(image) : image, pre, channels, name, budget);
}
