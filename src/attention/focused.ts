import { FlattenError } from '../core/errors.js';
import type { Ops, Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, type ParamTable } from '../nn/module.js';

/** Hyper-parameters shared by every focused linear attention. */
export interface FocusedOptions {
  dim: number;
  heads: number;
  /** Focusing power p of f_p (official default 3). */
  focusingFactor: number;
  /** Kernel of the head-shared depthwise conv on V (official default 5). */
  kernelSize: number;
}

/**
 * f_p(u) = u^p / ‖u^p‖ · ‖u‖, row by row over the last axis (all C channels, heads not yet split): the norm
 * is kept and only the direction sharpens. u (…, C) → (…, C).
 */
export function focus(ops: Ops, u: Tensor, p: number): Tensor {
  const up = ops.pow(u, p);
  // the division happens on the per-row norms (…, 1), so the full-size tensor takes one pass, not two
  return ops.mul(up, ops.div(ops.l2norm(u), ops.l2norm(up)));
}

/** (B, N, C) → (B, h, N, d) */
export function splitHeads(ops: Ops, x: Tensor, heads: number): Tensor {
  const [b, n, c] = ops.shape(x);
  return ops.transpose(ops.reshape(x, [b, n, heads, c / heads]), [0, 2, 1, 3]);
}

/** Softmax attention's scale, as Python's `qk_scale or head_dim ** -0.5` (0 and null mean the default). */
export function softmaxScale(qkScale: number | null | undefined, headDim: number): number {
  return qkScale || headDim ** -0.5;
}

/** (B, h, N, d) → (B, N, C) */
export function mergeHeads(ops: Ops, x: Tensor): Tensor {
  const [b, h, n, d] = ops.shape(x);
  return ops.reshape(ops.transpose(x, [0, 2, 1, 3]), [b, n, h * d]);
}

/** φ's input to f_p: ReLU + 1e-6, divided by the softplus temperature (the official steps, in this order). */
function relaxed(ops: Ops, x: Tensor, scale: Tensor): Tensor {
  const sigma = ops.softplus(scale); // (1, 1, C)
  return ops.div(ops.add(ops.relu(x), ops.scalar(1e-6)), sigma);
}

/**
 * φ(x) before the head split: ReLU + 1e-6, divide by the softplus temperature, then f_p over all C channels.
 * Exposed on its own so that the analysis tools see exactly the q and k the model uses.
 */
export function focusedFeatureMap(ops: Ops, x: Tensor, scale: Tensor, p: number): Tensor {
  return focus(ops, relaxed(ops, x, scale), p);
}

/**
 * Head-shared depthwise conv 𝓓(V; H, W) that restores rank: each head's d channels form an
 * H×W image and the same d kernels run over every head. v (B, N = H·W, C) → (B, N, C).
 */
export function headSharedDwc(
  ops: Ops,
  v: Tensor,
  weight: Tensor,
  bias: Tensor,
  heads: number,
  hw: [number, number],
): Tensor {
  const [b, n, c] = ops.shape(v);
  const d = c / heads;
  const k = ops.shape(weight)[2];
  const img = ops.reshape(ops.transpose(ops.reshape(v, [b, n, heads, d]), [0, 2, 3, 1]), [b * heads, d, hw[0], hw[1]]);
  const y = ops.conv2d(img, weight, bias, { padding: Math.floor(k / 2), groups: d }); // (B·h, d, H, W)
  return ops.reshape(ops.transpose(ops.reshape(y, [b, heads, d, n]), [0, 3, 1, 2]), [b, n, c]);
}

export interface FocusedCoreOptions extends FocusedOptions {
  /** Keys the block sees, which sizes `positional_encoding` (fixed at build time, as in the official code). */
  tokens: number;
  /** Their grid [H, W] when it is not square (PVT at H×W): what a checkpoint's table is resampled to. */
  grid?: [number, number];
  /** false drops the rank-restoring conv (ablation variants only). */
  withDwc?: boolean;
}

/**
 * What every focused linear attention computes besides its projections: the focusing core 𝓕(Q, K, V) and the
 * rank-restoring DWC 𝓓(V), with their parameters under the official names: `scale` (1,1,C),
 * `positional_encoding` (1,n,C) and `dwc.{weight,bias}` (d,1,k,k)/(d). Each family wires q, k, v into it.
 */
export class FocusedLinearCore extends Module {
  readonly scale: string;
  readonly pe: string;
  readonly dwcWeight: string;
  readonly dwcBias: string;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly opts: FocusedCoreOptions,
  ) {
    super(table, prefix);
    const { tokens, withDwc = true } = opts;
    const d = opts.dim / opts.heads;
    const k = opts.kernelSize;
    this.scale = this.param('scale', [1, 1, opts.dim], { kind: 'zeros' }, true);
    this.pe = this.param('positional_encoding', [1, tokens, opts.dim], { kind: 'zeros' }, true, opts.grid);
    this.dwcWeight = withDwc
      ? this.param('dwc.weight', [d, 1, k, k], { kind: 'normal', std: Math.sqrt(2 / (k * k)) })
      : '';
    this.dwcBias = withDwc ? this.param('dwc.bias', [d], { kind: 'zeros' }, true) : '';
  }

  get hasDwc(): boolean {
    return this.dwcWeight !== '';
  }

  /**
   * The focusing core 𝓕(Q, K, V): PE on K, φ on Q and K, heads, linear attention.
   * q (B, N, C); k, v (B, n, C) → (B, N, C). `pe` (1, n, C) replaces the stored table (a resampled one).
   */
  core(ctx: Ctx, q: Tensor, k: Tensor, v: Tensor, pe = ctx.p(this.pe)): Tensor {
    const { ops } = ctx;
    const { heads, focusingFactor: p } = this.opts;
    const scale = ctx.p(this.scale);
    const [n, peTokens] = [ops.shape(k)[1], ops.shape(pe)[1]];
    if (n !== peTokens) {
      throw new FlattenError(
        'BAD_SHAPE',
        `${this.prefix || 'attention'}: positional_encoding holds ${peTokens} tokens but this block sees ${n}; the official module fails the same way (the token count is fixed at build time)`,
      );
    }
    const kp = ops.add(k, pe); // only K gets the position encoding
    const qf = focusedFeatureMap(ops, q, scale, p); // (B, N, C)
    const kf = focusedFeatureMap(ops, kp, scale, p); // (B, n, C)
    ctx.capture?.(this.prefix, { q, k: kp, qf, kf }, { heads });
    // per head: (B, h, N, d) from queries, (B, h, n, d) from keys and values
    const o = ops.linearAttention(splitHeads(ops, qf, heads), splitHeads(ops, kf, heads), splitHeads(ops, v, heads));
    return mergeHeads(ops, o);
  }

  /** 𝓓(V; H, W) with this block's kernel; v (B, H·W, C). */
  dwc(ctx: Ctx, v: Tensor, hw: [number, number]): Tensor {
    ctx.capture?.(this.prefix, {}, { hw });
    return headSharedDwc(ctx.ops, v, ctx.p(this.dwcWeight), ctx.p(this.dwcBias), this.opts.heads, hw);
  }
}
