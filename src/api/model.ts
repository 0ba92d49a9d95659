import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import { readJsonFile } from '../io/json.js';
import type { ModelSpec } from '../models/build.js';
import type { VisionModel } from '../models/model.js';
import { evalPreprocess, registryEntry, type Preprocess } from '../models/registry.js';
import { loadWeights, readStateDict } from '../nn/checkpoint.js';
import { resamplePositionTables } from '../nn/resample.js';
import { modelInfo, type FeatureInfo } from './info.js';
import { labelsFor } from './labels.js';
import { buildAtSize, resolveIndices } from './size.js';

/** The package root (two levels above this file in both src/ and dist/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A model with its weights, eval transform and class names: what `createModel` returns. */
export interface LoadedModel {
  name: string;
  model: VisionModel;
  weights: Map<string, TensorData>;
  preprocess: Preprocess;
  /** Where the weights came from: a file, the package's shipped weights, 'state_dict' or 'random'. */
  source: string;
  labels: string[];
  /** Every stage's channels and reduction (timm's `feature_info`), or the `outIndices` ones for a backbone. */
  featureInfo: FeatureInfo[];
  /** Set by `featuresOnly`: a backbone, whose forward's purpose is its stage maps. */
  featuresOnly?: boolean;
  /** The stages a backbone returns (`extractFeatures`), ascending. */
  outIndices?: number[];
}

export interface CreateModelOptions {
  /**
   * `.pth` / `.safetensors` path or a state_dict. Default: the weights shipped in the package for that name
   * (flatten_deit_fmnist), else deterministic random weights (source 'random', which callers must say).
   */
  checkpoint?: string | StateDict;
  /** Classifier outputs (a new head for fine-tuning; 0 for none). */
  numClasses?: number;
  /** Input side, or [H, W]: the model the official constructor builds at that size. */
  imgSize?: number | [number, number];
  /** Refuse missing or unexpected checkpoint keys (default true). */
  strict?: boolean;
  /** Seed of the random weights when there is no checkpoint. */
  seed?: number;
  /** A backbone (timm's `features_only`): `extractFeatures` returns its stage maps; no head is needed. */
  featuresOnly?: boolean;
  /** With `featuresOnly`: which stages, negative counted from the end (default: all). */
  outIndices?: number[];
}

/** The weights file this package ships for a registry name (flatten_deit_fmnist), if any. */
export function shippedWeights(name: string): string | undefined {
  const file = registryEntry(name).weights;
  return file && existsSync(PACKAGE_ROOT + file) ? PACKAGE_ROOT + file : undefined;
}

/**
 * A model by registry name (timm's `create_model`) or by an official family/constructor/kwargs description,
 * with weights bound. Parameter paths are the official state_dict keys, so official checkpoints load as they are.
 *
 *   const m = createModel('flatten_swin_t', { checkpoint: 'flatten_swin_t.pth' });
 */
export function createModel(nameOrSpec: string | ModelSpec, opts: CreateModelOptions = {}): LoadedModel {
  const { name, model, entry } = buildAtSize(nameOrSpec, opts);
  // shipped weights fit only the shipped head and size
  const shipped =
    entry && opts.numClasses === undefined && opts.imgSize === undefined ? shippedWeights(entry.name) : undefined;
  const checkpoint = opts.checkpoint ?? shipped;
  const source = typeof checkpoint === 'string' ? checkpoint : checkpoint ? 'state_dict' : 'random';
  // at another size, position tables made for the checkpoint's token grids are resampled to the model's
  const fitted =
    checkpoint !== undefined && opts.imgSize !== undefined
      ? resamplePositionTables(
          model.table,
          typeof checkpoint === 'string' ? readStateDict(checkpoint) : checkpoint,
          source,
        )
      : checkpoint;
  const weights = loadWeights(model.table, fitted, { strict: opts.strict, seed: opts.seed, source });
  if (opts.outIndices && !opts.featuresOnly)
    throw new FlattenError('BAD_CONFIG', 'outIndices applies to a backbone: pass featuresOnly: true as well');
  const all = modelInfo(model).featureInfo;
  const outIndices = opts.featuresOnly
    ? [...new Set(resolveIndices(opts.outIndices ?? all.map((f) => f.stage), all.length, name))].sort((a, b) => a - b)
    : undefined;
  return {
    name,
    model,
    weights,
    // eval crops are square: a model built for H×W takes its tensors through extractFeatures / forwardIntermediates
    preprocess: evalPreprocess(entry, model.imgSize[0]),
    source,
    labels: labelsFor(name, model.numClasses),
    featureInfo: outIndices ? outIndices.map((i) => all[i]) : all,
    ...(outIndices ? { featuresOnly: true, outIndices } : {}),
  };
}

/** A whole model from a golden-format `config.json` (family + constructor + kwargs), with ImageNet eval preprocessing. */
export function createModelFromConfig(configPath: string, opts: CreateModelOptions = {}): LoadedModel {
  const cfg = readJsonFile<ModelSpec & { kind?: string }>(configPath);
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg))
    throw new FlattenError('BAD_CONFIG', `${configPath}: expected a JSON object`);
  if ((cfg.kind ?? 'model') !== 'model')
    throw new FlattenError('BAD_CONFIG', `${configPath}: a whole model is needed here, not an ${cfg.kind} case`);
  return { ...createModel(cfg, opts), name: configPath };
}

/** A model named by registry name or by a golden-format config file (exactly one), with optional weights. */
export interface ModelArg {
  model?: string;
  config?: string;
  checkpoint?: string;
}

/** `--model <name>` or `--config <config.json>`, exactly one. */
export function loadModelArg(o: ModelArg): LoadedModel {
  if (!o.model === !o.config)
    throw new FlattenError('BAD_ARGUMENT', 'give exactly one of --model <name> and --config <config.json>');
  return o.model
    ? createModel(o.model, { checkpoint: o.checkpoint })
    : createModelFromConfig(o.config!, { checkpoint: o.checkpoint });
}

/** Says in one line, every time, that what follows comes from random weights. */
export function warnIfRandom(m: LoadedModel, warn: ((line: string) => void) | undefined): void {
  if (m.source === 'random')
    warn?.(`${m.name} has no weights here; results come from a RANDOMLY INITIALISED model (pass --checkpoint)`);
}
