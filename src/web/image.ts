import { FlattenError } from '../core/errors.js';
import type { RawImage } from '../io/image_pixels.js';
import { isPng } from '../io/png.js';
import { download, type Loader } from './fetch.js';

/** Decoded pixels, row-major HWC, as the Node pipeline takes them. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** What the browser pipeline classifies: a canvas-drawable image, encoded bytes (a Blob, bytes, a URL) or pixels. */
export type WebImageInput =
  | ImageData
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | ImageBitmap
  | Blob
  | Uint8Array
  | string
  | RawPixels;

type Drawable = HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap;

const isRaw = (x: unknown): x is RawPixels =>
  typeof x === 'object' && x !== null && 'data' in x && 'channels' in x && 'width' in x && 'height' in x;

/** A drawable's pixels, read back from a canvas (RGBA). */
function drawnPixels(src: Drawable): RawImage {
  const img = src as HTMLImageElement;
  const [w, h] = img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : [src.width, src.height];
  if (!w || !h) throw new FlattenError('BAD_FILE', 'image: it has no pixels (not loaded yet, or empty)');
  const canvas =
    typeof OffscreenCanvas !== 'undefined'
      ? new OffscreenCanvas(w, h)
      : Object.assign(document.createElement('canvas'), { width: w, height: h });
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new FlattenError('BAD_ARGUMENT', 'image: this browser gives no 2D canvas to read pixels from');
  ctx.drawImage(src, 0, 0);
  let d: ImageData;
  try {
    d = ctx.getImageData(0, 0, w, h);
  } catch (e) {
    // a canvas tainted by a cross-origin image served without CORS headers
    throw new FlattenError('BAD_FILE', `image: its pixels cannot be read (${String((e as Error)?.message ?? e)})`);
  }
  return { data: d.data, width: w, height: h, channels: 4 };
}

/**
 * Encoded bytes: PNG through our own decoder (the one the Node pipeline falls back to, so the same file gives the
 * same pixels everywhere), anything else through the browser's createImageBitmap.
 */
async function decodeBytes(bytes: Uint8Array, name: string): Promise<Uint8Array | RawImage> {
  if (isPng(bytes)) return bytes;
  if (typeof createImageBitmap === 'undefined')
    throw new FlattenError(
      'BAD_ARGUMENT',
      `${name}: decoding this format needs a browser (createImageBitmap); here give PNG bytes or { data, width, height, channels } pixels`,
    );
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  } catch (e) {
    throw new FlattenError('BAD_FILE', `${name}: not a readable image (${String((e as Error)?.message ?? e)})`);
  }
  try {
    return drawnPixels(bitmap);
  } finally {
    bitmap.close();
  }
}

/** Any input to PNG bytes or decoded pixels (what io/image_pixels.ts prepares). */
export async function decodeWebImage(image: WebImageInput, l: Loader): Promise<Uint8Array | RawImage> {
  if (typeof image === 'string') return decodeBytes(await download(image, l), image);
  if (image instanceof Uint8Array) return decodeBytes(image, 'image');
  if (typeof Blob !== 'undefined' && image instanceof Blob)
    return decodeBytes(new Uint8Array(await image.arrayBuffer()), (image as File).name || 'image');
  if (typeof ImageData !== 'undefined' && image instanceof ImageData)
    return { data: image.data, width: image.width, height: image.height, channels: 4 };
  if (isRaw(image)) return image;
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement && !image.complete)
    await image.decode();
  if (typeof image === 'object' && image !== null && 'width' in image) return drawnPixels(image as Drawable);
  throw new FlattenError(
    'BAD_ARGUMENT',
    'image: expected ImageData, an image element, a canvas, an ImageBitmap, a Blob, bytes, a URL or { data, width, height, channels }',
  );
}
