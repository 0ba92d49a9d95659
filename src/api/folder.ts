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
import { checkOutputFolder, readFileBytes, writeFolderAtomic } from '../io/files.js';
import { readJsonFile } from '../io/json.js';
import type { ModelSpec } from '../models/build.js';
import { squareSide, type VisionModel } from '../models/model.js';
import { registryEntry, type Preprocess } from '../models/registry.js';
import { checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { DTYPE_FILES } from './dtype.js';
import { exportOnnx, type ExportFileSpec } from './export.js';
import {
  DEFAULT_FOLDER_DTYPES,
  FOLDER_MODEL_TYPE,
  IMAGE_PROCESSOR,
  parseModelFolder,
  PIL_BICUBIC,
  type FlattenBlock,
  type FolderConfig,
  type FolderFiles,
  type ModelFolder,
  type PreprocessorConfig,
} from './folder_read.js';
import { createModel } from './model.js';

export {
  DEFAULT_FOLDER_DTYPES,
  FOLDER_MODEL_TYPE,
  parseModelFolder,
  type FlattenBlock,
  type FolderConfig,
  type FolderFiles,
  type ModelFolder,
  type PreprocessorConfig,
} from './folder_read.js';

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
      target: spec.target,
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

/** Read a model folder for one dtype (folder_read.ts), from a directory. */
export function readModelFolder(dir: string, opts: { dtype?: ModelDType } = {}): ModelFolder {
  const at = (rel: string) => join(dir, rel);
  const files: FolderFiles = {
    name: at,
    text: (rel) => (existsSync(at(rel)) ? new TextDecoder().decode(readFileBytes(at(rel))) : undefined),
    has: (rel) => existsSync(at(rel)),
  };
  return parseModelFolder(dir, files, opts);
}
