import type { Command } from 'commander';
import { describeModels } from '../../api/registry.js';
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
        const rows = describeModels();
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
