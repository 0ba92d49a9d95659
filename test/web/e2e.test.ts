/**
 * End-to-end: build the bundle, serve it on a free loopback port, drive Debian's Chromium (never a
 * downloaded browser) through playwright-core. The page classifies a sample on onnxruntime-web's wasm
 * path and on its WebGPU path (SwiftShader, Chromium's software GPU) with the same logits, classifies a
 * model folder exported here and fed through the folder input, and shows a dropped bad file as one
 * error line while the loaded model keeps working. Screenshots of each view go to test-output/web-*.png.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModelFolder } from '../../src/api/folder.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/fashion_mnist.js';
import { registryEntry } from '../../src/models/registry.js';
import { buildWeb } from '../../web/build.js';
import { chromiumMissing, launchChromium } from '../../web/chromium.js';
import { REPO_ROOT, SAMPLES_DIR, WEIGHTS_PATH } from '../../web/paths.js';
import { startServer, type RunningServer } from '../../web/serve.js';
import { MODEL_NAME, type Sample } from '../../web/src/shared.js';

const OUT = join(REPO_ROOT, 'test-output');
/** Trouser: the class a trained model gets right most reliably, so the check is not flaky. */
const SAMPLE = 1;
const SHIPPED = existsSync(join(REPO_ROOT, WEIGHTS_PATH));
const MISSING = chromiumMissing();
/** The smallest RGB registry model: built in the tab with seeded random weights. */
const RGB_MODEL = 'flatten_pvt_v2_b0';
/** The bound the issue sets between the two execution providers (and the folder against the registry build). */
const LOGIT_TOL = 1e-4;

const samples = JSON.parse(readFileSync(join(SAMPLES_DIR, 'samples.json'), 'utf8')) as Sample[];

