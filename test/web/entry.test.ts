/**
 * The browser entry (src/web) run in Node on onnxruntime-web's wasm build: every kind of model source gives the
 * logits of the Node pipeline on onnxruntime-node for the same pixels, and bad sources are one named line.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModelFolder } from '../../src/api/folder.js';
import { createModel } from '../../src/api/model.js';
import { pipeline as nodePipeline } from '../../src/api/pipeline.js';
import { exportOnnx, optimizeForWeb } from '../../src/api/export.js';
import { nodeOpTypes, onnxMetadata } from '../../src/engines/onnx/inspect.js';
import { prepareImages } from '../../src/api/classify.js';
import { toBatch } from '../../src/io/image.js';
import { decodePng } from '../../src/io/png.js';
import { ReadBudget } from '../../src/io/budget.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { pipeline, type RawPixels, type WebImagePipeline, type WebModelSource } from '../../src/web/index.js';
import { analysisModel, attentionWeights, captureFocused, initTfjs } from '../../src/web/analysis.js';
import { rejectsNamed, relativeError } from '../util.js';

const NAME = 'flatten_deit_fmnist';
const WEIGHTS = readFileSync(`weights/${NAME}.safetensors`);
const SAMPLES = ['web/samples/0-t-shirt-top.png', 'web/samples/7-sneaker.png'];
let dir: string;
let server: Server;
let url: string;
/** Node's logits for each sample (onnxruntime-node on the graph the Node pipeline builds), and its top-1. */
const ref: { logits: Float32Array; top: string; score: number; pixels: RawPixels }[] = [];

