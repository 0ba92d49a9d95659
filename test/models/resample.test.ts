import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prepareFor } from '../../src/api/classify.js';
import { exportOnnx } from '../../src/api/export.js';
import { forwardIntermediates } from '../../src/api/features.js';
import { modelInfo } from '../../src/api/info.js';
import { buildAtSize } from '../../src/api/size.js';
import { createModel } from '../../src/api/model.js';
import type { CaseConfig } from '../../src/api/forward.js';
import { FlattenError } from '../../src/core/errors.js';
import { float32 } from '../../src/core/tensor.js';
import { readJsonFile } from '../../src/io/json.js';
import { readStateDict } from '../../src/nn/checkpoint.js';
import { resampleBicubic, resampleBilinear } from '../../src/nn/resample.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';

/** torch.nn.functional.interpolate values and official runs at other sizes made by the official code (README there). */
const FIXTURES = fileURLToPath(new URL('../fixtures/resample/', import.meta.url));

for (const [mode, resample] of [
  ['bicubic', resampleBicubic],
  ['bilinear', resampleBilinear],
] as const)
  describe(`${mode} resampling equals torch.nn.functional.interpolate (${mode}, align_corners = false)`, () => {
    const cases = JSON.parse(readFileSync(`${FIXTURES}${mode}.json`, 'utf8')) as {
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
        const y = resample(x, 1, c.in, c.out);
        expect(y.length).toBe(c.values.length);
        expect(Math.max(...c.values.map((v, k) => Math.abs(v - y[k])))).toBeLessThan(1e-5);
      });
  });

/** The fixtures' input: x[0, c, i, j] = sin(0.013·(c·65536 + i·W + j)), a formula rather than a file. */
function formulaInput(h: number, w = h) {
  const x = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) x[(c * h + i) * w + j] = Math.sin(0.013 * (c * 65536 + i * w + j));
  return float32([1, 3, h, w], x);
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

