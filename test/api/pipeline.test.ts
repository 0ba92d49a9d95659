import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createModel, exportOnnx, pipeline, type RawImage } from '../../src/index.js';
import { fashionMnist } from '../../src/data/fashion_mnist.js';
import { rejectsNamed } from '../util.js';

// counts graph traces, to prove that a pipeline traces its model once, not once per call
const traces = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/engines/onnx/trace.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/engines/onnx/trace.js')>();
  return {
    ...m,
    traceOnnx: (...args: Parameters<typeof m.traceOnnx>) => {
      traces.count++;
      return m.traceOnnx(...args);
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'flatten-pipeline-'));
/** The first test image of each Fashion-MNIST class, as decoded pixels, with its true label. */
let samples: { image: RawImage; label: string }[] = [];

beforeAll(() => {
  const data = fashionMnist('test');
  samples = data.classes.map((label, c) => {
    const i = c * 1000;
    return { image: { data: data.pixels.slice(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 }, label };
  });
});

describe("pipeline('image-classification')", () => {
  it('classifies the Fashion-MNIST samples with the shipped weights; the graph is traced once', async () => {
    const before = traces.count;
    const classify = await pipeline('image-classification', 'flatten_deit_fmnist', { topK: 3, threads: 1 });
    expect(traces.count).toBe(before + 1);
    expect(classify.source).toMatch(/flatten_deit_fmnist\.safetensors$/);
    const out = await classify(samples.map((s) => s.image));
    const again = await classify(samples[0].image);
    expect(traces.count).toBe(before + 1); // two calls, no new graph
    expect(out).toHaveLength(10);
    expect(again).toEqual(out[0]);
    for (const top of out) {
      expect(top).toHaveLength(3);
      expect(top[0].score).toBeGreaterThanOrEqual(top[1].score);
    }
    // the shipped model is right on at least 8 of these 10 (it scores 90.35% on the whole split)
    expect(out.filter((top, i) => top[0].label === samples[i].label).length).toBeGreaterThanOrEqual(8);
    await classify.dispose();
  });

  it('gives the same answer on tfjs, for paths, encoded bytes and decoded pixels', async () => {
    const png = join(dir, 'sample.png');
    const s = samples[3].image;
    await sharp(Buffer.from(s.data), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(png);
    const onnx = await pipeline('image-classification', 'flatten_deit_fmnist', { topK: 10 });
    const tfjs = await pipeline('image-classification', createModel('flatten_deit_fmnist'), {
      engine: 'tfjs',
      topK: 10,
    });
    const [fromRaw, fromPath] = await onnx([s, png]);
    const [fromBytes] = await tfjs([new Uint8Array(await sharp(png).toBuffer())]);
    expect(fromPath.map((c) => c.label)).toEqual(fromRaw.map((c) => c.label));
    expect(fromBytes.map((c) => c.label)).toEqual(fromRaw.map((c) => c.label));
    fromBytes.forEach((c, i) => expect(Math.abs(c.score - fromRaw[i].score)).toBeLessThan(1e-4));
    await onnx.dispose();
  });

  it('runs an .onnx file written by export, with the preprocessing and classes in its metadata', async () => {
    const file = join(dir, 'fmnist.onnx');
    writeFileSync(
      file,
      exportOnnx({ name: 'flatten_deit_fmnist', checkpoint: createModel('flatten_deit_fmnist').weights }).bytes,
    );
    const fromFile = await pipeline('image-classification', file, { topK: 2 });
    const fromName = await pipeline('image-classification', 'flatten_deit_fmnist', { topK: 2 });
    const images = samples.slice(0, 4).map((s) => s.image);
    expect(fromFile.model).toBeUndefined();
    expect((await fromFile(images)).map((t) => t[0].label)).toEqual((await fromName(images)).map((t) => t[0].label));
    await Promise.all([fromFile.dispose(), fromName.dispose()]);
  });

  it('exports a name in the dtype asked; an .onnx file runs in the dtype it holds', async () => {
    const q8 = await pipeline('image-classification', 'flatten_deit_fmnist', { dtype: 'q8', topK: 1, threads: 1 });
    const fp32 = await pipeline('image-classification', 'flatten_deit_fmnist', { topK: 1, threads: 1 });
    expect([q8.dtype, fp32.dtype]).toEqual(['q8', 'fp32']);
    const images = samples.map((s) => s.image);
    const [a, b] = [await q8(images), await fp32(images)];
    expect(a.map((t) => t[0].label)).toEqual(b.map((t) => t[0].label));
    expect(a.some((t, i) => t[0].score !== b[i][0].score)).toBe(true); // a different graph ran
    const file = join(dir, 'q4.onnx');
    writeFileSync(
      file,
      exportOnnx({ name: 'flatten_deit_fmnist', checkpoint: createModel('flatten_deit_fmnist').weights, dtype: 'q4' })
        .bytes,
    );
    const q4 = await pipeline('image-classification', file);
    expect(q4.dtype).toBe('q4');
    expect(await rejectsNamed(pipeline('image-classification', file, { dtype: 'fp32' }), 'BAD_ARGUMENT')).toMatch(
      /q4\.onnx holds the q4 graph, not fp32/,
    );
    await Promise.all([q8.dispose(), fp32.dispose(), q4.dispose()]);
  });

  it('names bad options, images and tasks', async () => {
    const fm = createModel('flatten_deit_fmnist');
    expect(
      await rejectsNamed(pipeline('image-classification', fm, { device: 'webgpu' as 'cpu' }), 'BAD_ARGUMENT'),
    ).toMatch(/device 'webgpu'/);
    expect(await rejectsNamed(pipeline('image-classification', fm, { dtype: 'q9' as 'q8' }), 'BAD_CONFIG')).toMatch(
      /unknown dtype 'q9'; valid: fp32, fp16, q8, q4/,
    );
    // a runtime that cannot run a dtype is named: tfjs computes in fp32
    expect(
      await rejectsNamed(pipeline('image-classification', fm, { dtype: 'q8', engine: 'tfjs' }), 'BAD_ARGUMENT'),
    ).toMatch(/dtype 'q8' runs on the onnx engine only/);
    expect(await rejectsNamed(pipeline('image-classification', fm, { topK: 0 }), 'BAD_ARGUMENT')).toMatch(/topK/);
    expect(
      await rejectsNamed(pipeline('image-classification', fm, { engine: 'gpu' as 'onnx' }), 'BAD_ARGUMENT'),
    ).toMatch(/unknown engine 'gpu'/);
    expect(await rejectsNamed(pipeline('depth-estimation' as 'image-classification', fm), 'BAD_ARGUMENT')).toMatch(
      /unknown task/,
    );
    expect(await rejectsNamed(pipeline('image-classification', 'flatten_nope'), 'BAD_CONFIG')).toMatch(/flatten_nope/);
    const classify = await pipeline('image-classification', fm, { engine: 'tfjs' });
    const short: RawImage = { data: new Uint8Array(10), width: 28, height: 28, channels: 1 };
    expect(await rejectsNamed(classify(short), 'BAD_SHAPE')).toMatch(/need 784 bytes, got 10/);
    expect(await rejectsNamed(classify(new Uint8Array([1, 2, 3])), 'BAD_FILE')).toMatch(/not a readable image/);
    expect(await rejectsNamed(classify([]), 'BAD_ARGUMENT')).toMatch(/no images/);
  });
});

describe("pipeline('image-feature-extraction')", () => {
  it('returns the pooled features (B, C) the head reads', async () => {
    const extract = await pipeline('image-feature-extraction', 'flatten_deit_fmnist');
    const f = await extract(samples.slice(0, 2).map((s) => s.image));
    expect(f.shape).toEqual([2, 64]);
    expect((f.data as Float32Array).every(Number.isFinite)).toBe(true);
    await extract.dispose();
  });
});
