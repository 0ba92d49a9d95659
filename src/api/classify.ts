import { prepareImage, type PreparedImage, type RawImage } from '../io/image.js';
import { squareSide } from '../models/model.js';
import type { Preprocess } from '../models/registry.js';
import type { LoadedModel } from './model.js';

export { softmaxRows } from './exported.js';

/** An image: a file path, encoded bytes (JPEG, PNG, WebP…), or decoded pixels. */
export type ImageInput = string | Uint8Array | RawImage;

/** Decode images and apply an eval transform. */
export function prepareImages(images: ImageInput[], pre: Preprocess, channels: 1 | 3): Promise<PreparedImage[]> {
  return Promise.all(images.map((f) => prepareImage(f, pre, channels)));
}

/** Decode and preprocess images for a loaded model (its eval transform). */
export function prepareFor(m: LoadedModel, images: ImageInput[]): Promise<PreparedImage[]> {
  squareSide(m.model, 'image preprocessing (a square eval crop)');
  return prepareImages(images, m.preprocess, m.model.inChans === 1 ? 1 : 3);
}
