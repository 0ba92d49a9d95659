import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FlattenError } from '../core/errors.js';
import type { StateDict, TensorData } from '../core/tensor.js';
import type { Dataset } from '../data/dataset.js';
import { ArrayDataset } from '../data/array_dataset.js';
import { folderPreprocess, heldOutSplit, openDataset } from '../data/open.js';
import { defaultThreads } from '../core/threads.js';
import { initTfjs } from '../engines/tfjs/backend.js';
import type { TfjsBackend } from '../engines/tfjs/backend_name.js';
import { optimizerState, restoreOptimizer } from './optim_state.js';
import { appendFileText, ensureOutputDir } from '../io/files.js';
import { writeSafetensorsFile } from '../io/safetensors.js';
import { buildNamed } from '../models/build.js';
import { squareSide, type VisionModel } from '../models/model.js';
import { registryEntry } from '../models/registry.js';
import { initWeights } from '../nn/init.js';
import { bindStateDict } from '../nn/state.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { evaluateLogits, onnxClassifier } from './eval_logits.js';
import { topkHits } from './loss.js';
import { batchGrads, GradientWorkers } from './workers.js';
import { OnnxGradients } from './onnx_grads.js';
import { AdamW, applyStep } from './optim.js';
import { LiveWeights } from './params.js';
import { loadPretrained } from './pretrained.js';
import { ProgressBar } from './progress.js';
import { Rng } from '../core/rng.js';
import { cosineLr } from './schedule.js';
import { TRAIN_DEFAULTS } from './defaults.js';
import { loadCheckpoint, RUN_FILES, saveCheckpoint, tidyRunDir, weightsMetadata, type TrainState } from './state.js';

export interface TrainOptions {
  model: string;
  /** Registry kwargs overrides (attn_type, drop_path_rate, num_classes, …). */
  kwargs: Record<string, unknown>;
  dataset: string;
  out: string;
  /** With resume, a larger count extends the run and 0 keeps the stored one. */
  epochs: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmupEpochs: number;
  weightDecay: number;
  labelSmoothing: number;
  clipGrad: number;
  seed: number;
  /** Train on the first N images of each class only (class-balanced subset). */
  trainPerClass?: number;
  /** Evaluate on the first N images of each class of the held-out split only. */
  testPerClass?: number;
  /** Evaluate on the held-out split every n epochs (and always after the last). */
  evalEvery: number;
  evalBatchSize: number;
  /** Official-format checkpoint to fine-tune from (its head is replaced by a fresh one). */
  pretrained?: string;
  backend?: TfjsBackend;
  /** Split each batch into micro-batches of this many images (same gradient, less activation memory). */
  microBatch?: number;
  /**
   * Where the gradients and the per-epoch evaluation are computed: ONNX Runtime graphs (forward, loss and
   * backward as one graph, on `threads` intra-op threads; default, see TRAIN_DEFAULTS) or the tfjs engine (with
   * threads − 1 gradient workers). The optimizer, schedule, checkpoints and resume are the same either way;
   * not part of the recipe, so a resumed run may change it.
   */
  engine?: 'tfjs' | 'onnx';
  /** CPU threads: this one plus threads − 1 gradient workers (default FLATTEN_THREADS, else every core). Not part of the recipe: a resumed run may change it. */
  threads?: number;
  /** Start a new run in an --out folder that holds one (its files are replaced as the new run saves). */
  overwrite?: boolean;
}

export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  train_loss: number;
  train_top1: number;
  images_per_sec: number;
  epoch_seconds: number;
  peak_rss_mb: number;
  test?: EvalResult;
}

export interface TrainResult {
  status: 'done' | 'interrupted';
  /** The engine that computed the gradients and the evaluations. */
  engine: 'tfjs' | 'onnx';
  epoch: number;
  stepInEpoch: number;
  history: EpochMetrics[];
  best: TrainState['best'];
  dir: string;
}

export interface TrainHooks {
  /** Polled after every step; when it returns true the run checkpoints and returns 'interrupted'. */
  shouldStop?: () => boolean;
  progress?: ProgressBar;
  log?: (msg: string) => void;
}

/** Checks that a dataset can feed a model (channels, size, classes). */
function checkFit(model: VisionModel, data: Dataset, name: string): void {
  const side = squareSide(model, 'training');
  if (data.inChans !== model.inChans || data.imgSize !== side) {
    throw new FlattenError(
      'BAD_CONFIG',
      `model '${name}' takes ${model.inChans}×${side}×${side} images but ${data.name} gives ${data.inChans}×${data.imgSize}×${data.imgSize}`,
    );
  }
  if (data.classes.length > model.numClasses) {
    throw new FlattenError(
      'BAD_CONFIG',
      `${data.name} has ${data.classes.length} classes but model '${name}' has ${model.numClasses} outputs; pass --num-classes ${data.classes.length}`,
    );
  }
}

function subsetOf(data: Dataset, perClass: number, option: string): Dataset {
  if (!(data instanceof ArrayDataset))
    throw new FlattenError('BAD_ARGUMENT', `${option} applies to fashion-mnist only`);
  return data.subset(perClass);
}

