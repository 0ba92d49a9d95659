import type { Command } from 'commander';
import { DEMO_MODEL } from '../../apps/demo/model.js';
import { importWith, TFJS_PACKAGES } from '../../core/optional.js';
import { action } from '../run.js';

/** `flatten demo`: the main job on the embedded model, no downloads, no user files. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(`evaluate, classify and analyse the embedded ${DEMO_MODEL} model; writes an HTML report`)
    .option('--out <dir>', 'report folder', 'flatten-demo')
    .action(
      action(async (o: { out: string }) => {
        // tfjs, onnxruntime and the Fashion-MNIST data load here
        const { runDemo } = await importWith(() => import('../../apps/demo/demo.js'), 'flatten demo', TFJS_PACKAGES);
        const r = await runDemo(o.out, (line) => console.log(line));
        const f = (v: number | null) => (v === null ? '–' : v.toFixed(3));
        console.log(
          `focus (mean row entropy, nats): focused ${f(r.entropy.focused)} < plain linear ${f(r.entropy.linear)}; softmax ${f(r.entropy.softmax)}`,
        );
        console.log(`report: ${o.out}/index.html (${r.seconds.toFixed(1)} s)`);
      }),
    );
}
