import type { Command } from 'commander';
import { exportOnnxFile, MODEL_INPUT } from '../../api/export.js';
import { action, imgSizeOf, parseImgSize, parseIntOption, warn } from '../run.js';

interface ExportOpts {
  config?: string;
  checkpoint?: string;
  imgSize?: [number, number];
  resolution?: number;
  output: string;
  strict: boolean;
  check: boolean;
}

const histogram = (h: Record<string, number>) =>
  Object.entries(h)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
const count = (h: Record<string, number>) => Object.values(h).reduce((a, b) => a + b, 0);

/** `flatten export`: one model as a self-contained `.onnx` file for onnxruntime (node or web). */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a model as ONNX (opset 17, dynamic batch, resolution fixed) for onnxruntime-node and -web')
    .argument('<name>', 'registry name (see `flatten list`); with --config, the name given to the exported model')
    .option(
      '--config <config.json>',
      'model description in the golden-case format {family, constructor, kwargs} instead of the registry entry',
    )
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); deterministic random weights when omitted')
    .option('--img-size <H[,W]>', 'input size in pixels, baked into the graph (default: the model’s own)', parseImgSize)
    .option('--resolution <R>', 'the same as --img-size R,R', parseIntOption('--resolution'))
    .requiredOption('--output <model.onnx>', 'where to write the model')
    .option('--no-strict', 'allow missing and unexpected checkpoint keys')
    .option('--no-check', 'skip loading the result in onnxruntime (which also counts its optimized nodes)')
    .action(
      action(async (name: string, o: ExportOpts) => {
        const r = await exportOnnxFile({ name, ...o, imgSize: imgSizeOf(o) });
        if (r.weights === 'random')
          warn(`${name} has no weights here; the file holds RANDOM weights (pass --checkpoint)`);
        const { imgSize: res, inChans } = r.model;
        console.log(
          `wrote ${r.output} (${(r.bytes / 2 ** 20).toFixed(1)} MiB): ${name} at ${res}×${res}, input '${MODEL_INPUT}' ` +
            `(batch, ${inChans}, ${res}, ${res}), outputs 'logits' and 'pooler_output', opset ${r.opset}`,
        );
        console.log(`graph: ${count(r.written)} nodes, ${r.initializers} initializers: ${histogram(r.written)}`);
        if (r.optimized)
          console.log(
            `onnxruntime-node, graph optimization level '${r.optimizationLevel}': ${count(r.optimized)} nodes: ` +
              histogram(r.optimized),
          );
      }),
    );
}
