import { FlattenError } from '../core/errors.js';
import { folderPreprocess, heldOutSplit, openDataset } from '../data/open.js';
import { initTfjs } from '../engines/tfjs/backend.js';
import { parseJson } from '../io/json_text.js';
import { readSafetensorsFile } from '../io/safetensors.js';
import { readStateDict } from '../nn/checkpoint.js';
import { buildNamed } from '../models/build.js';
import { squareSide } from '../models/model.js';
import { registryEntry } from '../models/registry.js';
import { bindStateDict } from '../nn/state.js';
import type { StateDict } from '../core/tensor.js';
import type { VisionModel } from '../models/model.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { evaluateLogits, type BatchClassifier } from './eval_logits.js';
import { LiveWeights } from './params.js';

export interface EvalCheckpointOptions {
  model: string;
  checkpoint: string;
  dataset: string;
  split?: string;
  batchSize: number;
  numClasses?: number;
  log?: (msg: string) => void;
  /** Another engine's classifier for the model and its bound weights (the api's ONNX path); default: tfjs. */
  classifier?: (model: VisionModel, weights: StateDict) => Promise<BatchClassifier>;
}

/**
 * Accuracy of a checkpoint on a dataset split. Checkpoints written by `flatten train` carry the registry
 * kwargs they were trained with (metadata `flatten.kwargs`, e.g. an ablation's attn_type), applied when
 * the metadata names the same model; the classifier size follows the checkpoint's `head.weight`.
 */
export async function evalCheckpoint(
  o: EvalCheckpointOptions,
): Promise<EvalResult & { split: string; predictions?: Int32Array }> {
  const entry = registryEntry(o.model);
  let sd: StateDict;
  let kwargs: Record<string, unknown> = {};
  if (/\.safetensors$/i.test(o.checkpoint)) {
    const st = readSafetensorsFile(o.checkpoint);
    sd = st.tensors;
    if (st.metadata['flatten.model'] === o.model && st.metadata['flatten.kwargs'])
      kwargs = parseJson(st.metadata['flatten.kwargs'], {
        file: o.checkpoint,
        field: "metadata 'flatten.kwargs'",
        object: true,
      });
  } else {
    sd = readStateDict(o.checkpoint);
  }
  const head = sd.get('head.weight');
  if (o.numClasses) kwargs.num_classes = o.numClasses;
  else if (head && head.shape.length === 2) kwargs.num_classes = head.shape[0];
  const model = buildNamed(o.model, kwargs);
  const weights = bindStateDict(model.table, sd, { strict: true, source: o.checkpoint }).weights;
  const split = o.split ?? heldOutSplit(o.dataset);
  const data = await openDataset(
    o.dataset,
    split,
    folderPreprocess(entry.preprocess, squareSide(model, 'evaluation'), model.inChans),
    (files) => o.log?.(`skipped ${files.length} corrupt image(s): ${files.slice(0, 5).join(', ')}`),
  );
  const side = squareSide(model, 'evaluation');
  if (data.inChans !== model.inChans || data.imgSize !== side) {
    throw new FlattenError(
      'BAD_CONFIG',
      `model '${o.model}' takes ${model.inChans}×${side}×${side} images but ${data.name} gives ${data.inChans}×${data.imgSize}×${data.imgSize}`,
    );
  }
  if (o.classifier) {
    const c = await o.classifier(model, weights);
    try {
      return { ...(await evaluateLogits(data, o.batchSize, model.numClasses, c)), split };
    } finally {
      await c.release();
    }
  }
  await initTfjs();
  const live = new LiveWeights(model.table, weights);
  try {
    return { ...(await evaluate(model, live.evalCtx(), data, o.batchSize)), split };
  } finally {
    live.dispose();
  }
}
