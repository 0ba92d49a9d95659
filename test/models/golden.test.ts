import { describe, expect, it } from 'vitest';
import { readNpyFile } from '../../src/io/npy.js';
import { readJsonFile } from '../../src/io/json.js';
import { runCase, type CaseConfig } from '../../src/api/forward.js';
import { GOLDEN_DIR, goldenCases } from '../golden.js';
import { maxAbsError } from '../util.js';

/** Every golden case through the same code path as `flatten forward`, against the official outputs. */
describe('golden parity (tfjs engine)', () => {
  for (const name of goldenCases()) {
    it(
      name,
      async () => {
        const dir = `${GOLDEN_DIR}${name}/`;
        const config = readJsonFile<CaseConfig & { output_shape: number[] }>(`${dir}config.json`);
        const ref = readNpyFile(`${dir}output.npy`);
        const r = await runCase(config, `${dir}checkpoint.pth`, readNpyFile(`${dir}input.npy`));
        expect(r.output.shape).toEqual(config.output_shape);
        const { err, tol } = maxAbsError(r.output, ref);
        expect(err).toBeLessThanOrEqual(tol);
        if (config.kind === 'model') {
          const f = maxAbsError(r.features!, readNpyFile(`${dir}features.npy`));
          expect(f.err).toBeLessThanOrEqual(f.tol);
        }
      },
      60_000,
    );
  }
});
