import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, ParamTable } from '../nn/module.js';
import { Linear } from '../nn/layers.js';

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

/** The classifier head: Linear(C, K), or timm's Identity when num_classes = 0 (no `head.*` keys). */
export function classifierHead(table: ParamTable, dim: number, numClasses: number): Linear | undefined {
  return numClasses > 0 ? new Linear(table, 'head', dim, numClasses) : undefined;
}

/** Logits from pooled features (B, C); with an Identity head the features are the output. */
export function headLogits(ctx: Ctx, head: Linear | undefined, features: Tensor): Tensor {
  return head ? head.forward(ctx, features) : ctx.ops.reshape(features, ctx.ops.shape(features));
}

/** What every family's config has in common (official names). */
export interface ClassifierConfig {
  img_size: number;
  in_chans: number;
  num_classes: number;
}

/** Base of the five model classes: a root module (empty prefix) that owns its table and its config. */
export abstract class ImageClassifier<C extends ClassifierConfig> extends Module implements VisionModel {
  abstract readonly family: Family;
  abstract readonly stageNames: string[];
  constructor(readonly cfg: C) {
    super(new ParamTable(), '');
  }
  get imgSize(): number {
    return this.cfg.img_size;
  }
  get inChans(): number {
    return this.cfg.in_chans;
  }
  get numClasses(): number {
    return this.cfg.num_classes;
  }
  abstract forward(ctx: Ctx, x: Tensor): ModelOutput;
}
