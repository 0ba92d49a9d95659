/**
 * The short form of `npm run fuzz`: every format for two seconds, in process, counters only. The long
 * form (child processes with time and memory limits, ONNX Runtime loading) is `npm run fuzz -- --long`.
 */
import { describe, expect, it } from 'vitest';
import { fuzzInProcess, input, report } from '../../scripts/fuzz/run.js';
import { makeTargets } from '../../scripts/fuzz/targets.js';

const SECONDS_PER_FORMAT = 2;

describe('fuzz (short form)', async () => {
  const targets = await makeTargets();

  it('builds the same inputs from the same seed', () => {
    for (const [i, t] of targets.entries()) {
      const [a, b] = [input(t, i, 7, 123), input(t, i, 7, 123)];
      expect(a.seedIndex).toBe(b.seedIndex);
      expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    }
  });

  it.each(targets.map((t, i) => [t.format, i] as const))(
    '%s: no input gives a foreign error, a long message or an allocation past the budget',
    async (_format, i) => {
      const c = await fuzzInProcess(targets[i], i, { seed: 1, inputs: Infinity, seconds: SECONDS_PER_FORMAT });
      console.log(report(c));
      expect(c.inputs).toBeGreaterThan(20);
      expect(c.defects).toEqual([]);
    },
    SECONDS_PER_FORMAT * 1000 + 30_000,
  );
});
