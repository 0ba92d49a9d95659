import { FlattenError } from '../core/errors.js';
import { float32, toFloat32 } from '../core/tensor.js';
import type { Tensor } from '../ops/ops.js';
import { fromWindows, imageToTokens, roll, toWindows } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear, Mlp, dropPath } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, ParamTable } from '../nn/module.js';
import { FocusedWindowAttention, WindowAttention } from '../attention/swin.js';
import { blockTypes, checkAttnType, dropPathRates, INERT_KWARGS, resolveKwargs } from './config.js';
import { entry, type RegistryEntry } from './presets.js';
import { classifierHead, headLogits, ImageClassifier, type ModelOutput, type StageOutput } from './model.js';

/** FLattenSwinTransformer arguments, official names. */
export interface SwinConfig {
  /** A side or [H, W] (the official PatchEmbed takes both). */
  img_size: number | [number, number];
  patch_size: number;
  in_chans: number;
  num_classes: number;
  embed_dim: number;
  depths: number[];
  num_heads: number[];
  window_size: number;
  mlp_ratio: number;
  qkv_bias: boolean;
  attn_type: string;
  focusing_factor: number;
  kernel_size: number;
  drop_path_rate: number;
  ape: boolean;
  patch_norm: boolean;
  norm_eps: number;
  qk_scale: number | null;
}

export const SWIN_DEFAULTS: SwinConfig = {
  img_size: 224,
  patch_size: 4,
  in_chans: 3,
  num_classes: 1000,
  embed_dim: 96,
  depths: [2, 2, 6, 2],
  num_heads: [3, 6, 12, 24],
  window_size: 7,
  mlp_ratio: 4,
  qkv_bias: true,
  attn_type: 'LLLL',
  focusing_factor: 3,
  kernel_size: 5,
  drop_path_rate: 0.1,
  ape: false,
  patch_norm: true,
  norm_eps: 1e-5,
  qk_scale: null,
};

/**
 * Shift mask (nW, w², w²): 0 where two tokens of a window come from the same region of the
 * un-shifted map, −100 elsewhere, as the official `attn_mask`.
 */
export function swinShiftMask(h: number, w: number, win: number, shift: number) {
  const region = (x: number, len: number) => (x < len - win ? 0 : x < len - shift ? 1 : 2);
  const label = (r: number, c: number) => 3 * region(r, h) + region(c, w);
  const nWh = h / win;
  const nWw = w / win;
  const n = win * win;
  const data = new Float32Array(nWh * nWw * n * n);
  for (let wr = 0; wr < nWh; wr++) {
    for (let wc = 0; wc < nWw; wc++) {
      const base = (wr * nWw + wc) * n * n;
      for (let i = 0; i < n; i++) {
        const li = label(wr * win + Math.floor(i / win), wc * win + (i % win));
        for (let j = 0; j < n; j++) {
          const lj = label(wr * win + Math.floor(j / win), wc * win + (j % win));
          data[base + i * n + j] = li === lj ? 0 : -100;
        }
      }
    }
  }
  return float32([nWh * nWw, n, n], data);
}

interface SwinBlockOptions {
  dim: number;
  heads: number;
  /** The stage's token map [H, W]. */
  res: [number, number];
  /** 'L': focused linear attention, 'S': softmax window attention. */
  type: 'L' | 'S';
  window: number;
  /** Cyclic shift of the map before partitioning (0 for regular windows). */
  shift: number;
  dropRate: number;
}