let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

/**
 * Train (or resume, or fine-tune) a registry model on ONNX Runtime or tfjs. Writes a checkpoint
 * (`last.safetensors` + `state.json`, one atomic unit: see saveCheckpoint) after every epoch and when
 * stopped, `best.safetensors` on a new best held-out top-1, and one JSON line per epoch to `metrics.jsonl`.
 * Data order, augmentation and drop path are functions of (seed, epoch, step), so a resumed run continues
 * exactly where it stopped, even after a hard kill.
 */
export async function train(options: TrainOptions, resume: boolean, hooks: TrainHooks = {}): Promise<TrainResult> {
  const log = hooks.log ?? ((m: string) => console.error(m));
  ensureOutputDir(options.out, '--out');
  // a new run never silently replaces an old one's checkpoints and metrics
  const previous =
    resume || options.overwrite ? [] : Object.values(RUN_FILES).filter((f) => existsSync(join(options.out, f)));
  if (previous.length)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `--out ${options.out} already holds a training run (${previous.join(', ')}): continue it with --resume, or start again with --overwrite`,
    );
  const checkpoint = resume ? loadCheckpoint(options.out) : undefined;
  const state = checkpoint?.state;
  let o = options;
  if (state) {
    if (state.model !== options.model)
      throw new FlattenError(
        'BAD_CONFIG',
        `--resume: ${options.out} holds a '${state.model}' run, not '${options.model}'`,
      );
    // the stored recipe wins, except that a resumed run may be extended with more epochs
    const stored = state.options as unknown as TrainOptions;
    o = {
      ...stored,
      epochs: options.epochs || stored.epochs,
      out: options.out,
      threads: options.threads,
      engine: options.engine,
    };
  }
  await initTfjs(o.backend);
  const entry = registryEntry(o.model);
  const kwargs = state?.kwargs ?? o.kwargs;
  const model = buildNamed(o.model, kwargs);
  const onCorrupt = (files: string[]) =>
    log(`skipped ${files.length} corrupt image(s): ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''}`);
  let trainSet = await openDataset(
    o.dataset,
    'train',
    folderPreprocess(entry.preprocess, squareSide(model, 'training'), model.inChans),
    onCorrupt,
  );
  if (o.trainPerClass) trainSet = subsetOf(trainSet, o.trainPerClass, '--train-per-class');
  let testSet = await openDataset(
    o.dataset,
    heldOutSplit(o.dataset),
    folderPreprocess(entry.preprocess, squareSide(model, 'training'), model.inChans),
    onCorrupt,
  );
  if (o.testPerClass) testSet = subsetOf(testSet, o.testPerClass, '--test-per-class');
  checkFit(model, trainSet, o.model);

  let weights: Map<string, TensorData>;
  if (checkpoint) weights = loadRunWeights(model, checkpoint.weights, join(o.out, RUN_FILES.weights));
  else if (o.pretrained) weights = loadPretrained(model.table, o.pretrained, o.seed);
  else weights = initWeights(model.table, o.seed);

  const live = new LiveWeights(model.table, weights);
  const opt = new AdamW(live.params, { lr: o.lr, weightDecay: o.weightDecay, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  if (checkpoint) restoreOptimizer(opt, checkpoint.state.optimizer, join(o.out, RUN_FILES.state));

  const B = o.batchSize;
  const stepsPerEpoch = Math.floor(trainSet.size / B);
  if (stepsPerEpoch < 1)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `--batch-size ${B} is larger than the training set (${trainSet.size} images)`,
    );
  const totalSteps = o.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(o.warmupEpochs * stepsPerEpoch);
  let epoch = state?.epoch ?? 0;
  let stepInEpoch = state?.stepInEpoch ?? 0;
  let globalStep = state?.globalStep ?? 0;
  let partial = state?.partial ?? { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  let best = state?.best ?? null;
  const history: EpochMetrics[] = [];
  const { model: name } = o;
  const metricsPath = join(o.out, RUN_FILES.metrics);
  tidyRunDir(o.out, globalStep);

  // (ep, st): the epoch in progress and its batches done, i.e. where a resume starts
  const snapshot = async (ep: number, st: number): Promise<TrainState> => ({
    format: 'flatten-train-state',
    version: 2,
    model: name,
    kwargs,
    dataset: o.dataset,
    options: o as unknown as Record<string, unknown>,
    epoch: ep,
    stepInEpoch: st,
    globalStep,
    rng: { seed: o.seed, epoch: ep, step: st },
    partial,
    best,
    optimizer: await optimizerState(opt),
  });
  const save = async (ep: number, st: number) => saveCheckpoint(o.out, await live.stateDict(), await snapshot(ep, st));

  const threads = o.threads ?? defaultThreads();
  const engine = o.engine ?? TRAIN_DEFAULTS.engine;
  const onnx =
    engine === 'onnx' ? await OnnxGradients.create(model, { batch: B, micro: o.microBatch, threads }) : undefined;
  // tfjs-wasm computes on one thread: every other core gets a gradient worker (see workers.ts)
  const pool =
    threads > 1 && !onnx ? await GradientWorkers.start(threads - 1, o.model, kwargs, o.backend, weights) : undefined;
  const evalSplit = async (): Promise<EvalResult> => {
    if (!onnx) return evaluate(model, live.evalCtx(), testSet, o.evalBatchSize);
    const c = await onnxClassifier(model, await live.stateDict(), { name, threads });
    try {
      const { top1, top5, loss, images } = await evaluateLogits(testSet, o.evalBatchSize, model.numClasses, c);
      return { top1, top5, loss, images };
    } finally {
      await c.release();
    }
  };
  try {
    for (; epoch < o.epochs; epoch++, stepInEpoch = 0) {
      const order = Rng.derive(o.seed, epoch).permutation(trainSet.size);
      for (; stepInEpoch < stepsPerEpoch; stepInEpoch++) {
        if (hooks.shouldStop?.()) {
          await save(epoch, stepInEpoch);
          log(
            `stopped at epoch ${epoch + 1}, step ${stepInEpoch}/${stepsPerEpoch}; checkpoint saved in ${o.out} (continue with --resume)`,
          );
          return { status: 'interrupted', engine, epoch, stepInEpoch, history, best, dir: o.out };
        }
        const t0 = performance.now();
        const batch = await trainSet.load(
          order.subarray(stepInEpoch * B, (stepInEpoch + 1) * B),
          Rng.derive(o.seed, epoch, stepInEpoch, 1),
        );
        const lr = cosineLr(globalStep, totalSteps, warmupSteps, o.lr, o.minLr);
        const step = {
          x: batch.x,
          y: batch.y,
          smoothing: o.labelSmoothing,
          dropKeys: [o.seed, epoch, stepInEpoch, 2],
          micro: o.microBatch,
        };
        const { loss, logits, grads } = onnx ? await onnx.grads(live, step) : await batchGrads(pool, model, live, step);
        if (!Number.isFinite(loss)) {
          tf.dispose([...grads.values()]);
          throw new FlattenError(
            'BAD_ARGUMENT',
            `loss became ${loss} at epoch ${epoch + 1}, step ${stepInEpoch}; training stopped without saving this step. The last good checkpoint is ${join(o.out, RUN_FILES.weights)} (try a lower --lr or --clip-grad)`,
          );
        }
        applyStep(opt, grads, lr, o.clipGrad);
        pool?.sync(live.paramValues());
        const hits = topkHits(logits, model.numClasses, batch.y);
        globalStep++;
        partial.lossSum += loss * batch.size;
        partial.correct += hits.top1;
        partial.seen += batch.size;
        partial.seconds += (performance.now() - t0) / 1000;
        sampleRss();
        const ips = partial.seen / partial.seconds;
        hooks.progress?.update({
          epoch: epoch + 1,
          epochs: o.epochs,
          step: stepInEpoch + 1,
          steps: stepsPerEpoch,
          loss: partial.lossSum / partial.seen,
          acc: partial.correct / partial.seen,
          lr,
          imagesPerSec: ips,
          etaSec: ((totalSteps - globalStep) * B) / ips,
        });
      }
      const m: EpochMetrics = {
        epoch: epoch + 1,
        step: globalStep,
        lr: cosineLr(globalStep - 1, totalSteps, warmupSteps, o.lr, o.minLr),
        train_loss: partial.lossSum / partial.seen,
        train_top1: partial.correct / partial.seen,
        images_per_sec: partial.seen / partial.seconds,
        epoch_seconds: partial.seconds,
        peak_rss_mb: Math.round(peakRss / 2 ** 20),
      };
      if ((epoch + 1) % o.evalEvery === 0 || epoch + 1 === o.epochs) {
        m.test = await evalSplit();
        if (!best || m.test.top1 > best.top1) {
          best = { top1: m.test.top1, epoch: epoch + 1 };
          writeSafetensorsFile(
            join(o.out, RUN_FILES.best),
            await live.stateDict(),
            weightsMetadata({ model: name, kwargs, globalStep }),
          );
        }
      }
      history.push(m);
      appendFileText(metricsPath, `${JSON.stringify(m)}\n`);
      hooks.progress?.log(
        `epoch ${m.epoch}/${o.epochs}: train loss ${m.train_loss.toFixed(4)} top-1 ${(100 * m.train_top1).toFixed(2)}%` +
          (m.test
            ? `, ${testSet.split} loss ${m.test.loss.toFixed(4)} top-1 ${(100 * m.test.top1).toFixed(2)}% top-5 ${(100 * m.test.top5).toFixed(2)}%`
            : '') +
          `, ${m.images_per_sec.toFixed(1)} img/s`,
      );
      partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      await save(epoch + 1, 0);
    }
    return { status: 'done', engine, epoch, stepInEpoch: 0, history, best, dir: o.out };
  } finally {
    await pool?.close();
    await onnx?.release();
    opt.dispose();
    live.dispose();
  }
}

/** The weights of an interrupted run: they must be exactly this model's (named key errors otherwise). */
function loadRunWeights(model: VisionModel, sd: StateDict, source: string): Map<string, TensorData> {
  return bindStateDict(model.table, sd, { strict: true, source }).weights;
}
