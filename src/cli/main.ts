import { Command, CommanderError } from 'commander';
import { registerExport } from './commands/export.js';
import { registerForward } from './commands/forward.js';
import { registerInfo } from './commands/info.js';
import { registerList } from './commands/list.js';
import { registerClassify } from './commands/classify.js';
import { registerConvert } from './commands/convert.js';
import { registerAnalysis } from './commands/analysis.js';
import { registerDemo } from './commands/demo.js';
import { registerTrain } from './commands/train.js';
import { registerEval } from './commands/eval.js';
import { registerFuseWasm } from './commands/fuse_wasm.js';

// `flatten list | head` closes the pipe early: that is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command();
program
  .name('flatten')
  .description(
    'FLatten Transformer in TypeScript: run, inspect and export focused-linear-attention vision transformers',
  )
  .showHelpAfterError('(run with --help for usage)')
  // usage errors (a bad option value included) are one line, like every other error, with exit code 1
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'flatten: error: ')) })
  .exitOverride();

registerExport(program);
registerForward(program);
registerInfo(program);
registerList(program);
registerClassify(program);
registerAnalysis(program);
registerDemo(program);
registerTrain(program);
registerEval(program);
registerConvert(program);
registerFuseWasm(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // commander has printed its message; --help and --version end here too, with exit code 0
  if (!(e instanceof CommanderError)) throw e;
  process.exitCode = e.exitCode;
}
