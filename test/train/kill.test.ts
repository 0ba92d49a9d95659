import { describe, expect, it } from 'vitest';
import { killTest } from '../../scripts/kill_test.js';

describe('kill -9 during training', () => {
  // the short form; `npm run killtest -- --kills 30` is the long one
  it('after each SIGKILL the run resumes, and ends with the weights of an uninterrupted run bit for bit', async () => {
    const r = await killTest({ kills: 3, seed: 7 });
    expect(r.failures).toEqual([]);
    expect(r.passed).toBe(3);
    expect(r.finishedRuns).toBeGreaterThan(0);
  }, 180_000);
});
