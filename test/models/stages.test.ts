import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../../src/api/export.js';
import { runCase, type CaseConfig } from '../../src/api/forward.js';
import { modelInfo } from '../../src/api/info.js';
import { extractFeatures, forwardIntermediates } from '../../src/api/features.js';
import { createModel } from '../../src/api/model.js';
import { FlattenError } from '../../src/core/errors.js';
import { buildModel } from '../../src/models/build.js';
import { float32 } from '../../src/core/tensor.js';
import { readJsonFile } from '../../src/io/json.js';
import { readNpyFile } from '../../src/io/npy.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';

/** Stage maps of the official code on the golden checkpoints' first image (test/fixtures/stages/README.md). */
const FIXTURES = fileURLToPath(new URL('../fixtures/stages/', import.meta.url));
const cases = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe('stage feature maps equal the official code', () => {
  it('has a fixture for every family', () => {
    expect(cases.map((c) => c.replace(/_.*/, '')).sort()).toEqual(['cswin', 'pvt', 'pvt', 'swin', 'swin']);
  });
  for (const name of cases)
    for (const engine of ['tfjs', 'onnx'])
      it(`${name} on ${engine}`, async () => {
        const dir = `${GOLDEN_DIR}${name}/`;
        const config = readJsonFile<CaseConfig>(`${dir}config.json`);
        const all = readNpyFile(`${dir}input.npy`);
        const [, c, h, w] = all.shape;
        const first = float32([1, c, h, w], (all.data as Float32Array).slice(0, c * h * w));
        const r = await runCase(config, `${dir}checkpoint.pth`, first, { engine, stages: true });
        expect(r.stages).toHaveLength(4);
        r.stages!.forEach((map, i) => {
          const { err, tol } = maxAbsError(map, readNpyFile(`${FIXTURES}${name}/stage${i}.npy`));
          expect(err, `stage ${i}`).toBeLessThanOrEqual(tol);
        });
      });
});

describe('stage maps in an exported graph and feature_info', () => {
  it('an export with stages has outputs stage0…3 equal to the official maps, at any batch', async () => {
    const name = 'pvt_sr8421_llss';
    const dir = `${GOLDEN_DIR}${name}/`;
    const config = readJsonFile<CaseConfig>(`${dir}config.json`);
    const { bytes } = exportOnnx({ name, config, checkpoint: `${dir}checkpoint.pth`, stages: true });
    const s = await ort.InferenceSession.create(bytes);
    expect(s.outputNames).toEqual(['logits', 'pooler_output', 'stage0', 'stage1', 'stage2', 'stage3']);
    const x = readNpyFile(`${dir}input.npy`); // batch 2: the fixtures hold image 0
    const out = await s.run({ pixel_values: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
    for (let i = 0; i < 4; i++) {
      const ref = readNpyFile(`${FIXTURES}${name}/stage${i}.npy`);
      const t = out[`stage${i}`];
      expect(t.dims.slice(1)).toEqual(ref.shape.slice(1));
      const first = float32(ref.shape, (t.data as Float32Array).slice(0, ref.data.length));
      const { err, tol } = maxAbsError(first, ref);
      expect(err, `stage ${i}`).toBeLessThanOrEqual(tol);
    }
    await s.release();
  });

  it('feature_info: channels and reduction of every stage, as timm reports them', () => {
    const info = (n: string) => modelInfo(n).featureInfo.map((f) => [f.module, f.channels, f.reduction]);
    expect(info('flatten_swin_t')).toEqual([
      ['layers.0', 96, 4],
      ['layers.1', 192, 8],
      ['layers.2', 384, 16],
      ['layers.3', 768, 32],
    ]);
    expect(info('flatten_pvt_v2_b0').map((f) => f.slice(1))).toEqual([
      [32, 4],
      [64, 8],
      [160, 16],
      [256, 32],
    ]);
    expect(info('flatten_cswin_t').map((f) => f[1])).toEqual([64, 128, 256, 512]);
    expect(info('flatten_pvt_tiny').map((f) => f[1])).toEqual([64, 128, 320, 512]);
    expect(modelInfo(buildModel(readJsonFile(`${GOLDEN_DIR}cswin_llss/config.json`))).featureInfo).toHaveLength(4);
  });
});

describe('backbones: featuresOnly, outIndices, forwardIntermediates', () => {
  const name = 'pvt_v2_llll';
  const dir = `${GOLDEN_DIR}${name}/`;
  const spec = () => readJsonFile<CaseConfig>(`${dir}config.json`);
  const firstImage = () => {
    const all = readNpyFile(`${dir}input.npy`);
    const [, c, h, w] = all.shape;
    return float32([1, c, h, w], (all.data as Float32Array).slice(0, c * h * w));
  };

  it('a features-only model returns the chosen stages, equal to the official maps, on both engines', async () => {
    const m = createModel(spec(), { checkpoint: `${dir}checkpoint.pth`, featuresOnly: true, outIndices: [3, -3] });
    expect(m.outIndices).toEqual([1, 3]);
    expect(m.featureInfo.map((f) => [f.stage, f.channels, f.reduction])).toEqual([
      [1, 32, 8],
      [3, 128, 32],
    ]);
    for (const engine of ['tfjs', 'onnx'] as const) {
      const maps = await extractFeatures(m, firstImage(), { engine });
      expect(maps.map((t) => t.shape)).toEqual([
        [1, 32, 28, 28],
        [1, 128, 7, 7],
      ]);
      [1, 3].forEach((stage, k) => {
        const { err, tol } = maxAbsError(maps[k], readNpyFile(`${FIXTURES}${name}/stage${stage}.npy`));
        expect(err, `${engine} stage ${stage}`).toBeLessThanOrEqual(tol);
      });
    }
  });

  it('forwardIntermediates gives the logits and the stages asked for in one forward', async () => {
    const m = createModel(spec(), { checkpoint: `${dir}checkpoint.pth` });
    const r = await forwardIntermediates(m, firstImage(), { indices: [0] });
    const ref = readNpyFile(`${dir}output.npy`);
    const out = maxAbsError(r.logits!, float32([1, 10], (ref.data as Float32Array).slice(0, 10)));
    expect(out.err).toBeLessThanOrEqual(out.tol);
    const s0 = maxAbsError(r.intermediates[0], readNpyFile(`${FIXTURES}${name}/stage0.npy`));
    expect(s0.err).toBeLessThanOrEqual(s0.tol);
  });

  it('names out-of-range indices, outIndices without featuresOnly, and a wrong image size', async () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(FlattenError);
        return (e as FlattenError).message;
      }
      throw new Error('expected a FlattenError');
    };
    expect(bad(() => createModel('flatten_swin_t', { featuresOnly: true, outIndices: [4] }))).toBe(
      'outIndices [4]: flatten_swin_t has stages 0–3 (or −4…−1), not 4',
    );
    expect(bad(() => createModel('flatten_swin_t', { featuresOnly: true, outIndices: [0.5] }))).toMatch(/not 0.5/);
    expect(bad(() => createModel('flatten_swin_t', { outIndices: [0] }))).toMatch(/pass featuresOnly: true/);
    const m = createModel(spec(), { featuresOnly: true });
    await expect(extractFeatures(m, float32([1, 3, 112, 112]))).rejects.toThrow(
      /112×112 but this model is built for 224×224/,
    );
  });
});
