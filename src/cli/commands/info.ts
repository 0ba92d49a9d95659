import type { Command } from 'commander';
import { modelInfo } from '../../api/info.js';
import { action, imgSizeOf, parseImgSize, parseIntOption } from '../run.js';
import { formatTable } from '../table.js';

/** `flatten info <name>`: parameters, MACs (conv, linear and matmul) and a per-stage table. */
export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('parameter count, MACs and per-stage cost of a registry model')
    .argument('<name>', 'registry name, e.g. flatten_swin_t (see `flatten list`)')
    .option('--img-size <H[,W]>', 'input size in pixels (default: the model’s own)', parseImgSize)
    .option('--resolution <R>', 'the same as --img-size R,R', parseIntOption('--resolution'))
    .option('--json', 'print JSON')
    .action(
      action((name: string, o: { imgSize?: [number, number]; resolution?: number; json?: boolean }) => {
        const info = modelInfo(name, { imgSize: imgSizeOf(o) });
        if (o.json) {
          console.log(JSON.stringify({ name, ...info }, null, 2));
          return;
        }
        console.log(
          `${name}: ${info.parameters.toLocaleString('en-US')} parameters, ${(info.macs / 1e9).toFixed(3)} GMACs at ${info.resolution.join('×')}`,
        );
        console.log(
          formatTable(
            ['part', 'parameters', 'GMACs'],
            info.stages.map((s) => [s.name, s.parameters.toLocaleString('en-US'), (s.macs / 1e9).toFixed(3)]),
          ),
        );
      }),
    );
}
