import type { Command } from 'commander';
import { parseDtypeList, type ModelDType } from '../../api/dtype.js';
import { EXPORT_TARGETS, exportOnnxFile, MODEL_INPUT, WEB_LAYERNORM_MIN, type ExportTarget } from '../../api/export.js';
import { exportModelFolder } from '../../api/folder.js';
import { FlattenError } from '../../core/errors.js';
import { action, imgSizeOf, parseChoice, parseImgSize, parseIntOption, warn } from '../run.js';

interface ExportOpts {
  config?: string;
  checkpoint?: string;
  imgSize?: [number, number];
  resolution?: number;
  format?: 'onnx' | 'folder';
  dtype?: string;
  output?: string;
  out?: string;
  overwrite?: boolean;
  strict: boolean;
  check: boolean;
  optimize?: boolean;
  target?: ExportTarget;
}

const mib = (bytes: number) =>
  bytes < 2 ** 20 ? `${(bytes / 2 ** 10).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const randomWarning = (name: string, what: string) =>
  warn(`${name} has no weights here; ${what} RANDOM weights (pass --checkpoint)`);

/** --format and the output option agree: one .onnx file with --output, a folder with --out. */
function outputOf(o: ExportOpts): { format: 'onnx' | 'folder'; dtypes?: ModelDType[] } {
  const format = o.format ?? (o.out !== undefined ? 'folder' : 'onnx');
  if (format !== 'onnx' && format !== 'folder')
    throw new FlattenError('BAD_ARGUMENT', `--format '${String(format)}': available: onnx, folder`);
  if (
    format === 'folder' ? o.out === undefined || o.output !== undefined : o.output === undefined || o.out !== undefined
  )
    throw new FlattenError(
      'BAD_ARGUMENT',
      format === 'folder'
        ? '--format folder writes the folder given by --out <dir> (not --output)'
        : 'give --output <model.onnx> (or --format folder --out <dir>)',
    );
  if (o.overwrite && format === 'onnx')
    throw new FlattenError(
      'BAD_ARGUMENT',
      '--overwrite applies to --out folders (an .onnx file is replaced atomically)',
    );
  const dtypes = o.dtype === undefined ? undefined : parseDtypeList(o.dtype);
  if (format === 'onnx' && dtypes && dtypes.length > 1)
    throw new FlattenError(
      'BAD_ARGUMENT',
      `--dtype ${o.dtype}: one .onnx file holds one dtype; use --format folder --out <dir> for several`,
    );
  return { format, dtypes };
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
    .option('--output <model.onnx>', 'write one .onnx file')
    .option(
      '--format <onnx|folder>',
      'one .onnx file, or a folder that transformers.js loads (default: by --output/--out)',
    )
    .option('--out <dir>', 'the folder of --format folder: config.json, preprocessor_config.json, onnx/model*.onnx')
    .option('--dtype <list>', 'fp32, fp16, q8, q4; a comma list for a folder (default fp32)')
    .option(
      '--target <node|web>',
      'the runtime the graph is written for: web writes large LayerNorms as elementwise ops, which onnxruntime-web runs faster (default node)',
      parseChoice('targets', EXPORT_TARGETS),
    )
    .option('--overwrite', 'replace an --out folder that is not empty')
    .option('--no-strict', 'allow missing and unexpected checkpoint keys')
    .option(
      '--optimize',
      "write the graph as onnxruntime-node optimizes it at level 'extended' (portable; onnxruntime-web then skips its optimizer, a faster first prediction in a page)",
    )
    .option('--no-check', 'skip loading the result in onnxruntime (which also counts its optimized nodes)')
    .action(
      action(async (name: string, o: ExportOpts) => {
        const { format, dtypes } = outputOf(o);
        if (o.optimize && format === 'folder')
          throw new FlattenError('BAD_ARGUMENT', '--optimize applies to one .onnx file (--output), not to folders');
        const imgSize = imgSizeOf(o);
        if (format === 'folder') {
          const f = await exportModelFolder({ name, ...o, out: o.out!, dtypes, imgSize });
          if (f.weights === 'random') randomWarning(name, 'the folder holds');
          const total = f.files.reduce((a, x) => a + x.bytes, 0);
          console.log(
            `wrote ${f.out.replace(/\/+$/, '')}/ (${mib(total)}): ${name}, input '${MODEL_INPUT}', outputs 'logits' and 'pooler_output'`,
          );
          for (const x of f.files)
            console.log(`  ${x.path.padEnd(28)} ${mib(x.bytes).padStart(9)}${x.dtype ? `  ${x.dtype}` : ''}`);
          return;
        }
        const r = await exportOnnxFile({ name, ...o, output: o.output!, dtype: dtypes?.[0], imgSize });
        if (r.weights === 'random') randomWarning(name, 'the file holds');
        const {
          imgSize: [h, w],
          inChans,
        } = r.model;
        console.log(
          `wrote ${r.output} (${mib(r.bytes)}): ${name} at ${h}×${w}, input '${MODEL_INPUT}' ` +
            `(batch, ${inChans}, ${h}, ${w}), outputs 'logits' and 'pooler_output', opset ${r.opset}`,
        );
        console.log(`graph: ${count(r.written)} nodes, ${r.initializers} initializers: ${histogram(r.written)}`);
        if (r.target === 'web')
          console.log(
            `written for onnxruntime-web: LayerNorms of ≥ ${WEB_LAYERNORM_MIN} elements a sample as elementwise ops ` +
              `(${r.written.LayerNormalization ?? 0} smaller ones kept as LayerNormalization)`,
          );
        if (r.webOptimized) console.log("written as onnxruntime-node optimized it at level 'extended' (for the web)");
        if (r.optimized)
          console.log(
            `onnxruntime-node, graph optimization level '${r.optimizationLevel}': ${count(r.optimized)} nodes: ` +
              histogram(r.optimized),
          );
      }),
    );
}
