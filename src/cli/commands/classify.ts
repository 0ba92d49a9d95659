import type { Command } from 'commander';
import { createModelFromConfig, warnIfRandom } from '../../api/model.js';
import { checkDType } from '../../api/dtype.js';
import { pipeline } from '../../api/pipeline.js';
import { FlattenError } from '../../core/errors.js';
import { action, parseEngineOption, parseIntOption, warn } from '../run.js';

interface ClassifyOpts {
  model?: string;
  config?: string;
  onnx?: string;
  checkpoint?: string;
  topK: number;
  engine: 'onnx' | 'tfjs';
  dtype?: string;
  threads?: number;
  json?: boolean;
}

/** `flatten classify <image…>`: top-k labels with the model's eval preprocessing, one batch. */
export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description(
      'classify images (JPEG/PNG/WebP…) with a registry model, a model config, an exported .onnx file or model folder',
    )
    .argument('<images...>', 'image files')
    .option('--model <name>', 'registry model, e.g. flatten_swin_t or flatten_deit_fmnist')
    .option('--config <config.json>', 'or a golden-format model config')
    .option('--onnx <model.onnx|dir>', 'or a model file or folder written by `flatten export`')
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); default: the weights shipped for the model')
    .option('--top-k <k>', 'how many classes to show', parseIntOption('--top-k'), 5)
    .option('--engine <name>', 'onnx or tfjs', parseEngineOption, 'onnx')
    .option('--dtype <dtype>', 'fp32 (default), fp16, q8 or q4: the export, or the folder’s file, to run (onnx engine)')
    .option('--threads <n>', 'ONNX Runtime threads (default: every core)', parseIntOption('--threads'))
    .option('--json', 'print JSON')
    .action(
      action(async (images: string[], o: ClassifyOpts) => {
        if ([o.model, o.config, o.onnx].filter(Boolean).length !== 1)
          throw new FlattenError('BAD_ARGUMENT', 'give exactly one of --model, --config and --onnx');
        if (o.onnx && o.checkpoint)
          throw new FlattenError('BAD_ARGUMENT', '--checkpoint does not apply to --onnx: the weights are in the file');
        const model = o.config ? createModelFromConfig(o.config, { checkpoint: o.checkpoint }) : (o.model ?? o.onnx!);
        const dtype = o.dtype === undefined ? undefined : checkDType(o.dtype, '--dtype');
        const classify = await pipeline('image-classification', model, { ...o, dtype, topK: o.topK });
        if (classify.model) warnIfRandom(classify.model, warn);
        try {
          const results = await classify(images);
          if (o.json) {
            const predictions = results.map((top, i) => ({ image: images[i], top }));
            console.log(
              JSON.stringify(
                { model: o.model ?? o.config ?? o.onnx, weights: classify.source, dtype: classify.dtype, predictions },
                null,
                2,
              ),
            );
            return;
          }
          results.forEach((top, i) => {
            console.log(images[i]);
            for (const t of top) console.log(`  ${(t.score * 100).toFixed(1).padStart(5)}%  ${t.label}`);
          });
        } finally {
          await classify.dispose();
        }
      }),
    );
}
