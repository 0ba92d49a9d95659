import type { Family } from './model.js';

/**
 * Official constructors and named factories: what each one fixes before the caller's kwargs apply.
 * Factories pass LayerNorm eps 1e-6 to PVT/PVTv2 blocks; the bare classes use 1e-5 (as in the official code).
 */
export interface Constructor {
  family: Family;
  defaults: Record<string, unknown>;
}

const pvt = (depths: number[], eps = 1e-6) => ({
  patch_size: 4,
  embed_dims: [64, 128, 320, 512],
  num_heads: [1, 2, 5, 8],
  mlp_ratios: [8, 8, 4, 4],
  qkv_bias: true,
  depths,
  sr_ratios: [8, 4, 2, 1],
  norm_eps: eps,
});

const cswin = (embed_dim: number, depth: number[], num_heads: number[], split_size: number[], img_size = 224) => ({
  patch_size: 4,
  embed_dim,
  depth,
  split_size,
  num_heads,
  mlp_ratio: 4,
  img_size,
});

export const CONSTRUCTORS: Record<string, Constructor> = {
  FLattenSwinTransformer: { family: 'swin', defaults: {} },
  PyramidVisionTransformer: { family: 'pvt', defaults: {} },
  PyramidVisionTransformerV2: { family: 'pvt_v2', defaults: {} },
  CSWinTransformer: { family: 'cswin', defaults: {} },
  FLattenDeiT: { family: 'deit', defaults: {} },
  flatten_pvt_tiny: { family: 'pvt', defaults: pvt([2, 2, 2, 2]) },
  flatten_pvt_small: { family: 'pvt', defaults: pvt([3, 4, 6, 3]) },
  flatten_pvt_medium: { family: 'pvt', defaults: pvt([3, 4, 18, 3]) },
  flatten_pvt_large: { family: 'pvt', defaults: pvt([3, 8, 27, 3]) },
  flatten_pvt_v2_b0: { family: 'pvt_v2', defaults: { ...pvt([2, 2, 2, 2]), embed_dims: [32, 64, 160, 256] } },
  flatten_pvt_v2_b1: { family: 'pvt_v2', defaults: pvt([2, 2, 2, 2]) },
  flatten_pvt_v2_b2: { family: 'pvt_v2', defaults: pvt([3, 4, 6, 3]) },
  flatten_pvt_v2_b3: { family: 'pvt_v2', defaults: pvt([3, 4, 18, 3]) },
  flatten_pvt_v2_b4: { family: 'pvt_v2', defaults: pvt([3, 8, 27, 3]) },
  flatten_pvt_v2_b5: { family: 'pvt_v2', defaults: { ...pvt([3, 6, 40, 3]), mlp_ratios: [4, 4, 4, 4] } },
  FLatten_CSWin_64_24181_tiny_224: { family: 'cswin', defaults: cswin(64, [2, 4, 18, 1], [2, 4, 8, 16], [1, 2, 7, 7]) },
  FLatten_CSWin_64_24322_small_224: {
    family: 'cswin',
    defaults: cswin(64, [2, 4, 32, 2], [2, 4, 8, 16], [1, 2, 7, 7]),
  },
  FLatten_CSWin_96_36292_base_224: {
    family: 'cswin',
    defaults: cswin(96, [3, 6, 29, 2], [4, 8, 16, 32], [1, 2, 7, 7]),
  },
  FLatten_CSWin_96_36292_base_384: {
    family: 'cswin',
    defaults: cswin(96, [3, 6, 29, 2], [4, 8, 16, 32], [1, 2, 12, 12], 384),
  },
};
