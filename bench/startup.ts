/**
 * Start-up cost of the CLI: whole processes of `flatten info flatten_swin_t --json` against `node -e ''`, run in
 * alternating pairs so that both sides see the same host phases. Reports the median of the pair differences.
 *
 *   npx tsx bench/startup.ts [--pairs 9] [--command "info flatten_swin_t --json"]
 *
 * Runs the compiled CLI (bin/flatten.js → dist/), so build first (`npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { markdownTable, median } from './report.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const pairs = Number(flag('--pairs', '9'));
const command = flag('--command', 'info flatten_swin_t --json').split(' ');
const bin = fileURLToPath(new URL('../bin/flatten.js', import.meta.url));

function wallMs(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const cli: number[] = [];
const bare: number[] = [];
for (let i = 0; i < pairs; i++) {
  cli.push(wallMs([bin, ...command]));
  bare.push(wallMs(['-e', '']));
}
const diffs = cli.map((c, i) => c - bare[i]);
const f = (v: number) => (v / 1000).toFixed(3);
console.log(
  markdownTable(
    ['process', 'median s', 'min s', 'max s'],
    [
      [`flatten ${command.join(' ')}`, f(median(cli)), f(Math.min(...cli)), f(Math.max(...cli))],
      ["node -e ''", f(median(bare)), f(Math.min(...bare)), f(Math.max(...bare))],
      ['difference (per pair)', f(median(diffs)), f(Math.min(...diffs)), f(Math.max(...diffs))],
    ],
  ),
);
console.log(`\n${pairs} alternating pairs; ${new Date().toISOString()}`);
