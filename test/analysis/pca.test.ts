import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/rng.js';
import { pcaRgb, topEigenvectors } from '../../src/analysis/pca.js';
import { GOLDEN_DIR } from '../golden.js';
import { flatten } from '../cli/cli.js';

describe('PCA of feature maps', () => {
  it('finds the eigenvectors of a known covariance, largest first', () => {
    // Q diag(9, 4, 1) Qᵀ with Q a rotation in the (0, 1) plane by 30°
    const [c, s] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
    const q = [
      [c, -s, 0],
      [s, c, 0],
      [0, 0, 1],
    ];
    const d = [9, 4, 1];
    const cov = new Float64Array(9);
    for (let r = 0; r < 3; r++)
      for (let k = 0; k < 3; k++) for (let j = 0; j < 3; j++) cov[r * 3 + k] += q[r][j] * d[j] * q[k][j];
    const vs = topEigenvectors(cov, 3, 3);
    vs.forEach((v, j) => {
      const dot = v[0] * q[0][j] + v[1] * q[1][j] + v[2] * q[2][j];
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-6);
    });
  });

  it('a map that varies along one channel direction lights one colour channel, in proportion', () => {
    const [c, hw] = [8, 100];
    const rand = mulberry32(2);
    const dir = Float32Array.from({ length: c }, () => rand() - 0.5);
    const map = new Float32Array(c * hw);
    for (let p = 0; p < hw; p++)
      for (let ch = 0; ch < c; ch++) map[ch * hw + p] = (p / hw) * dir[ch] + 1e-4 * (rand() - 0.5);
    const rgb = pcaRgb(map, c, hw);
    const red = Array.from({ length: hw }, (_, p) => rgb[p * 3]);
    // the first component is the position along the ramp (up to sign): monotonic over the pixels
    const rising = red[hw - 1] > red[0];
    for (let p = 1; p < hw; p++) expect(rising ? red[p] >= red[p - 1] : red[p] <= red[p - 1]).toBe(true);
  });
});

describe('flatten features', () => {
  it('writes one PCA picture per stage of a golden model, the input and a page', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'flatten-features-')), 'f');
    const g = `${GOLDEN_DIR}swin_llss/`;
    const r = flatten(
      'features',
      '--config',
      `${g}config.json`,
      '--checkpoint',
      `${g}checkpoint.pth`,
      '--image',
      'examples/images/bag.png',
      '--out',
      out,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/3\s+128\s+7×7\s+stage3\.png/);
    for (const [file, side] of [
      ['stage0.png', 224],
      ['stage3.png', 224],
      ['input.png', 224],
    ] as const) {
      const meta = await sharp(join(out, file)).metadata();
      expect([meta.width! >= side, meta.channels], file).toEqual([true, 3]);
    }
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<img src="stage2.png"');
    expect(existsSync(join(out, 'stage4.png'))).toBe(false);
  });
});
