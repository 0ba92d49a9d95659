import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TensorData } from '../core/tensor.js';
import { buildModel, buildNamed } from '../models/build.js';
import { FlattenError } from '../core/errors.js';
import { readJsonFile } from '../io/json.js';
import type { CaseConfig } from './forward.js';
import type { VisionModel } from '../models/model.js';
import { IMAGENET_EVAL, registryEntry, type Preprocess } from '../models/registry.js';
import { loadWeights } from '../nn/checkpoint.js';

/** The package root (two levels above this file in both src/ and dist/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LoadedModel {
  name: string;
  model: VisionModel;
  weights: Map<string, TensorData>;
  preprocess: Preprocess;
  /** Where the weights came from: a file, the package's shipped weights, or 'random'. */
  source: string;
  labels?: string[];
}

export interface LoadModelOptions {
  checkpoint?: string;
  numClasses?: number;
  strict?: boolean;
  seed?: number;
}

/**
 * A registry model with weights: the given checkpoint, else the weights shipped with the package for that
 * name, else deterministic random weights (source 'random', which callers must label as such).
 */
export function loadModel(name: string, opts: LoadModelOptions = {}): LoadedModel {
  const entry = registryEntry(name);
  const model = buildNamed(entry.name, opts.numClasses ? { num_classes: opts.numClasses } : {});
  const shipped = entry.weights ? PACKAGE_ROOT + entry.weights : undefined;
  const file = opts.checkpoint ?? (shipped && existsSync(shipped) ? shipped : undefined);
  const weights = loadWeights(model.table, file, { strict: opts.strict, seed: opts.seed });
  return { name: entry.name, model, weights, preprocess: entry.preprocess, source: file ?? 'random' };
}

/**
 * A model from a golden-format config.json (family + constructor + kwargs) instead of a registry name,
 * with ImageNet eval preprocessing at its own resolution.
 */
export function loadModelFromConfig(configPath: string, opts: LoadModelOptions = {}): LoadedModel {
  const cfg = readJsonFile<CaseConfig>(configPath);
  if ((cfg.kind ?? 'model') !== 'model')
    throw new FlattenError('BAD_CONFIG', `${configPath}: a whole model is needed here, not an ${cfg.kind} case`);
  const model = buildModel(cfg);
  const weights = loadWeights(model.table, opts.checkpoint, { strict: opts.strict, seed: opts.seed });
  return {
    name: configPath,
    model,
    weights,
    preprocess: { ...IMAGENET_EVAL, imgSize: model.imgSize, crop: true },
    source: opts.checkpoint ?? 'random',
  };
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
    ? loadModel(o.model, { checkpoint: o.checkpoint })
    : loadModelFromConfig(o.config!, { checkpoint: o.checkpoint });
}

/** Says in one line, every time, that what follows comes from random weights. */
export function warnIfRandom(m: LoadedModel, warn: ((line: string) => void) | undefined): void {
  if (m.source === 'random')
    warn?.(`${m.name} has no weights here; results come from a RANDOMLY INITIALISED model (pass --checkpoint)`);
}
