import type { Tensor } from '../ops/ops.js';
import { Linear } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, type ParamTable } from '../nn/module.js';
import { FocusedLinearCore, mergeHeads, splitHeads } from './focused.js';

/**
 * The attention variants of the DeiT ablation (paper Table 4), everything else identical:
 * - `flatten`: f_p + DWC (FLatten); `focused`: f_p, no DWC;
 * - `linear`: the same map with p = 1 (f_1 is the identity, so φ = ReLU/σ), no DWC;
 * - `softmax`: timm's Attention.
 */
export type DeitAttnType = 'flatten' | 'focused' | 'linear' | 'softmax';

export interface DeitAttentionOptions {
  dim: number;
  heads: number;
  /** Patch grid side; the sequence is 1 cls token + side² patch tokens. */
  side: number;
  variant: DeitAttnType;
  focusingFactor: number;
  kernelSize: number;
  qkvBias: boolean;
}

/**
 * FLatten-DeiT attention (our definition; the official code has none): focused linear attention over all N+1 tokens with PE (1, N+1, C) on K;
 * the DWC runs over the N patch tokens' V as an image and the cls token gets no DWC term.
 */
export class DeitAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly focused?: FocusedLinearCore;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: DeitAttentionOptions,
  ) {
    super(table, prefix);
    this.qkv = new Linear(table, this.sub('qkv'), opts.dim, 3 * opts.dim, opts.qkvBias);
    this.proj = new Linear(table, this.sub('proj'), opts.dim, opts.dim);
    if (opts.variant !== 'softmax') {
      const p = opts.variant === 'linear' ? 1 : opts.focusingFactor;
      this.focused = new FocusedLinearCore(table, prefix, {
        ...opts,
        focusingFactor: p,
        tokens: opts.side * opts.side + 1,
        withDwc: opts.variant === 'flatten',
      });
    }
  }

  /** x (B, 1 + N, C), cls token first → (B, 1 + N, C) */
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const [b, n, c] = ops.shape(x);
    const qkv = this.qkv.forward(ctx, x); // (B, 1 + N, 3C)
    const [q, k, v] = [0, 1, 2].map((i) => ops.slice(qkv, [0, 0, i * c], [b, n, c])); // (B, 1 + N, C) each
    if (!this.focused) {
      const h = this.opts.heads;
      const scale = ops.scalar((c / h) ** -0.5);
      const attn = ops.softmax(ops.mul(ops.matmul(splitHeads(ops, q, h), splitHeads(ops, k, h), true), scale)); // (B, h, 1+N, 1+N)
      return this.proj.forward(ctx, mergeHeads(ops, ops.matmul(attn, splitHeads(ops, v, h))));
    }
    let o = this.focused.core(ctx, q, k, v); // (B, 1+N, C)
    if (this.focused.hasDwc) {
      const s = this.opts.side;
      const dwc = this.focused.dwc(ctx, ops.slice(v, [0, 1, 0], [b, n - 1, c]), [s, s]); // patches only: (B, N, C)
      o = ops.concat([ops.slice(o, [0, 0, 0], [b, 1, c]), ops.add(ops.slice(o, [0, 1, 0], [b, n - 1, c]), dwc)], 1);
    }
    return this.proj.forward(ctx, o);
  }
}
