import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportOnnx, type ExportSpec } from '../../src/api/export.js';
import type { TensorData } from '../../src/core/tensor.js';
import { readJsonFile } from '../../src/io/json.js';
import { readNpyFile } from '../../src/io/npy.js';
import type { ModelSpec } from '../../src/models/build.js';
import { GOLDEN_DIR } from '../golden.js';

export const tmp = () => mkdtempSync(join(tmpdir(), 'flatten-onnx-test-'));

/** A golden model case exported to a file, with its input and reference outputs. */
export function exportGolden(name: string, dir: string, extra: Partial<ExportSpec> = {}) {
  const g = `${GOLDEN_DIR}${name}/`;
  const r = exportOnnx({
    name,
    config: readJsonFile<ModelSpec>(`${g}config.json`),
    checkpoint: `${g}checkpoint.pth`,
    ...extra,
  });
  const file = join(dir, `${name}${extra.target ? `.${extra.target}` : ''}.onnx`);
  writeFileSync(file, r.bytes);
  return {
    file,
    export: r,
    input: readNpyFile(`${g}input.npy`),
    output: readNpyFile(`${g}output.npy`),
    features: readNpyFile(`${g}features.npy`),
  };
}

/** Rows [from, to) of the leading axis. */
export function rows(x: TensorData, from: number, to: number): TensorData {
  const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
  return {
    dtype: 'float32',
    shape: [to - from, ...x.shape.slice(1)],
    data: (x.data as Float32Array).slice(from * per, to * per),
  };
}

/** Concatenation along the leading axis. */
export function stack(xs: TensorData[]): TensorData {
  const data = new Float32Array(xs.reduce((n, x) => n + x.data.length, 0));
  let o = 0;
  for (const x of xs) {
    data.set(x.data as Float32Array, o);
    o += x.data.length;
  }
  return { dtype: 'float32', shape: [xs.reduce((n, x) => n + x.shape[0], 0), ...xs[0].shape.slice(1)], data };
}
