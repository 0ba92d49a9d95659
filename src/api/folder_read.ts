/**
 * Reading model folders (the layout folder.ts writes), Node-free: the browser entry reads dropped or served
 * folders with it, folder.ts reads directories.
 */
import { FlattenError } from '../core/errors.js';
import { parseJson } from '../io/json_text.js';
import type { ModelSpec } from '../models/build.js';
import type { Preprocess } from '../models/registry.js';
import { checkDType, MODEL_DTYPES, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { DTYPE_FILES } from './dtype.js';

/**
 * transformers.js runs an image classifier of any architecture through the class of its `model_type`: ViT's
 * (ViTForImageClassification) is a plain `pixel_values → logits` session with no extra inputs, so it fits ours.
 */
export const FOLDER_MODEL_TYPE = 'vit';
export const IMAGE_PROCESSOR = 'ViTImageProcessor';
/** PIL's resample code for bicubic, which HF image processors use. */
export const PIL_BICUBIC = 3;

/** What `flatten export --format folder` writes when no --dtype is given. */
export const DEFAULT_FOLDER_DTYPES: ModelDType[] = ['fp32'];

/**
 * Our own block in config.json: `createModel(flatten, { imgSize: flatten.img_size })` rebuilds the model (kwargs
 * are the registry entry's or the config's; the size rule of createModel applies img_size).
 */
export interface FlattenBlock extends Required<ModelSpec> {
  name: string;
  /** The side the graphs take. */
  img_size: number;
  in_chans: number;
  /** Where the weights came from (a file name, or 'random'). */
  weights: string;
  dtypes: ModelDType[];
}

export interface FolderConfig {
  model_type: string;
  architectures?: string[];
  num_labels: number;
  id2label: Record<string, string>;
  label2id?: Record<string, number>;
  image_size: number;
  num_channels?: number;
  'transformers.js_config'?: { dtype?: string };
  flatten?: FlattenBlock;
}

/** An HF image processor config (the fields we write and read). */
export interface PreprocessorConfig {
  image_processor_type: string;
  do_resize: boolean;
  size: { height: number; width: number };
  resample: number;
  do_center_crop: boolean;
  crop_size?: { height: number; width: number };
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: number[];
  image_std: number[];
  do_convert_rgb: boolean;
}

/** What a pipeline needs from a model folder: the graph of one dtype, the classes and the eval transform. */
export interface ModelFolder {
  dir: string;
  dtype: ModelDType;
  /** The graph's path. */
  file: string;
  labels: string[];
  preprocess: Preprocess;
  channels: 1 | 3;
  config: FolderConfig;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A model folder's files, wherever they are (a directory, a URL, dropped files). `text` and `has` are synchronous:
 * the browser entry fetches the two JSON files first.
 */
export interface FolderFiles {
  /** What `rel` is called in messages and in `ModelFolder.file` (a path, or a URL). */
  name(rel: string): string;
  /** The file's text, or undefined when the folder has no such file. */
  text(rel: string): string | undefined;
  /** Whether the folder has the file. */
  has(rel: string): boolean;
}

/**
 * Read a model folder for one dtype (default: the folder's `transformers.js_config.dtype`, else fp32), checking
 * that config.json, preprocessor_config.json and the graph's file agree; every fault names the file and field.
 */
export function parseModelFolder(dir: string, files: FolderFiles, opts: { dtype?: ModelDType } = {}): ModelFolder {
  const cfgFile = files.name('config.json');
  const cfgText = files.text('config.json');
  if (cfgText === undefined)
    throw new FlattenError(
      'BAD_FILE',
      `${dir}: no config.json, so it is not a model folder (flatten export --format folder)`,
    );
  const config = parseJson<FolderConfig>(cfgText, { file: cfgFile });
  const bad = (field: string, why: string) => new FlattenError('BAD_CONFIG', `${cfgFile}: ${field} ${why}`);
  if (!isObject(config)) throw bad('the file', 'is not a JSON object');
  if (typeof config.model_type !== 'string') throw bad('model_type', 'is missing');
  const n = config.num_labels;
  if (!Number.isInteger(n) || n < 1) throw bad('num_labels', `must be a whole number ≥ 1, got ${JSON.stringify(n)}`);
  if (!isObject(config.id2label)) throw bad('id2label', 'is missing');
  const labels = Array.from({ length: n }, (_, i) => config.id2label[String(i)]);
  const keys = Object.keys(config.id2label);
  if (keys.length !== n || labels.some((l) => typeof l !== 'string'))
    throw bad('id2label', `has ${keys.length} entries, but num_labels is ${n} (keys "0"…"${n - 1}", string labels)`);
  if (config.label2id !== undefined) {
    const l2i = config.label2id;
    // ImageNet names two classes alike ("crane"), so an inverse can only point at one of them
    if (!isObject(l2i) || labels.some((l) => labels[l2i[l] as number] !== l))
      throw bad('label2id', 'does not invert id2label');
  }
  const tjs = config['transformers.js_config']?.dtype;
  const dtype =
    opts.dtype ?? (tjs !== undefined ? checkDType(tjs, `${cfgFile}: transformers.js_config.dtype`) : 'fp32');
  checkDType(dtype);
  const file = files.name(DTYPE_FILES[dtype]);
  if (!files.has(DTYPE_FILES[dtype])) {
    const have = MODEL_DTYPES.filter((d) => files.has(DTYPE_FILES[d]));
    throw new FlattenError(
      'BAD_FILE',
      `${dir}: no ${DTYPE_FILES[dtype]} for dtype '${dtype}' (the folder has: ${have.join(', ') || 'no graphs'})`,
    );
  }
  const preprocess = readPreprocessor(files, 'preprocessor_config.json');
  if (config.image_size !== preprocess.imgSize)
    throw bad('image_size', `is ${config.image_size}, but preprocessor_config.json gives ${preprocess.imgSize}`);
  const channels = preprocess.mean.length === 1 ? 1 : 3;
  if (config.num_channels !== undefined && config.num_channels !== channels)
    throw bad('num_channels', `is ${config.num_channels}, but preprocessor_config.json normalises ${channels}`);
  return { dir, dtype, file, labels, preprocess, channels, config };
}

/** preprocessor_config.json back to our eval transform: only the geometry we write is accepted. */
function readPreprocessor(files: FolderFiles, rel: string): Preprocess {
  const file = files.name(rel);
  const text = files.text(rel);
  if (text === undefined) throw new FlattenError('BAD_FILE', `${file}: missing (the folder's eval transform)`);
  const p = parseJson<PreprocessorConfig>(text, { file });
  const bad = (field: string, why: string) => new FlattenError('BAD_CONFIG', `${file}: ${field} ${why}`);
  if (!isObject(p)) throw bad('the file', 'is not a JSON object');
  const side = (v: unknown, field: string) => {
    if (!isObject(v) || !Number.isInteger(v.height) || v.height !== v.width || (v.height as number) < 1)
      throw bad(field, 'must be {"height": S, "width": S} with a whole S ≥ 1');
    return v.height as number;
  };
  const resized = side(p.size, 'size');
  const crop = p.do_center_crop === true;
  const imgSize = crop ? side(p.crop_size, 'crop_size') : resized;
  if (crop && resized !== Math.floor((256 / 224) * imgSize))
    throw bad('size', `${resized} with crop_size ${imgSize} is not our eval geometry (resize to ⌊256/224·crop⌋)`);
  if (p.resample !== PIL_BICUBIC)
    throw bad('resample', `must be ${PIL_BICUBIC} (bicubic), got ${JSON.stringify(p.resample)}`);
  const stats = (v: unknown, field: string) => {
    if (!Array.isArray(v) || ![1, 3].includes(v.length) || !v.every((x) => typeof x === 'number' && x === x))
      throw bad(field, 'must be a list of 1 or 3 numbers');
    return v as number[];
  };
  const mean = stats(p.image_mean, 'image_mean');
  const std = stats(p.image_std, 'image_std');
  if (mean.length !== std.length) throw bad('image_std', `has ${std.length} values, image_mean ${mean.length}`);
  if (std.some((s) => s <= 0)) throw bad('image_std', 'must be > 0');
  return {
    imgSize,
    crop,
    mean: mean as Preprocess['mean'],
    std: std as Preprocess['std'],
    interpolation: 'bicubic',
  };
}
