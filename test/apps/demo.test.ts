import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/apps/demo/demo.js';

describe('flatten demo (the README main job)', () => {
  it('evaluates, classifies and analyses the embedded model into one report', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'flatten-demo-')), 'report');
    const r = await runDemo(out);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    expect(existsSync(join(out, 'rank.png'))).toBe(true);
    expect(readFileSync(join(out, 'attention', 'index.html'), 'utf8')).toContain('blocks.0.attn');
    expect(r.accuracy.images).toBe(10_000);
    expect(r.samples).toHaveLength(10);
    for (const row of r.ranks) {
      expect(row.rank_linear!).toBeLessThanOrEqual(row.head_dim);
      expect(row.rank_equivalent).toBe(row.tokens);
      expect(row.rank_softmax).toBe(row.tokens);
    }
    if (r.weights === 'random') {
      expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('RANDOMLY INITIALISED MODEL');
    } else {
      // the shipped weights reach the issue's ≥ 90% on the whole test split (90.46% through ORT and tfjs alike) and focus
      expect(r.accuracy.images).toBe(10000);
      expect(r.accuracy.top1).toBeGreaterThanOrEqual(0.9);
      expect(r.entropy.focused!).toBeLessThan(r.entropy.linear!);
    }
  }, 240_000);
});
