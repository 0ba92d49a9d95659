import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import { adaptiveAvgPoolTokens, imageToTokens, tokensToImage } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, type ParamTable } from '../nn/module.js';
import { FocusedLinearCore, mergeHeads, softmaxScale, splitHeads } from './focused.js';

export interface SrAttentionOptions {
  dim: number;
  heads: number;
  /** Spatial reduction of keys/values (1 = none). */
  srRatio: number;
  qkvBias?: boolean;
  qkScale?: number | null;
  /** PVTv2 'linear' mode: keys/values from AdaptiveAvgPool(7) → 1×1 conv → LN → GELU. */
  linear?: boolean;
}

/**
 * Shared by PVT's focused and softmax attentions: q from x, and [k|v] from the spatially reduced
 * R(x) = LN(Conv_sr(image(x))) when sr > 1, else from x; in PVTv2's linear mode
 * R(x) = GELU(LN(Conv_1×1(AdaptiveAvgPool_7(image(x))))). `attn.norm` is always eps 1e-5.
 */
abstract class SpatialReduction extends Module {
  readonly q: Linear;
  readonly kv: Linear;
  readonly proj: Linear;
  readonly sr?: Conv2d;
  readonly norm?: LayerNorm;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly base: SrAttentionOptions,
  ) {
    super(table, prefix);
    const { dim, srRatio } = base;
    this.q = new Linear(table, this.sub('q'), dim, dim, base.qkvBias ?? true);
    this.kv = new Linear(table, this.sub('kv'), dim, 2 * dim, base.qkvBias ?? true);
    this.proj = new Linear(table, this.sub('proj'), dim, dim);
    if (base.linear || srRatio > 1) {
      const k = base.linear ? 1 : srRatio;
      this.sr = new Conv2d(table, this.sub('sr'), dim, dim, { kernel: k, stride: k });
      this.norm = new LayerNorm(table, this.sub('norm'), dim, 1e-5);
    }
  }

  /** x (B, N, C) → q (B, N, C), k and v (B, n, C). */
  protected qkv(ctx: Ctx, x: Tensor, h: number, w: number): { q: Tensor; k: Tensor; v: Tensor } {
    const { ops } = ctx;
    const c = this.base.dim;
    let r = x;
    if (this.sr && this.norm && this.base.linear) {
      const pooled = tokensToImage(ops, adaptiveAvgPoolTokens(ops, x, h, w, 7), 7, 7); // (B, C, 7, 7)
      r = ops.gelu(this.norm.forward(ctx, imageToTokens(ops, this.sr.forward(ctx, pooled))));
    } else if (this.sr && this.norm) {
      // a strided conv floors a map that sr does not divide, as PyTorch's does
      r = this.norm.forward(ctx, imageToTokens(ops, this.sr.forward(ctx, tokensToImage(ops, x, h, w))));
    }
    const kv = this.kv.forward(ctx, r); // (B, n, 2C)
    const [b, n] = ops.shape(kv);
    return {
      q: this.q.forward(ctx, x),
      k: ops.slice(kv, [0, 0, 0], [b, n, c]),
      v: ops.slice(kv, [0, 0, c], [b, n, c]),
    };
  }

  abstract forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor;
}

/**
 * PVT / PVTv2 focused linear attention: O = 𝓕(Q, K, V) + 𝓓(V′; H, W), where V′ is V
 * resampled back to N tokens along the flattened token axis when keys were reduced.
 */
export class FocusedSrAttention extends SpatialReduction {
  readonly focused: FocusedLinearCore;
  constructor(
    table: ParamTable,
    prefix: string,
    /** grid: the stage's nominal token grid [H, W] (the official PatchEmbed's H, W). */
    opts: SrAttentionOptions & { grid: [number, number]; focusingFactor: number; kernelSize: number },
  ) {
    super(table, prefix, opts);
    const [h, w] = opts.grid;
    const sr = opts.srRatio;
    // the official module sizes its PE as num_patches // sr² whatever the mode (49 = 7² in linear mode at 224 with
    // sr 8421); its keys come from a stride-sr conv, on a ⌊H/sr⌋×⌊W/sr⌋ grid, and the two counts must agree
    const tokens = Math.floor((h * w) / sr ** 2);
    const keys: [number, number] = [Math.floor(h / sr), Math.floor(w / sr)];
    if (!opts.linear && tokens !== keys[0] * keys[1])
      throw new FlattenError(
        'BAD_CONFIG',
        `${prefix}: sr ${sr} does not divide its ${h}×${w} token grid: the official block sizes its positional_encoding for ⌊${h * w}/${sr}²⌋ = ${tokens} tokens but sees ${keys.join('×')} keys; take a size whose stage grids sr divides`,
      );
    const keyGrid = opts.linear ? undefined : keys;
    this.focused = new FocusedLinearCore(table, prefix, {
      ...opts,
      tokens,
      grid: keyGrid,
    });
  }

  /** x (B, N = H·W, C) → (B, N, C) */
  forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor {
    const { ops } = ctx;
    const { q, k, v } = this.qkv(ctx, x, h, w); // q (B, N, C); k, v (B, n, C), n = N/sr² (or 49 pooled)
    const o = this.focused.core(ctx, q, k, v); // (B, N, C)
    const vFull = ops.interpolateLinear(v, 1, h * w); // (B, N, C); identity when n = N
    return this.proj.forward(ctx, ops.add(o, this.focused.dwc(ctx, vFull, [h, w])));
  }
}

/** PVT spatial-reduction softmax attention: softmax(q kᵀ · d^-½) v, scale after the product. */
export class SrAttention extends SpatialReduction {
  /** x (B, N = H·W, C) → (B, N, C) */
  forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor {
    const { ops } = ctx;
    const { q, k, v } = this.qkv(ctx, x, h, w); // q (B, N, C); k, v (B, n, C)
    const heads = this.base.heads;
    const d = this.base.dim / heads;
    const attn = ops.softmax(
      ops.mul(
        ops.matmul(splitHeads(ops, q, heads), splitHeads(ops, k, heads), true),
        ops.scalar(softmaxScale(this.base.qkScale, d)),
      ),
    );
    return this.proj.forward(ctx, mergeHeads(ops, ops.matmul(attn, splitHeads(ops, v, heads))));
  }
}
