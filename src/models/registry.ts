import { FlattenError } from '../core/errors.js';
import { CSWIN_PRESETS } from './cswin.js';
import { DEIT_PRESETS } from './deit.js';
import { IMAGENET_EVAL, type Preprocess, type RegistryEntry } from './presets.js';
import { PVT_PRESETS } from './pvt.js';
import { SWIN_PRESETS } from './swin.js';

export { IMAGENET_EVAL, type Preprocess, type RegistryEntry } from './presets.js';

/** Every released configuration plus FLatten-DeiT: each family's presets stand at the end of its model file. */
export const REGISTRY: RegistryEntry[] = [...SWIN_PRESETS, ...PVT_PRESETS, ...CSWIN_PRESETS, ...DEIT_PRESETS];

/** The yaml names of the official cfg files, for users who know those. */
const ALIASES: Record<string, string> = {
  flatten_pvt_t: 'flatten_pvt_tiny',
  flatten_pvt_s: 'flatten_pvt_small',
  flatten_pvt_m: 'flatten_pvt_medium',
  flatten_pvt_b: 'flatten_pvt_large',
};

/** The entry of a registry name or alias, or undefined. */
export function findRegistryEntry(name: string): RegistryEntry | undefined {
  return REGISTRY.find((r) => r.name === (ALIASES[name] ?? name));
}

export function registryEntry(name: string): RegistryEntry {
  const e = findRegistryEntry(name);
  if (!e) {
    throw new FlattenError(
      'BAD_CONFIG',
      `unknown model '${name}'; known models: ${REGISTRY.map((r) => r.name).join(', ')}`,
    );
  }
  return e;
}

/** A model's eval transform: its registry entry's, else ImageNet's with the center crop, at the model's (square) side. */
export function evalPreprocess(entry: RegistryEntry | undefined, side: number): Preprocess {
  return { ...(entry?.preprocess ?? { ...IMAGENET_EVAL, crop: true }), imgSize: side };
}
