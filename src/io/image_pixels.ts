/** Decoded pixels to a model's input, Node-free (image.ts adds files and sharp; the browser entry uses this directly). */
import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import type { ReadBudget } from './budget.js';
import { resizeCubic, toChannels } from './image_fallback.js';
import { decodePng } from './png.js';

/** How a model wants its images: size, square resize + center crop or plain resize, channel stats. */
export interface ImagePreprocess {
  imgSize: number;
  crop: boolean;
  mean: readonly number[];
  std: readonly number[];
}

/** A decoded, resized image: HWC uint8 pixels at the model's resolution, before normalisation. */
export interface PreparedImage {
  pixels: Uint8Array;
  size: number;
  channels: 1 | 3;
}

/** Decoded pixels, row-major HWC (`ImageData` from a canvas is one: 4 channels). */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** Images above this many pixels are refused before decoding (sharp shrinks JPEGs on load below it). */
export const MAX_PIXELS = 200_000_000;

/**
 * The geometry of the sharp path (image.ts) on our own PNG decoder and bicubic resize, Node-free: PNG bytes or
 * decoded pixels in (the browser entry decodes other formats on a canvas first).
 */
export function prepareDecoded(
  image: Uint8Array | RawImage,
  pre: ImagePreprocess,
  channels: 1 | 3,
  name: string,
  budget: ReadBudget,
): PreparedImage {
  const decoded =
    image instanceof Uint8Array
      ? decodePng(image, name, budget)
      : {
          ...checkRaw(image, name),
          data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
        };
  const size = pre.imgSize;
  const s = pre.crop ? Math.floor((256 / 224) * size) : size;
  const off = Math.round((s - size) / 2);
  budget.charge(4 * s * s * channels, `${name}: pixels`);
  const resized = resizeCubic(toChannels(decoded, channels), decoded.width, decoded.height, channels, s, s);
  if (!pre.crop) return { pixels: resized, size, channels };
  const pixels = new Uint8Array(size * size * channels);
  for (let y = 0; y < size; y++)
    pixels.set(
      resized.subarray(((y + off) * s + off) * channels, ((y + off) * s + off + size) * channels),
      y * size * channels,
    );
  return { pixels, size, channels };
}

/** Decoded pixels must fill their stated size exactly. */
export function checkRaw(r: RawImage, name: string): RawImage {
  const ok = [r.width, r.height].every((v) => Number.isInteger(v) && v > 0) && [1, 2, 3, 4].includes(r.channels);
  if (!ok || !(r.data instanceof Uint8Array || r.data instanceof Uint8ClampedArray))
    throw new FlattenError(
      'BAD_SHAPE',
      `${name}: decoded pixels need whole width, height > 0, channels 1-4 and uint8 data`,
    );
  if (r.width * r.height > MAX_PIXELS)
    throw new FlattenError('BAD_FILE', `${name}: image is larger than ${MAX_PIXELS / 1e6} megapixels`);
  if (r.data.length !== r.width * r.height * r.channels)
    throw new FlattenError(
      'BAD_SHAPE',
      `${name}: ${r.width}×${r.height}×${r.channels} pixels need ${r.width * r.height * r.channels} bytes, got ${r.data.length}`,
    );
  return r;
}

/** HWC uint8 pixels of several images → a normalised NCHW float batch (÷255, then (x − mean)/std). */
export function toBatch(images: PreparedImage[], pre: ImagePreprocess): TensorData {
  const { size, channels } = images[0];
  const plane = size * size;
  const data = new Float32Array(images.length * channels * plane);
  images.forEach((img, b) => {
    for (let c = 0; c < channels; c++) {
      const base = (b * channels + c) * plane;
      for (let i = 0; i < plane; i++) data[base + i] = (img.pixels[i * channels + c] / 255 - pre.mean[c]) / pre.std[c];
    }
  });
  return { dtype: 'float32', shape: [images.length, channels, size, size], data };
}