/** Files as a browser gives a dropped folder: `webkitRelativePath` under the folder's name. */
function droppedFiles(root: string, rels: string[], under = 'fmnist'): File[] {
  return rels.map((rel) => {
    const f = new File([readFileSync(join(root, rel))], rel.split('/').pop()!);
    Object.defineProperty(f, 'webkitRelativePath', { value: `${under}/${rel}` });
    return f;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flatten-web-'));
  await exportModelFolder({ name: NAME, out: join(dir, 'fmnist'), check: false });
  server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    if (relative(dir, path).startsWith('..')) return void res.writeHead(403).end();
    try {
      const body = readFileSync(path);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const m = createModel(NAME);
  const session = await OnnxSession.create(exportOnnx({ name: NAME, checkpoint: m.weights }).bytes, NAME, {
    threads: 1,
  });
  const classify = await nodePipeline('image-classification', NAME, { threads: 1, topK: 1 });
  for (const file of SAMPLES) {
    const [img] = await prepareImages([file], m.preprocess, 1);
    const out = await session.run({ pixel_values: toBatch([img], m.preprocess) });
    const [top] = await classify(file);
    const png = decodePng(readFileSync(file), file, new ReadBudget(1e8));
    ref.push({
      logits: out.logits.data as Float32Array,
      top: top.label,
      score: top.score,
      pixels: { ...png, channels: png.channels as 1 | 3 | 4 },
    });
  }
  await session.release();
  await classify.dispose();
});
afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The pipeline's logits and top-1 on every sample, from its PNG bytes and from its pixels, against Node's. */
async function expectNodeLogits(p: WebImagePipeline): Promise<void> {
  for (const [i, file] of SAMPLES.entries()) {
    for (const input of [new Uint8Array(readFileSync(file)), ref[i].pixels]) {
      expect(relativeError(await p.logits(input), ref[i].logits), file).toBeLessThan(1e-4);
      const [top] = await p(input, { topk: 1 });
      expect(top.label).toBe(ref[i].top);
      expect(Math.abs(top.score - ref[i].score)).toBeLessThan(1e-4);
    }
  }
  await p.dispose();
}

describe('the browser entry on onnxruntime-web (wasm, in Node)', () => {
  it('a registry name with the weights as bytes builds the graph here: the Node logits and top-1', async () => {
    const p = await pipeline('image-classification', NAME, { weights: new Uint8Array(WEIGHTS), device: 'wasm' });
    expect(p.device).toBe('wasm');
    expect(p.info).toMatchObject({ name: NAME, imgSize: [28, 28], channels: 1, random: false, dtype: 'fp32' });
    expect(p.info.labels[7]).toBe('Sneaker');
    // a list is one batch: a list per image, as the Node pipeline gives
    const both = await p(
      ref.map((r) => r.pixels),
      { topk: 1 },
    );
    expect(both.map(([t]) => t.label)).toEqual(ref.map((r) => r.top));
    await expectNodeLogits(p);
  });

  it('.onnx bytes, a dropped .onnx, dropped folders, a served folder and an injected fetch give the same', async () => {
    const onnx = readFileSync(join(dir, 'fmnist/onnx/model.onnx'));
    const rels = ['config.json', 'preprocessor_config.json', 'onnx/model.onnx'];
    // a parent folder dropped: the model folder is where config.json is
    const parent = droppedFiles(join(dir, 'fmnist'), rels, 'models/fmnist');
    // fetch injected: a host this process cannot reach, answered from the folder
    const injected: typeof fetch = async (u) => {
      const path = join(dir, new URL(String(u)).pathname);
      return existsSync(path) ? new Response(readFileSync(path)) : new Response(null, { status: 404 });
    };
    const progress: string[] = [];
    const sources: [WebModelSource, typeof fetch | undefined][] = [
      [new Uint8Array(onnx), undefined],
      [[new File([onnx], 'model.onnx')], undefined],
      [droppedFiles(join(dir, 'fmnist'), rels), undefined],
      [parent, undefined],
      [`${url}/fmnist/`, undefined],
      ['https://models.example/fmnist/onnx/model.onnx', injected],
    ];
    for (const [source, fetch] of sources) {
      const p = await pipeline('image-classification', source, {
        device: 'auto',
        fetch,
        onProgress: (e) => progress.push(`${e.stage}:${e.loaded}/${e.total ?? '?'}`),
      });
      expect(p.info.labels[0]).toBe('T-shirt/top');
      await expectNodeLogits(p);
    }
    // the served graph's download reached its content-length
    expect(progress).toContain(`download:${onnx.length}/${onnx.length}`);
  });

  it('a graph pre-optimized by onnxruntime-node (optimizeForWeb) opens with the optimizer off: the same logits', async () => {
    const m = createModel(NAME);
    const bytes = await optimizeForWeb(exportOnnx({ name: NAME, checkpoint: m.weights }).bytes);
    expect(onnxMetadata(bytes)).toMatchObject({ 'flatten.optimized': 'extended', 'flatten.name': NAME });
    // ORT's fusions are in the file (portable ones: no NCHWc kernels, which the wasm build lacks)
    const ops = nodeOpTypes(bytes);
    expect(ops).toContain('com.microsoft.Gelu');
    expect(ops.some((o) => o.includes('nchwc'))).toBe(false);
    const ort = await import('onnxruntime-web');
    const levels: unknown[] = [];
    const spy = {
      ...ort,
      InferenceSession: {
        create: (model: Uint8Array, o: import('onnxruntime-web').InferenceSession.SessionOptions) => {
          levels.push(o.graphOptimizationLevel);
          return ort.InferenceSession.create(model, o);
        },
      },
    } as unknown as typeof ort;
    const p = await pipeline('image-classification', bytes, { device: 'wasm', ort: spy });
    expect(levels).toEqual(['disabled']);
    expect(p.info.random).toBe(false);
    await expectNodeLogits(p);
    // an export of random weights says so, as a registry name with random weights does
    const rnd = await pipeline('image-classification', exportOnnx({ name: NAME }).bytes, { device: 'wasm', ort: spy });
    expect(rnd.info.random).toBe(true);
    expect(levels).toEqual(['disabled', 'all']);
    await rnd.dispose();
  });

  it('random weights say so; feature extraction gives the Node pooled features', async () => {
    const r = await pipeline('image-classification', NAME, { weights: 'random' });
    expect(r.info.random).toBe(true);
    expect(r.info.source).toMatch(/random/);
    expect(await r(ref[0].pixels, { topk: 3 })).toHaveLength(3);
    await r.dispose();
    const p = await pipeline('image-feature-extraction', NAME, { weights: new Uint8Array(WEIGHTS) });
    const node = await nodePipeline('image-feature-extraction', NAME, { threads: 1 });
    const want = await node(SAMPLES[1]);
    expect(relativeError(await p(ref[1].pixels), want.data as Float32Array)).toBeLessThan(1e-4);
    const rows = await p([ref[0].pixels, ref[1].pixels]);
    expect(relativeError(rows[1], want.data as Float32Array)).toBeLessThan(1e-4);
    await p.dispose();
    await node.dispose();
  });
});

describe('bad sources are one line with a code', () => {
  it('unknown name, truncated .onnx, folder without config.json or without the dtype file, HTTP 404, no WebGPU', async () => {
    expect(
      await rejectsNamed(pipeline('image-classification', 'flatten_nope', { weights: 'random' }), 'BAD_CONFIG'),
    ).toMatch(/unknown model 'flatten_nope'/);
    const onnx = new Uint8Array(readFileSync(join(dir, 'fmnist/onnx/model.onnx')));
    expect(
      await rejectsNamed(pipeline('image-classification', onnx.subarray(0, onnx.length >> 1)), 'BAD_FILE'),
    ).toMatch(/model bytes/);
    const root = join(dir, 'fmnist');
    expect(
      await rejectsNamed(
        pipeline('image-classification', droppedFiles(root, ['preprocessor_config.json', 'onnx/model.onnx'])),
        'BAD_FILE',
      ),
    ).toMatch(/no config.json/);
    expect(
      await rejectsNamed(
        pipeline(
          'image-classification',
          droppedFiles(root, ['config.json', 'preprocessor_config.json', 'onnx/model.onnx']),
          { dtype: 'q4' },
        ),
        'BAD_FILE',
      ),
    ).toMatch(/no onnx\/model_q4.onnx for dtype 'q4' \(the folder has: fp32\)/);
    expect(await rejectsNamed(pipeline('image-classification', `${url}/fmnist/`, { dtype: 'q8' }), 'BAD_FILE')).toMatch(
      /model_quantized.onnx \(HTTP 404/,
    );
    expect(await rejectsNamed(pipeline('image-classification', `${url}/nothing/model.onnx`), 'BAD_FILE')).toMatch(
      new RegExp(`${url}/nothing/model.onnx: HTTP 404`),
    );
    expect(await rejectsNamed(pipeline('image-classification', NAME), 'BAD_ARGUMENT')).toMatch(/options.weights/);
    expect(
      await rejectsNamed(
        pipeline('image-classification', NAME, { weights: 'random', device: 'webgpu' }),
        'BAD_ARGUMENT',
      ),
    ).toMatch(/no WebGPU adapter/);
    expect(await rejectsNamed(pipeline('image-classification', onnx, { dtype: 'int4' as 'q4' }), 'BAD_CONFIG')).toMatch(
      /unknown dtype 'int4'/,
    );
    const white = { data: new Uint8Array(4), width: 2, height: 1, channels: 3 as const };
    const p = await pipeline('image-classification', onnx);
    expect(await rejectsNamed(p(white), 'BAD_SHAPE')).toMatch(/2×1×3 pixels need 6 bytes, got 4/);
    // the pipeline still works after a bad image
    expect((await p(ref[0].pixels, { topk: 1 }))[0].label).toBe(ref[0].top);
    await p.dispose();
  });
});

describe('flatten-transformer/web/analysis', () => {
  it("binds a registry model's weights for captureFocused; bad weights are one named line", async () => {
    await initTfjs('cpu');
    const m = analysisModel(NAME, { weights: new Uint8Array(WEIGHTS), source: 'shipped.safetensors' });
    // the Node pipeline's preprocessing of the sample, (1, 1, 28, 28) normalised
    const [img] = await prepareImages([SAMPLES[1]], m.preprocess, 1);
    const x = toBatch([img], m.preprocess);
    const { logits, blocks } = await captureFocused(m.model, m.weights, x);
    expect(blocks).toHaveLength(m.kwargs.depth as number);
    // the eager tfjs model gives the ONNX logits of the same pixels
    expect(relativeError(logits.data as Float32Array, ref[1].logits)).toBeLessThan(1e-4);
    const focused = attentionWeights(blocks[0], 0, 'focused')!;
    expect(focused.length).toBe(blocks[0].tokens * blocks[0].keys);
    expect(
      await rejectsNamed(
        Promise.resolve().then(() => analysisModel(NAME, { weights: WEIGHTS.subarray(0, 100) })),
        'BAD_FILE',
      ),
    ).toMatch(/flatten_deit_fmnist weights/);
  });
});
