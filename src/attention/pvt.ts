import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import { imageToTokens, tokensToImage } from '../ops/compose.js';
import { Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import { Module, type Ctx, type ParamTable } from '../nn/module.js';
import { FocusedParams, mergeHeads, splitHeads } from './focused.js';

export interface SrAttentionOptions {
  dim: number;
  heads: number;
  /** Spatial reduction of keys/values (1 = none). */
  srRatio: number;
  qkvBias?: boolean;
}

/**
 * Shared by PVT's focused and softmax attentions: q from x, and [k|v] from the spatially reduced
 * R(x) = LN(Conv_sr(image(x))) when sr > 1, else from x. `attn.norm` is always eps 1e-5.
 */
abstract class SpatialReduction extends Module {
  readonly q: Linear;
  readonly kv: Linear;
  readonly proj: Linear;
  readonly sr?: Conv2d;
  readonly norm?: LayerNorm;
  constructor(table: ParamTable, prefix: string, readonly base: SrAttentionOptions) {
    super(table, prefix);
    const { dim, srRatio } = base;
    this.q = new Linear(table, this.sub('q'), dim, dim, base.qkvBias ?? true);
    this.kv = new Linear(table, this.sub('kv'), dim, 2 * dim, base.qkvBias ?? true);
    this.proj = new Linear(table, this.sub('proj'), dim, dim);
    if (srRatio > 1) {
      this.sr = new Conv2d(table, this.sub('sr'), dim, dim, { kernel: srRatio, stride: srRatio });
      this.norm = new LayerNorm(table, this.sub('norm'), dim, 1e-5);
    }
  }

  /** x (B, N, C) → q (B, N, C), k and v (B, n, C). */
  protected qkv(ctx: Ctx, x: Tensor, h: number, w: number): { q: Tensor; k: Tensor; v: Tensor } {
    const { ops } = ctx;
    const c = this.base.dim;
    let r = x;
    if (this.sr && this.norm) {
      if (h % this.base.srRatio || w % this.base.srRatio) {
        throw new FlattenError('BAD_SHAPE', `${this.prefix}: a ${h}×${w} map is not divisible by sr_ratio ${this.base.srRatio}`);
      }
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
 * PVT / PVTv2 focused linear attention (SPEC §1.4): O = 𝓕(Q, K, V) + 𝓓(V′; H, W), where V′ is V
 * resampled back to N tokens along the flattened token axis when keys were reduced.
 */
export class FocusedSrAttention extends SpatialReduction {
  readonly fla: FocusedParams;
  constructor(
    table: ParamTable,
    prefix: string,
    opts: SrAttentionOptions & { numPatches: number; focusingFactor: number; kernelSize: number },
  ) {
    super(table, prefix, opts);
    this.fla = new FocusedParams(table, prefix, { ...opts }, opts.numPatches / opts.srRatio ** 2);
  }

  forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor {
    const { ops } = ctx;
    const { q, k, v } = this.qkv(ctx, x, h, w);
    const o = this.fla.core(ctx, q, k, v);
    const vFull = ops.interpolateLinear(v, 1, h * w); // identity when n = N
    return this.proj.forward(ctx, ops.add(o, this.fla.dwc(ctx, vFull, [h, w])));
  }
}

/** PVT spatial-reduction softmax attention (SPEC §1.7): softmax(q kᵀ · d^-½) v, scale after the product. */
export class SrAttention extends SpatialReduction {
  forward(ctx: Ctx, x: Tensor, h: number, w: number): Tensor {
    const { ops } = ctx;
    const { q, k, v } = this.qkv(ctx, x, h, w);
    const heads = this.base.heads;
    const d = this.base.dim / heads;
    const attn = ops.softmax(ops.mul(ops.matmul(splitHeads(ops, q, heads), splitHeads(ops, k, heads), true), ops.scalar(d ** -0.5)));
    return this.proj.forward(ctx, mergeHeads(ops, ops.matmul(attn, splitHeads(ops, v, heads))));
  }
}
