/**
 * Fine-tuning in a web page: Debian's Chromium (never a downloaded browser, via playwright-core) loads
 * onnxruntime-web (wasm) and src/train/web_step.ts from a loopback server of this test, and takes AdamW steps
 * of flatten_deit_fmnist's training-step graph (traceTrainStep) on a batch of real Fashion-MNIST training
 * images, from the shipped weights. The same WebTrainStep on onnxruntime-node in this process is the reference.
 */
import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import * as ort from 'onnxruntime-node';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedWeights } from '../../src/api/model.js';
import { fashionMnist } from '../../src/data/fashion_mnist.js';
import { traceTrainStep } from '../../src/engines/onnx/grad/step.js';
import { readSafetensorsFile } from '../../src/io/safetensors.js';
import { buildNamed } from '../../src/models/build.js';
import { WebTrainStep, webTrainSpec, type OrtModule, type WebOptimizer } from '../../src/train/web_step.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = new URL('../..', import.meta.url).pathname;
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const B = 32;
const STEPS = 4;
// drop path on, as in training: the page draws the masks the Node trainer draws for these keys
const dropKeys = (step: number) => [0, 0, step, 2];
const OPTIMIZER: WebOptimizer = { kind: 'adamw', lr: 1e-4, weightDecay: 0.05 };

const PAGE = `<!doctype html><meta charset="utf-8"><title>fine-tune</title><script type="module">
import * as ort from '/ort/ort.wasm.min.mjs';
import { WebTrainStep } from '/web_step.js';
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
const bytes = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
window.fineTune = async (steps, optimizer) => {
  const spec = await (await fetch('/spec.json')).json();
  const [graph, weights, batch] = await Promise.all(['/graph.onnx', '/params.bin', '/batch.bin'].map(bytes));
  const flat = new Float32Array(weights.buffer);
  const values = new Map();
  let at = 0;
  for (const p of spec.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    values.set(p.path, flat.slice(at, at + n));
    at += n;
  }
  const size = spec.input.reduce((a, b) => a * b, 1);
  const x = new Float32Array(batch.buffer, 0, size);
  const y = new Int32Array(batch.buffer, size * 4, spec.input[0]);
  const trainer = await WebTrainStep.create(ort, graph, spec, values, optimizer, { executionProviders: ['wasm'] });
  const losses = [];
  for (let i = 0; i < steps; i++)
    losses.push((await trainer.step({ x, y, smoothing: 0.1, dropKeys: [0, 0, i, 2] })).loss);
  await trainer.release();
  return losses;
};
document.body.dataset.ready = 'yes';
</script>`;

describe('fine-tuning in a web page (Chromium, onnxruntime-web wasm)', () => {
  const model = buildNamed('flatten_deit_fmnist');
  const graph = traceTrainStep(
    {
      params: new Map([...model.table.specs.values()].filter((s) => !s.buffer).map((s) => [s.path, s.shape])),
      buffers: new Map([...model.table.specs.values()].filter((s) => s.buffer).map((s) => [s.path, s.buffer!])),
      input: [B, 1, 28, 28],
      classes: 10,
    },
    (ctx, x) => model.forward(ctx, x).logits,
  );
  const spec = webTrainSpec(model, graph, B);
  const initial = () => {
    const sd = readSafetensorsFile(shippedWeights('flatten_deit_fmnist')!).tensors;
    return new Map(spec.params.map((p) => [p.path, Float32Array.from(sd.get(p.path)!.data as Float32Array)]));
  };
  let batch: { x: Float32Array; y: Int32Array };
  let server: Server | undefined;
  let url = '';
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  beforeAll(async () => {
    // 32 real training images, 3 or 4 of each class (the split is class-major: stride through it)
    const train = fashionMnist('train');
    const loaded = await train.load(Int32Array.from({ length: B }, (_, i) => i * 1873));
    batch = { x: loaded.x, y: loaded.y };
    const bundle = await build({
      entryPoints: [join(ROOT, 'src/train/web_step.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
    });
    const values = initial();
    const files: Record<string, Uint8Array | string> = {
      '/': PAGE,
      '/web_step.js': bundle.outputFiles[0].text,
      '/spec.json': JSON.stringify(spec),
      '/graph.onnx': graph.bytes,
      '/params.bin': Buffer.concat(spec.params.map((p) => Buffer.from(values.get(p.path)!.buffer))),
      '/batch.bin': Buffer.concat([Buffer.from(batch.x.buffer), Buffer.from(batch.y.buffer)]),
    };
    const mime: Record<string, string> = {
      '.mjs': 'text/javascript',
      '.js': 'text/javascript',
      '.wasm': 'application/wasm',
    };
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const file = path.startsWith('/ort/')
        ? join(ORT_DIST, normalize(path.slice(5)).replace(/^(\.\.[/\\])+/, ''))
        : '';
      const body = files[path] ?? (file && existsSync(file) ? readFileSync(file) : undefined);
      if (body === undefined) return res.writeHead(404).end();
      const type = path === '/' ? 'text/html' : (mime[extname(path)] ?? 'application/octet-stream');
      res.writeHead(200, { 'content-type': type }).end(body);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    if (!existsSync(CHROMIUM)) return; // fails in the test, never a silent skip
    profile = mkdtempSync(join(tmpdir(), 'flatten-train-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      timeout: 60_000,
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('AdamW steps in the page lower the loss; the first loss is onnxruntime-node’s to 1e-4', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} not found: this test needs Debian's Chromium`).toBe(true);
    const page = context!.pages()[0] ?? (await context!.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 30_000 });
    const web = await page.evaluate(
      ([steps, opt]) =>
        (window as unknown as { fineTune: (s: number, o: unknown) => Promise<number[]> }).fineTune(steps, opt),
      [STEPS, OPTIMIZER] as const,
    );
    expect(errors).toEqual([]);

    const node = await WebTrainStep.create(ort as unknown as OrtModule, graph.bytes, spec, initial(), OPTIMIZER, {
      intraOpNumThreads: 1,
    });
    const ref: number[] = [];
    for (let i = 0; i < STEPS; i++)
      ref.push((await node.step({ ...batch, smoothing: 0.1, dropKeys: dropKeys(i) })).loss);
    await node.release();

    console.log(
      `page losses ${web.map((l) => l.toFixed(5)).join(' ')}; node ${ref.map((l) => l.toFixed(5)).join(' ')}; largest difference ${Math.max(...web.map((l, i) => Math.abs(l - ref[i]))).toExponential(1)}`,
    );
    expect(web).toHaveLength(STEPS);
    expect(Math.abs(web[0] - ref[0])).toBeLessThan(1e-4);
    // every later step too, within what AdamW's first steps (±lr per weight) make of float-order differences
    web.forEach((l, i) => expect(Math.abs(l - ref[i]), `step ${i}`).toBeLessThan(1e-3));
    expect(web[STEPS - 1]).toBeLessThan(web[0] - 0.02);
  }, 120_000);
});
