import { FlattenError } from '../core/errors.js';
import type { TensorData } from '../core/tensor.js';
import { toBatch } from '../io/image.js';
import type { OnnxSession } from '../engines/onnx/session.js';
import { readFileBytes } from '../io/files.js';
import type { Preprocess } from '../models/registry.js';
import { prepareImages, type ImageInput } from './classify.js';
import { checkFolderGraph, exportedInfo, imageInput, topClasses, type Classification } from './exported.js';
import { labelsFor } from './labels.js';
import { checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { engineRunner, type EngineName } from './engine.js';
import { exportOnnx, MODEL_INPUT } from './export.js';
import { isFolder, readModelFolder } from './folder.js';
import { findRegistryEntry } from '../models/registry.js';
import { createModel, type LoadedModel } from './model.js';

export type PipelineTask = 'image-classification' | 'image-feature-extraction';

/** The option names of transformers.js' `pipeline`, plus `engine` and `checkpoint`. */
export interface PipelineOptions {
  /** 'onnx' (default): one ONNX Runtime session built at creation and reused; 'tfjs': eager TensorFlow.js. */
  engine?: EngineName;
  /** Where the model runs. Only 'cpu' exists today. */
  device?: 'cpu';
  /**
   * Weight type: 'fp32' (default), 'fp16' (weights stored as fp16), 'q8' (dynamic int8), 'q4' (4-bit weights). A name
   * or model is exported in it; a folder's file of that dtype is opened. ONNX Runtime only: tfjs computes in fp32.
   */
  dtype?: ModelDType;
  /** Intra-op threads of the ONNX Runtime session (default: FLATTEN_THREADS, else every core). */
  threads?: number;
  /** Classes returned per image (default 5). */
  topK?: number;
  /** Weights for a registry name (default: shipped weights, else random ones: check `model.source`). */
  checkpoint?: string;
}

export type { Classification } from './exported.js';

interface PipelineBase {
  readonly task: PipelineTask;
  /** The model, when the pipeline was made from a name or `createModel` (not from an `.onnx` file or a folder). */
  readonly model?: LoadedModel;
  readonly engine: EngineName;
  /** Class names, index = logit. */
  readonly labels: string[];
  /** The eval transform every image gets. */
  readonly preprocess: Preprocess;
  /** Where the weights came from (a file, 'random' for random weights). */
  readonly source: string;
  /** The weight type it runs. */
  readonly dtype: ModelDType;
  /** Frees the ONNX Runtime session. */
  dispose(): Promise<void>;
}

/** Images in, `[{ label, score }]` (best first) out: one list for one image, a list of lists for several. */
export interface ImageClassificationPipeline extends PipelineBase {
  (image: ImageInput): Promise<Classification[]>;
  (images: ImageInput[]): Promise<Classification[][]>;
}

/** Images in, the pooled features fed to the classifier out: (B, C). */
export interface ImageFeatureExtractionPipeline extends PipelineBase {
  (images: ImageInput | ImageInput[]): Promise<TensorData>;
}

const DEVICES = ['cpu'];

function checkOptions(o: PipelineOptions): void {
  if (o.device !== undefined && !DEVICES.includes(o.device))
    throw new FlattenError('BAD_ARGUMENT', `device '${o.device}' is not available; available: ${DEVICES.join(', ')}`);
  if (o.dtype !== undefined) checkDType(o.dtype);
  if (o.dtype !== undefined && o.dtype !== 'fp32' && o.engine === 'tfjs')
    throw new FlattenError(
      'BAD_ARGUMENT',
      `dtype '${o.dtype}' runs on the onnx engine only (the tfjs engine computes in fp32)`,
    );
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1))
    throw new FlattenError('BAD_ARGUMENT', `topK must be a whole number ≥ 1, got ${o.topK}`);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1))
    throw new FlattenError('BAD_ARGUMENT', `threads must be a whole number ≥ 1, got ${o.threads}`);
}

/** What a pipeline runs: one batch (B, C, H, W) → logits and pooled features, plus what it needs to know. */
interface Runner {
  engine: EngineName;
  model?: LoadedModel;
  labels: string[];
  preprocess: Preprocess;
  channels: 1 | 3;
  source: string;
  dtype: ModelDType;
  run(x: TensorData): Promise<{ logits: TensorData; features?: TensorData }>;
  dispose(): Promise<void>;
}

function sessionRunner(session: OnnxSession): Pick<Runner, 'run' | 'dispose'> {
  return {
    run: async (x) => {
      const out = await session.run({ [MODEL_INPUT]: x });
      return { logits: out.logits, features: out.pooler_output };
    },
    dispose: () => session.release(),
  };
}

/** A model on the chosen engine: on ONNX Runtime its graph is traced and loaded once, here. */
async function modelRunner(m: LoadedModel, o: PipelineOptions): Promise<Runner> {
  const engine = o.engine ?? 'onnx';
  const dtype = o.dtype ?? 'fp32';
  const about = { engine, model: m, labels: m.labels, preprocess: m.preprocess, source: m.source, dtype };
  const channels = m.model.inChans === 1 ? 1 : 3;
  if (engine === 'onnx') {
    const { OnnxSession } = await import('../engines/onnx/session.js');
    const { bytes } = exportOnnx({
      name: m.name,
      model: m.model,
      checkpoint: m.weights,
      preprocess: m.preprocess,
      dtype,
    });
    return { ...about, channels, ...sessionRunner(await OnnxSession.create(bytes, m.name, { threads: o.threads })) };
  }
  const run = engineRunner(engine);
  return {
    ...about,
    channels,
    run: (x) =>
      run(m.weights, [x], (ctx, xi) => {
        const { logits, features } = m.model.forward(ctx, xi);
        return { logits, features };
      }),
    dispose: async () => {},
  };
}

