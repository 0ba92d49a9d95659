import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { rmSync } from 'node:fs';
import { maxAbsError } from '../util.js';
import { exportGolden, rows, stack, tmp } from './helpers.js';

/**
 * Exported files run on plain onnxruntime (no code of ours) and give the golden outputs,
 * at the batch of the golden input and at others (the batch axis is dynamic).
 */
describe('exported .onnx on plain onnxruntime', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmp();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of ['swin_llss', 'pvt_sr8421_llss', 'cswin_llss']) {
    it(`${name}: onnxruntime-node reproduces the golden logits and features`, async () => {
      const g = exportGolden(name, dir);
      const s = await ortNode.InferenceSession.create(g.file);
      expect(s.inputNames).toEqual(['input']);
      const r = await s.run({ input: new ortNode.Tensor('float32', g.input.data as Float32Array, g.input.shape) });
      const logits = { dtype: 'float32' as const, shape: [...r.logits.dims], data: r.logits.data as Float32Array };
      const features = { dtype: 'float32' as const, shape: [...r.features.dims], data: r.features.data as Float32Array };
      const e = maxAbsError(logits, g.output);
      expect(e.err).toBeLessThanOrEqual(e.tol);
      const f = maxAbsError(features, g.features);
      expect(f.err).toBeLessThanOrEqual(f.tol);
      await s.release();
    });
  }

  it('the batch is dynamic: a model exported from a batch-2 case runs at batch 1 and 3', async () => {
    const g = exportGolden('pvt_v2_llll', dir);
    const s = await ortNode.InferenceSession.create(g.file);
    const run = async (x: typeof g.input) => {
      const r = await s.run({ input: new ortNode.Tensor('float32', x.data as Float32Array, x.shape) });
      return { dtype: 'float32' as const, shape: [...r.logits.dims], data: r.logits.data as Float32Array };
    };
    // batch 1: the second image alone; batch 3: images 1, 0, 1
    const one = await run(rows(g.input, 1, 2));
    const e1 = maxAbsError(one, rows(g.output, 1, 2));
    expect(e1.err).toBeLessThanOrEqual(e1.tol);
    const three = await run(stack([rows(g.input, 1, 2), g.input]));
    expect(three.shape).toEqual([3, 10]);
    const e3 = maxAbsError(three, stack([rows(g.output, 1, 2), g.output]));
    expect(e3.err).toBeLessThanOrEqual(e3.tol);
    await s.release();
  });

  it('the same file runs in onnxruntime-web (wasm), as the browser demo will', async () => {
    const g = exportGolden('swin_llss', dir);
    ortWeb.env.wasm.numThreads = 1;
    const s = await ortWeb.InferenceSession.create(readFileSync(g.file));
    const r = await s.run({ input: new ortWeb.Tensor('float32', g.input.data as Float32Array, g.input.shape) });
    const e = maxAbsError({ dtype: 'float32', shape: [...r.logits.dims], data: r.logits.data as Float32Array }, g.output);
    expect(e.err).toBeLessThanOrEqual(e.tol);
    await s.release();
  });
});
