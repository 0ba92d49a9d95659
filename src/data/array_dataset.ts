import type { Rng } from '../core/rng.js';
import { cropFlipInto } from './augment.js';
import type { Batch, Dataset } from './dataset.js';

/**
 * Single-channel s×s uint8 images held in memory (Fashion-MNIST, and the tiny sets of the tests).
 * Training augmentation is random crop with `pad` zero padding plus a horizontal flip.
 */
export class ArrayDataset implements Dataset {
  readonly inChans = 1;
  readonly size: number;
  constructor(
    readonly name: string,
    readonly split: string,
    readonly classes: string[],
    readonly imgSize: number,
    /** (size, s, s) pixels */
    readonly pixels: Uint8Array,
    readonly labels: Int32Array,
    readonly mean: number,
    readonly std: number,
    readonly pad = 4,
  ) {
    this.size = labels.length;
  }

  async load(indices: ArrayLike<number>, augment?: Rng): Promise<Batch> {
    const s = this.imgSize;
    const n = indices.length;
    const x = new Float32Array(n * s * s);
    const y = new Int32Array(n);
    const { mean, std } = this;
    const norm = (v: number) => (v / 255 - mean) / std;
    for (let i = 0; i < n; i++) {
      const k = indices[i];
      const img = this.pixels.subarray(k * s * s, (k + 1) * s * s);
      if (augment) cropFlipInto(img, s, this.pad, augment, x, i * s * s, norm);
      else for (let p = 0; p < s * s; p++) x[i * s * s + p] = norm(img[p]);
      y[i] = this.labels[k];
    }
    return { x, y, size: n };
  }

  /** The first `perClass` images of every class (index order), for smaller class-balanced runs. */
  subset(perClass: number): ArrayDataset {
    const s2 = this.imgSize * this.imgSize;
    const taken = new Array<number>(this.classes.length).fill(0);
    const keep: number[] = [];
    for (let i = 0; i < this.size; i++) if (taken[this.labels[i]]++ < perClass) keep.push(i);
    const pixels = new Uint8Array(keep.length * s2);
    keep.forEach((k, j) => pixels.set(this.pixels.subarray(k * s2, (k + 1) * s2), j * s2));
    return new ArrayDataset(
      this.name,
      `${this.split}[${perClass}/class]`,
      this.classes,
      this.imgSize,
      pixels,
      Int32Array.from(keep, (k) => this.labels[k]),
      this.mean,
      this.std,
      this.pad,
    );
  }
}
