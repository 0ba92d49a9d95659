import type { Tensor } from '../ops/ops.js';
import type { TensorData } from '../core/tensor.js';
import { Linear } from '../nn/layers.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, type ParamTable } from '../nn/module.js';
import { FocusedLinearCore, type FocusedOptions, mergeHeads, softmaxScale, splitHeads } from './focused.js';

/**
 * Swin focused linear attention over windows: x (B·nW, w², C) → (B·nW, w², C).
 * The shift mask is ignored on purpose, exactly as the official module does.
 */
export class FocusedWindowAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly focused: FocusedLinearCore;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: FocusedOptions & { window: number; qkvBias?: boolean },
  ) {
    super(table, prefix);
    this.focused = new FocusedLinearCore(table, prefix, { ...opts, tokens: opts.window * opts.window });
    this.qkv = new Linear(table, this.sub('qkv'), opts.dim, 3 * opts.dim, opts.qkvBias ?? true);
    this.proj = new Linear(table, this.sub('proj'), opts.dim, opts.dim);
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const [bw, n, c] = ops.shape(x);
    const qkv = this.qkv.forward(ctx, x); // (B·nW, N, 3C)
    const q = ops.slice(qkv, [0, 0, 0], [bw, n, c]);
    const k = ops.slice(qkv, [0, 0, c], [bw, n, c]);
    const v = ops.slice(qkv, [0, 0, 2 * c], [bw, n, c]);
    const w = this.opts.window;
    const y = ops.add(this.focused.core(ctx, q, k, v), this.focused.dwc(ctx, v, [w, w]));
    return this.proj.forward(ctx, y);
  }
}

/** relative_position_index (w², w²): (r_i − r_j + w − 1)·(2w − 1) + (c_i − c_j + w − 1). */
export function relativePositionIndex(w: number): TensorData {
  const n = w * w;
  const data = new BigInt64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dr = Math.floor(i / w) - Math.floor(j / w) + w - 1;
      const dc = (i % w) - (j % w) + w - 1;
      data[i * n + j] = BigInt(dr * (2 * w - 1) + dc);
    }
  }
  return { dtype: 'int64', shape: [n, n], data };
}

/** Swin W-MSA / SW-MSA with relative position bias. */
export class WindowAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  /** Path of `relative_position_bias_table` ((2w − 1)², heads). */
  readonly biasTable: string;
  private readonly index: Int32Array;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: { dim: number; heads: number; window: number; qkvBias?: boolean; qkScale?: number | null },
  ) {
    super(table, prefix);
    const w = opts.window;
    this.biasTable = this.param(
      'relative_position_bias_table',
      [(2 * w - 1) ** 2, opts.heads],
      { kind: 'truncNormal', std: 0.02 },
      true,
    );
    const idx = relativePositionIndex(w);
    this.buffer('relative_position_index', idx);
    this.index = Int32Array.from(idx.data as BigInt64Array, Number);
    this.qkv = new Linear(table, this.sub('qkv'), opts.dim, 3 * opts.dim, opts.qkvBias ?? true);
    this.proj = new Linear(table, this.sub('proj'), opts.dim, opts.dim);
  }

  /** x (B·nW, N, C); mask (nW, N, N) constant or undefined. */
  forward(ctx: Ctx, x: Tensor, mask?: Tensor): Tensor {
    const { ops } = ctx;
    const [bw, n, c] = ops.shape(x);
    const h = this.opts.heads;
    const d = c / h;
    const qkv = this.qkv.forward(ctx, x);
    const q = splitHeads(ops, ops.slice(qkv, [0, 0, 0], [bw, n, c]), h);
    const k = splitHeads(ops, ops.slice(qkv, [0, 0, c], [bw, n, c]), h);
    const v = splitHeads(ops, ops.slice(qkv, [0, 0, 2 * c], [bw, n, c]), h);
    // q is scaled before the product, as in the official code
    let attn = ops.matmul(ops.mul(q, ops.scalar(softmaxScale(this.opts.qkScale, d))), k, true); // (B·nW, h, N, N)
    const bias = ops.transpose(ops.reshape(ops.gather(ctx.p(this.biasTable), this.index, 0), [n, n, h]), [2, 0, 1]); // (h, N, N)
    attn = ops.add(attn, bias);
    if (mask) {
      const nW = ops.shape(mask)[0];
      const m = ops.reshape(mask, [1, nW, 1, n, n]);
      attn = ops.reshape(ops.add(ops.reshape(attn, [bw / nW, nW, h, n, n]), m), [bw, h, n, n]);
    }
    const o = ops.matmul(ops.softmax(attn), v);
    return this.proj.forward(ctx, mergeHeads(ops, o));
  }
}
