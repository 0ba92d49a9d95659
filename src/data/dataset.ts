import type { Rng } from '../core/rng.js';

/** A batch ready for a model: images (B, C, S, S) normalised, and class labels. */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  /** Images actually in the batch (corrupt ones are skipped). */
  size: number;
}

/** One split of a labelled image dataset. */
export interface Dataset {
  readonly name: string;
  readonly split: string;
  readonly classes: string[];
  readonly inChans: number;
  readonly imgSize: number;
  /** Number of images. */
  readonly size: number;
  /** Labels of every image, in index order. */
  readonly labels: Int32Array;
  /** Images at `indices`; training augmentation when an rng is given, the eval transform otherwise. */
  load(indices: ArrayLike<number>, augment?: Rng): Promise<Batch>;
}
