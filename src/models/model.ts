import { FlattenError } from '../core/errors.js';
import type { Tensor } from '../ops/ops.js';
import type { Ctx } from '../ops/ctx.js';
import { Module, ParamTable } from '../nn/module.js';
import { Linear } from '../nn/layers.js';

export type Family = 'swin' | 'pvt' | 'pvt_v2' | 'cswin' | 'deit';

/** One stage's output: tokens (B, H·W, C) on an H×W grid; `stageMap` gives the NCHW map. */
export interface StageOutput {
  tokens: Tensor;
  hw: [number, number];
  /** Tokens before the grid's (DeiT's cls token), which the map leaves out. */
  leadingTokens?: number;
}

export interface ModelOutput {
  /** (B, num_classes) */
  logits: Tensor;
  /** (B, C_last): the pooled features fed to the head */
  features: Tensor;
  /**
   * Every stage's output, as backbones hand it on: PVT/PVTv2 after the stage's blocks (PVTv2: and its norm),
   * Swin and CSwin after the last block before the downsampling, the last stage after the final norm (before the
   * pooling), never a cls token. Returned as tokens, so a forward that does not use them computes nothing more.
   */
  stages: StageOutput[];
}

/** A stage's output as the NCHW feature map (B, C, H, W). */
export function stageMap(ctx: Ctx, s: StageOutput): Tensor {
  const { ops } = ctx;
  const [b, n, c] = ops.shape(s.tokens);
  const lead = s.leadingTokens ?? 0;
  const grid = lead ? ops.slice(s.tokens, [0, lead, 0], [b, n - lead, c]) : s.tokens; // (B, H·W, C)
  return ops.transpose(ops.reshape(grid, [b, s.hw[0], s.hw[1], c]), [0, 3, 1, 2]);
}

/** A whole classifier built from one config: its parameters live in `table` under the official keys. */
export interface VisionModel {
  readonly family: Family;
  readonly table: ParamTable;
  /** Exact input size [H, W] in pixels (the models bake it into position tables and windows). */
  readonly imgSize: [number, number];
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
  /** A side, or [H, W] for the families that take non-square inputs (PVT, PVTv2). */
  img_size: number | [number, number];
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
  get imgSize(): [number, number] {
    const s = this.cfg.img_size;
    return typeof s === 'number' ? [s, s] : [s[0], s[1]];
  }
  get inChans(): number {
    return this.cfg.in_chans;
  }
  get numClasses(): number {
    return this.cfg.num_classes;
  }
  abstract forward(ctx: Ctx, x: Tensor): ModelOutput;
}

/** The side of a model built for square inputs; a non-square one is a named error where `use` needs squares. */
export function squareSide(model: VisionModel, use: string): number {
  const [h, w] = model.imgSize;
  if (h !== w)
    throw new FlattenError('BAD_CONFIG', `${use} takes square images, but this model is built for ${h}×${w}`);
  return h;
}
