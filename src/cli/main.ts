import { Command } from 'commander';
import { registerForward } from './commands/forward.js';
import { registerInfo } from './commands/info.js';
import { registerList } from './commands/list.js';

const program = new Command();
program
  .name('flatten')
  .description('FLatten Transformer in TypeScript: run, inspect and export focused-linear-attention vision transformers')
  .showHelpAfterError('(run with --help for usage)');

registerForward(program);
registerInfo(program);
registerList(program);

await program.parseAsync(process.argv);
