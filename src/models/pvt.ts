import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import { imageToTokens, tokensToImage } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear, Mlp, dropPath } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, ParamTable } from '../nn/module.js';
import { FocusedSrAttention, SrAttention } from '../attention/pvt.js';
import { blockTypes, checkAttnType, dropPathRates, INERT_KWARGS, resolveKwargs } from './config.js';
import { entry, type RegistryEntry } from './presets.js';
import { classifierHead, headLogits, ImageClassifier, type ModelOutput, type StageOutput } from './model.js';

/** PyramidVisionTransformer (v1) and V2 arguments, official names. */
export interface PvtConfig {
  /** A side or [H, W]: the official modules take H and W at forward, so a pair builds them for H×W. */
  img_size: number | [number, number];
  patch_size: number;
  in_chans: number;
  num_classes: number;
  embed_dims: number[];
  num_heads: number[];
  mlp_ratios: number[];
  qkv_bias: boolean;
  depths: number[];
  sr_ratios: number[];
  la_sr_ratios: string;
  attn_type: string;
  focusing_factor: number;
  kernel_size: number;
  drop_path_rate: number;
  num_stages: number;
  /** eps of norm1/norm2/final norms: 1e-5 for the bare class, 1e-6 from the named factories. */
  norm_eps: number;
  qk_scale: number | null;
  /** PVTv2 only: pooled keys/values and a ReLU in the MLP. */
  linear: boolean;
}

export const PVT_DEFAULTS: PvtConfig = {
  img_size: 224,
  patch_size: 16,
  in_chans: 3,
  num_classes: 1000,
  embed_dims: [64, 128, 256, 512],
  num_heads: [1, 2, 4, 8],
  mlp_ratios: [4, 4, 4, 4],
  qkv_bias: false,
  depths: [3, 4, 6, 3],
  sr_ratios: [8, 4, 2, 1],
  // the class default; the released cfgs pass '1111' (registry.ts)
  la_sr_ratios: '8421',
  attn_type: 'LLLL',
  focusing_factor: 3,
  kernel_size: 5,
  drop_path_rate: 0,
  num_stages: 4,
  norm_eps: 1e-5,
  qk_scale: null,
  linear: false,
};

/** PVTv2 MLP: fc1 (→ ReLU in linear mode) → depthwise 3×3 on the image → GELU → fc2. */
class ConvMlp extends Module {
  readonly fc1: Linear;
  readonly dw: Conv2d;
  readonly fc2: Linear;
  readonly linear: boolean;
  constructor(table: ParamTable, prefix: string, opts: { dim: number; hidden: number; linear: boolean }) {
    super(table, prefix);
    const { dim, hidden } = opts;
    this.linear = opts.linear;
    this.fc1 = new Linear(table, this.sub('fc1'), dim, hidden);
    this.dw = new Conv2d(table, this.sub('dwconv.dwconv'), hidden, hidden, { kernel: 3, padding: 1, groups: hidden });
    this.fc2 = new Linear(table, this.sub('fc2'), hidden, dim);
  }
  /** x (B, H·W, C) → (B, H·W, C), through a 3×3 depthwise conv on the (B, hidden, H, W) map. */
  forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor {
    const { ops } = ctx;
    const hidden = this.fc1.forward(ctx, x); // (B, H·W, hidden)
    const y = imageToTokens(
      ops,
      this.dw.forward(ctx, tokensToImage(ops, this.linear ? ops.relu(hidden) : hidden, h, w)),
    );
    return this.fc2.forward(ctx, ops.gelu(y));
  }
}

interface PvtBlockOptions {
  /** PVTv2 (conv MLP, optional linear mode) rather than PVT v1. */
  v2: boolean;
  /** 'L': focused linear attention, 'S': spatial-reduction softmax attention. */
  type: 'L' | 'S';
  /** Stage index (0-based), which picks the per-stage config entries. */
  stage: number;
  dim: number;
  /** The stage's nominal token grid [H, W], which sizes the focused block's positional_encoding. */
  grid: [number, number];
  dropRate: number;
}

class PvtBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: FocusedSrAttention | SrAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp | ConvMlp;
  readonly dropRate: number;
  constructor(table: ParamTable, prefix: string, opts: PvtBlockOptions, cfg: PvtConfig) {
    super(table, prefix);
    const { v2, type, stage, dim, grid } = opts;
    this.dropRate = opts.dropRate;
    this.norm1 = new LayerNorm(table, this.sub('norm1'), dim, cfg.norm_eps);
    const base = {
      dim,
      heads: cfg.num_heads[stage],
      qkvBias: cfg.qkv_bias,
      qkScale: cfg.qk_scale,
      linear: v2 && cfg.linear,
    };
    if (type === 'L') {
      const srRatio = Number.parseInt(cfg.la_sr_ratios[stage], 10);
      if (!(srRatio >= 1))
        throw new FlattenError(
          'BAD_CONFIG',
          `la_sr_ratios '${cfg.la_sr_ratios}': stage ${stage + 1} needs a digit ≥ 1`,
        );
      this.attn = new FocusedSrAttention(table, this.sub('attn'), {
        ...base,
        srRatio,
        grid,
        focusingFactor: cfg.focusing_factor,
        kernelSize: cfg.kernel_size,
      });
    } else {
      this.attn = new SrAttention(table, this.sub('attn'), { ...base, srRatio: cfg.sr_ratios[stage] });
    }
    this.norm2 = new LayerNorm(table, this.sub('norm2'), dim, cfg.norm_eps);
    const hidden = Math.floor(dim * cfg.mlp_ratios[stage]);
    this.mlp = v2
      ? new ConvMlp(table, this.sub('mlp'), { dim, hidden, linear: cfg.linear })
      : new Mlp(table, this.sub('mlp'), dim, hidden);
  }
  /** x (B, H·W, C) → (B, H·W, C) */
  forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor {
    const { ops } = ctx;
    x = ops.add(x, dropPath(ctx, this.attn.forward(ctx, this.norm1.forward(ctx, x), h, w), this.dropRate));
    const y = this.norm2.forward(ctx, x);
    return ops.add(
      x,
      dropPath(
        ctx,
        this.mlp instanceof ConvMlp ? this.mlp.forward(ctx, y, h, w) : this.mlp.forward(ctx, y),
        this.dropRate,
      ),
    );
  }
}

interface Stage {
  embed: Conv2d;
  embedNorm: LayerNorm;
  pos?: string;
  /** pos_embed's own grid [H, W]. */
  posGrid: [number, number];
  blocks: PvtBlock[];
  norm?: LayerNorm;
  /** The stage's token grid [H, W]. */
  hw: [number, number];
}

/**
 * FLatten-PVT (v1) and FLatten-PVTv2: the same pyramid with different patch embeds,
 * position handling (v1 adds pos_embed, v2 has a conv in the MLP) and heads (v2 norms every stage).
 */
export class FLattenPvt extends ImageClassifier<PvtConfig> {
  readonly stages: Stage[] = [];
  readonly head?: Linear;
  readonly stageNames: string[];

