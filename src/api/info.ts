import { sizeOf } from '../core/tensor.js';
import { MetaOps } from '../engines/meta/ops.js';
import type { Tensor } from '../ops/ops.js';
import type { VisionModel } from '../models/model.js';
import { buildAtSize } from './size.js';

export interface StageInfo {
  name: string;
  parameters: number;
  macs: number;
}

export interface ModelInfo {
  parameters: number;
  /** Multiply-accumulates for one image (every conv, linear and matmul; norms, activations and softmax are free). */
  macs: number;
  /** Input size [H, W] in pixels. */
  resolution: [number, number];
  stages: StageInfo[];
  /** What each stage's feature map holds (timm's `feature_info`): channels and stride to the input. */
  featureInfo: FeatureInfo[];
}

export interface FeatureInfo {
  stage: number;
  /** The stage's module path prefix. */
  module: string;
  channels: number;
  /** Input pixels per feature-map pixel along each side (4, 8, 16, 32 for the pyramids). */
  reduction: number;
}

/**
 * Parameter count and MACs of a model on one image, per stage, from a shape-only walk of its forward.
 * MACs before the first stage (stem) and after the last (head) get their own rows.
 */
export function modelInfo(model: VisionModel): ModelInfo;
/** The same for a registry model, optionally at another input size (a side or [H, W]). */
export function modelInfo(name: string, opts?: { imgSize?: number | [number, number] }): ModelInfo;
export function modelInfo(
  modelOrName: VisionModel | string,
  opts: { imgSize?: number | [number, number] } = {},
): ModelInfo {
  const model =
    typeof modelOrName === 'string' ? buildAtSize(modelOrName, { imgSize: opts.imgSize }).model : modelOrName;
  const ops = new MetaOps();
  const names = ['stem', ...model.stageNames, 'head'];
  const macs = new Array<number>(names.length).fill(0);
  let current = 0;
  let last = 0;
  const mark = () => {
    macs[current] += ops.macs - last;
    last = ops.macs;
  };
  const params = new Map<string, Tensor>();
  for (const s of model.table.specs.values())
    params.set(s.path, ops.constant({ dtype: 'float32', shape: s.shape, data: new Float32Array(0) }));
  const x = ops.constant({
    dtype: 'float32',
    shape: [1, model.inChans, ...model.imgSize],
    data: new Float32Array(0),
  });
  const { stages } = model.forward(
    {
      ops,
      training: false,
      p: (path) => params.get(path)!,
      stage: (i) => {
        mark();
        current = i + 1;
      },
    },
    x,
  );
  mark();
  const featureInfo = stages.map((st, i) => ({
    stage: i,
    module: model.stageNames[i],
    channels: ops.shape(st.tokens)[2],
    reduction: model.imgSize[0] / st.hw[0],
  }));
  // parameters per stage by key prefix; everything else is stem or head by position
  const stageOf = (path: string): number => {
    const i = model.stageNames.findIndex(
      (n) => path.startsWith(`${n}.`) || stagePrefixes(n).some((p) => path.startsWith(p)),
    );
    return i + 1;
  };
  const pcount = new Array<number>(names.length).fill(0);
  const specs = model.table.parameters();
  let seenStage = false;
  for (const s of specs) {
    let i = stageOf(s.path);
    if (i > 0) seenStage = true;
    else i = seenStage ? names.length - 1 : 0;
    pcount[i] += sizeOf(s.shape);
  }
  return {
    parameters: model.table.parameterCount(),
    macs: ops.macs,
    resolution: model.imgSize,
    stages: names.map((name, i) => ({ name, parameters: pcount[i], macs: macs[i] })),
    featureInfo,
  };
}

/** Keys that belong to a stage without sharing its name (patch embeds and merges of the pyramids). */
function stagePrefixes(stage: string): string[] {
  const m = /^stage(\d)$/.exec(stage);
  if (!m) return [];
  const i = Number(m[1]);
  return [`block${i}.`, `patch_embed${i}.`, `pos_embed${i}`, `norm${i}.`, `merge${i - 1}.`];
}
