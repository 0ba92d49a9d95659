import type { Tensor } from '../ops/ops.js';
import type { Ctx, ParamTable } from '../nn/module.js';

export type Family = 'swin' | 'pvt' | 'pvt_v2' | 'cswin' | 'deit';

export interface ModelOutput {
  /** (B, num_classes) */
  logits: Tensor;
  /** (B, C_last): the pooled features fed to the head */
  features: Tensor;
}

/** A whole classifier built from one config: its parameters live in `table` under the official keys. */
export interface VisionModel {
  readonly family: Family;
  readonly table: ParamTable;
  /** Exact input resolution (the models bake it into position tables and windows). */
  readonly imgSize: number;
  readonly inChans: number;
  readonly numClasses: number;
  /** Names of the stages, in order, for per-stage reports. */
  readonly stageNames: string[];
  /** x (B, 3, H, W) → logits and features. */
  forward(ctx: Ctx, x: Tensor): ModelOutput;
}