class SwinBlock extends Module {
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly attn: FocusedWindowAttention | WindowAttention;
  readonly mlp: Mlp;
  readonly maskPath?: string;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: SwinBlockOptions,
    cfg: SwinConfig,
  ) {
    super(table, prefix);
    const { dim, heads, res, type, window, shift } = opts;
    // focused blocks ignore the mask (softmax-free), so theirs is made only if a state_dict asks for it
    const [h, w] = res;
    const windows = (h / window) * (w / window);
    if (shift > 0 && type === 'L')
      this.lazyBuffer('attn_mask', [windows, window ** 2, window ** 2], () =>
        toFloat32(swinShiftMask(h, w, window, shift)),
      );
    else if (shift > 0) this.maskPath = this.buffer('attn_mask', swinShiftMask(h, w, window, shift));
    this.norm1 = new LayerNorm(table, this.sub('norm1'), dim, cfg.norm_eps);
    const common = { dim, heads, window, qkvBias: cfg.qkv_bias, qkScale: cfg.qk_scale };
    this.attn =
      type === 'L'
        ? new FocusedWindowAttention(table, this.sub('attn'), {
            ...common,
            focusingFactor: cfg.focusing_factor,
            kernelSize: cfg.kernel_size,
          })
        : new WindowAttention(table, this.sub('attn'), common);
    this.norm2 = new LayerNorm(table, this.sub('norm2'), dim, cfg.norm_eps);
    this.mlp = new Mlp(table, this.sub('mlp'), dim, Math.floor(dim * cfg.mlp_ratio));
  }

  /** x (B, H·W, C) */
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const [b, , c] = ops.shape(x);
    const { res, window: w, shift: s, dropRate } = this.opts;
    const [h, wd] = res;
    let y = ops.reshape(this.norm1.forward(ctx, x), [b, h, wd, c]); // (B, H, W, C)
    if (s > 0) y = roll(ops, roll(ops, y, -s, 1), -s, 2);
    ctx.capture?.(this.attn.prefix, {}, { mapSize: h, shift: s });
    y = toWindows(ops, y, res, [w, w]); // (B·nW, w², C)
    y =
      this.attn instanceof WindowAttention
        ? this.attn.forward(
            ctx,
            y,
            this.maskPath ? ops.constant(this.table.specs.get(this.maskPath)!.buffer!) : undefined,
          )
        : this.attn.forward(ctx, y);
    y = ops.reshape(fromWindows(ops, y, res, [w, w]), [b, h, wd, c]);
    if (s > 0) y = roll(ops, roll(ops, y, s, 1), s, 2);
    x = ops.add(x, dropPath(ctx, ops.reshape(y, [b, h * wd, c]), dropRate)); // (B, H·W, C)
    return ops.add(x, dropPath(ctx, this.mlp.forward(ctx, this.norm2.forward(ctx, x)), dropRate));
  }
}

/** Concatenate the four 2×2 neighbours (x0 even/even, x1 odd/even, x2 even/odd, x3 odd/odd), LN, reduce. */
class PatchMerging extends Module {
  readonly norm: LayerNorm;
  readonly reduction: Linear;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: { dim: number; res: [number, number]; eps: number },
  ) {
    super(table, prefix);
    const { dim, eps } = opts;
    this.reduction = new Linear(table, this.sub('reduction'), 4 * dim, 2 * dim, false);
    this.norm = new LayerNorm(table, this.sub('norm'), 4 * dim, eps);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const [b, , c] = ops.shape(x);
    const [h, w] = [this.opts.res[0] / 2, this.opts.res[1] / 2];
    // (B, H/2, rowParity, W/2, colParity, C) → channel block index colParity·2 + rowParity
    const y = ops.reshape(ops.transpose(ops.reshape(x, [b, h, 2, w, 2, c]), [0, 1, 3, 4, 2, 5]), [b, h * w, 4 * c]);
    return this.reduction.forward(ctx, this.norm.forward(ctx, y)); // (B, H/2·W/2, 2C)
  }
}

export class FLattenSwin extends ImageClassifier<SwinConfig> {
  readonly family = 'swin' as const;
  readonly patchEmbed: Conv2d;
  readonly patchNorm?: LayerNorm;
  /** `absolute_pos_embed` (1, N, C) when ape = true. */
  readonly ape?: string;
  readonly stages: { blocks: SwinBlock[]; down?: PatchMerging }[] = [];
  readonly norm: LayerNorm;
  readonly head?: Linear;
  readonly stageNames: string[];