describe('browser demo (Chromium, onnxruntime-web)', () => {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let folder: string | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  /** The wasm path's logits on SAMPLE, the reference of the later checks. */
  let wasmLogits: number[] = [];
  /** The picker's label of the dropped folder's model. */
  let folderOption = '';

  beforeAll(async () => {
    // a missing browser fails the first test below (never a silent skip)
    if (MISSING) return;
    folder = mkdtempSync(join(tmpdir(), 'flatten-web-folder-'));
    const out = join(folder, 'fmnist');
    // the shipped weights when present (else random): the same weights the page's default model has
    await Promise.all([buildWeb(), exportModelFolder({ name: MODEL_NAME, out, dtypes: ['fp32'], check: false })]);
    server = await startServer(0);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** Clicks a sample and returns the logits once the predictions of that sample (on `device`) are shown. */
  async function classifySample(index: number, device: string, timeout = 30_000): Promise<number[]> {
    await page.click(`button[data-sample="${index}"]`);
    const shown = page.locator(`#predictions[data-input="sample:${index}"][data-device="${device}"]`);
    await shown.locator('li').first().waitFor({ timeout });
    return JSON.parse((await shown.getAttribute('data-logits'))!) as number[];
  }

  const top1 = (z: number[]) => z.indexOf(Math.max(...z));
  const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

  it('wasm path: classifies a sample with threads and draws non-blank attention maps', async () => {
    expect(MISSING).toBeUndefined();
    await page.goto(`${server!.url}?device=wasm`);
    await page.waitForSelector('body[data-model="ready"][data-device="wasm"]');
    // COOP/COEP from web/serve.ts: SharedArrayBuffer, hence wasm threads
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    wasmLogits = await classifySample(SAMPLE, 'wasm');
    expect(wasmLogits).toHaveLength(FASHION_MNIST_CLASSES.length);
    expect(await page.locator('#predictions li').count()).toBe(5);
    const label = await page.locator('#predictions li .label').first().textContent();
    expect(await page.locator('#banner').isVisible()).toBe(!SHIPPED);
    // with the shipped (trained) weights the answer must be right; random weights only show some class
    if (SHIPPED) expect(label).toBe(FASHION_MNIST_CLASSES[samples[SAMPLE].label]);
    expect(label).toBe(FASHION_MNIST_CLASSES[top1(wasmLogits)]);
    const threads = await page.evaluate(() => (window as unknown as { __demo: { threads: number } }).__demo.threads);
    expect(threads).toBeGreaterThan(1);
    // Chromium runs relaxed SIMD: the page takes web/build.ts's fused multiply-add .wasm
    expect(await page.locator('#status').textContent()).toContain(
      `wasm, ${threads} threads, fused multiply-add (relaxed SIMD)`,
    );
    expect(await page.locator('#timing').textContent()).toMatch(/^First prediction \d+ ms after page load started\.$/);

    await page.waitForSelector(`#maps[data-input="sample:${SAMPLE}"] canvas.heatmap`);
    const maps = page.locator('canvas.heatmap');
    expect(await maps.count()).toBe((registryEntry(MODEL_NAME).kwargs.depth as number) * 4); // every block is focused; 4 forms each
    const colours = await maps.evaluateAll((canvases) =>
      (canvases as HTMLCanvasElement[]).map((c) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size;
      }),
    );
    for (const n of colours) expect(n).toBeGreaterThan(1);
    expect(await page.locator('#analysis-status').textContent()).toContain('TensorFlow.js wasm backend');

    // clicking a map cell makes it the query
    await maps.first().click({ position: { x: 5, y: 5 } });
    expect(await page.locator('#query-label').textContent()).toBe('patch row 1, column 1');

    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'web-wasm.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('WebGPU path (SwiftShader): the same top-1 and logits within 1e-4 of wasm', async () => {
    expect(wasmLogits, 'the wasm test above must have run').toHaveLength(FASHION_MNIST_CLASSES.length);
    expect(await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) != null)).toBe(true);
    await page.selectOption('#device', 'webgpu');
    await page.waitForSelector('body[data-model="ready"][data-device="webgpu"]');
    // SwiftShader compiles every kernel's shader on the first run: 12-23 s here, depending on the host's load
    const logits = await classifySample(SAMPLE, 'webgpu', 120_000);
    expect(top1(logits)).toBe(top1(wasmLogits));
    expect(maxDiff(logits, wasmLogits)).toBeLessThan(LOGIT_TOL);
    expect(await page.locator('#status').textContent()).toContain('WebGPU');
    await page.screenshot({ path: join(OUT, 'web-webgpu.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 150_000);

  it('a model folder from exportModelFolder, fed through the folder input, is classified', async () => {
    await page.selectOption('#device', 'wasm');
    await page.waitForSelector('body[data-model="ready"][data-device="wasm"]');
    const dir = join(folder!, 'fmnist');
    expect(readdirSync(dir)).toContain('config.json');
    await page.setInputFiles('#folder-input', dir);
    await page.waitForSelector('body[data-model="ready"][data-choice="files"]');
    expect(await page.locator('#model').inputValue()).toBe('dropped');
    folderOption = (await page.locator('#model option:checked').textContent())!;
    expect(folderOption).toMatch(/^dropped: fmnist\/ \(\d+ files\)$/);
    // the folder holds the shipped weights where they are here, else random ones, and the banner says which
    expect(await page.locator('#banner').isVisible()).toBe(!SHIPPED);
    const logits = await classifySample(SAMPLE, 'wasm');
    expect(top1(logits)).toBe(top1(wasmLogits));
    expect(maxDiff(logits, wasmLogits)).toBeLessThan(LOGIT_TOL);
    // predictions only: the maps are for the built-in model
    expect(await page.locator('#attention-note').isVisible()).toBe(true);
    expect(await page.locator('#attention-body').isVisible()).toBe(false);
    await page.screenshot({ path: join(OUT, 'web-folder.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('a bad file dropped in shows one error line and the loaded model keeps classifying', async () => {
    const before = await page.locator('#model-info').textContent();
    // a real drop: a DataTransfer holding a file that is no ONNX model
    const transfer = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new TextEncoder().encode('this is not an ONNX model')], 'broken.onnx'));
      return dt;
    });
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    const text = (await error.textContent())!;
    expect(text).toMatch(/^error: .*broken\.onnx/);
    expect(text).not.toContain('\n');
    expect(await page.locator('body').getAttribute('data-model')).toBe('ready');
    expect(await page.locator('#model-info').textContent()).toBe(before);
    // the picker names the model still loaded, not the file that failed
    expect(await page.locator('#model').inputValue()).toBe('dropped');
    expect(await page.locator('#model option:checked').textContent()).toBe(folderOption);
    await page.screenshot({ path: join(OUT, 'web-error.png'), fullPage: true });
    // still classifying, on the folder's model
    const other = (SAMPLE + 1) % samples.length;
    const logits = await classifySample(other, 'wasm');
    expect(logits).toHaveLength(FASHION_MNIST_CLASSES.length);
    if (SHIPPED) expect(top1(logits)).toBe(samples[other].label);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('a registry model picked with RANDOM WEIGHTS classifies an uploaded photo in colour', async () => {
    await page.selectOption('#model', RGB_MODEL);
    await page.waitForSelector('body[data-model="ready"][data-choice="registry"]');
    expect(await page.locator('#model option:checked').textContent()).toContain('RANDOM WEIGHTS');
    expect(await page.locator('#banner').isVisible()).toBe(true);
    expect(await page.locator('#banner-why').textContent()).toBe('a registry pick: the tab has no checkpoint for it');
    expect(await page.locator('#model-info').textContent()).toContain(`${RGB_MODEL}: 224×224 RGB`);
    // a uniform red and a uniform gray of the same luminance: one input if the page fed the model gray, so
    // different logits show the colour reached it (uniform images stay uniform through any resize)
    const solid = (r: number, g: number, b: number) =>
      sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } })
        .png()
        .toBuffer();
    const logitsOf = async (name: string, png: Buffer) => {
      await page.setInputFiles('#upload', { name, mimeType: 'image/png', buffer: png });
      const shown = page.locator(`#predictions[data-input="upload:${name}"]`);
      await shown.locator('li').first().waitFor();
      return JSON.parse((await shown.getAttribute('data-logits'))!) as number[];
    };
    const red = await logitsOf('red.png', await solid(255, 0, 0));
    // the photo itself is shown beside the gray canvas
    expect(await page.locator('#photo').isVisible()).toBe(true);
    const gray = await logitsOf('gray.png', await solid(76, 76, 76)); // 0.299 · 255 ≈ 76
    expect(red).toHaveLength(1000);
    expect(maxDiff(red, gray)).toBeGreaterThan(1e-3);
    // predictions only for this model
    expect(await page.locator('#attention-note').isVisible()).toBe(true);
    await page.screenshot({ path: join(OUT, 'web-registry.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it("served without COOP/COEP, the page runs 1 thread and says why; 'auto' passes over a software GPU", async () => {
    const plain = await startServer(0, { isolate: false });
    try {
      // the only adapter here is SwiftShader's: 'auto' takes wasm (its first WebGPU run would take seconds)
      await page.goto(`${plain.url}?device=auto`);
      await page.waitForSelector(`#predictions[data-input="sample:0"][data-device="wasm"] li`);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
      expect(await page.locator('#status').textContent()).toContain(
        'wasm, 1 thread, fused multiply-add (relaxed SIMD): this page is not cross-origin isolated (served without COOP/COEP headers)',
      );
    } finally {
      await plain.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
