import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { GOLDEN_DIR } from '../golden.js';
import { flatten } from '../cli/cli.js';
import { hugePngHeader, samplePicture } from './images.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatten-analysis-'));
const picture = join(tmp, 'picture.png');
const golden = (name: string) => [
  '--config',
  `${GOLDEN_DIR}${name}/config.json`,
  '--checkpoint',
  `${GOLDEN_DIR}${name}/checkpoint.pth`,
];

beforeAll(async () => {
  await samplePicture(picture);
});

describe('flatten rank', () => {
  it('on a golden Swin model: linear ≤ head dim, with DWC and softmax full rank', () => {
    const r = flatten('rank', ...golden('swin_llll_w7'), '--image', picture, '--json');
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as {
      tolerance: string;
      blocks: {
        head_dim: number;
        tokens: number;
        rank_linear: number;
        rank_equivalent: number;
        rank_softmax: number;
      }[];
    };
    expect(report.tolerance).toMatch(/σ_max/);
    expect(report.blocks.length).toBe(2 * (1 + 2 + 4 + 8));
    for (const b of report.blocks) {
      expect(b.rank_linear).toBeLessThanOrEqual(b.head_dim);
      expect(b.rank_equivalent).toBe(b.tokens);
      expect(b.rank_softmax).toBe(b.tokens);
    }
  });
});

describe('flatten attention', () => {
  it('draws every form for a golden PVT model and writes the report', () => {
    const out = join(tmp, 'maps');
    const r = flatten('attention', ...golden('pvt_sr8421_llss'), '--image', picture, '--queries', '0,40', '--out', out);
    expect(r.status).toBe(0);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('block2.0.attn');
    for (const form of ['focused', 'linear', 'softmax'])
      expect(existsSync(join(out, `block2.0.attn_q40_${form}.png`))).toBe(true);
    // reduced keys (sr 4) have no square DWC-equivalent map: none drawn, and the table says so
    expect(existsSync(join(out, 'block2.0.attn_q40_focused_dwc.png'))).toBe(false);
  });

  it('gives one named line for each kind of bad input and leaves existing output alone', async () => {
    const keep = join(tmp, 'keep');
    writeFileSync(keep, 'precious');
    const jpeg = join(tmp, 'photo.jpg');
    await sharp(picture).jpeg().toFile(jpeg);
    const truncated = join(tmp, 'truncated.jpg');
    writeFileSync(truncated, readFileSync(jpeg).subarray(0, 2000));
    const huge = join(tmp, 'huge.png');
    hugePngHeader(huge);
    const noFocus = join(tmp, 'softmax_only.json');
    writeFileSync(
      noFocus,
      JSON.stringify({
        kind: 'model',
        family: 'swin',
        constructor: 'FLattenSwinTransformer',
        kwargs: { embed_dim: 16, depths: [1, 1, 1, 1], num_heads: [1, 1, 1, 1], attn_type: 'SSSS', num_classes: 3 },
      }),
    );
    const cases: [string[], RegExp][] = [
      [['--image', `${GOLDEN_DIR}swin_llss/config.json`], /config\.json: not a readable image/],
      [['--image', truncated], /truncated\.jpg: not a readable image/],
      [['--image', huge], /huge\.png: image is larger than 200 megapixels/],
      [
        ['--image', picture, '--queries', '5000'],
        /query 5000 is out of range for block1\.0\.attn, which has 3136 tokens/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = flatten('attention', ...golden('pvt_sr8421_llss'), ...args, '--out', join(tmp, 'bad'));
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const file = flatten('attention', ...golden('pvt_sr8421_llss'), '--image', picture, '--out', keep);
    expect(file.stderr).toMatch(/--out .*keep is an existing file/);
    expect(readFileSync(keep, 'utf8')).toBe('precious');
    const none = flatten('attention', '--config', noFocus, '--image', picture, '--out', join(tmp, 'none'));
    expect(none.stderr).toMatch(/no focused linear attention blocks/);
  });
});
