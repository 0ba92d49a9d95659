/**
 * A model for the browser pipeline, from wherever it comes: a registry name (its graph built here, in the tab),
 * `.onnx` bytes or URL, or a model folder (a URL, or dropped files). All of it Node-free.
 */
import { FlattenError } from '../core/errors.js';
import { classNames } from '../api/class_names.js';
import { exportGraph } from '../api/export_graph.js';
import { exportedInfo } from '../api/exported.js';
import { parseModelFolder, type FolderFiles, type ModelFolder } from '../api/folder_read.js';
import { DTYPE_FILES } from '../api/dtype.js';
import { buildAtSize } from '../api/size.js';
import { checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { evalPreprocess, findRegistryEntry, registryEntry, type Preprocess } from '../models/registry.js';
import { parseStateDict } from '../nn/weights.js';
import { download, downloadIfThere, type Loader } from './fetch.js';

/** A model: a registry name or URL (string), `.onnx` bytes, or dropped files (one `.onnx`, or a model folder's). */
export type WebModelSource = string | ArrayBuffer | Uint8Array | Blob | File[] | FileList;

export interface SourceOptions {
  dtype?: ModelDType;
  /** Weights for a registry name: a URL or bytes of a `.safetensors` or `.pth`, or 'random' (seeded random weights). */
  weights?: string | ArrayBuffer | Uint8Array;
  /** Class names, for a model whose files name none (a bare 1000-class `.onnx` in the browser: ImageNet's). */
  labels?: string[];
}

/** What the pipeline needs: the graph's bytes and how to feed and read it. */
export interface ModelGraph {
  bytes: Uint8Array;
  name: string;
  labels: string[];
  preprocess: Preprocess;
  /** The channels the eval transform makes (the registry's model, or the folder's JSON; else the session's input). */
  channels?: 1 | 3;
  dtype: ModelDType;
  random: boolean;
  /** Where it came from: a URL, a file name, 'model bytes', or the registry name with its weights. */
  source: string;
  /** Already optimized by onnxruntime-node (`flatten export --optimize`): the session skips ORT's optimizer. */
  optimized?: boolean;
  /** Set for a model folder: the session's input is checked against it. */
  folder?: ModelFolder;
}

const asBytes = (b: ArrayBuffer | Uint8Array) => (b instanceof Uint8Array ? b : new Uint8Array(b));

/** Class names: `labels` when given (one per class), else the names our files imply. */
function labelsOf(name: string, numClasses: number, labels: string[] | undefined, file: string): string[] {
  if (labels === undefined) return classNames(name, numClasses);
  if (labels.length !== numClasses || labels.some((l) => typeof l !== 'string'))
    throw new FlattenError(
      'BAD_ARGUMENT',
      `labels: ${file} has ${numClasses} classes, but ${labels.length} labels were given`,
    );
  return labels;
}

/** A registry model with its weights, exported to ONNX here (the Node pipeline's graph for that name). */
async function registryGraph(name: string, o: SourceOptions, l: Loader): Promise<ModelGraph> {
  const entry = registryEntry(name);
  if (o.weights === undefined)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `${name}: give options.weights (a URL or the bytes of a .safetensors or .pth), or 'random' for seeded random weights`,
    );
  const random = o.weights === 'random';
  const file = typeof o.weights === 'string' ? o.weights : 'weights (bytes)';
  // what can be refused is refused before the download
  const { model } = buildAtSize(entry.name);
  const labels = labelsOf(entry.name, model.numClasses, o.labels, entry.name);
  const preprocess = evalPreprocess(entry, model.imgSize[0]);
  const dtype = checkDType(o.dtype ?? 'fp32');
  const bytes = random
    ? undefined
    : typeof o.weights === 'string'
      ? await download(o.weights, l)
      : asBytes(o.weights as Uint8Array);
  l.onProgress?.({ stage: 'build', file: name, loaded: 0 });
  const graph = exportGraph({
    name: entry.name,
    model,
    checkpoint: bytes && parseStateDict(bytes, file),
    source: random ? undefined : file,
    preprocess,
    dtype,
  });
  l.onProgress?.({ stage: 'build', file: name, loaded: graph.bytes.length });
  return {
    bytes: graph.bytes,
    name: entry.name,
    labels,
    preprocess,
    channels: model.inChans === 1 ? 1 : 3,
    dtype,
    random,
    source: random ? `${entry.name} (random weights, seed 0)` : file,
  };
}

/** An `.onnx` file written by `flatten export`: its metadata gives the eval transform and the classes. */
function onnxGraph(bytes: Uint8Array, file: string, o: SourceOptions): ModelGraph {
  const info = exportedInfo(bytes, file, o.dtype);
  return {
    bytes,
    name: info.name,
    labels: labelsOf(info.name, info.numClasses, o.labels, file),
    preprocess: info.preprocess,
    dtype: info.dtype,
    random: info.random,
    optimized: info.optimized,
    source: file,
  };
}

/** A folder's files, read ahead: the two JSON files' texts, which files exist, and a reader for the graph. */
interface FolderSource {
  dir: string;
  files: FolderFiles;
  graph(rel: string): Promise<Uint8Array>;
}

