import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import { imageToTokens } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear, Mlp, dropPath } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, ParamTable } from '../nn/module.js';
import { DeitAttention, type DeitAttnType } from '../attention/deit.js';
import { INERT_KWARGS, dropPathRates, resolveKwargs } from './config.js';
import { entry, type RegistryEntry } from './presets.js';
import { classifierHead, headLogits, ImageClassifier, type ModelOutput } from './model.js';

/** FLatten-DeiT arguments (timm VisionTransformer names; our definition: the official code releases no DeiT). */
export interface DeitConfig {
  img_size: number;
  patch_size: number;
  in_chans: number;
  num_classes: number;
  embed_dim: number;
  depth: number;
  num_heads: number;
  mlp_ratio: number;
  qkv_bias: boolean;
  attn_type: DeitAttnType;
  focusing_factor: number;
  kernel_size: number;
  drop_path_rate: number;
  norm_eps: number;
}

export const DEIT_DEFAULTS: DeitConfig = {
  img_size: 224,
  patch_size: 16,
  in_chans: 3,
  num_classes: 1000,
  embed_dim: 192,
  depth: 12,
  num_heads: 3,
  mlp_ratio: 4,
  qkv_bias: true,
  attn_type: 'flatten',
  focusing_factor: 3,
  kernel_size: 5,
  drop_path_rate: 0.1,
  norm_eps: 1e-6,
};

class DeitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: DeitAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropRate: number;
  /** `side`: the patch grid's side; the token count is side² + 1 (cls). */
  constructor(table: ParamTable, prefix: string, opts: { side: number; dropRate: number }, cfg: DeitConfig) {
    super(table, prefix);
    const { side } = opts;
    this.dropRate = opts.dropRate;
    const dim = cfg.embed_dim;
    this.norm1 = new LayerNorm(table, this.sub('norm1'), dim, cfg.norm_eps);
    this.attn = new DeitAttention(table, this.sub('attn'), {
      dim,
      heads: cfg.num_heads,
      side,
      variant: cfg.attn_type,
      focusingFactor: cfg.focusing_factor,
      kernelSize: cfg.kernel_size,
      qkvBias: cfg.qkv_bias,
    });
    this.norm2 = new LayerNorm(table, this.sub('norm2'), dim, cfg.norm_eps);
    this.mlp = new Mlp(table, this.sub('mlp'), dim, Math.floor(dim * cfg.mlp_ratio));
  }
  /** x (B, 1 + N, C) → (B, 1 + N, C) */
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    x = ops.add(x, dropPath(ctx, this.attn.forward(ctx, this.norm1.forward(ctx, x)), this.dropRate));
    return ops.add(x, dropPath(ctx, this.mlp.forward(ctx, this.norm2.forward(ctx, x)), this.dropRate));
  }
}

/** FLatten-DeiT: patch embed, cls token, learned position embedding, focused-attention blocks, cls head. */
export class FLattenDeit extends ImageClassifier<DeitConfig> {
  readonly family = 'deit' as const;
  readonly patchEmbed: Conv2d;
  readonly clsToken: string;
  readonly posEmbed: string;
  readonly blocks: DeitBlock[];
  readonly norm: LayerNorm;
  readonly head?: Linear;
  readonly stageNames = ['blocks'];

  constructor(kwargs: Partial<DeitConfig> & Record<string, unknown>) {
    super(resolveKwargs('deit', DEIT_DEFAULTS, kwargs, INERT_KWARGS));
    const cfg = this.cfg;
    if (!['flatten', 'focused', 'linear', 'softmax'].includes(cfg.attn_type)) {
      throw new FlattenError(
        'BAD_CONFIG',
        `deit: attn_type must be flatten, focused, linear or softmax, got '${cfg.attn_type}'`,
      );
    }
    if (cfg.img_size % cfg.patch_size)
      throw new FlattenError(
        'BAD_CONFIG',
        `deit: img_size ${cfg.img_size} is not a multiple of patch_size ${cfg.patch_size}`,
      );
    const t = this.table;
    const side = cfg.img_size / cfg.patch_size;
    const dim = cfg.embed_dim;
    this.clsToken = this.param('cls_token', [1, 1, dim], { kind: 'truncNormal', std: 0.02 }, true);
    this.posEmbed = this.param('pos_embed', [1, side * side + 1, dim], { kind: 'truncNormal', std: 0.02 }, true);
    this.patchEmbed = new Conv2d(t, 'patch_embed.proj', cfg.in_chans, dim, {
      kernel: cfg.patch_size,
      stride: cfg.patch_size,
    });
    const rates = dropPathRates(cfg.drop_path_rate, [cfg.depth]);
    this.blocks = Array.from(
      { length: cfg.depth },
      (_, j) => new DeitBlock(t, `blocks.${j}`, { side, dropRate: rates[j] }, cfg),
    );
    this.norm = new LayerNorm(t, 'norm', dim, cfg.norm_eps);
    this.head = classifierHead(t, dim, cfg.num_classes);
  }

  forward(ctx: Ctx, x: Tensor): ModelOutput {
    const { ops } = ctx;
    const patches = imageToTokens(ops, this.patchEmbed.forward(ctx, x)); // (B, C, s, s) → (B, N, C)
    const [b, , c] = ops.shape(patches);
    const cls = ops.broadcastTo(ctx.p(this.clsToken), [b, 1, c]);
    let y = ops.add(ops.concat([cls, patches], 1), ctx.p(this.posEmbed)); // (B, 1+N, C)
    ctx.stage?.(0);
    for (const blk of this.blocks) y = blk.forward(ctx, y);
    ctx.stage?.(1);
    const normed = this.norm.forward(ctx, y); // (B, 1 + N, C)
    const features = ops.reshape(ops.slice(normed, [0, 0, 0], [b, 1, c]), [b, c]); // the cls token
    const side = this.cfg.img_size / this.cfg.patch_size;
    const stages = [{ tokens: normed, hw: [side, side] as [number, number], leadingTokens: 1 }];
    return { logits: headLogits(ctx, this.head, features), features, stages };
  }
}

// ---- released configurations (the official cfgs/*.yaml and factories), looked up by name in registry.ts

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
  description:
    'FLatten-DeiT for Fashion-MNIST 28×28 (ours; weights/flatten_deit_fmnist.safetensors, 90.35% test top-1)',
  weights: 'weights/flatten_deit_fmnist.safetensors',
};

export const DEIT_PRESETS: RegistryEntry[] = [
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
