import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWeights, readStateDict } from '../../src/nn/checkpoint.js';
import { runCase } from '../../src/api/forward.js';
import { FlattenError } from '../../src/core/errors.js';
import { float32, type StateDict } from '../../src/core/tensor.js';
import { writeSafetensorsFile } from '../../src/io/safetensors.js';
import { readNpyFile } from '../../src/io/npy.js';
import { buildModel, buildNamed } from '../../src/models/build.js';
import { initWeights } from '../../src/nn/init.js';
import { GOLDEN_DIR, goldenJson } from '../golden.js';
import { maxAbsError, modelSpec } from '../util.js';

const swinCfg = goldenJson<{ family: 'swin'; constructor: string; kwargs: Record<string, unknown> }>(
  'swin_llss/config.json',
);
const swin = () => buildModel(swinCfg);
const swinSd = (): StateDict => readStateDict(`${GOLDEN_DIR}swin_llss/checkpoint.pth`);

function errorOf(fn: () => unknown): FlattenError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FlattenError);
    return e as FlattenError;
  }
  throw new Error('expected an error');
}

describe('checkpoint loading', () => {
  it('reads the nested {model: sd} layout and a bare state_dict', () => {
    expect(swinSd().size).toBeGreaterThan(50);
    expect(readStateDict(`${GOLDEN_DIR}swin_llll_w7/checkpoint.pth`).has('head.weight')).toBe(true);
  });

  it('names every missing, unexpected and mis-shaped key in one error', () => {
    const sd = swinSd();
    sd.delete('layers.0.blocks.0.attn.scale');
    sd.delete('head.bias');
    sd.set('layers.9.extra', float32([2]));
    sd.set('norm.weight', float32([5]));
    const e = errorOf(() => loadWeights(swin().table, sd));
    expect(e.code).toBe('BAD_KEYS');
    expect(e.message).toContain("2 missing ('layers.0.blocks.0.attn.scale'; 'head.bias')");
    expect(e.message).toContain("1 unexpected ('layers.9.extra')");
    expect(e.message).toContain("'norm.weight' is (5) but the model needs (128)");
  });

  it('sums up a checkpoint of another model in one short line: counts, a guess, the first few keys', () => {
    const pvt = buildNamed('flatten_pvt_v2_b0');
    const e = errorOf(() => loadWeights(swin().table, initWeights(pvt.table, 1)));
    expect(e.code).toBe('BAD_KEYS');
    expect(e.message).toMatch(/: 0 of \d+ parameter keys match; the keys look like flatten_pvt_v2_\*/);
    expect(e.message).toMatch(/\d+ missing \('[^']+'; '[^']+'; '[^']+'; …\)/);
    expect(e.message).toContain('FLATTEN_DEBUG=1 lists them all');
    expect(e.message.length).toBeLessThan(800);
  });

  it('checks stored buffers against the computed relative_position_index and attn_mask', () => {
    const sd = swinSd();
    const idx = sd.get('layers.2.blocks.0.attn.relative_position_index')!;
    expect(idx.dtype).toBe('int64');
    const tampered = BigInt64Array.from(idx.data as BigInt64Array);
    tampered[5] += 1n;
    sd.set('layers.2.blocks.0.attn.relative_position_index', { ...idx, data: tampered });
    const e = errorOf(() => loadWeights(swin().table, sd));
    expect(e.message).toContain(
      "1 buffer(s) that differ from the values the model computes ('layers.2.blocks.0.attn.relative_position_index')",
    );
  });

  it('accepts stored buffers that match (attn_mask included)', () => {
    const w = loadWeights(swin().table, swinSd());
    expect(w.get('layers.2.blocks.1.attn_mask')?.shape).toEqual([4, 49, 49]);
  });

  it('non-strict loading fills missing keys and ignores unexpected ones (fresh head for fine-tuning)', () => {
    const sd = swinSd();
    sd.delete('head.weight');
    sd.set('aux.weight', float32([1]));
    const w = loadWeights(swin().table, sd, { strict: false });
    expect(w.get('head.weight')?.shape).toEqual([10, 128]);
    expect(w.has('aux.weight')).toBe(false);
  });

  it('runs a golden case from a safetensors conversion of the official checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flatten-st-'));
    const file = join(dir, 'swin.safetensors');
    writeSafetensorsFile(file, swinSd());
    const r = await runCase(swinCfg, file, readNpyFile(`${GOLDEN_DIR}swin_llss/input.npy`));
    const { err, tol } = maxAbsError(r.output, readNpyFile(`${GOLDEN_DIR}swin_llss/output.npy`));
    expect(err).toBeLessThanOrEqual(tol);
  });

  it('names a file that is neither a zip checkpoint nor safetensors', () => {
    const e = errorOf(() => readStateDict(`${GOLDEN_DIR}swin_llss/config.json`));
    expect(e.code).toBe('BAD_FILE');
    expect(e.message).toContain('config.json');
    expect(readFileSync(`${GOLDEN_DIR}swin_llss/config.json`, 'utf8')).toContain('FLattenSwinTransformer');
  });
});

describe('config validation', () => {
  it('names unknown kwargs, unknown constructors and bad attn_type', () => {
    expect(() => buildModel({ ...swinCfg, kwargs: { ...swinCfg.kwargs, windw_size: 7 } })).toThrow(
      /unknown config key\(s\) 'windw_size'/,
    );
    expect(() => buildModel({ constructor: 'FLattenViT' })).toThrow(/unknown constructor 'FLattenViT'/);
    expect(() => buildModel({ ...swinCfg, kwargs: { ...swinCfg.kwargs, attn_type: 'LXSS' } })).toThrow(
      /stage 2 must be 'L', 'S' or 'M'/,
    );
    expect(() =>
      buildModel(
        modelSpec('cswin', {
          la_split_size: '28-28-14-7',
          depth: [1, 1, 1, 1],
          split_size: [1, 2, 7, 7],
          embed_dim: 16,
          num_heads: [1, 2, 4, 8],
        }),
      ),
    ).toThrow(/la_split_size equal to its resolution 56/);
  });
});
