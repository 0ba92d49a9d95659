import type { Command } from 'commander';
import { convertCheckpoint } from '../../api/convert.js';
import { action } from '../run.js';

/** `flatten convert <in> <out>`: checkpoints between .pth and .safetensors, for the official code and back. */
export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description(
      "a checkpoint between .pth and .safetensors (by extension); a .pth is written as torch.save's {'model': state_dict}",
    )
    .argument('<in>', 'a .pth/.pt or .safetensors file')
    .argument('<out>', 'the file to write: .pth/.pt or .safetensors')
    .option('--overwrite', 'replace <out> if it exists')
    .action(
      action((input: string, output: string, o: { overwrite?: boolean }) => {
        const r = convertCheckpoint({ input, output, overwrite: o.overwrite });
        console.log(`wrote ${output}: ${r.tensors} tensors, ${r.parameters} values (${r.from} → ${r.to})`);
      }),
    );
}
