import type { Command } from 'commander';
import { classify } from '../../api/classify.js';
import { loadModelArg, warnIfRandom } from '../../api/model.js';
import { action, parseEngineOption, parseIntOption, warn } from '../run.js';

/** `flatten classify <image…>`: top-k labels with the registry's eval preprocessing, one batch. */
export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('classify images (JPEG/PNG/WebP…) with a registry model')
    .argument('<images...>', 'image files')
    .option('--model <name>', 'registry model, e.g. flatten_swin_t or flatten_deit_fmnist')
    .option('--config <config.json>', 'or a golden-format model config')
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); default: the weights shipped for the model')
    .option('--top-k <k>', 'how many classes to show', parseIntOption('--top-k'), 5)
    .option('--engine <name>', 'tfjs or onnx', parseEngineOption, 'tfjs')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          images: string[],
          o: { model?: string; config?: string; checkpoint?: string; topK: number; engine: string; json?: boolean },
        ) => {
          const m = loadModelArg(o);
          warnIfRandom(m, warn);
          const preds = await classify(m, images, o.topK, o.engine);
          if (o.json) {
            console.log(JSON.stringify({ model: m.name, weights: m.source, predictions: preds }, null, 2));
            return;
          }
          for (const p of preds) {
            console.log(p.image);
            for (const t of p.top) console.log(`  ${(t.probability * 100).toFixed(1).padStart(5)}%  ${t.label}`);
          }
        },
      ),
    );
}
