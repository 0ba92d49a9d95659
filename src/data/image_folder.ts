import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import { importPackage } from '../core/optional.js';
import type { Rng } from '../core/rng.js';
import { randomResizedCropBox } from './augment.js';
import type { Batch, Dataset } from './dataset.js';

const loadSharp = async () =>
  (await importPackage<{ default: typeof import('sharp') }>('sharp', 'decoding image folders')).default;

const EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
/** More corrupt images than this fraction stops the run: the folder is probably wrong, not a few bad files. */
export const MAX_CORRUPT_FRACTION = 0.01;

interface Entry {
  file: string;
  label: number;
  width: number;
  height: number;
}

export interface ImageFolderOptions {
  imgSize: number;
  /** 3 for RGB, 1 to decode as grayscale (for single-channel models such as flatten_deit_fmnist). */
  channels: 1 | 3;
  mean: readonly number[];
  std: readonly number[];
  /** Called once with the corrupt files found while opening (they are skipped). */
  onCorrupt?: (files: string[]) => void;
}

function listDir(dir: string, what: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    throw new FlattenError('BAD_FILE', `image folder: ${what} ${dir} does not exist or cannot be read`);
  }
}

/**
 * `root/<split>/<class>/*.{jpg,png,webp}` decoded with sharp, labels = sorted class-folder index (as
 * torchvision's ImageFolder). Opening decodes every file once: corrupt ones are skipped and reported,
 * and more than 1% corrupt is an error. Training: random resized crop + horizontal flip; eval: square
 * resize to ⌊256/224·S⌋ then center crop S (the official evaluation transform). RGB or grayscale, normalised by mean/std.
 */
export class ImageFolder implements Dataset {
  readonly inChans: number;
  readonly name: string;
  readonly classes: string[];
  readonly labels: Int32Array;
  readonly imgSize: number;
  readonly corrupt: string[];
  private constructor(
    readonly root: string,
    readonly split: string,
    classes: string[],
    private readonly entries: Entry[],
    corrupt: string[],
    private readonly opts: ImageFolderOptions,
  ) {
    this.name = root;
    this.classes = classes;
    this.labels = Int32Array.from(entries, (e) => e.label);
    this.imgSize = opts.imgSize;
    this.inChans = opts.channels;
    this.corrupt = corrupt;
  }

  get size(): number {
    return this.entries.length;
  }

  static async open(root: string, split: string, opts: ImageFolderOptions): Promise<ImageFolder> {
    const dir = join(root, split);
    const classes = listDir(dir, `split folder`).filter((c) => statSync(join(dir, c)).isDirectory());
    if (!classes.length)
      throw new FlattenError('BAD_FILE', `image folder: ${dir} has no class folders (expected ${dir}/<class>/*.jpg)`);
    const files: { file: string; label: number }[] = [];
    classes.forEach((c, label) => {
      for (const f of listDir(join(dir, c), 'class folder'))
        if (EXTENSIONS.has(extname(f).toLowerCase())) files.push({ file: join(dir, c, f), label });
    });
    if (!files.length)
      throw new FlattenError('BAD_FILE', `image folder: ${dir} has no .jpg/.png/.webp images in its class folders`);
    const entries: Entry[] = [];
    const corrupt: string[] = [];
    const sharp = await loadSharp();
    const checked = await Promise.all(
      files.map(async (f) => {
        try {
          // a full decode (to a tiny size) finds truncated pixel data, which reading the header alone misses
          const meta = await sharp(f.file).metadata();
          await sharp(f.file).resize(8, 8, { fit: 'fill' }).raw().toBuffer();
          return { ...f, width: meta.width ?? 0, height: meta.height ?? 0 };
        } catch {
          return undefined;
        }
      }),
    );
    checked.forEach((e, i) => (e && e.width > 0 && e.height > 0 ? entries.push(e) : corrupt.push(files[i].file)));
    if (corrupt.length) opts.onCorrupt?.(corrupt);
    if (corrupt.length > MAX_CORRUPT_FRACTION * files.length) {
      throw new FlattenError(
        'BAD_FILE',
        `image folder: ${corrupt.length} of ${files.length} images in ${dir} are corrupt (more than ${100 * MAX_CORRUPT_FRACTION}%), stopping; first: ${corrupt.slice(0, 3).join(', ')}`,
      );
    }
    return new ImageFolder(root, split, classes, entries, corrupt, opts);
  }

  private async decode(e: Entry, rng?: Rng): Promise<{ pixels: Buffer; flip: boolean }> {
    const s = this.imgSize;
    const ch = this.inChans;
    const sharp = await loadSharp();
    let img = sharp(e.file)
      .removeAlpha()
      .toColourspace(ch === 1 ? 'b-w' : 'srgb');
    if (rng) {
      const box = randomResizedCropBox(e.width, e.height, rng);
      img = img.extract(box).resize(s, s, { fit: 'fill', kernel: 'cubic' });
    } else {
      const r = Math.floor((256 / 224) * s);
      const off = Math.round((r - s) / 2);
      img = sharp(await img.resize(r, r, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer(), {
        raw: { width: r, height: r, channels: ch as 1 | 3 },
      })
        .extract({ left: off, top: off, width: s, height: s })
        .toColourspace(ch === 1 ? 'b-w' : 'srgb'); // sharp writes raw input back as sRGB unless told
    }
    const flip = rng ? rng.next() < 0.5 : false;
    return { pixels: await img.raw().toBuffer(), flip };
  }

  async load(indices: ArrayLike<number>, augment?: Rng): Promise<Batch> {
    const s = this.imgSize;
    const { mean, std } = this.opts;
    // crop boxes and flips are drawn in index order before any decode, so they do not depend on decode timing
    const picked = Array.from(indices, (k) => this.entries[k]);
    const decoded = await Promise.all(picked.map((e) => this.decode(e, augment).catch(() => undefined)));
    const ch = this.inChans;
    const ok = decoded.map((d, i) => ({ d, e: picked[i] })).filter((v) => v.d && v.d.pixels.length === s * s * ch);
    const x = new Float32Array(ok.length * ch * s * s);
    const y = new Int32Array(ok.length);
    ok.forEach(({ d, e }, i) => {
      const { pixels, flip } = d!;
      for (let c = 0; c < ch; c++) {
        for (let r = 0; r < s; r++) {
          for (let col = 0; col < s; col++) {
            const src = (r * s + (flip ? s - 1 - col : col)) * ch + c; // HWC → CHW
            x[((i * ch + c) * s + r) * s + col] = (pixels[src] / 255 - mean[c]) / std[c];
          }
        }
      }
      y[i] = e.label;
    });
    return { x, y, size: ok.length };
  }
}
