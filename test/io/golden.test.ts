/** The real golden checkpoints written by the official models (torch 1.13). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findStateDict, readPthFile } from '../../src/io/index.js';

const GOLDEN = fileURLToPath(new URL('../../../shared/golden/', import.meta.url));
const cases = existsSync(GOLDEN)
  ? readdirSync(GOLDEN)
      .filter((d) => existsSync(`${GOLDEN}${d}/checkpoint.pth`))
      .sort()
  : [];

describe('golden checkpoints', () => {
  it('are present', () => {
    expect(cases.length, `no golden checkpoints under ${GOLDEN}`).toBeGreaterThanOrEqual(10);
  });

  it.each(cases)('%s reads as a plausible state_dict', (name) => {
    const config = JSON.parse(readFileSync(`${GOLDEN}${name}/config.json`, 'utf8'));
    const obj = readPthFile(`${GOLDEN}${name}/checkpoint.pth`);
    const sd = findStateDict(obj, name);
    expect(sd.size).toBeGreaterThan(0);
    // config.json says whether the weights are wrapped in {'model': ...}
    expect(sd === obj).toBe(!config.checkpoint_wrapped_in_model_key);
    let floats = 0;
    for (const [key, t] of sd) {
      expect(t.dtype, key).toBe(key.endsWith('relative_position_index') ? 'int64' : 'float32');
      expect(t.data.length, key).toBe(t.shape.reduce((a, b) => a * b, 1));
      if (t.dtype === 'float32') {
        floats += t.data.length;
        expect((t.data as Float32Array).every(Number.isFinite), key).toBe(true);
      }
    }
    if (config.kind === 'model') {
      // Float entries are the parameters plus float buffers (Swin's attn_mask), so at least the count.
      if (config.family === 'swin') expect(floats).toBeGreaterThanOrEqual(config.parameters);
      else expect(floats).toBe(config.parameters);
    }
  });

  it('pvt_llll has the expected layout', () => {
    const obj = readPthFile(`${GOLDEN}pvt_llll/checkpoint.pth`);
    expect(obj).toBeInstanceOf(Map);
    expect([...(obj as Map<string, unknown>).keys()]).toEqual(['model']);
    const sd = findStateDict(obj, 'pvt_llll');
    expect(sd.get('patch_embed1.proj.weight')!.shape).toEqual([16, 3, 4, 4]);
    expect(sd.get('head.weight')!.shape).toEqual([10, 128]);
  });

  it('swin_llss keeps relative_position_index as exact int64', () => {
    const sd = findStateDict(readPthFile(`${GOLDEN}swin_llss/checkpoint.pth`), 'swin_llss');
    const keys = [...sd.keys()].filter((k) => k.endsWith('relative_position_index'));
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      const t = sd.get(k)!;
      expect(t.data).toBeInstanceOf(BigInt64Array);
      const n = t.shape[0];
      expect(t.shape).toEqual([n, n]);
      const w = Math.round(Math.sqrt(n)); // window size
      const max = (2 * w - 1) ** 2 - 1;
      expect(Array.from(t.data as BigInt64Array).every((v) => v >= 0n && v <= BigInt(max))).toBe(true);
      expect((t.data as BigInt64Array)[0]).toBe(BigInt(max / 2)); // offset (0, 0) is the centre of the table
    }
  });
});
