import { FlattenError } from '../core/errors.js';
import { buildModel, type ModelSpec } from '../models/build.js';
import { cswinSizeOverrides } from '../models/cswin.js';
import { CONSTRUCTORS } from '../models/factories.js';
import type { VisionModel } from '../models/model.js';
import { registryEntry, type RegistryEntry } from '../models/registry.js';

/** Families whose official modules take H and W (PVT's at forward, Swin's PatchEmbed), so a non-square size builds them for H×W. */
const NON_SQUARE = ['pvt', 'pvt_v2', 'swin'];

/** `imgSize` as the img_size kwarg: a side for square sizes (configs as before), [H, W] otherwise. */
export function sizeOverrides(
  imgSize: number | [number, number] | undefined,
  family?: string,
): { img_size?: number | [number, number] } {
  if (imgSize === undefined) return {};
  const [h, w] = typeof imgSize === 'number' ? [imgSize, imgSize] : imgSize;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1)
    throw new FlattenError('BAD_CONFIG', `imgSize must be a positive whole side or [H, W], got ${String(imgSize)}`);
  if (h === w) return { img_size: h };
  if (!NON_SQUARE.includes(family ?? ''))
    throw new FlattenError(
      'BAD_CONFIG',
      `imgSize ${h}×${w}: ${family ?? 'this model'} takes square sizes only (its strips follow a square map); non-square sizes work for PVT, PVTv2 and Swin`,
    );
  return { img_size: [h, w] };
}

/**
 * The model the official constructor builds for a registry name or a config at another input size and head:
 * img_size (and num_classes) replaced, and CSwin's whole-map focused stages given the new whole map.
 */
export function buildAtSize(
  nameOrSpec: string | ModelSpec,
  o: { imgSize?: number | [number, number]; numClasses?: number } = {},
): { name: string; model: VisionModel; entry?: RegistryEntry } {
  const entry = typeof nameOrSpec === 'string' ? registryEntry(nameOrSpec) : undefined;
  const spec: ModelSpec = entry
    ? { family: entry.family, constructor: entry.constructor, kwargs: entry.kwargs }
    : (nameOrSpec as ModelSpec);
  // own-property reads: a JSON object without "constructor" would otherwise yield Object itself
  const ctor = Object.hasOwn(spec, 'constructor') ? spec.constructor : undefined;
  const family = spec.family ?? (ctor && Object.hasOwn(CONSTRUCTORS, ctor) ? CONSTRUCTORS[ctor].family : undefined);
  const size = sizeOverrides(o.imgSize, family).img_size;
  const kwargs = {
    ...(spec.kwargs ?? {}),
    ...(size !== undefined ? { img_size: size } : {}),
    ...(o.numClasses !== undefined ? { num_classes: o.numClasses } : {}),
    ...(family === 'cswin' && typeof size === 'number' ? cswinSizeOverrides(spec.kwargs ?? {}, size) : {}),
  };
  return { name: entry?.name ?? ctor ?? family ?? 'model', model: buildModel({ ...spec, kwargs }), entry };
}

/** Stage indices checked against the model: each a whole number in [−n, n), negative ones counted from the end. */
export function resolveIndices(indices: number[], stages: number, name: string): number[] {
  return indices.map((i) => {
    if (!Number.isInteger(i) || i < -stages || i >= stages)
      throw new FlattenError(
        'BAD_CONFIG',
        `outIndices [${indices.join(', ')}]: ${name} has stages 0–${stages - 1} (or −${stages}…−1), not ${i}`,
      );
    return i < 0 ? stages + i : i;
  });
}
