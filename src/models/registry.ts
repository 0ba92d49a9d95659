import { FlattenError } from '../core/errors.js';
import type { Family } from './model.js';

/** Eval preprocessing of a named model (the official evaluation transform). */
export interface Preprocess {
  imgSize: number;
  /** Resize to the square ⌊256/224·img⌋ then center-crop (true), or resize straight to img (false). */
  crop: boolean;
  mean: [number, number, number] | [number];
  std: [number, number, number] | [number];
  interpolation: 'bicubic';
}

export interface RegistryEntry {
  name: string;
  family: Family;
  /** Official constructor or factory name (see factories.ts). */
  constructor: string;
  kwargs: Record<string, unknown>;
  preprocess: Preprocess;
  /** Released checkpoint exists upstream (README of the official repo). */
  released: boolean;
  description: string;
  /** Weights shipped inside this package (path from the package root), used when no checkpoint is given. */
  weights?: string;
}

/** ImageNet eval statistics and interpolation (the official evaluation transform). */
export const IMAGENET_EVAL = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
  interpolation: 'bicubic' as const,
};
const common = { num_classes: 1000, focusing_factor: 3, kernel_size: 5 };

function entry(
  name: string,
  family: Family,
  ctor: string,
  kwargs: Record<string, unknown>,
  released: boolean,
  description: string,
  crop = true,
): RegistryEntry {
  const imgSize = (kwargs.img_size as number | undefined) ?? 224;
  return {
    name,
    family,
    constructor: ctor,
    kwargs: { ...common, ...kwargs },
    preprocess: { imgSize, crop, ...IMAGENET_EVAL },
    released,
    description,
  };
}

const swin = (embed: number, depths: number[], heads: number[], img: number, window: number, dpr: number) => ({
  img_size: img,
  embed_dim: embed,
  depths,
  num_heads: heads,
  window_size: window,
  attn_type: 'LLSS',
  drop_path_rate: dpr,
});
const pvt = (dpr: number) => ({ la_sr_ratios: '1111', attn_type: 'LLLL', drop_path_rate: dpr });
const cswin = (img: number, split: string, dpr: number) => ({
  img_size: img,
  la_split_size: split,
  attn_type: 'LLSS',
  drop_path_rate: dpr,
});
const deit = (embed: number, heads: number) => ({
  img_size: 224,
  patch_size: 16,
  embed_dim: embed,
  depth: 12,
  num_heads: heads,
  attn_type: 'flatten',
  drop_path_rate: 0.1,
});

/**
 * FLatten-DeiT for 28×28 grayscale Fashion-MNIST: patch 4 (7×7 = 49 tokens + cls), a compact width and
 * depth sized so the 4-variant × 3-seed ablation fits a 2-core CPU (docs/ablation.md). DWC 5×5 on the 7×7 grid.
 */
const FMNIST_DEIT: RegistryEntry = {
  name: 'flatten_deit_fmnist',
  family: 'deit',
  constructor: 'FLattenDeiT',
  kwargs: {
    img_size: 28,
    patch_size: 4,
    in_chans: 1,
    num_classes: 10,
    embed_dim: 64,
    depth: 4,
    num_heads: 2,
    mlp_ratio: 2,
    attn_type: 'flatten',
    focusing_factor: 3,
    kernel_size: 5,
    drop_path_rate: 0.05,
  },
  preprocess: { imgSize: 28, crop: false, mean: [0.286], std: [0.353], interpolation: 'bicubic' },
  released: false,
  description: 'FLatten-DeiT for Fashion-MNIST 28×28 (ours; weights/flatten_deit_fmnist.safetensors, 90.5% test top-1)',
  weights: 'weights/flatten_deit_fmnist.safetensors',
};

