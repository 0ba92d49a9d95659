import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { ParamTable } from '../nn/module.js';
import { FocusedWindowAttention } from '../attention/swin.js';
import { FocusedSrAttention } from '../attention/pvt.js';
import { FocusedCswinBranch } from '../attention/cswin.js';
import { resolveKwargs } from './config.js';
import type { Family } from './model.js';

/** One official FocusedLinearAttention module on its own, as in the golden attention cases. */
export interface AttentionCase {
  table: ParamTable;
  /** Expected input shape without the batch axis (cswin: q, k, v stacked on axis 0). */
  describeInput: string;
  forward(ctx: Ctx, x: Tensor): Tensor;
}

const INERT = ['qk_scale', 'attn_drop', 'proj_drop', 'qkv_bias'];
const num = (v: unknown, name: string, family: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new FlattenError('BAD_CONFIG', `${family} attention: '${name}' must be a number`);
  return v;
};

export function buildAttentionCase(family: Family, kwargs: Record<string, unknown>): AttentionCase {
  const table = new ParamTable();
  if (family === 'swin') {
    const kw = resolveKwargs(
      'swin attention',
      { dim: 0, window_size: [0, 0] as number[], num_heads: 1, focusing_factor: 3, kernel_size: 5, qkv_bias: true },
      kwargs,
      INERT.slice(0, 3),
    );
    const [wh, ww] = kw.window_size;
    if (wh !== ww) throw new FlattenError('BAD_CONFIG', `swin attention: window_size must be square, got ${wh}×${ww}`);
    const m = new FocusedWindowAttention(table, '', {
      dim: num(kw.dim, 'dim', family),
      heads: kw.num_heads,
      window: wh,
      focusingFactor: kw.focusing_factor,
      kernelSize: kw.kernel_size,
      qkvBias: kw.qkv_bias,
    });
    return { table, describeInput: `(B·nW, ${wh * ww}, ${kw.dim})`, forward: (ctx, x) => m.forward(ctx, x) };
  }
  if (family === 'pvt' || family === 'pvt_v2') {
    const kw = resolveKwargs(
      'pvt attention',
      {
        dim: 0,
        num_patches: 0,
        num_heads: 1,
        qkv_bias: false,
        sr_ratio: 1,
        focusing_factor: 3,
        kernel_size: 5,
        linear: false,
      },
      kwargs,
      INERT.slice(0, 3),
    );
    if (kw.linear && family !== 'pvt_v2')
      throw new FlattenError('BAD_CONFIG', 'pvt attention: linear=true exists only in PVTv2');
    const side = Math.round(Math.sqrt(num(kw.num_patches, 'num_patches', family)));
    if (side * side !== kw.num_patches)
      throw new FlattenError('BAD_CONFIG', `pvt attention: num_patches ${kw.num_patches} is not a square map`);
    const m = new FocusedSrAttention(table, '', {
      dim: num(kw.dim, 'dim', family),
      heads: kw.num_heads,
      srRatio: kw.sr_ratio,
      grid: [side, side],
      qkvBias: kw.qkv_bias,
      focusingFactor: kw.focusing_factor,
      kernelSize: kw.kernel_size,
      linear: kw.linear,
    });
    return {
      table,
      describeInput: `(B, ${kw.num_patches}, ${kw.dim})`,
      forward: (ctx, x) => m.forward(ctx, x, side, side),
    };
  }
  if (family === 'cswin') {
    const kw = resolveKwargs(
      'cswin attention',
      { dim: 0, resolution: 0, idx: -1, split_size: 7, num_heads: 1, focusing_factor: 3, kernel_size: 5, dim_out: 0 },
      kwargs,
      INERT,
    );
    const single = kw.idx === -1 || kw.split_size === kw.resolution;
    if (!single)
      throw new FlattenError(
        'BAD_CONFIG',
        `cswin attention: only the full-map window works in the official focused module (idx -1), got idx ${kw.idx} split ${kw.split_size}`,
      );
    const m = new FocusedCswinBranch(table, '', {
      dim: num(kw.dim, 'dim', family),
      heads: kw.num_heads,
      resolution: kw.resolution,
      idx: -1,
      split: kw.split_size,
      focusingFactor: kw.focusing_factor,
      kernelSize: kw.kernel_size,
    });
    return {
      table,
      describeInput: `(3, B, ${kw.resolution ** 2}, ${kw.dim})`,
      forward: (ctx, x) => {
        const { ops } = ctx;
        const [, b, n, c] = ops.shape(x);
        const [q, k, v] = [0, 1, 2].map((i) => ops.reshape(ops.slice(x, [i, 0, 0, 0], [1, b, n, c]), [b, n, c]));
        return m.forward(ctx, q, k, v);
      },
    };
  }
  throw new FlattenError('BAD_CONFIG', `no standalone attention case for family '${family}'`);
}
