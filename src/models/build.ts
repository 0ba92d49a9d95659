import { FlattenError } from '../core/errors.js';
import { CONSTRUCTORS } from './factories.js';
import type { Family, VisionModel } from './model.js';
import { registryEntry } from './registry.js';
import { FLattenSwin } from './swin.js';
import { FLattenPvt } from './pvt.js';
import { FLattenCswin } from './cswin.js';
import { FLattenDeit } from './deit.js';

/** The golden-case / config.json description of a model: family + official constructor + kwargs. */
export interface ModelSpec {
  family?: Family;
  constructor?: string;
  kwargs?: Record<string, unknown>;
}

const FAMILIES: Record<Family, (kw: Record<string, unknown>) => VisionModel> = {
  swin: (kw) => new FLattenSwin(kw),
  pvt: (kw) => new FLattenPvt('pvt', kw),
  pvt_v2: (kw) => new FLattenPvt('pvt_v2', kw),
  cswin: (kw) => new FLattenCswin(kw),
  deit: (kw) => new FLattenDeit(kw),
};

/** Build a model from a family/constructor and official kwargs (a golden config.json is accepted as it is). */
export function buildModel(spec: ModelSpec): VisionModel {
  // own-property reads: a JSON object without "constructor" would otherwise yield Object itself
  const name = Object.hasOwn(spec, 'constructor') ? spec.constructor : undefined;
  const ctor = name !== undefined && Object.hasOwn(CONSTRUCTORS, name) ? CONSTRUCTORS[name] : undefined;
  if (name !== undefined && !ctor) {
    throw new FlattenError(
      'BAD_CONFIG',
      `unknown constructor '${name}'; known: ${Object.keys(CONSTRUCTORS).join(', ')}`,
    );
  }
  const family = spec.family ?? ctor?.family;
  if (!family || !Object.hasOwn(FAMILIES, family))
    throw new FlattenError(
      'BAD_CONFIG',
      `unknown model family '${String(family)}'; known: ${Object.keys(FAMILIES).join(', ')}`,
    );
  if (ctor && ctor.family !== family)
    throw new FlattenError('BAD_CONFIG', `constructor '${name}' builds a ${ctor.family} model, not ${family}`);
  return FAMILIES[family]({ ...(ctor?.defaults ?? {}), ...(spec.kwargs ?? {}) });
}

/** Build a registry model by name, with optional kwargs overrides (e.g. num_classes). */
export function buildNamed(name: string, overrides: Record<string, unknown> = {}): VisionModel {
  const e = registryEntry(name);
  return buildModel({ family: e.family, constructor: e.constructor, kwargs: { ...e.kwargs, ...overrides } });
}