describe("Swin's focused blocks at large sizes", () => {
  it('register their shift masks (official keys and shapes) without computing them: the forward never reads them', () => {
    const { model } = buildAtSize('flatten_swin_t', { imgSize: 896 });
    const spec = model.table.specs.get('layers.0.blocks.1.attn_mask')!;
    expect(spec.shape).toEqual([16, 3136, 3136]); // 629 MB if it were made
    expect(typeof Object.getOwnPropertyDescriptor(spec.buffer!, 'data')?.get).toBe('function');
    // softmax blocks read theirs, which are made at build
    const used = model.table.specs.get('layers.2.blocks.1.attn_mask')!;
    expect(Object.getOwnPropertyDescriptor(used.buffer!, 'data')?.value).toBeInstanceOf(Float32Array);
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
  for (const engine of ['tfjs', 'onnx'] as const)
    it(`PVTv2 at 256² with resampled position encodings matches the official model (${engine})`, async () => {
      const m = createModel(readJsonFile<CaseConfig>(`${dir}config.json`), {
        checkpoint: `${dir}checkpoint.pth`,
        imgSize: 256,
      });
      const r = await forwardIntermediates(m, formulaInput(256), { engine, indices: [3] });
      const check = (y: Parameters<typeof maxAbsError>[0], values: number[], shape: number[]) => {
        const { err, tol } = maxAbsError(y, float32(shape, Float32Array.from(values)));
        expect(err).toBeLessThanOrEqual(tol);
      };
      check(r.logits!, ref.logits, [1, ref.logits.length]);
      check(r.features, ref.features, [1, ref.features.length]);
      check(r.intermediates[0], ref.stage3.values, ref.stage3.shape);
    });

  it.each([
    ['one token short of a grid', -1, 'not a square grid'],
    ['a cls token before the grid', 1, 'a square grid plus a cls token, which this model does not have'],
  ])('a position table with %s is named, not guessed', (_what, extra, reason) => {
    const sd = readStateDict(`${dir}checkpoint.pth`);
    const key = [...sd.keys()].find((k) => k.endsWith('positional_encoding'))!;
    const t = sd.get(key)!;
    const [, n, c] = t.shape;
    sd.set(key, float32([1, n + extra, c]));
    let err: unknown;
    try {
      createModel(readJsonFile<CaseConfig>(`${dir}config.json`), { checkpoint: sd, imgSize: 256 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlattenError);
    expect((err as FlattenError).message).toMatch(
      new RegExp(`'${key.replace(/\./g, '\\.')}' is \\(1, ${n + extra}, ${c}\\) and cannot be resampled .*${reason}`),
    );
  });
});

/** A fixture's stage map: every value (`stride` absent) or every `stride`-th of the flattened map. */
interface StageRef {
  shape: number[];
  stride?: number;
  values: number[];
}

interface RunRef {
  img_size: [number, number];
  logits: number[];
  features: number[];
  stages: StageRef[];
}

/** max |y − ref| against a reference and its bound 1e-4·max(1, max|ref|), over the values the fixture holds. */
function checkStage(y: Parameters<typeof maxAbsError>[0], ref: StageRef, what: string) {
  expect(y.shape, what).toEqual(ref.shape);
  const stride = ref.stride ?? 1;
  const data = y.data as Float32Array;
  const picked = float32(
    [ref.values.length],
    Float32Array.from(ref.values, (_, k) => data[k * stride]),
  );
  const { err, tol } = maxAbsError(picked, float32([ref.values.length], Float32Array.from(ref.values)));
  expect(err, what).toBeLessThanOrEqual(tol);
}

async function checkRun(m: ReturnType<typeof createModel>, ref: RunRef, engine: 'tfjs' | 'onnx') {
  const r = await forwardIntermediates(m, formulaInput(...ref.img_size), { engine });
  checkStage(r.logits!, { shape: [1, ref.logits.length], values: ref.logits }, 'logits');
  checkStage(r.features, { shape: [1, ref.features.length], values: ref.features }, 'features');
  ref.stages.forEach((s, i) => checkStage(r.intermediates[i], s, `stage ${i}`));
}

describe('PVT, PVTv2 and Swin at other sizes, non-square included, as the official modules run them', () => {
  const fixture = <T>(f: string) => JSON.parse(readFileSync(`${FIXTURES}${f}`, 'utf8')) as T;
  const config = (name: string) => readJsonFile<CaseConfig>(`${GOLDEN_DIR}${name}/config.json`);
  const v2 = fixture<RunRef & { la_sr_ratios: string; from_pvt_sr8421_llss: string[] }>('pvt_v2_sr8411_224x288.json');
  /** pvt_v2_llll's checkpoint with focused stages 1–2 at sr 8 and 4: their sr, norm and PE from pvt_sr8421_llss. */
  const v2Checkpoint = () => {
    const sd = readStateDict(`${GOLDEN_DIR}pvt_v2_llll/checkpoint.pth`);
    const v1 = readStateDict(`${GOLDEN_DIR}pvt_sr8421_llss/checkpoint.pth`);
    for (const k of v2.from_pvt_sr8421_llss) sd.set(k, v1.get(k)!);
    return sd;
  };
  const v2Model = () => {
    const c = config('pvt_v2_llll');
    const spec = { ...c, kwargs: { ...c.kwargs, la_sr_ratios: v2.la_sr_ratios } };
    return createModel(spec, { checkpoint: v2Checkpoint(), imgSize: v2.img_size });
  };
  const v1 = fixture<RunRef>('pvt_sr8421_llss_320.json');
  const swin = fixture<RunRef>('swin_llss_224x448.json');

  for (const engine of ['tfjs', 'onnx'] as const) {
    it(`PVTv2 at 224×288, focused stages at sr 8 and 4: logits, features and every stage map (${engine})`, async () => {
      await checkRun(v2Model(), v2, engine);
    });
    it(`Swin at 224×448: non-square windows, shift masks and merges as the official model (${engine})`, async () => {
      const name = 'swin_llss';
      const m = createModel(config(name), { checkpoint: `${GOLDEN_DIR}${name}/checkpoint.pth`, imgSize: [224, 448] });
      await checkRun(m, swin, engine);
    });
    it(`PVT v1 at 320²: pos_embed resized bilinearly as _get_pos_embed, PEs bicubically (${engine})`, async () => {
      const name = 'pvt_sr8421_llss';
      const m = createModel(config(name), { checkpoint: `${GOLDEN_DIR}${name}/checkpoint.pth`, imgSize: 320 });
      await checkRun(m, v1, engine);
    });
  }

  it('a non-square export takes (batch, 3, H, W) and says so in its metadata; info reports [H, W]', async () => {
    const m = v2Model();
    const { proto } = exportOnnx({ name: 'pvt_v2_224x288', model: m.model, checkpoint: m.weights });
    const input = proto.inputs.find((i) => i.name === 'pixel_values')!;
    expect(input.shape.slice(1)).toEqual([3, 224, 288]);
    expect(proto.metadata?.['flatten.img_size']).toBe('224,288');
    const info = modelInfo('flatten_pvt_v2_b0', { imgSize: [224, 288] });
    expect(info.resolution).toEqual([224, 288]);
    expect(info.featureInfo.map((f) => f.reduction)).toEqual([4, 8, 16, 32]);
    // cost grows with the tokens: 224×288 lies between 224² and 288²
    const [a, b] = [modelInfo('flatten_pvt_v2_b0', { imgSize: 224 }), modelInfo('flatten_pvt_v2_b0', { imgSize: 288 })];
    expect(info.macs).toBeGreaterThan(a.macs);
    expect(info.macs).toBeLessThan(b.macs);
  });

  it('named errors: sizes Swin cannot tile, non-square CSwin, a PVT size its sr does not divide, a pos_embed that is no grid', () => {
    // PVTv2 at 240²: the stride-2 convs give stage 4 an 8×8 map, the official PatchEmbed sizes its PE for 7×7
    expect(() => createModel(config('pvt_v2_llll'), { imgSize: 240 })).toThrow(
      /block4\.0\.attn: positional_encoding holds 49 tokens but this block sees 64; the official module fails the same way/,
    );
    expect(() => createModel('flatten_swin_t', { imgSize: [224, 288] })).toThrow(
      /swin: stage 1 resolution 56×72 is not a multiple of its window 56 \(img_size 224×288/,
    );
    // eval transforms crop squares: a non-square model takes tensors, and image preprocessing says so
    const wide = createModel(config('pvt_v2_llll'), { imgSize: [224, 288] });
    expect(() => prepareFor(wide, [])).toThrow(
      /image preprocessing \(a square eval crop\) takes square images, but this model is built for 224×288/,
    );
    expect(() => createModel('flatten_cswin_t', { imgSize: [224, 288] })).toThrow(
      /imgSize 224×288: cswin takes square sizes only .*PVT, PVTv2 and Swin/,
    );
    const name = 'pvt_sr8421_llss';
    // at 240² stage 1 is 60×60, which sr 8 does not divide: the official PE (56 tokens) cannot meet its 7×7 keys
    expect(() => createModel(config(name), { imgSize: 240 })).toThrow(
      /block1\.0\.attn: sr 8 does not divide its 60×60 token grid: .* 56 tokens but sees 7×7 keys/,
    );
    const sd = readStateDict(`${GOLDEN_DIR}${name}/checkpoint.pth`);
    sd.set('pos_embed2', float32([1, 783, 32]));
    expect(() => createModel(config(name), { checkpoint: sd, imgSize: 320 })).toThrow(
      /'pos_embed2' is \(1, 783, 32\) and cannot be resampled to \(1, 1600, 32\): 783 tokens are not a square grid/,
    );
  });
});
