import type { Command } from 'commander';
import { exportOnnx, ortOptimizedOps } from '../../api/export.js';
import { FlattenError } from '../../core/errors.js';
import { writeFileAtomic } from '../../io/files.js';
import { readJsonFile } from '../../io/json.js';
import type { ModelSpec } from '../../models/build.js';
import { OPSET } from '../../engines/onnx/graph.js';
import { opHistogram } from '../../engines/onnx/inspect.js';
import { GRAPH_OPTIMIZATION_LEVEL } from '../../engines/onnx/session.js';
import { action, parseIntOption } from '../run.js';

interface ExportOpts {
  config?: string;
  checkpoint?: string;
  resolution?: number;
  output: string;
  strict: boolean;
  check: boolean;
}

const histogram = (ops: string[]) =>
  Object.entries(opHistogram(ops))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

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
    .option(
      '--resolution <R>',
      'input side in pixels, baked into the graph (default: the model’s own)',
      parseIntOption('--resolution'),
    )
    .requiredOption('--output <model.onnx>', 'where to write the model')
    .option('--no-strict', 'allow missing and unexpected checkpoint keys')
    .option('--no-check', 'skip loading the result in onnxruntime (which also counts its optimized nodes)')
    .action(
      action(async (name: string, o: ExportOpts) => {
        const config = o.config ? readJsonFile<ModelSpec>(o.config) : undefined;
        if (o.config && (typeof config !== 'object' || config === null))
          throw new FlattenError('BAD_CONFIG', `${o.config}: expected a JSON object`);
        const r = exportOnnx({ name, config, checkpoint: o.checkpoint, resolution: o.resolution, strict: o.strict });
        writeFileAtomic(o.output, r.bytes);
        const res = r.model.imgSize;
        console.log(
          `wrote ${o.output} (${(r.bytes.length / 2 ** 20).toFixed(1)} MiB): ${name} at ${res}×${res}, input 'input' (batch, ${r.model.inChans}, ${res}, ${res}), outputs 'logits' and 'features', opset ${OPSET}`,
        );
        const ops = r.proto.nodes.map((n) => n.op);
        console.log(`graph: ${ops.length} nodes, ${r.proto.initializers.length} initializers: ${histogram(ops)}`);
        if (o.check) {
          const opt = await ortOptimizedOps(r.bytes, { threads: 1 });
          console.log(
            `onnxruntime-node, graph optimization level '${GRAPH_OPTIMIZATION_LEVEL}': ${opt.length} nodes: ${histogram(opt)}`,
          );
        }
      }),
    );
}