/** Every released configuration (keys as in shared/golden/configs.json) plus FLatten-DeiT. */
export const REGISTRY: RegistryEntry[] = [
  entry(
    'flatten_swin_t',
    'swin',
    'FLattenSwinTransformer',
    swin(96, [2, 2, 6, 2], [3, 6, 12, 24], 224, 56, 0.2),
    true,
    'FLatten-Swin-T, 82.1% top-1',
  ),
  entry(
    'flatten_swin_s',
    'swin',
    'FLattenSwinTransformer',
    swin(96, [2, 2, 18, 2], [3, 6, 12, 24], 224, 56, 0.3),
    true,
    'FLatten-Swin-S, 83.5%',
  ),
  entry(
    'flatten_swin_b',
    'swin',
    'FLattenSwinTransformer',
    swin(128, [2, 2, 18, 2], [4, 8, 16, 32], 224, 56, 0.5),
    true,
    'FLatten-Swin-B, 83.8%',
  ),
  entry(
    'flatten_swin_b_384',
    'swin',
    'FLattenSwinTransformer',
    swin(128, [2, 2, 18, 2], [4, 8, 16, 32], 384, 96, 0.5),
    true,
    'FLatten-Swin-B at 384², 85.0%',
    false,
  ),
  entry('flatten_pvt_tiny', 'pvt', 'flatten_pvt_tiny', pvt(0.1), true, 'FLatten-PVT-T, 77.8%'),
  entry('flatten_pvt_small', 'pvt', 'flatten_pvt_small', pvt(0.1), false, 'FLatten-PVT-S, 81.7%'),
  entry('flatten_pvt_medium', 'pvt', 'flatten_pvt_medium', pvt(0.3), false, 'FLatten-PVT-M'),
  entry('flatten_pvt_large', 'pvt', 'flatten_pvt_large', pvt(0.3), false, 'FLatten-PVT-L'),
  entry('flatten_pvt_v2_b0', 'pvt_v2', 'flatten_pvt_v2_b0', pvt(0.1), true, 'FLatten-PVTv2-B0, 71.1%'),
  entry('flatten_pvt_v2_b1', 'pvt_v2', 'flatten_pvt_v2_b1', pvt(0.1), false, 'FLatten-PVTv2-B1, 79.5%'),
  entry('flatten_pvt_v2_b2', 'pvt_v2', 'flatten_pvt_v2_b2', pvt(0.1), false, 'FLatten-PVTv2-B2, 82.5%'),
  entry('flatten_pvt_v2_b3', 'pvt_v2', 'flatten_pvt_v2_b3', pvt(0.3), false, 'FLatten-PVTv2-B3'),
  entry('flatten_pvt_v2_b4', 'pvt_v2', 'flatten_pvt_v2_b4', pvt(0.3), false, 'FLatten-PVTv2-B4'),
  entry(
    'flatten_pvt_v2_b5',
    'pvt_v2',
    'flatten_pvt_v2_b5',
    pvt(0.3),
    false,
    'FLatten-PVTv2-B5 (factory only, no cfg upstream)',
  ),
  entry(
    'flatten_cswin_t',
    'cswin',
    'FLatten_CSWin_64_24181_tiny_224',
    cswin(224, '56-28-14-7', 0.2),
    true,
    'FLatten-CSwin-T, 83.1%',
  ),
  entry(
    'flatten_cswin_s',
    'cswin',
    'FLatten_CSWin_64_24322_small_224',
    cswin(224, '56-28-14-7', 0.4),
    false,
    'FLatten-CSwin-S, 83.8%',
  ),
  entry(
    'flatten_cswin_b',
    'cswin',
    'FLatten_CSWin_96_36292_base_224',
    cswin(224, '56-28-14-7', 0.5),
    false,
    'FLatten-CSwin-B, 84.5%',
  ),
  entry(
    'flatten_cswin_b_384',
    'cswin',
    'FLatten_CSWin_96_36292_base_384',
    cswin(384, '96-48-24-12', 0.7),
    false,
    'FLatten-CSwin-B at 384², 85.5%',
  ),
  entry(
    'flatten_deit_tiny',
    'deit',
    'FLattenDeiT',
    deit(192, 3),
    false,
    'FLatten-DeiT-T (our definition; paper 74.1%)',
  ),
  entry('flatten_deit_small', 'deit', 'FLattenDeiT', deit(384, 6), false, 'FLatten-DeiT-S (our definition)'),
  FMNIST_DEIT,
];

/** The yaml names of the official cfg files, for users who know those. */
const ALIASES: Record<string, string> = {
  flatten_pvt_t: 'flatten_pvt_tiny',
  flatten_pvt_s: 'flatten_pvt_small',
  flatten_pvt_m: 'flatten_pvt_medium',
  flatten_pvt_b: 'flatten_pvt_large',
};

export function registryEntry(name: string): RegistryEntry {
  const e = REGISTRY.find((r) => r.name === (ALIASES[name] ?? name));
  if (!e) {
    throw new FlattenError(
      'BAD_CONFIG',
      `unknown model '${name}'; known models: ${REGISTRY.map((r) => r.name).join(', ')}`,
    );
  }
  return e;
}

/**
 * Kwargs that rebuild a registry model for another input side R the way the official cfgs scale from 224
 * to 384: Swin keeps its linear stages global (window ⌈R/4⌉, at least 56), CSwin keeps full-map linear
 * stages (la_split R/4…R/32) and R/32 softmax strips. Everything else only changes img_size.
 */
export function resolutionOverrides(e: RegistryEntry, r: number): Record<string, unknown> {
  if (r % 32 !== 0)
    throw new FlattenError(
      'BAD_CONFIG',
      `resolution ${r} must be a multiple of 32 (four stride-2 stages after a stride-4 stem)`,
    );
  if (e.family === 'swin') return { img_size: r, window_size: Math.max(56, r / 4) };
  if (e.family === 'cswin') {
    const split = [1, 2, r / 32, r / 32];
    return { img_size: r, la_split_size: [4, 8, 16, 32].map((f) => r / f).join('-'), split_size: split };
  }
  return { img_size: r };
}
