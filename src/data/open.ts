import { existsSync, statSync } from 'node:fs';
import { FlattenError } from '../core/errors.js';
import type { Preprocess } from '../models/registry.js';
import type { Dataset } from './dataset.js';
import { fashionMnist } from './fashion_mnist.js';
import { ImageFolder } from './image_folder.js';

export const DATASETS = 'fashion-mnist, or an image folder root/{train,val}/<class>/*.{jpg,png,webp}';

/** The held-out split of a dataset: `test` for Fashion-MNIST, `val` for image folders. */
export function heldOutSplit(dataset: string): string {
  return dataset === 'fashion-mnist' ? 'test' : 'val';
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** What an image folder is decoded to for a model: its input size, and the registry's normalisation when it fits the channels. */
export interface FolderPreprocess {
  imgSize: number;
  channels: 1 | 3;
  mean: readonly number[];
  std: readonly number[];
}

export function folderPreprocess(
  pre: Pick<Preprocess, 'mean' | 'std'>,
  imgSize: number,
  inChans: number,
): FolderPreprocess {
  const channels = inChans === 1 ? 1 : 3;
  if (pre.mean.length === channels) return { imgSize, channels, mean: pre.mean, std: pre.std };
  // grayscale stats for a 1-channel model without its own: the mean of ImageNet's three
  return channels === 3 ? { imgSize, channels, ...IMAGENET } : { imgSize, channels, mean: [0.449], std: [0.226] };
}

/** A named dataset or an image-folder path, with a clear error for anything else. */
export async function openDataset(
  dataset: string,
  split: string,
  pre: FolderPreprocess,
  onCorrupt?: (files: string[]) => void,
): Promise<Dataset> {
  if (dataset === 'fashion-mnist') return fashionMnist(split);
  if (!existsSync(dataset) || !statSync(dataset).isDirectory()) {
    throw new FlattenError('BAD_ARGUMENT', `unknown dataset '${dataset}': use ${DATASETS}`);
  }
  return ImageFolder.open(dataset, split, { ...pre, onCorrupt });
}
