import type { Command } from 'commander';
import { FlattenError } from '../../core/errors.js';
import { DATASETS, ProgressBar, train, TRAIN_DEFAULTS, type TrainOptions } from '../../api/train.js';
import { action, parseIntOption, parseNumberOption } from '../run.js';

interface TrainCliOpts {
  model: string;
  dataset: string;
  out?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  minLr?: number;
  warmupEpochs?: number;
  weightDecay?: number;
  labelSmoothing?: number;
  clipGrad?: number;
  dropPath?: number;
  seed?: number;
  trainPerClass?: number;
  evalEvery?: number;
  resume?: boolean;
  overwrite?: boolean;
  pretrained?: string;
  numClasses?: number;
  backend?: string;
  microBatch?: number;
  threads?: number;
  engine?: string;
}

/** `flatten train`: train, resume or fine-tune a registry model on ONNX Runtime (default) or tfjs. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(
      'train or fine-tune a model (AdamW, cosine schedule, label smoothing, drop path); Ctrl-C saves a checkpoint',
    )
    .requiredOption('--model <name>', 'registry name, e.g. flatten_deit_fmnist')
    .requiredOption('--dataset <name|dir>', DATASETS)
    .option('--out <dir>', 'run folder: last/best .safetensors, state.json, metrics.jsonl (default runs/<model>)')
    .option(
      '--epochs <n>',
      `epochs (default ${TRAIN_DEFAULTS.epochs}; with --resume, may extend the run)`,
      parseIntOption('--epochs'),
    )
    .option('--batch-size <n>', `batch size (default ${TRAIN_DEFAULTS.batchSize})`, parseIntOption('--batch-size'))
    .option('--lr <x>', `peak learning rate (default ${TRAIN_DEFAULTS.lr})`, parseNumberOption('--lr'))
    .option(
      '--min-lr <x>',
      `final learning rate of the cosine (default ${TRAIN_DEFAULTS.minLr})`,
      parseNumberOption('--min-lr'),
    )
    .option(
      '--warmup-epochs <x>',
      `linear warmup length (default ${TRAIN_DEFAULTS.warmupEpochs})`,
      parseNumberOption('--warmup-epochs'),
    )
    .option(
      '--weight-decay <x>',
      `AdamW decoupled weight decay (default ${TRAIN_DEFAULTS.weightDecay})`,
      parseNumberOption('--weight-decay'),
    )
    .option(
      '--label-smoothing <x>',
      `(default ${TRAIN_DEFAULTS.labelSmoothing})`,
      parseNumberOption('--label-smoothing'),
    )
    .option(
      '--clip-grad <x>',
      `max global gradient norm, 0 = off (default ${TRAIN_DEFAULTS.clipGrad})`,
      parseNumberOption('--clip-grad'),
    )
    .option(
      '--drop-path <x>',
      "stochastic depth rate of the last block (default: the model's drop_path_rate)",
      parseNumberOption('--drop-path'),
    )
    .option(
      '--seed <n>',
      'seed of init, data order, augmentation and drop path (default 0)',
      parseNumberOption('--seed'),
    )
    .option(
      '--train-per-class <n>',
      'fashion-mnist: train on the first n images of each class only',
      parseIntOption('--train-per-class'),
    )
    .option(
      '--eval-every <n>',
      'evaluate on the held-out split every n epochs (default 1)',
      parseIntOption('--eval-every'),
    )
    .option('--resume', 'continue the run in --out exactly where it stopped')
    .option('--overwrite', 'start a new run in an --out folder that already holds one')
    .option('--pretrained <file>', 'fine-tune from an official-format .pth or .safetensors (fresh head)')
    .option('--num-classes <k>', 'classifier outputs (a fresh head with --pretrained)', parseIntOption('--num-classes'))
    .option(
      '--micro-batch <n>',
      'accumulate gradients over micro-batches of n images: the same gradient with one micro-batch of activation memory (onnx: a graph of n images; tfjs-wasm has a 4 GB heap)',
      parseIntOption('--micro-batch'),
    )
    .option('--backend <name>', 'with --engine tfjs: wasm (default) or cpu')
    .option(
      '--engine <name>',
      `where gradients and evaluations are computed: onnx (forward, loss and backward as one ONNX Runtime graph; faster on every family) or tfjs (the reference) (default ${TRAIN_DEFAULTS.engine})`,
    )
    .option(
      '--threads <n>',
      'CPU threads: ORT intra-op threads, or with --engine tfjs this thread and n − 1 gradient workers (default: FLATTEN_THREADS, else every core)',
      parseIntOption('--threads'),
    )
    .action(
      action(async (o: TrainCliOpts) => {
        if (o.backend && o.backend !== 'wasm' && o.backend !== 'cpu')
          throw new FlattenError('BAD_ARGUMENT', `--backend must be wasm or cpu, got '${o.backend}'`);
        if (o.engine && o.engine !== 'tfjs' && o.engine !== 'onnx')
          throw new FlattenError('BAD_ARGUMENT', `--engine must be tfjs or onnx, got '${o.engine}'`);
        const kwargs: Record<string, unknown> = {};
        if (o.numClasses) kwargs.num_classes = o.numClasses;
        if (o.dropPath !== undefined) kwargs.drop_path_rate = o.dropPath;
        const opts: TrainOptions = {
          ...TRAIN_DEFAULTS,
          ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
          model: o.model,
          kwargs,
          dataset: o.dataset,
          out: o.out ?? `runs/${o.model}`,
          // a resumed run keeps its stored epoch count unless --epochs extends it
          epochs: o.epochs ?? (o.resume ? 0 : TRAIN_DEFAULTS.epochs),
          backend: o.backend as TrainOptions['backend'],
          engine: o.engine as TrainOptions['engine'],
        };
        let stop = false;
        const onStop = () => {
          // first Ctrl-C: finish the step and checkpoint; a second one exits at once (writes are atomic)
          if (stop) process.exit(130);
          stop = true;
          process.stderr.write('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n');
        };
        // SIGTERM too: job schedulers and `kill` stop runs with it, and a background shell ignores SIGINT
        process.on('SIGINT', onStop);
        process.on('SIGTERM', onStop);
        try {
          const r = await train(opts, !!o.resume, { shouldStop: () => stop, progress: new ProgressBar() });
          if (r.status === 'done')
            console.error(
              `done: ${r.dir} (engine ${r.engine}; best held-out top-1 ${r.best ? `${(100 * r.best.top1).toFixed(2)}% at epoch ${r.best.epoch}` : 'n/a'})`,
            );
          else process.exitCode = 130;
        } finally {
          process.off('SIGINT', onStop);
          process.off('SIGTERM', onStop);
        }
      }),
    );
}
