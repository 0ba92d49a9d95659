import { buildNamed } from '../models/build.js';
import { REGISTRY, type RegistryEntry } from '../models/registry.js';

/** One row of the model registry, as `flatten list` shows it. */
export interface ModelSummary {
  name: string;
  family: RegistryEntry['family'];
  resolution: number;
  parameters: number;
  /** An official checkpoint of this configuration is published by the authors. */
  released: boolean;
  description: string;
}

/** `*` matches any run of characters, the rest literally (timm's `list_models('flatten_pvt*')`). */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** Registry names, in registry order, optionally filtered by a glob such as `flatten_swin*`. */
export function listModels(pattern = '*'): string[] {
  const re = globToRegExp(pattern);
  return REGISTRY.map((e) => e.name).filter((n) => re.test(n));
}

/** Name, family, resolution, parameter count and provenance of each registry model matching `pattern`. */
export function describeModels(pattern = '*'): ModelSummary[] {
  const names = new Set(listModels(pattern));
  return REGISTRY.filter((e) => names.has(e.name)).map((e) => ({
    name: e.name,
    family: e.family,
    resolution: e.preprocess.imgSize,
    parameters: buildNamed(e.name).table.parameterCount(),
    released: e.released,
    description: e.description,
  }));
}
