import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { rmSync } from 'node:fs';
import { exportOnnx, optimizeForWeb } from '../../src/api/export.js';
import { nodeOpTypes } from '../../src/engines/onnx/inspect.js';
import { runCase } from '../../src/api/forward.js';
import { registryEntry } from '../../src/models/registry.js';
import { maxAbsError } from '../util.js';
import { exportGolden, rows, stack, tmp } from './helpers.js';

/** Deterministic images in [0, 1). */
const images = (shape: number[]) => ({
  dtype: 'float32' as const,
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7919) % 1000) / 1000),
});

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
      expect(s.inputNames).toEqual(['pixel_values']);
      expect(s.outputNames).toEqual(['logits', 'pooler_output']);
      const r = await s.run({
        pixel_values: new ortNode.Tensor('float32', g.input.data as Float32Array, g.input.shape),
      });
      const logits = { dtype: 'float32' as const, shape: [...r.logits.dims], data: r.logits.data as Float32Array };
      const features = {
        dtype: 'float32' as const,
        shape: [...r.pooler_output.dims],
        data: r.pooler_output.data as Float32Array,
      };
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
      const r = await s.run({ pixel_values: new ortNode.Tensor('float32', x.data as Float32Array, x.shape) });
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

  it('FLatten-DeiT (cls token broadcast to the batch) exports with a dynamic batch and matches tfjs', async () => {
    const name = 'flatten_deit_fmnist';
    const e = registryEntry(name);
    const file = join(dir, `${name}.onnx`);
    writeFileSync(file, exportOnnx({ name }).bytes);
    const x = images([3, 1, 28, 28]);
    const s = await ortNode.InferenceSession.create(file);
    const r = await s.run({ pixel_values: new ortNode.Tensor('float32', x.data as Float32Array, x.shape) });
    const ref = await runCase(
      { kind: 'model', family: e.family, constructor: e.constructor, kwargs: e.kwargs },
      undefined,
      x,
      { engine: 'tfjs' },
    );
    const { err, tol } = maxAbsError(
      { dtype: 'float32', shape: [...r.logits.dims], data: r.logits.data as Float32Array },
      ref.output,
    );
    expect(err).toBeLessThanOrEqual(tol);
    await s.release();
  });

  it('the same file runs in onnxruntime-web (wasm), as the browser demo will', async () => {
    const g = exportGolden('swin_llss', dir);
    ortWeb.env.wasm.numThreads = 1;
    const s = await ortWeb.InferenceSession.create(readFileSync(g.file));
    const r = await s.run({ pixel_values: new ortWeb.Tensor('float32', g.input.data as Float32Array, g.input.shape) });
    const e = maxAbsError(
      { dtype: 'float32', shape: [...r.logits.dims], data: r.logits.data as Float32Array },
      g.output,
    );
    expect(e.err).toBeLessThanOrEqual(e.tol);
    await s.release();
  });
});

/**
 * The graph for onnxruntime-web (`target: 'web'`): LayerNorms of ≥ WEB_LAYERNORM_MIN elements a sample become
 * elementwise ops (docs/browser_speed.md); the smaller ones stay one node. Still the golden outputs, on both runtimes.
 */
describe("export target 'web'", () => {
  let dir: string;
  beforeAll(() => {
    dir = tmp();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const layerNorms = (bytes: Uint8Array) => nodeOpTypes(bytes).filter((op) => op === 'LayerNormalization').length;

  for (const name of ['swin_llss', 'pvt_sr8421_llss']) {
    it(`${name}: its large LayerNorms as elementwise ops, the golden logits on onnxruntime-node and -web`, async () => {
      const plain = exportGolden(name, dir);
      const g = exportGolden(name, dir, { target: 'web' });
      // some LayerNorms rewritten (the test would pass vacuously otherwise), and ORT's optimizer does not fuse them back
      const written = layerNorms(g.export.bytes);
      expect(written).toBeLessThan(layerNorms(plain.export.bytes));
      expect(nodeOpTypes(g.export.bytes)).toContain('ReduceMean');
      expect(layerNorms(await optimizeForWeb(g.export.bytes))).toBe(written);
      expect(g.export.proto.metadata?.['flatten.target']).toBe('web');
      for (const ort of [ortNode, ortWeb] as const) {
        if (ort === ortWeb) ortWeb.env.wasm.numThreads = 1;
        const s = await (ort as typeof ortNode).InferenceSession.create(readFileSync(g.file));
        const r = await s.run({
          pixel_values: new (ort as typeof ortNode).Tensor('float32', g.input.data as Float32Array, g.input.shape),
        });
        const e = maxAbsError(
          { dtype: 'float32', shape: [...r.logits.dims], data: r.logits.data as Float32Array },
          g.output,
        );
        expect(e.err, ort === ortWeb ? 'web' : 'node').toBeLessThanOrEqual(e.tol);
        await s.release();
      }
    });
  }

  it('an unknown target is a named error', () => {
    expect(() => exportOnnx({ name: 'flatten_deit_fmnist', target: 'wasm' as 'web' })).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT', message: "unknown export target 'wasm'; valid: node, web" }),
    );
  });
});
