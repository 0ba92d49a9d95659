import type { Command } from 'commander';
import { runCase, type CaseConfig } from '../../api/forward.js';
import { readJsonFile } from '../../io/json.js';
import { readNpyFile, writeNpyFile } from '../../io/npy.js';
import { FlattenError } from '../../core/errors.js';
import { action, parseEngineOption } from '../run.js';

interface ForwardOpts {
  config: string;
  checkpoint?: string;
  input: string;
  output: string;
  features?: string;
  engine: string;
  strict: boolean;
}

/** `flatten forward`: one case in the golden format (config.json + checkpoint + input.npy → output.npy). */
export function registerForward(program: Command): void {
  program
    .command('forward')
    .description('run one model or attention module on an .npy input (the golden-case format)')
    .requiredOption('--config <config.json>', 'case config: {kind, family, constructor, kwargs}')
    .option('--checkpoint <file>', 'weights (.pth or .safetensors); random weights when omitted')
    .requiredOption('--input <in.npy>', 'input tensor: images (B,3,H,W) or tokens (B,N,C)')
    .requiredOption('--output <out.npy>', 'where to write the output (logits for models)')
    .option('--features <file.npy>', 'models: also write the pooled features fed to the head')
    .option('--engine <name>', 'tfjs or onnx', parseEngineOption, 'tfjs')
    .option('--no-strict', 'allow missing and unexpected checkpoint keys')
    .action(
      action(async (o: ForwardOpts) => {
        const config = readJsonFile<CaseConfig>(o.config);
        if (typeof config !== 'object' || config === null)
          throw new FlattenError('BAD_CONFIG', `${o.config}: expected a JSON object`);
        const input = readNpyFile(o.input);
        const r = await runCase(config, o.checkpoint, input, { engine: o.engine, strict: o.strict });
        if (o.features && !r.features)
          throw new FlattenError('BAD_ARGUMENT', '--features applies to whole models only, not attention cases');
        writeNpyFile(o.output, r.output);
        if (o.features && r.features) writeNpyFile(o.features, r.features);
      }),
    );
}