  constructor(kwargs: Partial<SwinConfig> & Record<string, unknown>) {
    super(resolveKwargs('swin', SWIN_DEFAULTS, kwargs, INERT_KWARGS, ['img_size']));
    const cfg = this.cfg;
    checkAttnType(cfg.attn_type, cfg.depths.length);
    const t = this.table;
    const c0 = cfg.embed_dim;
    this.patchEmbed = new Conv2d(t, 'patch_embed.proj', cfg.in_chans, c0, {
      kernel: cfg.patch_size,
      stride: cfg.patch_size,
    });
    if (cfg.patch_norm) this.patchNorm = new LayerNorm(t, 'patch_embed.norm', c0, cfg.norm_eps);
    const [h0, w0] = [this.imgSize[0] / cfg.patch_size, this.imgSize[1] / cfg.patch_size];
    const size = this.imgSize[0] === this.imgSize[1] ? `${this.imgSize[0]}` : this.imgSize.join('×');
    if (cfg.ape)
      this.ape = this.param('absolute_pos_embed', [1, h0 * w0, c0], { kind: 'truncNormal', std: 0.02 }, true);
    const down = 2 ** (cfg.depths.length - 1);
    if (!Number.isInteger(h0 / down) || !Number.isInteger(w0 / down)) {
      throw new FlattenError(
        'BAD_CONFIG',
        `swin: img_size ${size} must be a multiple of patch_size·2^${cfg.depths.length - 1} = ${cfg.patch_size * down}`,
      );
    }
    const rates = dropPathRates(cfg.drop_path_rate, cfg.depths);
    let blockIndex = 0;
    cfg.depths.forEach((depth, i) => {
      const dim = c0 * 2 ** i;
      const res: [number, number] = [h0 / 2 ** i, w0 / 2 ** i];
      const types = blockTypes(cfg.attn_type, i, depth, cfg.depths.length);
      const blocks = types.map((type, j) => {
        // per-block window and shift, then the clamp to the feature map as the official SwinTransformerBlock does
        let win = type === 'L' ? cfg.window_size : cfg.window_size <= 56 ? 7 : 12;
        let shift = j % 2 === 0 ? 0 : Math.floor(win / 2);
        if (Math.min(...res) <= win) {
          win = Math.min(...res);
          shift = 0;
        }
        if (res[0] % win !== 0 || res[1] % win !== 0)
          throw new FlattenError(
            'BAD_CONFIG',
            `swin: stage ${i + 1} resolution ${res.join('×')} is not a multiple of its window ${win} (img_size ${size}, window_size ${cfg.window_size}); FLatten-Swin needs every stage to tile into windows (flatten_swin_t: 224, 448, 896 or 224×448)`,
          );
        const opts = { dim, heads: cfg.num_heads[i], res, type, window: win, shift, dropRate: rates[blockIndex++] };
        return new SwinBlock(t, `layers.${i}.blocks.${j}`, opts, cfg);
      });
      const last = i === cfg.depths.length - 1;
      this.stages.push({
        blocks,
        down: last ? undefined : new PatchMerging(t, `layers.${i}.downsample`, { dim, res, eps: cfg.norm_eps }),
      });
    });
    const cLast = c0 * 2 ** (cfg.depths.length - 1);
    this.norm = new LayerNorm(t, 'norm', cLast, cfg.norm_eps);
    this.head = classifierHead(t, cLast, cfg.num_classes);
    this.stageNames = cfg.depths.map((_, i) => `layers.${i}`);
  }

  forward(ctx: Ctx, x: Tensor): ModelOutput {
    const { ops } = ctx;
    let y = imageToTokens(ops, this.patchEmbed.forward(ctx, x)); // (B, C, H/4, W/4) → (B, N, C)
    if (this.patchNorm) y = this.patchNorm.forward(ctx, y);
    if (this.ape) y = ops.add(y, ctx.p(this.ape));
    const stages: StageOutput[] = [];
    this.stages.forEach((s, i) => {
      ctx.stage?.(i);
      for (const blk of s.blocks) y = blk.forward(ctx, y);
      stages.push({ tokens: s.down ? y : this.norm.forward(ctx, y), hw: s.blocks[0].opts.res }); // before PatchMerging
      if (s.down) y = s.down.forward(ctx, y);
    });
    ctx.stage?.(this.stages.length);
    const last = stages[stages.length - 1].tokens; // (B, N, C) after the final norm
    const features = ops.mean(last, [1]);
    return { logits: headLogits(ctx, this.head, features), features, stages };
  }
}

// ---- released configurations (the official cfgs/*.yaml and factories), looked up by name in registry.ts

const swin = (embed: number, depths: number[], heads: number[], img: number, window: number, dpr: number) => ({
  img_size: img,
  embed_dim: embed,
  depths,
  num_heads: heads,
  window_size: window,
  attn_type: 'LLSS',
  drop_path_rate: dpr,
});

export const SWIN_PRESETS: RegistryEntry[] = [
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
];