/** A session on an exported image model's bytes, its input checked. */
async function openExported(bytes: Uint8Array, file: string, o: PipelineOptions) {
  if (o.engine === 'tfjs') throw new FlattenError('BAD_ARGUMENT', `${file}: an .onnx file runs on the onnx engine`);
  const { OnnxSession } = await import('../engines/onnx/session.js');
  const session = await OnnxSession.create(bytes, file, { threads: o.threads });
  return { session, ...imageInput(session, file) };
}

/** An `.onnx` file written by `flatten export`: its metadata says how to preprocess and what the classes are. */
async function fileRunner(file: string, o: PipelineOptions): Promise<Runner> {
  // read once: the session's own check, ORT and the metadata all use these bytes
  const bytes = readFileBytes(file);
  const info = exportedInfo(bytes, file, o.dtype);
  const { session, channels } = await openExported(bytes, file, o);
  return {
    engine: 'onnx',
    labels: labelsFor(info.name, info.numClasses),
    preprocess: info.preprocess,
    channels,
    source: file,
    dtype: info.dtype,
    ...sessionRunner(session),
  };
}

/** A folder written by `flatten export --format folder`: its JSON files give the classes and the eval transform. */
async function folderRunner(dir: string, o: PipelineOptions): Promise<Runner> {
  const f = readModelFolder(dir, { dtype: o.dtype });
  const { session, channels, inputSide } = await openExported(readFileBytes(f.file), f.file, o);
  try {
    checkFolderGraph(f, { channels, inputSide });
  } catch (e) {
    await session.release();
    throw e;
  }
  return {
    engine: 'onnx',
    labels: f.labels,
    preprocess: f.preprocess,
    channels,
    source: f.file,
    dtype: f.dtype,
    ...sessionRunner(session),
  };
}

/** A string model: a registry name first, then an `.onnx` file, then a folder (`./name` for a folder named like a model). */
function runnerFor(model: string, opts: PipelineOptions): Promise<Runner> {
  if (findRegistryEntry(model)) return modelRunner(createModel(model, { checkpoint: opts.checkpoint }), opts);
  const exported = /\.onnx$/i.test(model) ? fileRunner : isFolder(model) ? folderRunner : undefined;
  if (exported && opts.checkpoint !== undefined)
    throw new FlattenError('BAD_ARGUMENT', `${model}: a checkpoint does not apply, the weights are in the graph`);
  if (exported) return exported(model, opts);
  return modelRunner(createModel(model, { checkpoint: opts.checkpoint }), opts);
}

/**
 * A ready-to-call model for a task, as transformers.js' `pipeline`:
 *
 *   const classify = await pipeline('image-classification', 'flatten_deit_fmnist');
 *   const [{ label, score }] = await classify('shirt.png');
 *
 * `model` is a registry name, a model from `createModel`, an `.onnx` file written by `flatten export`, or a folder
 * written by `flatten export --format folder` (the file of `dtype` is opened). Images are file paths, encoded bytes (JPEG, PNG,
 * WebP…) or decoded `{ data, width, height, channels }` pixels; each gets the model's eval transform.
 */
export function pipeline(
  task: 'image-classification',
  model: string | LoadedModel,
  opts?: PipelineOptions,
): Promise<ImageClassificationPipeline>;
export function pipeline(
  task: 'image-feature-extraction',
  model: string | LoadedModel,
  opts?: PipelineOptions,
): Promise<ImageFeatureExtractionPipeline>;
export async function pipeline(
  task: PipelineTask,
  model: string | LoadedModel,
  opts: PipelineOptions = {},
): Promise<ImageClassificationPipeline | ImageFeatureExtractionPipeline> {
  if (task !== 'image-classification' && task !== 'image-feature-extraction')
    throw new FlattenError(
      'BAD_ARGUMENT',
      `unknown task '${String(task)}'; available: image-classification, image-feature-extraction`,
    );
  checkOptions(opts);
  if (opts.engine !== undefined) engineRunner(opts.engine);
  const fwd = typeof model !== 'string' ? await modelRunner(model, opts) : await runnerFor(model, opts);
  const topK = opts.topK ?? 5;
  const batchOf = async (images: ImageInput[]) => {
    if (!images.length) throw new FlattenError('BAD_ARGUMENT', `${task}: no images given`);
    return toBatch(await prepareImages(images, fwd.preprocess, fwd.channels), fwd.preprocess);
  };
  const { engine, labels, preprocess, source, dtype, dispose } = fwd;
  const base = { task, model: fwd.model, engine, labels, preprocess, source, dtype, dispose };
  if (task === 'image-feature-extraction') {
    const extract = async (images: ImageInput | ImageInput[]) => {
      const { features } = await fwd.run(await batchOf(Array.isArray(images) ? images : [images]));
      if (!features) throw new FlattenError('BAD_FILE', `${source}: the model has no 'pooler_output'`);
      return features;
    };
    return Object.assign(extract, base) as ImageFeatureExtractionPipeline;
  }
  const classify = async (images: ImageInput | ImageInput[]) => {
    const list = Array.isArray(images) ? images : [images];
    const { logits } = await fwd.run(await batchOf(list));
    const top = topClasses(logits, labels, topK);
    return Array.isArray(images) ? top : top[0];
  };
  return Object.assign(classify, base) as ImageClassificationPipeline;
}
