import { buildModel } from '../../src/models/build.js';
import type { VisionModel } from '../../src/models/model.js';
import { modelSpec } from '../util.js';

/**
 * One small config per family that still reaches every kind of block: PVT's spatial reduction (sr 2) and
 * softmax stage, PVTv2's overlapping convs, CSwin's stripes and whole-map focused stages, DeiT's cls token,
 * Swin's shifted 7×7 softmax windows (mask, rolled tokens, relative position table) then focused linear
 * windows. Drop path on, so its masks are part of what is compared.
 */
export function tinyModels(): Record<string, VisionModel> {
  return {
    deit: buildModel(
      modelSpec('deit', {
        img_size: 16,
        patch_size: 4,
        num_classes: 4,
        embed_dim: 8,
        depth: 2,
        num_heads: 2,
        attn_type: 'flatten',
        drop_path_rate: 0.3,
      }),
    ),
    pvt: buildModel(
      modelSpec('pvt', {
        img_size: 32,
        patch_size: 4,
        num_classes: 4,
        embed_dims: [8, 16, 16, 16],
        num_heads: [1, 2, 2, 2],
        mlp_ratios: [2, 2, 2, 2],
        depths: [1, 1, 1, 1],
        la_sr_ratios: '2111',
        attn_type: 'LLLS',
        drop_path_rate: 0.1,
      }),
    ),
    pvt_v2: buildModel(
      modelSpec('pvt_v2', {
        img_size: 32,
        num_classes: 4,
        embed_dims: [8, 16, 16, 16],
        num_heads: [1, 2, 2, 2],
        mlp_ratios: [2, 2, 2, 2],
        depths: [1, 1, 1, 1],
        la_sr_ratios: '1111',
        attn_type: 'LLLL',
        drop_path_rate: 0.1,
      }),
    ),
    cswin: buildModel(
      modelSpec('cswin', {
        img_size: 32,
        num_classes: 4,
        embed_dim: 8,
        depth: [1, 1, 1, 1],
        num_heads: [1, 2, 2, 2],
        split_size: [1, 2, 1, 1],
        la_split_size: '8-4-2-1',
        attn_type: 'LLSS',
        drop_path_rate: 0.1,
      }),
    ),
    swin: buildModel(
      modelSpec('swin', {
        img_size: 28,
        patch_size: 2,
        num_classes: 5,
        embed_dim: 8,
        depths: [2, 1],
        num_heads: [2, 2],
        window_size: 7,
        attn_type: 'SL',
        drop_path_rate: 0.1,
      }),
    ),
  };
}
