import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { forwardIntermediates } from '../../src/api/features.js';
import { createModel } from '../../src/api/model.js';
import type { CaseConfig } from '../../src/api/forward.js';
import { FlattenError } from '../../src/core/errors.js';
import { float32 } from '../../src/core/tensor.js';
import { readJsonFile } from '../../src/io/json.js';
import { readStateDict } from '../../src/nn/checkpoint.js';
import { resampleBicubic } from '../../src/nn/resample.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';

/** torch.nn.functional.interpolate values and a PVTv2 run at 256² made by the official code (README there). */
const FIXTURES = fileURLToPath(new URL('../fixtures/resample/', import.meta.url));

describe('bicubic resampling equals torch.nn.functional.interpolate (bicubic, align_corners = false)', () => {
  const cases = JSON.parse(readFileSync(`${FIXTURES}bicubic.json`, 'utf8')) as {
    in: [number, number];
    out: [number, number];
    values: number[];
  }[];
  for (const c of cases)
    it(`${c.in.join('×')} → ${c.out.join('×')}`, () => {
      const [h, w] = c.in;
      const x = Float32Array.from({ length: h * w }, (_, k) => {
        const [i, j] = [Math.floor(k / w), k % w];
        return Math.sin(0.7 * i + 0.3 * j) + 0.1 * i * j;
      });
      const y = resampleBicubic(x, 1, c.in, c.out);
      expect(y.length).toBe(c.values.length);
      expect(Math.max(...c.values.map((v, k) => Math.abs(v - y[k])))).toBeLessThan(1e-5);
    });
});

/** The fixtures' input: x[0, c, i, j] = sin(0.013·(c·65536 + i·S + j)), a formula rather than a file. */
function formulaInput(side: number) {
  const x = new Float32Array(3 * side * side);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < side; i++)
      for (let j = 0; j < side; j++) x[(c * side + i) * side + j] = Math.sin(0.013 * (c * 65536 + i * side + j));
  return float32([1, 3, side, side], x);
}

describe('other official models at other sizes (Swin 448², CSwin 288²)', () => {
  for (const [name, side] of [
    ['swin_llss', 448],
    ['cswin_llss', 288],
  ] as const)
    it(`${name} at ${side}² matches the official model built at that size`, async () => {
      const ref = JSON.parse(readFileSync(`${FIXTURES}${name}_${side}.json`, 'utf8')) as {
        kwargs: Record<string, unknown>;
        logits: number[];
        stage3: { shape: number[]; values: number[] };
      };
      const config = readJsonFile<CaseConfig>(`${GOLDEN_DIR}${name}/config.json`);
      // CSwin's softmax strips must divide the 288² maps: the fixture's split_size (img_size // 32), as the 384 cfg
      const split = ref.kwargs.split_size ? { split_size: ref.kwargs.split_size } : {};
      const spec = { ...config, kwargs: { ...config.kwargs, ...split } };
      const m = createModel(spec, { checkpoint: `${GOLDEN_DIR}${name}/checkpoint.pth`, imgSize: side });
      const r = await forwardIntermediates(m, formulaInput(side), { engine: 'onnx', indices: [3] });
      const logits = maxAbsError(r.logits!, float32([1, ref.logits.length], Float32Array.from(ref.logits)));
      expect(logits.err).toBeLessThanOrEqual(logits.tol);
      const s3 = maxAbsError(r.intermediates[0], float32(ref.stage3.shape, Float32Array.from(ref.stage3.values)));
      expect(s3.err).toBeLessThanOrEqual(s3.tol);
    });
});

describe('a 224² checkpoint at another size', () => {
  const name = 'pvt_v2_llll';
  const dir = `${GOLDEN_DIR}${name}/`;
  const ref = JSON.parse(readFileSync(`${FIXTURES}${name}_256.json`, 'utf8')) as {
    logits: number[];
    features: number[];
    stage3: { shape: number[]; values: number[] };
  };
  const input = () => {
    const x = new Float32Array(3 * 256 * 256);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < 256; i++)
        for (let j = 0; j < 256; j++) x[(c * 256 + i) * 256 + j] = Math.sin(0.013 * (c * 65536 + i * 256 + j));
    return float32([1, 3, 256, 256], x);
  };

  for (const engine of ['tfjs', 'onnx'] as const)
    it(`PVTv2 at 256² with resampled position encodings matches the official model (${engine})`, async () => {
      const m = createModel(readJsonFile<CaseConfig>(`${dir}config.json`), {
        checkpoint: `${dir}checkpoint.pth`,
        imgSize: 256,
      });
      const r = await forwardIntermediates(m, input(), { engine, indices: [3] });
      const check = (y: Parameters<typeof maxAbsError>[0], values: number[], shape: number[]) => {
        const { err, tol } = maxAbsError(y, float32(shape, Float32Array.from(values)));
        expect(err).toBeLessThanOrEqual(tol);
      };
      check(r.logits!, ref.logits, [1, ref.logits.length]);
      check(r.features, ref.features, [1, ref.features.length]);
      check(r.intermediates[0], ref.stage3.values, ref.stage3.shape);
    });

  it('a position table that is not a square grid is named, not guessed', () => {
    const sd = readStateDict(`${dir}checkpoint.pth`);
    const key = [...sd.keys()].find((k) => k.endsWith('positional_encoding'))!;
    const t = sd.get(key)!;
    const [, n, c] = t.shape;
    sd.set(key, float32([1, n - 1, c])); // one token short of a grid
    let err: unknown;
    try {
      createModel(readJsonFile<CaseConfig>(`${dir}config.json`), { checkpoint: sd, imgSize: 256 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlattenError);
    expect((err as FlattenError).message).toMatch(
      new RegExp(
        `'${key.replace(/\./g, '\\.')}' is \\(1, ${n - 1}, ${c}\\) and cannot be resampled .*not a square grid`,
      ),
    );
  });
});
