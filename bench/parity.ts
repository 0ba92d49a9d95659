/**
 * Golden parity table: every case of ../shared/golden (official PyTorch outputs on real .pth files) through the
 * `flatten forward` code path on both engines; prints the worst |y − ref| of the output (and pooled features).
 *
 *   npx tsx bench/parity.ts
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCase, type CaseConfig } from '../src/api/forward.js';
import type { TensorData } from '../src/core/tensor.js';
import { readJsonFile } from '../src/io/json.js';
import { readNpyFile } from '../src/io/npy.js';
import { markdownTable } from './report.js';

const GOLDEN = fileURLToPath(new URL('../../shared/golden/', import.meta.url));

function maxError(y: TensorData, ref: TensorData): number {
  const [a, b] = [y.data as Float32Array, ref.data as Float32Array];
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const rows: string[][] = [];
for (const name of readdirSync(GOLDEN)
  .filter((n) => existsSync(`${GOLDEN}${n}/config.json`))
  .sort()) {
  const dir = `${GOLDEN}${name}/`;
  const config = readJsonFile<CaseConfig>(`${dir}config.json`);
  const row = [name];
  for (const engine of ['tfjs', 'onnx']) {
    const r = await runCase(config, `${dir}checkpoint.pth`, readNpyFile(`${dir}input.npy`), { engine });
    let cell = maxError(r.output, readNpyFile(`${dir}output.npy`)).toExponential(1);
    if (r.features) cell += ` / ${maxError(r.features, readNpyFile(`${dir}features.npy`)).toExponential(1)}`;
    row.push(cell);
  }
  rows.push(row);
}
console.log(markdownTable(['case', 'tfjs max error (output / features)', 'onnx max error'], rows));
console.log(`\n${new Date().toISOString()}`);
