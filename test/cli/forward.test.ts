import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpyFile, writeNpyFile } from '../../src/io/npy.js';
import { float32 } from '../../src/core/tensor.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';
import { flatten } from './cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatten-cli-'));
const caseArgs = (name: string) => [
  '--config',
  `${GOLDEN_DIR}${name}/config.json`,
  '--checkpoint',
  `${GOLDEN_DIR}${name}/checkpoint.pth`,
];

describe('flatten forward', () => {
  it('reproduces a golden model case with its features', () => {
    const out = join(tmp, 'out.npy');
    const feats = join(tmp, 'features.npy');
    const r = flatten(
      'forward',
      ...caseArgs('pvt_sr8421_llss'),
      '--input',
      `${GOLDEN_DIR}pvt_sr8421_llss/input.npy`,
      '--output',
      out,
      '--features',
      feats,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const o = maxAbsError(readNpyFile(out), readNpyFile(`${GOLDEN_DIR}pvt_sr8421_llss/output.npy`));
    expect(o.err).toBeLessThanOrEqual(o.tol);
    const f = maxAbsError(readNpyFile(feats), readNpyFile(`${GOLDEN_DIR}pvt_sr8421_llss/features.npy`));
    expect(f.err).toBeLessThanOrEqual(f.tol);
  });

  it('names a wrong image size in one line and leaves the existing output untouched', () => {
    const input = join(tmp, 'small.npy');
    writeNpyFile(input, float32([1, 3, 112, 112]));
    const out = join(tmp, 'keep.npy');
    writeFileSync(out, 'precious');
    const r = flatten('forward', ...caseArgs('pvt_sr8421_llss'), '--input', input, '--output', out);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/112×112.*224×224/);
    expect(readFileSync(out, 'utf8')).toBe('precious');
  });

  it('names a wrong token shape for an attention case', () => {
    const input = join(tmp, 'tokens.npy');
    writeNpyFile(input, float32([2, 64, 16]));
    const r = flatten('forward', ...caseArgs('attn_pvt_sr1'), '--input', input, '--output', join(tmp, 'x.npy'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does not fit this attention module, which takes \(B, 64, 32\)/);
    expect(existsSync(join(tmp, 'x.npy'))).toBe(false);
  });

  it('rejects an unknown engine, a corrupt checkpoint and a non-JSON config by name', () => {
    const input = `${GOLDEN_DIR}attn_pvt_sr1/input.npy`;
    const engine = flatten(
      'forward',
      ...caseArgs('attn_pvt_sr1'),
      '--input',
      input,
      '--output',
      join(tmp, 'a.npy'),
      '--engine',
      'cuda',
    );
    expect(engine.stderr).toMatch(/option '--engine <name>' argument 'cuda' is invalid/);
    // checked with the options, before any file is read: the missing config is not what gets reported
    const first = flatten(
      'forward',
      '--config',
      join(tmp, 'missing.json'),
      '--input',
      input,
      '--output',
      join(tmp, 'a.npy'),
      '--engine',
      'cuda',
    );
    expect(first.status).toBe(1);
    expect(first.stderr).toMatch(/argument 'cuda' is invalid. available engines: tfjs, onnx/);
    expect(first.stderr).not.toMatch(/missing\.json/);
    const bad = join(tmp, 'bad.pth');
    writeFileSync(bad, readFileSync(`${GOLDEN_DIR}attn_pvt_sr1/checkpoint.pth`).subarray(0, 5000));
    const corrupt = flatten(
      'forward',
      '--config',
      `${GOLDEN_DIR}attn_pvt_sr1/config.json`,
      '--checkpoint',
      bad,
      '--input',
      input,
      '--output',
      join(tmp, 'b.npy'),
    );
    expect(corrupt.status).toBe(1);
    expect(corrupt.stderr).toContain('bad.pth');
    expect(corrupt.stderr).not.toMatch(/\n\s+at /);
    const cfg = join(tmp, 'cfg.json');
    writeFileSync(cfg, '{ nope');
    const json = flatten('forward', '--config', cfg, '--input', input, '--output', join(tmp, 'c.npy'));
    expect(json.stderr).toMatch(/cfg\.json: not valid JSON/);
  });
});

describe('flatten info and list', () => {
  it('reports flatten_swin_t exactly', () => {
    const r = flatten('info', 'flatten_swin_t', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.parameters).toBe(29_192_384);
    expect(Math.abs(info.macs / 4.483e9 - 1)).toBeLessThan(0.01);
    expect(Number.isInteger(info.macs)).toBe(true);
  });

  it('names an unknown model and a resolution that does not fit', () => {
    const unknown = flatten('info', 'flatten_swin_xl');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown model 'flatten_swin_xl'; known models: flatten_swin_t/);
    const res = flatten('info', 'flatten_swin_t', '--resolution', '200');
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/img_size 200 must be a multiple of patch_size·2\^3 = 32/);
  });

  it('lists the registry as JSON', () => {
    const r = flatten('list', '--json');
    const rows = JSON.parse(r.stdout) as { name: string; parameters: number }[];
    expect(rows.find((x) => x.name === 'flatten_cswin_t')?.parameters).toBe(21_201_768);
  });
});
