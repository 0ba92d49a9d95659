import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { readNpyFile } from '../../src/io/npy.js';
import { nodeOpTypes } from '../../src/engines/onnx/inspect.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';
import { tmp } from './helpers.js';

// node with tsx's loader, not npx: npx may print warnings of its own on stderr
const flatten = (...args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** The commands as users type them. */
describe('flatten export / forward --engine onnx', () => {
  const dir = tmp();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const g = `${GOLDEN_DIR}pvt_sr8421_llss/`;

  it('forward --engine onnx writes the golden output', () => {
    const out = join(dir, 'out.npy');
    flatten(
      'forward',
      '--config',
      `${g}config.json`,
      '--checkpoint',
      `${g}checkpoint.pth`,
      '--input',
      `${g}input.npy`,
      '--output',
      out,
      '--engine',
      'onnx',
    );
    const { err, tol } = maxAbsError(readNpyFile(out), readNpyFile(`${g}output.npy`));
    expect(err).toBeLessThanOrEqual(tol);
  });

  it.each([[[]], [['--optimize']]])(
    'export %j writes a model onnxruntime runs, and reports node counts and the ORT level',
    async (extra: string[]) => {
      const file = join(dir, 'm.onnx');
      const log = flatten(
        'export',
        'pvt_sr8421_llss',
        '--config',
        `${g}config.json`,
        '--checkpoint',
        `${g}checkpoint.pth`,
        '--output',
        file,
        ...extra,
      );
      expect(log).toMatch(/graph: \d+ nodes/);
      expect(log).toMatch(/graph optimization level 'all': \d+ nodes/);
      // --optimize: the file holds ORT's 'extended' graph (its fusions), which still gives the golden logits
      expect(log.includes("optimized it at level 'extended'")).toBe(extra.length > 0);
      expect(nodeOpTypes(readFileSync(file)).some((o) => o.startsWith('com.microsoft.'))).toBe(extra.length > 0);
      const s = await ort.InferenceSession.create(file);
      const x = readNpyFile(`${g}input.npy`);
      const r = await s.run({ pixel_values: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
      const { err, tol } = maxAbsError(
        { dtype: 'float32', shape: [...r.logits.dims], data: r.logits.data as Float32Array },
        readNpyFile(`${g}output.npy`),
      );
      expect(err).toBeLessThanOrEqual(tol);
    },
  );

  it('a bad model name is one line on stderr and exit code 1', () => {
    let e: { status?: number; stderr?: string } = {};
    try {
      flatten('export', 'flatten_nope', '--output', join(dir, 'x.onnx'));
    } catch (err) {
      e = err as typeof e;
    }
    expect(e.status).toBe(1);
    expect(e.stderr?.trim().split('\n')).toHaveLength(1);
    expect(e.stderr).toContain("unknown model 'flatten_nope'");
    try {
      flatten('export', 'flatten_deit_fmnist', '--out', join(dir, 'folder'), '--optimize');
    } catch (err) {
      e = err as typeof e;
    }
    expect(e.stderr?.trim()).toBe('flatten: error: --optimize applies to one .onnx file (--output), not to folders');
  });
});
