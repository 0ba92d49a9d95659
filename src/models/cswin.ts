import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import { imageToTokens, tokensToImage } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear, Mlp, dropPath } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, ParamTable } from '../nn/module.js';
import { FocusedCswinBranch, LepeCswinBranch } from '../attention/cswin.js';
import { blockTypes, checkAttnType, dropPathRates, INERT_KWARGS, resolveKwargs } from './config.js';
import { entry, type RegistryEntry } from './presets.js';
import { classifierHead, headLogits, ImageClassifier, type ModelOutput, type StageOutput } from './model.js';

/** CSWinTransformer arguments, official names. */
export interface CswinConfig {
  img_size: number;
  patch_size: number;
  in_chans: number;
  num_classes: number;
  embed_dim: number;
  depth: number[];
  split_size: number[];
  la_split_size: string;
  num_heads: number[];
  mlp_ratio: number;
  qkv_bias: boolean;
  attn_type: string;
  focusing_factor: number;
  kernel_size: number;
  drop_path_rate: number;
  norm_eps: number;
  qk_scale: number | null;
}

export const CSWIN_DEFAULTS: CswinConfig = {
  img_size: 224,
  patch_size: 16,
  in_chans: 3,
  num_classes: 1000,
  embed_dim: 96,
  depth: [2, 2, 6, 2],
  // the class defaults (the released cfgs pass their own, registry.ts)
  split_size: [1, 2, 7, 7],
  la_split_size: '1-2-7-7',
  num_heads: [2, 4, 8, 16],
  mlp_ratio: 4,
  qkv_bias: true,
  attn_type: 'LLLL',
  focusing_factor: 3,
  kernel_size: 5,
  drop_path_rate: 0,
  norm_eps: 1e-5,
  qk_scale: null,
};

interface CswinBlockOptions {
  dim: number;
  heads: number;
  /** Side of the stage's (square) token map. */
  res: number;
  /** 'L': focused linear attention, 'S': LePE softmax attention. */
  type: 'L' | 'S';
  /** Strip width (la_split_size for 'L' blocks, split_size for 'S'). */
  split: number;
  /** The last stage attends over the whole map in one branch, whatever its split. */
  lastStage: boolean;
  dropRate: number;
}

class CswinBlock extends Module {
  readonly qkv: Linear;
  readonly norm1: LayerNorm;
  readonly proj: Linear;
  readonly branches: (FocusedCswinBranch | LepeCswinBranch)[];
  readonly mlp: Mlp;
  readonly norm2: LayerNorm;
  readonly dropRate: number;
  constructor(table: ParamTable, prefix: string, opts: CswinBlockOptions, cfg: CswinConfig) {
    super(table, prefix);
    const { dim, heads, res, type, split, lastStage } = opts;
    this.dropRate = opts.dropRate;
    this.qkv = new Linear(table, this.sub('qkv'), dim, 3 * dim, cfg.qkv_bias);
    this.norm1 = new LayerNorm(table, this.sub('norm1'), dim, cfg.norm_eps);
    this.proj = new Linear(table, this.sub('proj'), dim, dim);
    const single = lastStage || split === res;
    if (type === 'L' && !single) {
      throw new FlattenError(
        'BAD_CONFIG',
        `cswin: a focused linear stage needs la_split_size equal to its resolution ${res} (got ${split}); the official strip version of focused attention does not run`,
      );
    }
    if (!single && res % split !== 0)
      throw new FlattenError('BAD_CONFIG', `cswin: split ${split} does not divide resolution ${res}`);
    const specs = single
      ? [{ dim, heads, idx: -1 as const }]
      : [0, 1].map((idx) => ({ dim: dim / 2, heads: Math.floor(heads / 2), idx: idx as 0 | 1 })); // num_heads // 2
    this.branches = specs.map((s, b) => {
      const opts = { ...s, resolution: res, split };
      return type === 'L'
        ? new FocusedCswinBranch(table, this.sub(`attns.${b}`), {
            ...opts,
            focusingFactor: cfg.focusing_factor,
            kernelSize: cfg.kernel_size,
          })
        : new LepeCswinBranch(table, this.sub(`attns.${b}`), { ...opts, qkScale: cfg.qk_scale });
    });
    this.mlp = new Mlp(table, this.sub('mlp'), dim, Math.floor(dim * cfg.mlp_ratio));
    this.norm2 = new LayerNorm(table, this.sub('norm2'), dim, cfg.norm_eps);
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const [b, n, c] = ops.shape(x);
    const qkv = this.qkv.forward(ctx, this.norm1.forward(ctx, x)); // (B, N, 3C)
    const cb = c / this.branches.length;
    const outs = this.branches.map((br, i) => {
      const part = (j: number) => ops.slice(qkv, [0, 0, j * c + i * cb], [b, n, cb]);
      return br.forward(ctx, part(0), part(1), part(2));
    });
    const y = outs.length === 1 ? outs[0] : ops.concat(outs, 2); // (B, N, C)
    x = ops.add(x, dropPath(ctx, this.proj.forward(ctx, y), this.dropRate));
    return ops.add(x, dropPath(ctx, this.mlp.forward(ctx, this.norm2.forward(ctx, x)), this.dropRate));
  }
}

