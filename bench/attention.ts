import type { Tensor } from '../src/ops/ops.js';
import { Linear } from '../src/nn/layers.js';
import type { Ctx } from '../src/ops/ctx.js';
import { Module, ParamTable } from '../src/nn/module.js';
import { mergeHeads, splitHeads } from '../src/attention/focused.js';
import { FocusedSrAttention, SrAttention } from '../src/attention/pvt.js';

export type AttentionVariant = 'focused' | 'linear' | 'softmax';

/** Plain linear attention with φ = ReLU (no focusing, no DWC), on the same projections as the others. */
class ReluLinearAttention extends Module {
  readonly q: Linear;
  readonly kv: Linear;
  readonly proj: Linear;
  constructor(
    table: ParamTable,
    readonly dim: number,
  ) {
    super(table, '');
    this.q = new Linear(table, 'q', dim, dim);
    this.kv = new Linear(table, 'kv', dim, 2 * dim);
    this.proj = new Linear(table, 'proj', dim, dim);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const [b, n, c] = ops.shape(x);
    const kv = this.kv.forward(ctx, x);
    const phi = (t: Tensor) => splitHeads(ops, ops.relu(t), 1);
    const k = ops.slice(kv, [0, 0, 0], [b, n, c]);
    const v = ops.slice(kv, [0, 0, c], [b, n, c]);
    return this.proj.forward(
      ctx,
      mergeHeads(ops, ops.linearAttention(phi(this.q.forward(ctx, x)), phi(k), splitHeads(ops, v, 1))),
    );
  }
}

/**
 * One global attention module over N = side² tokens of C channels and one head, the three kinds on
 * identical q / kv / proj projections: FLatten's focused linear attention (φ_p with p = 3 plus the
 * 5×5 DWC), plain ReLU linear attention, and softmax attention.
 */
export function attentionModule(variant: AttentionVariant, dim: number, side: number) {
  const table = new ParamTable();
  const base = { dim, heads: 1, srRatio: 1, qkvBias: true };
  if (variant === 'focused') {
    const m = new FocusedSrAttention(table, '', { ...base, grid: [side, side], focusingFactor: 3, kernelSize: 5 });
    return { table, forward: (ctx: Ctx, x: Tensor) => m.forward(ctx, x, side, side) };
  }
  if (variant === 'softmax') {
    const m = new SrAttention(table, '', base);
    return { table, forward: (ctx: Ctx, x: Tensor) => m.forward(ctx, x, side, side) };
  }
  const m = new ReluLinearAttention(table, dim);
  return { table, forward: (ctx: Ctx, x: Tensor) => m.forward(ctx, x) };
}

/** Bytes of the N×N score matrices softmax attention holds at once (scores and their softmax). */
export const softmaxBytes = (n: number) => 2 * n * n * 4;
