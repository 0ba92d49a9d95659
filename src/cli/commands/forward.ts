import type { Command } from 'commander';
import { forwardFiles, type ForwardFilesOptions } from '../../api/forward.js';
import { action, parseEngineOption, parseImgSize } from '../run.js';

/** The options as commander parses them: the API's, with the engine always set (its default). */
type ForwardOpts = ForwardFilesOptions & { engine: string };

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
    .option(
      '--img-size <H[,W]>',
      "models: run at this size (position tables resampled), not the config's own",
      parseImgSize,
    )
    .option('--stages <prefix>', "models: also write stage i's NCHW feature map to <prefix>i.npy")
    .option('--engine <name>', 'tfjs or onnx', parseEngineOption, 'tfjs')
    .option('--no-strict', 'allow missing and unexpected checkpoint keys')
    .action(
      action(async (o: ForwardOpts) => {
        const written = await forwardFiles(o);
        console.log(`wrote ${written.map((w) => `${w.path} (${w.shape.join('×')})`).join(' and ')} on ${o.engine}`);
      }),
    );
}