/** Side of each stage's map: the 7×7 stride-4 stem (padding 2), then a stride-2 merge per stage. */
function stageSides(imgSize: number): number[] {
  const res0 = Math.floor((imgSize + 4 - 7) / 4) + 1;
  return [0, 1, 2, 3].map((i) => Math.floor(res0 / 2 ** i));
}

/**
 * Kwargs for building a CSwin config at another input size, as the released configs scale: focused stages whose
 * `la_split_size` is their whole map (the only kind the official focused module runs) keep the whole map.
 */
export function cswinSizeOverrides(kwargs: Record<string, unknown>, imgSize: number): Record<string, unknown> {
  const old = stageSides((kwargs.img_size as number | undefined) ?? CSWIN_DEFAULTS.img_size);
  const split = String(kwargs.la_split_size ?? CSWIN_DEFAULTS.la_split_size)
    .split('-')
    .map(Number);
  const sides = stageSides(imgSize);
  const la = split.map((v, i) => (v === old[i] ? sides[i] : v)).join('-');
  return { img_size: imgSize, la_split_size: la };
}

/** FLatten-CSwin: a conv stem, four stages of cross-shaped window blocks joined by strided conv merges. */
export class FLattenCswin extends ImageClassifier<CswinConfig> {
  readonly family = 'cswin' as const;
  readonly stem: Conv2d;
  readonly stemNorm: LayerNorm;
  readonly stages: { merge?: { conv: Conv2d; norm: LayerNorm }; blocks: CswinBlock[]; res: number }[] = [];
  readonly norm: LayerNorm;
  readonly head?: Linear;
  readonly stageNames: string[];

  constructor(kwargs: Partial<CswinConfig> & Record<string, unknown>) {
    super(resolveKwargs('cswin', CSWIN_DEFAULTS, kwargs, INERT_KWARGS));
    const cfg = this.cfg;
    checkAttnType(cfg.attn_type, 4);
    const laSplit = cfg.la_split_size.split('-').map(Number);
    if (laSplit.length !== 4 || laSplit.some((v) => !(v > 0)))
      throw new FlattenError(
        'BAD_CONFIG',
        `cswin: la_split_size must look like '56-28-14-7', got '${cfg.la_split_size}'`,
      );
    const t = this.table;
    const c0 = cfg.embed_dim;
    this.stem = new Conv2d(t, 'stage1_conv_embed.0', cfg.in_chans, c0, { kernel: 7, stride: 4, padding: 2 });
    this.stemNorm = new LayerNorm(t, 'stage1_conv_embed.2', c0, cfg.norm_eps);
    const sides = stageSides(cfg.img_size);
    const rates = dropPathRates(cfg.drop_path_rate, cfg.depth);
    let blockIndex = 0;
    for (let i = 0; i < 4; i++) {
      const dim = c0 * 2 ** i;
      const res = sides[i];
      const merge =
        i === 0
          ? undefined
          : {
              conv: new Conv2d(t, `merge${i}.conv`, dim / 2, dim, { kernel: 3, stride: 2, padding: 1 }),
              norm: new LayerNorm(t, `merge${i}.norm`, dim, cfg.norm_eps),
            };
      const blocks = blockTypes(cfg.attn_type, i, cfg.depth[i]).map((type, j) => {
        const split = type === 'L' ? laSplit[i] : cfg.split_size[i];
        const opts = { dim, heads: cfg.num_heads[i], res, type, split, lastStage: i === 3 };
        return new CswinBlock(t, `stage${i + 1}.${j}`, { ...opts, dropRate: rates[blockIndex++] }, cfg);
      });
      this.stages.push({ merge, blocks, res });
    }
    this.norm = new LayerNorm(t, 'norm', c0 * 8, cfg.norm_eps);
    this.head = classifierHead(t, c0 * 8, cfg.num_classes);
    this.stageNames = this.stages.map((_, i) => `stage${i + 1}`);
  }

  forward(ctx: Ctx, x: Tensor): ModelOutput {
    const { ops } = ctx;
    let y = this.stemNorm.forward(ctx, imageToTokens(ops, this.stem.forward(ctx, x)));
    let res = this.stages[0].res;
    const stages: StageOutput[] = [];
    this.stages.forEach((s, i) => {
      ctx.stage?.(i);
      if (s.merge)
        y = s.merge.norm.forward(ctx, imageToTokens(ops, s.merge.conv.forward(ctx, tokensToImage(ops, y, res, res))));
      res = s.res;
      for (const blk of s.blocks) y = blk.forward(ctx, y);
      stages.push({ tokens: y, hw: [res, res] }); // before the next stage's merge conv
    });
    ctx.stage?.(this.stages.length);
    const last = stages[stages.length - 1];
    last.tokens = this.norm.forward(ctx, y); // (B, N, C) after the final norm
    const features = ops.mean(last.tokens, [1]);
    return { logits: headLogits(ctx, this.head, features), features, stages };
  }
}

// ---- released configurations (the official cfgs/*.yaml and factories), looked up by name in registry.ts

const cswin = (img: number, split: string, dpr: number) => ({
  img_size: img,
  la_split_size: split,
  attn_type: 'LLSS',
  drop_path_rate: dpr,
});

export const CSWIN_PRESETS: RegistryEntry[] = [
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
];
