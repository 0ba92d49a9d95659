/**
 * Model folders in the layout transformers.js loads (`pipeline('image-classification', dir)`):
 *   config.json               model_type, id2label/label2id, num_labels, image_size, and our `flatten` block
 *   preprocessor_config.json  our eval transform in ViTImageProcessor's terms
 *   onnx/model.onnx, onnx/model_fp16.onnx, onnx/model_quantized.onnx (q8), onnx/model_q4.onnx
 * Each graph takes `pixel_values` and gives `logits` and `pooler_output`.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import { checkOutputFolder, writeFolderAtomic } from '../io/files.js';
import { readJsonFile } from '../io/json.js';
import type { ModelSpec } from '../models/build.js';
import { squareSide, type VisionModel } from '../models/model.js';
import { registryEntry, type Preprocess } from '../models/registry.js';
import { checkDType, MODEL_DTYPES, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { DTYPE_FILES } from './dtype.js';
import { exportOnnx, type ExportFileSpec } from './export.js';
import { createModel } from './model.js';

/**
 * transformers.js runs an image classifier of any architecture through the class of its `model_type`: ViT's
 * (ViTForImageClassification) is a plain `pixel_values → logits` session with no extra inputs, so it fits ours.
 */
export const FOLDER_MODEL_TYPE = 'vit';
const IMAGE_PROCESSOR = 'ViTImageProcessor';
/** PIL's resample code for bicubic, which HF image processors use. */
const PIL_BICUBIC = 3;

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

/** Our eval transform as an HF image processor: the square resize (aspect not kept), then the center crop. */
export function preprocessorConfig(pre: Preprocess, channels: 1 | 3): PreprocessorConfig {
  const side = pre.crop ? Math.floor((256 / 224) * pre.imgSize) : pre.imgSize;
  return {
    image_processor_type: IMAGE_PROCESSOR,
    do_resize: true,
    size: { height: side, width: side },
    resample: PIL_BICUBIC,
    do_center_crop: pre.crop,
    ...(pre.crop ? { crop_size: { height: pre.imgSize, width: pre.imgSize } } : {}),
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [...pre.mean],
    image_std: [...pre.std],
    // a grayscale model takes the image's own single channel: transformers.js converts to RGB only when asked
    do_convert_rgb: channels === 3,
  };
}

function folderConfig(model: VisionModel, labels: string[], flatten: FlattenBlock): FolderConfig {
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  return {
    model_type: FOLDER_MODEL_TYPE,
    architectures: ['ViTForImageClassification'],
    num_labels: model.numClasses,
    id2label,
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    image_size: flatten.img_size,
    num_channels: model.inChans,
    // transformers.js opens model.onnx unless told otherwise: point it at a dtype the folder has
    ...(flatten.dtypes.includes('fp32') ? {} : { 'transformers.js_config': { dtype: flatten.dtypes[0] } }),
    flatten,
  };
}

export interface FolderExportSpec extends Omit<
  ExportFileSpec,
  'output' | 'check' | 'stages' | 'model' | 'source' | 'dtype'
> {
  /** The folder to write (absent or empty, unless `overwrite`). */
  out: string;
  /** Which graphs to write (default: DEFAULT_FOLDER_DTYPES). */
  dtypes?: ModelDType[];
  /** Replace an existing non-empty folder. */
  overwrite?: boolean;
  /** Load every graph in onnxruntime before writing anything (default true). */
  check?: boolean;
}

export interface FolderSummary {
  out: string;
  model: VisionModel;
  /** Where the weights came from ('random' for random weights). */
  weights: string;
  /** Every file written, relative to `out`, with its size in bytes and its dtype for the graphs. */
  files: { path: string; bytes: number; dtype?: ModelDType }[];
}

