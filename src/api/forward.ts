import { FlattenError } from '../core/errors.js';
import { shapeStr, type StateDict, type TensorData } from '../core/tensor.js';
import { buildAttentionCase } from '../models/attention_case.js';
import { buildModel } from '../models/build.js';
import { stageMap, type Family, type VisionModel } from '../models/model.js';
import { engineRunner } from './engine.js';
import { checkDType, type ModelDType } from '../engines/onnx/quantize/dtype.js';
import { loadWeights } from '../nn/checkpoint.js';
import { createModel } from './model.js';
import { readJsonFile } from '../io/json.js';
import { writeFilesAtomic } from '../io/files.js';
import { readNpyFile, writeNpy } from '../io/npy.js';

/** A golden-format case description (`config.json`). */
export interface CaseConfig {
  kind?: 'model' | 'attention';
  family?: Family;
  constructor?: string;
  kwargs?: Record<string, unknown>;
}

export interface ForwardResult {
  output: TensorData;
  features?: TensorData;
  /** Models, when asked: every stage's NCHW feature map (B, C_i, H_i, W_i). */
  stages?: TensorData[];
}

export interface ForwardOptions {
  engine?: string;
  strict?: boolean;
  /** Models: also return every stage's feature map. */
  stages?: boolean;
  /** Models: run at this input size instead of the config's own (a side or [H, W]). */
  imgSize?: number | [number, number];
  /** The onnx engine only: the graph's weights as fp32 (default), fp16, q8 or q4, as `exportOnnx` writes them. */
  dtype?: ModelDType;
}

/** Checks an image batch against what a model was built for, naming the mismatch. */
export function checkImageInput(model: VisionModel, input: TensorData): void {
  const s = input.shape;
  const [h, w] = model.imgSize;
  const want = `(B, ${model.inChans}, ${h}, ${w})`;
  if (s.length !== 4 || s[1] !== model.inChans)
    throw new FlattenError('BAD_SHAPE', `input has shape ${shapeStr(s)} but the model takes images ${want}`);
  if (s[2] !== h || s[3] !== w) {
    const size = s[2] === s[3] ? `${s[2]}` : `[${s[2]}, ${s[3]}]`;
    throw new FlattenError(
      'BAD_SHAPE',
      `input is ${s[2]}×${s[3]} but this model is built for ${h}×${w} images ${want}; resize the image or build the model with img_size=${size}`,
    );
  }
}

/** Run one case in the golden format: a whole model (logits + pooled features) or one attention module. */
export async function runCase(
  config: CaseConfig,
  checkpoint: string | StateDict | undefined,
  input: TensorData,
  opts: ForwardOptions = {},
): Promise<ForwardResult> {
  const dtype = checkDType(opts.dtype ?? 'fp32');
  if (dtype !== 'fp32' && opts.engine !== 'onnx')
    throw new FlattenError('BAD_ARGUMENT', `dtype '${dtype}' needs the onnx engine (the tfjs engine computes in fp32)`);
  const run = engineRunner(opts.engine ?? 'tfjs', { dtype });
  if (input.dtype !== 'float32') throw new FlattenError('BAD_SHAPE', `input must be float32, got ${input.dtype}`);
  if ((config.kind ?? 'model') === 'attention') {
    if (!config.family) throw new FlattenError('BAD_CONFIG', 'an attention case needs a "family"');
    const att = buildAttentionCase(config.family, config.kwargs ?? {});
    const weights = loadWeights(att.table, checkpoint, { strict: opts.strict });
    const r = await run(weights, [input], (ctx, x) => {
      try {
        return { output: att.forward(ctx, x) };
      } catch (e) {
        throw e instanceof FlattenError
          ? e
          : new FlattenError(
              'BAD_SHAPE',
              `input ${shapeStr(input.shape)} does not fit this attention module, which takes ${att.describeInput}: ${(e as Error).message}`,
            );
      }
    });
    return { output: r.output };
  }
  // at another size: the model the official constructor builds there, its position tables resampled
  const { model, weights } =
    opts.imgSize === undefined
      ? { model: buildModel(config), weights: undefined }
      : createModel(config, { checkpoint, imgSize: opts.imgSize, strict: opts.strict });
  checkImageInput(model, input);
  const bound = weights ?? loadWeights(model.table, checkpoint, { strict: opts.strict });
  const r: Record<string, TensorData> = await run(bound, [input], (ctx, x) => {
    const { logits, features, stages } = model.forward(ctx, x);
    const maps = opts.stages ? stages.map((s, i) => [`stage${i}`, stageMap(ctx, s)] as const) : [];
    return { logits, features, ...Object.fromEntries(maps) };
  });
  const stages = opts.stages ? model.stageNames.map((_, i) => r[`stage${i}`]) : undefined;
  return { output: r.logits, features: r.features, stages };
}

export interface ForwardFilesOptions extends Omit<ForwardOptions, 'stages'> {
  /** A golden-format `config.json`: {kind, family, constructor, kwargs}. */
  config: string;
  /** `.pth` or `.safetensors`; random weights when omitted. */
  checkpoint?: string;
  /** `.npy` input: images (B, C, H, W) or tokens (B, N, C). */
  input: string;
  /** Where the output (logits for models) goes, as `.npy`. */
  output: string;
  /** Models only: where the pooled features fed to the head go. */
  features?: string;
  /** Models only: stage i's NCHW map goes to `<stages>i.npy`. */
  stages?: string;
}

/** `flatten forward`: one case from files to files; returns what was written, with shapes. */
export async function forwardFiles(o: ForwardFilesOptions): Promise<{ path: string; shape: number[] }[]> {
  const config = readJsonFile<CaseConfig>(o.config);
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new FlattenError('BAD_CONFIG', `${o.config}: expected a JSON object`);
  const r = await runCase(config, o.checkpoint, readNpyFile(o.input), {
    engine: o.engine,
    strict: o.strict,
    stages: !!o.stages,
    imgSize: o.imgSize,
  });
  if ((o.features || o.stages) && !r.features)
    throw new FlattenError('BAD_ARGUMENT', '--features and --stages apply to whole models only, not attention cases');
  const written = [{ path: o.output, data: r.output }];
  if (o.features && r.features) written.push({ path: o.features, data: r.features });
  r.stages?.forEach((data, i) => written.push({ path: `${o.stages}${i}.npy`, data }));
  // both files or neither: a failure on the second must not leave the first replaced
  writeFilesAtomic(written.map((w) => ({ path: w.path, bytes: writeNpy(w.data) })));
  return written.map((w) => ({ path: w.path, shape: w.data.shape }));
}