  constructor(
    readonly family: 'pvt' | 'pvt_v2',
    kwargs: Partial<PvtConfig> & Record<string, unknown>,
  ) {
    super(resolveKwargs(family, PVT_DEFAULTS, kwargs, INERT_KWARGS, ['img_size']));
    const v2 = family === 'pvt_v2';
    const cfg = this.cfg;
    if (!v2 && cfg.linear) throw new FlattenError('BAD_CONFIG', 'pvt: linear=true exists only in PVTv2');
    const n = cfg.num_stages;
    checkAttnType(cfg.attn_type, n);
    const t = this.table;
    // v1 registers its position embeddings first, as the official class does
    const pos = v2 ? [] : cfg.embed_dims.slice(0, n).map((c, i) => [`pos_embed${i + 1}`, c] as const);
    // every size per axis [H, W]
    const each = (f: (side: number) => number): [number, number] => [f(this.imgSize[0]), f(this.imgSize[1])];
    const embedArgs = (i: number) =>
      v2
        ? { kernel: i === 0 ? 7 : 3, stride: i === 0 ? 4 : 2, padding: i === 0 ? 3 : 1 }
        : { kernel: i === 0 ? cfg.patch_size : 2, stride: i === 0 ? cfg.patch_size : 2, padding: 0 };
    // each stage's real grid, the patch embed conv's output
    let hw = this.imgSize;
    const grids: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const { kernel: k, stride: s, padding: p } = embedArgs(i);
      hw = [Math.floor((hw[0] + 2 * p - k) / s) + 1, Math.floor((hw[1] + 2 * p - k) / s) + 1];
      grids.push(hw);
    }
    const rates = dropPathRates(cfg.drop_path_rate, cfg.depths.slice(0, n));
    let blockIndex = 0;
    // pos_embed (v1) and the attention PE are sized from each PatchEmbed's nominal grid: img // stride, then
    // (img // 2^(i+1)) // 2. That is the real grid for sides that are multiples of 32 (and v1's patch_size 4);
    // pos_embed is otherwise resized at forward, and a focused block's PE fails to fit as the official one does.
    const nominal = grids.map((_, i) =>
      each((side) =>
        i === 0 ? Math.floor(side / embedArgs(0).stride) : Math.floor(Math.floor(side / 2 ** (i + 1)) / 2),
      ),
    );
    const posPaths = pos.map(([name, c], i) =>
      t.add({
        path: name,
        shape: [1, nominal[i][0] * nominal[i][1], c],
        init: { kind: 'truncNormal', std: 0.02 },
        noDecay: true,
        grid: nominal[i],
      }),
    );
    for (let i = 0; i < n; i++) {
      const cin = i === 0 ? cfg.in_chans : cfg.embed_dims[i - 1];
      const c = cfg.embed_dims[i];
      const embed = new Conv2d(t, `patch_embed${i + 1}.proj`, cin, c, embedArgs(i));
      const embedNorm = new LayerNorm(t, `patch_embed${i + 1}.norm`, c, 1e-5);
      const blocks = blockTypes(cfg.attn_type, i, cfg.depths[i]).map((type, j) => {
        const opts = { v2, type, stage: i, dim: c, grid: nominal[i], dropRate: rates[blockIndex++] };
        return new PvtBlock(t, `block${i + 1}.${j}`, opts, cfg);
      });
      const norm = v2 ? new LayerNorm(t, `norm${i + 1}`, c, cfg.norm_eps) : undefined;
      this.stages.push({ embed, embedNorm, pos: posPaths[i], posGrid: nominal[i], blocks, norm, hw: grids[i] });
    }
    const cLast = cfg.embed_dims[n - 1];
    // v1 keeps a final norm in its state_dict that its forward never calls (the official class registers it too)
    if (!v2) new LayerNorm(t, 'norm', cLast, cfg.norm_eps);
    this.head = classifierHead(t, cLast, cfg.num_classes);
    this.stageNames = this.stages.map((_, i) => `stage${i + 1}`);
  }

  forward(ctx: Ctx, x: Tensor): ModelOutput {
    const { ops } = ctx;
    let img = x;
    let tokens = x;
    const stages: StageOutput[] = [];
    this.stages.forEach((s, i) => {
      ctx.stage?.(i);
      tokens = s.embedNorm.forward(ctx, imageToTokens(ops, s.embed.forward(ctx, img)));
      if (s.pos) tokens = ops.add(tokens, this.posEmbed(ctx, s));
      const [h, w] = s.hw;
      for (const blk of s.blocks) tokens = blk.forward(ctx, tokens, h, w);
      if (s.norm) tokens = s.norm.forward(ctx, tokens);
      stages.push({ tokens, hw: s.hw }); // what the official loop hands to the next stage
      if (i < this.stages.length - 1) img = tokensToImage(ops, tokens, h, w);
    });
    ctx.stage?.(this.stages.length);
    const features = ops.mean(tokens, [1]);
    return { logits: headLogits(ctx, this.head, features), features, stages };
  }

  /** pos_embed (1, N, C), bilinearly resized (align_corners = false) when its grid is not the stage's. */
  private posEmbed(ctx: Ctx, s: Stage): Tensor {
    const { ops } = ctx;
    const pos = ctx.p(s.pos!);
    const [[ph, pw], [h, w]] = [s.posGrid, s.hw];
    if (ph === h && pw === w) return pos;
    let img = tokensToImage(ops, pos, ph, pw); // (1, C, ph, pw)
    img = ops.interpolateLinear(ops.interpolateLinear(img, 2, h), 3, w); // (1, C, H, W)
    return imageToTokens(ops, img); // (1, H·W, C)
  }
}

// ---- released configurations (the official cfgs/*.yaml and factories), looked up by name in registry.ts

const pvt = (dpr: number) => ({ la_sr_ratios: '1111', attn_type: 'LLLL', drop_path_rate: dpr });

export const PVT_PRESETS: RegistryEntry[] = [
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
];
