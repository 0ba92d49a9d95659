/** What a named configuration is: the model's official constructor and kwargs, its eval transform and provenance. */
import type { Family } from './model.js';

/** Eval preprocessing of a named model (the official evaluation transform). */
export interface Preprocess {
  imgSize: number;
  /** Resize to the square ⌊256/224·img⌋ then center-crop (true), or resize straight to img (false). */
  crop: boolean;
  mean: [number, number, number] | [number];
  std: [number, number, number] | [number];
  interpolation: 'bicubic';
}

export interface RegistryEntry {
  name: string;
  family: Family;
  /** Official constructor or factory name (see factories.ts). */
  constructor: string;
  kwargs: Record<string, unknown>;
  preprocess: Preprocess;
  /** Released checkpoint exists upstream (README of the official repo). */
  released: boolean;
  description: string;
  /** Weights shipped inside this package (path from the package root), used when no checkpoint is given. */
  weights?: string;
}

/** ImageNet eval statistics and interpolation (the official evaluation transform). */
export const IMAGENET_EVAL = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
  interpolation: 'bicubic' as const,
};
const common = { num_classes: 1000, focusing_factor: 3, kernel_size: 5 };

export function entry(
  name: string,
  family: Family,
  ctor: string,
  kwargs: Record<string, unknown>,
  released: boolean,
  description: string,
  crop = true,
): RegistryEntry {
  const imgSize = (kwargs.img_size as number | undefined) ?? 224;
  return {
    name,
    family,
    constructor: ctor,
    kwargs: { ...common, ...kwargs },
    preprocess: { imgSize, crop, ...IMAGENET_EVAL },
    released,
    description,
  };
}
