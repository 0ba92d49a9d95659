import type { Command } from 'commander';
import { DATASETS, evalCheckpoint, type EvalOptions } from '../../api/train.js';
import { MODEL_DTYPES } from '../../api/export.js';
import { action, parseEngineOption, parseIntOption } from '../run.js';

interface EvalCliOpts extends Omit<EvalOptions, 'log'> {
  json?: boolean;
}

/** `flatten eval`: top-1, top-5 and loss of a checkpoint on a dataset split. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('top-1/top-5 accuracy and cross-entropy of a checkpoint on a dataset split')
    .requiredOption('--model <name>', 'registry name, e.g. flatten_deit_fmnist')
    .option('--checkpoint <file>', '.safetensors or .pth weights (default: the weights shipped for the model)')
    .requiredOption('--dataset <name|dir>', DATASETS)
    .option('--split <name>', 'test/train for fashion-mnist, val/train for image folders (default: the held-out one)')
    .option('--batch-size <n>', 'images per forward', parseIntOption('--batch-size'), 500)
    .option(
      '--num-classes <k>',
      "classifier outputs (default: from the checkpoint's head.weight)",
      parseIntOption('--num-classes'),
    )
    .option(
      '--engine <name>',
      'tfjs, or onnx (the model exported once, run on onnxruntime-node)',
      parseEngineOption,
      'tfjs',
    )
    .option('--dtype <type>', `with --engine onnx: ${MODEL_DTYPES.join(', ')} (default fp32)`)
    .option('--threads <n>', 'with --engine onnx: intra-op threads (default: every core)', parseIntOption('--threads'))
    .option('--json', 'print a JSON object (top1/top5 as fractions)')
    .action(
      action(async (o: EvalCliOpts) => {
        const r = await evalCheckpoint({ ...o, log: (m) => console.error(m) });
        if (o.json) {
          console.log(
            JSON.stringify({
              model: o.model,
              checkpoint: o.checkpoint,
              dataset: o.dataset,
              engine: o.engine ?? 'tfjs',
              dtype: o.dtype ?? 'fp32',
              split: r.split,
              images: r.images,
              top1: r.top1,
              top5: r.top5,
              loss: r.loss,
            }),
          );
          return;
        }
        console.log(
          `${o.model}${o.engine === 'onnx' ? ` (onnx ${o.dtype ?? 'fp32'})` : ''} on ${o.dataset} ${r.split} (${r.images} images): top-1 ${(100 * r.top1).toFixed(2)}%  top-5 ${(100 * r.top5).toFixed(2)}%  loss ${r.loss.toFixed(4)}`,
        );
      }),
    );
}