/** `flatten export --format folder`: one folder that our pipeline and transformers.js both load. */
export async function exportModelFolder(spec: FolderExportSpec): Promise<FolderSummary> {
  const dtypes = spec.dtypes ?? DEFAULT_FOLDER_DTYPES;
  if (!dtypes.length) throw new FlattenError('BAD_ARGUMENT', 'a model folder needs at least one dtype');
  dtypes.forEach((d) => checkDType(d));
  // refused before the export's work, and checked again when the folder is written
  checkOutputFolder(spec.out, { overwrite: spec.overwrite, what: '--out' });
  const config = spec.config ? readModelSpec(spec.config) : undefined;
  const opts = { checkpoint: spec.checkpoint, imgSize: spec.imgSize, strict: spec.strict, seed: spec.seed };
  const m = createModel(config ?? spec.name, opts);
  const side = squareSide(m.model, 'a model folder (its eval crop)');
  const base = config ?? registryEntry(spec.name);
  const weights = m.source === 'random' ? 'random' : basename(m.source);
  const flatten: FlattenBlock = {
    name: spec.name,
    family: m.model.family,
    constructor: base.constructor ?? '',
    kwargs: base.kwargs ?? {},
    img_size: side,
    in_chans: m.model.inChans,
    weights,
    dtypes,
  };
  const channels = m.model.inChans === 1 ? 1 : 3;
  const json = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
  const files = [
    { path: 'config.json', bytes: json(folderConfig(m.model, m.labels, flatten)) },
    { path: 'preprocessor_config.json', bytes: json(preprocessorConfig(m.preprocess, channels)) },
  ];
  const graphs: { path: string; bytes: Uint8Array; dtype: ModelDType }[] = [];
  for (const dtype of dtypes) {
    const { bytes } = exportOnnx({
      name: spec.name,
      config,
      model: m.model,
      checkpoint: m.weights,
      preprocess: m.preprocess,
      source: m.source === 'random' ? undefined : weights,
      dtype,
    });
    graphs.push({ path: DTYPE_FILES[dtype], bytes, dtype });
  }
  if (spec.check !== false) {
    const { OnnxSession } = await import('../engines/onnx/session.js');
    for (const g of graphs)
      await (await OnnxSession.create(g.bytes, `${g.path} (${g.dtype})`, { threads: 1 })).release();
  }
  writeFolderAtomic(spec.out, [...files, ...graphs], { overwrite: spec.overwrite, what: '--out' });
  return {
    out: spec.out,
    model: m.model,
    weights: m.source,
    files: [...files, ...graphs].map((f) => ({
      path: f.path,
      bytes: f.bytes.length,
      ...('dtype' in f ? { dtype: f.dtype } : {}),
    })),
  };
}

/** A golden-format model config file: family + constructor + kwargs. */
function readModelSpec(path: string): ModelSpec {
  const config = readJsonFile<ModelSpec>(path);
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new FlattenError('BAD_CONFIG', `${path}: expected a JSON object`);
  return config;
}

/** Whether `path` is a folder (a model argument that is one is read as a model folder). */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
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
 * Read a model folder for one dtype (default: the folder's `transformers.js_config.dtype`, else fp32), checking
 * that config.json, preprocessor_config.json and the graph's file agree; every fault names the file and field.
 */
export function readModelFolder(dir: string, opts: { dtype?: ModelDType } = {}): ModelFolder {
  const cfgFile = join(dir, 'config.json');
  if (!existsSync(cfgFile))
    throw new FlattenError(
      'BAD_FILE',
      `${dir}: no config.json, so it is not a model folder (flatten export --format folder)`,
    );
  const config = readJsonFile<FolderConfig>(cfgFile);
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
  const file = join(dir, DTYPE_FILES[dtype]);
  if (!existsSync(file)) {
    const have = MODEL_DTYPES.filter((d) => existsSync(join(dir, DTYPE_FILES[d])));
    throw new FlattenError(
      'BAD_FILE',
      `${dir}: no ${DTYPE_FILES[dtype]} for dtype '${dtype}' (the folder has: ${have.join(', ') || 'no graphs'})`,
    );
  }
  const preprocess = readPreprocessor(join(dir, 'preprocessor_config.json'));
  if (config.image_size !== preprocess.imgSize)
    throw bad('image_size', `is ${config.image_size}, but preprocessor_config.json gives ${preprocess.imgSize}`);
  const channels = preprocess.mean.length === 1 ? 1 : 3;
  if (config.num_channels !== undefined && config.num_channels !== channels)
    throw bad('num_channels', `is ${config.num_channels}, but preprocessor_config.json normalises ${channels}`);
  return { dir, dtype, file, labels, preprocess, channels, config };
}

/** preprocessor_config.json back to our eval transform: only the geometry we write is accepted. */
function readPreprocessor(file: string): Preprocess {
  if (!existsSync(file)) throw new FlattenError('BAD_FILE', `${file}: missing (the folder's eval transform)`);
  const p = readJsonFile<PreprocessorConfig>(file);
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
