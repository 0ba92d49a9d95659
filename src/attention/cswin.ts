import type { Tensor } from '../ops/ops.js';
import { fromWindows, imageToTokens, tokensToImage, toWindows } from '../ops/compose.js';
import { Conv2d } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, type ParamTable } from '../nn/module.js';
import { FocusedLinearCore, mergeHeads, softmaxScale, splitHeads } from './focused.js';

export interface CswinBranchOptions {
  /** Channels of this branch (C or C/2). */
  dim: number;
  heads: number;
  /** Feature-map side R. */
  resolution: number;
  /** −1: R×R; 0: R×split strips; 1: split×R strips. */
  idx: -1 | 0 | 1;
  split: number;
}

export function cswinWindow(o: CswinBranchOptions): [number, number] {
  if (o.idx === -1) return [o.resolution, o.resolution];
  return o.idx === 0 ? [o.resolution, o.split] : [o.split, o.resolution];
}

/** LePE: the 3×3 depthwise `get_v` on each window's image (zero padding at the window border). */
class Lepe extends Module {
  readonly conv: Conv2d;
  constructor(table: ParamTable, prefix: string, dim: number) {
    super(table, prefix);
    this.conv = new Conv2d(table, this.sub('get_v'), dim, dim, { kernel: 3, padding: 1, groups: dim });
  }
  /** windows (B', Hsp·Wsp, C) → (B', Hsp·Wsp, C) */
  forward(ctx: Ctx, v: Tensor, [hs, ws]: [number, number]): Tensor {
    const { ops } = ctx;
    return imageToTokens(ops, this.conv.forward(ctx, tokensToImage(ops, v, hs, ws))); // (B', C, Hsp, Wsp) inside
  }
}

/**
 * CSwin focused linear branch: O = 𝓕(Q,K,V) + 𝓓(V) + LePE(V) over one full-map window.
 * No proj inside; the block applies it.
 */
export class FocusedCswinBranch extends Module {
  readonly focused: FocusedLinearCore;
  readonly lepe: Lepe;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: CswinBranchOptions & { focusingFactor: number; kernelSize: number },
  ) {
    super(table, prefix);
    const [hs, ws] = cswinWindow(opts);
    this.focused = new FocusedLinearCore(table, prefix, { ...opts, tokens: hs * ws });
    this.lepe = new Lepe(table, prefix, opts.dim);
  }
  /** q, k, v (B, R², C_b) → (B, R², C_b) */
  forward(ctx: Ctx, q: Tensor, k: Tensor, v: Tensor): Tensor {
    const { ops } = ctx;
    const win = cswinWindow(this.opts);
    const o = this.focused.core(ctx, q, k, v);
    return ops.add(ops.add(o, this.focused.dwc(ctx, v, win)), this.lepe.forward(ctx, v, win));
  }
}

/** CSwin LePE softmax branch: per window, softmax((q·d^-½) kᵀ) v + LePE(v). */
export class LepeCswinBranch extends Module {
  readonly lepe: Lepe;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: CswinBranchOptions & { qkScale?: number | null },
  ) {
    super(table, prefix);
    this.lepe = new Lepe(table, prefix, opts.dim);
  }
  forward(ctx: Ctx, q: Tensor, k: Tensor, v: Tensor): Tensor {
    const { ops } = ctx;
    const { heads, resolution: r } = this.opts;
    const win = cswinWindow(this.opts);
    const d = this.opts.dim / heads;
    const [qw, kw, vw] = [q, k, v].map((x) => toWindows(ops, x, [r, r], win)); // (B·nWin, Hsp·Wsp, C_b)
    const attn = ops.softmax(
      // (B·nWin, heads, Hsp·Wsp, Hsp·Wsp)
      ops.matmul(
        ops.mul(splitHeads(ops, qw, heads), ops.scalar(softmaxScale(this.opts.qkScale, d))),
        splitHeads(ops, kw, heads),
        true,
      ),
    );
    const o = ops.add(mergeHeads(ops, ops.matmul(attn, splitHeads(ops, vw, heads))), this.lepe.forward(ctx, vw, win));
    return fromWindows(ops, o, [r, r], win); // (B, R², C_b)
  }
}