async function folderGraph(f: FolderSource, o: SourceOptions): Promise<ModelGraph> {
  const folder = parseModelFolder(f.dir, f.files, { dtype: o.dtype });
  const bytes = await f.graph(DTYPE_FILES[folder.dtype]);
  return {
    bytes,
    name: folder.config.flatten?.name ?? f.dir,
    labels: o.labels ? labelsOf(f.dir, folder.labels.length, o.labels, f.dir) : folder.labels,
    preprocess: folder.preprocess,
    channels: folder.channels,
    dtype: folder.dtype,
    random: folder.config.flatten?.weights === 'random',
    source: folder.file,
    folder,
  };
}

const JSON_FILES = ['config.json', 'preprocessor_config.json'];

/** A folder served at a URL: the JSON files first, then the graph of the dtype (a 404 names the file and dtype). */
async function urlFolder(url: string, l: Loader): Promise<FolderSource> {
  const base = url.endsWith('/') ? url : `${url}/`;
  const texts = new Map<string, string>();
  for (const rel of JSON_FILES) {
    const b = await downloadIfThere(base + rel, l);
    if (b) texts.set(rel, new TextDecoder().decode(b));
  }
  return {
    dir: url,
    // which graphs a served folder has is unknown without fetching them: the one asked for is fetched and named
    files: { name: (rel) => base + rel, text: (rel) => texts.get(rel), has: () => true },
    graph: async (rel) => {
      const b = await downloadIfThere(base + rel, l);
      if (!b) throw new FlattenError('BAD_FILE', `${url}: no ${rel} (HTTP 404 for ${base + rel})`);
      return b;
    },
  };
}

/**
 * Dropped files: a folder's (webkitRelativePath `fmnist/onnx/model.onnx`; the folder is where config.json is, so a
 * parent folder dropped works too) or files picked one by one (config.json, preprocessor_config.json, model*.onnx:
 * the graphs taken as onnx/).
 */
async function droppedFolder(list: File[]): Promise<FolderSource> {
  const pathOf = (f: File) => f.webkitRelativePath || f.name;
  const configs = list.map(pathOf).filter((p) => p === 'config.json' || p.endsWith('/config.json'));
  const root = configs.sort((a, b) => a.length - b.length)[0]?.slice(0, -'config.json'.length) ?? '';
  const byPath = new Map<string, File>();
  for (const file of list) {
    const path = pathOf(file);
    if (!path.startsWith(root)) continue;
    const rel = path.slice(root.length);
    byPath.set(!rel.includes('/') && /\.onnx$/i.test(rel) ? `onnx/${rel}` : rel, file);
  }
  const texts = new Map<string, string>();
  for (const rel of JSON_FILES) {
    const file = byPath.get(rel);
    if (file) texts.set(rel, await file.text());
  }
  const dir = root.replace(/\/$/, '') || list[0]?.webkitRelativePath?.split('/')[0] || 'dropped files';
  return {
    dir,
    files: { name: (rel) => `${dir}/${rel}`, text: (rel) => texts.get(rel), has: (rel) => byPath.has(rel) },
    graph: async (rel) => new Uint8Array(await byPath.get(rel)!.arrayBuffer()),
  };
}

/** The graph and its description for any model source (see WebModelSource). */
export async function resolveModel(model: WebModelSource, o: SourceOptions, l: Loader): Promise<ModelGraph> {
  if (o.dtype !== undefined) checkDType(o.dtype);
  if (typeof model === 'string' && findRegistryEntry(model)) return registryGraph(model, o, l);
  // a bare word is meant as a name: say which names exist
  if (typeof model === 'string' && !/[/:.]/.test(model)) registryEntry(model);
  if (o.weights !== undefined)
    throw new FlattenError(
      'BAD_ARGUMENT',
      'options.weights applies to a registry name; an exported model holds its weights',
    );
  if (typeof model === 'string')
    return /\.onnx([?#].*)?$/i.test(model)
      ? onnxGraph(await download(model, l), model, o)
      : folderGraph(await urlFolder(model, l), o);
  if (model instanceof ArrayBuffer || model instanceof Uint8Array) return onnxGraph(asBytes(model), 'model bytes', o);
  const files = typeof FileList !== 'undefined' && model instanceof FileList ? Array.from(model) : model;
  if (Array.isArray(files)) {
    if (!files.length) throw new FlattenError('BAD_ARGUMENT', 'no files given');
    const only = files.length === 1 && /\.onnx$/i.test(files[0].name) ? files[0] : undefined;
    if (only) return onnxGraph(new Uint8Array(await only.arrayBuffer()), only.name, o);
    return folderGraph(await droppedFolder(files), o);
  }
  if (typeof Blob !== 'undefined' && model instanceof Blob)
    return onnxGraph(new Uint8Array(await model.arrayBuffer()), (model as File).name || 'model blob', o);
  throw new FlattenError(
    'BAD_ARGUMENT',
    'model: expected a registry name, a URL, .onnx bytes, a File or Blob, or the files of a model folder',
  );
}
