import type { Command } from 'commander';
import { buildNamed } from '../../models/build.js';
import { REGISTRY } from '../../models/registry.js';
import { action } from '../run.js';
import { formatTable } from '../table.js';

/** `flatten list`: every registry model. */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the registry of named models')
    .option('--json', 'print JSON')
    .action(
      action((o: { json?: boolean }) => {
        const rows = REGISTRY.map((e) => ({
          name: e.name,
          family: e.family,
          resolution: e.preprocess.imgSize,
          parameters: buildNamed(e.name).table.parameterCount(),
          released: e.released,
          description: e.description,
        }));
        if (o.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        console.log(
          formatTable(
            ['name', 'family', 'res', 'params', 'official ckpt', 'description'],
            rows.map((r) => [
              r.name,
              r.family,
              String(r.resolution),
              `${(r.parameters / 1e6).toFixed(1)}M`,
              r.released ? 'yes' : '',
              r.description,
            ]),
          ),
        );
      }),
    );
}
