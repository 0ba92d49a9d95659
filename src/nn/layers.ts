import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, type ParamTable } from './module.js';

/** torch.nn.Linear: `weight` (out, in), optional `bias` (out). */
export class Linear extends Module {
  readonly weight: string;
  readonly bias?: string;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super(table, prefix);
    this.weight = this.param('weight', [outFeatures, inFeatures], { kind: 'truncNormal', std: 0.02 });
    if (bias) this.bias = this.param('bias', [outFeatures], { kind: 'zeros' }, true);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    return ctx.ops.linear(x, ctx.p(this.weight), this.bias ? ctx.p(this.bias) : undefined);
  }
}

/** torch.nn.LayerNorm over the last dim. */
export class LayerNorm extends Module {
  readonly weight: string;
  readonly bias: string;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly dim: number,
    readonly eps: number,
  ) {
    super(table, prefix);
    this.weight = this.param('weight', [dim], { kind: 'ones' }, true);
    this.bias = this.param('bias', [dim], { kind: 'zeros' }, true);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    return ctx.ops.layerNorm(x, ctx.p(this.weight), ctx.p(this.bias), this.eps);
  }
}

export interface Conv2dArgs {
  kernel: number;
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: boolean;
}

/** torch.nn.Conv2d on NCHW: `weight` (out, in/groups, k, k), `bias` (out). */
export class Conv2d extends Module {
  readonly weight: string;
  readonly bias?: string;
  constructor(
    table: ParamTable,
    prefix: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly args: Conv2dArgs,
  ) {
    super(table, prefix);
    const groups = args.groups ?? 1;
    const k = args.kernel;
    // fan_out init as in PVT/CSwin's _init_weights
    const fanOut = (k * k * outChannels) / groups;
    this.weight = this.param('weight', [outChannels, inChannels / groups, k, k], {
      kind: 'normal',
      std: Math.sqrt(2 / fanOut),
    });
    if (args.bias ?? true) this.bias = this.param('bias', [outChannels], { kind: 'zeros' }, true);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { stride = 1, padding = 0, groups = 1 } = this.args;
    return ctx.ops.conv2d(x, ctx.p(this.weight), this.bias ? ctx.p(this.bias) : undefined, { stride, padding, groups });
  }
}

/** timm Mlp: fc1 → GELU → fc2. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(table: ParamTable, prefix: string, dim: number, hidden: number) {
    super(table, prefix);
    this.fc1 = new Linear(table, this.sub('fc1'), dim, hidden);
    this.fc2 = new Linear(table, this.sub('fc2'), hidden, dim);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    return this.fc2.forward(ctx, ctx.ops.gelu(this.fc1.forward(ctx, x)));
  }
}

/** timm DropPath on a residual branch: the identity at inference or when the context has no dropPath hook. */
export function dropPath(ctx: Ctx, x: Tensor, rate: number): Tensor {
  return ctx.training && rate > 0 && ctx.dropPath ? ctx.dropPath(x, rate) : x;
}
