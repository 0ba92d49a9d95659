/**
 * The demo's two figures in docs/demo.md, measured in Debian's headless Chromium and printed as tables:
 *   1. page load to the shipped model's first prediction (performance's time origin is navigation start),
 *      each load in a fresh browser context (empty cache: a first visit), on the wasm path, with where the
 *      time goes (the page's marks), on 1 thread, on the page's default threads, and on 1 thread with the stock .wasm
 *      (`?fma=0`) instead of the fused multiply-add one;
 *   2. the attention capture on tfjs's wasm backend against its pure-JS cpu backend, in one page,
 *      alternating cpu, wasm, cpu, wasm…: median of the per-pair ratios, with min and max (the host drifts).
 *   3. with `--folder DIR` (a folder written by `flatten export --format folder`, e.g. flatten_swin_t's 113 MB):
 *      the folder fed through the page's folder input until the model is ready, then photos uploaded one after
 *      another and the page's own latency of each; a screenshot of the page to test-output/web-dropped-folder.png.
 * `npx tsx web/measure.ts [--loads N] [--pairs N] [--folder DIR]` (defaults 5 and 10; loads on 1 thread and on
 * the page's default alternate, N of each; the folder part loads the folder `--loads` times, 5 photos each).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { buildWeb } from './build.js';
import { chromiumMissing, launchChromium } from './chromium.js';
import { REPO_ROOT } from './paths.js';
import { startServer } from './serve.js';

interface DemoHooks {
  __demo: {
    firstPredictionMs?: number;
    threads?: number;
    latencyMs?: number;
    timeCapture(backend: 'cpu' | 'wasm'): Promise<number>;
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: '${process.argv[i + 1]}' is not a positive integer`);
  return v;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number) => ms.toFixed(0);

/**
 * The page's marks, in ms from navigation start: the bundle runs, the downloads start (the shipped model's
 * pre-optimized graph and its weights), the session starts (onnxruntime-web's .wasm compiled and started with it),
 * the model is ready, its first prediction is shown.
 */
const MARKS = ['app-start', 'load:download', 'load:session', 'first-model-loaded', 'first-prediction'] as const;

/** Waits for the shipped model's first prediction and its maps (the capture needs the analysis loaded). */
async function firstPrediction(page: Page, url: string, query = ''): Promise<{ marks: number[]; threads: number }> {
  await page.goto(`${url}?device=wasm${query ? `&${query}` : ''}`);
  await page.waitForSelector('#maps[data-input] canvas.heatmap', { timeout: 120_000 });
  // no named functions inside: tsx would wrap them in a helper the page does not have
  return page.evaluate(
    (names) => ({
      marks: names.map((n) => performance.getEntriesByName(n, 'mark')[0]?.startTime ?? NaN),
      threads: (window as unknown as DemoHooks).__demo.threads!,
    }),
    MARKS as unknown as string[],
  );
}

const PHOTOS = 5;

/**
 * A model folder dropped in (fed through the folder input, as the picker gives it): ms from handing it over to the
 * model ready, then each uploaded photo's latency as the page measures it (the first includes the session's
 * first-run work). Each load in a fresh context, the page on wasm with its default threads.
 */
async function droppedFolder(browser: Browser, url: string, dir: string, loads: number) {
  const ready: number[] = [];
  const first: number[] = [];
  const later: number[] = [];
  let threads = 0;
  let shot = '';
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(300_000);
    await page.goto(`${url}?device=wasm`);
    await page.waitForSelector('body[data-model="ready"]');
    const t0 = Date.now();
    await page.setInputFiles('#folder-input', dir);
    await page.waitForSelector('body[data-model="ready"][data-choice="files"]');
    ready.push(Date.now() - t0);
    for (let k = 0; k < PHOTOS; k++) {
      // a different solid colour each time: a new input, so the page runs the model again
      const background = { r: 40 * k, g: 120, b: 200 - 30 * k };
      const name = `photo-${k}.png`;
      const png = await sharp({ create: { width: 320, height: 240, channels: 3, background } })
        .png()
        .toBuffer();
      await page.setInputFiles('#upload', { name, mimeType: 'image/png', buffer: png });
      await page.locator(`#predictions[data-input="upload:${name}"] li`).first().waitFor();
      const r = await page.evaluate(() => (window as unknown as DemoHooks).__demo);
      (k === 0 ? first : later).push(r.latencyMs!);
      threads = r.threads!;
    }
    if (i === loads - 1) {
      mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
      shot = join('test-output', 'web-dropped-folder.png');
      await page.screenshot({ path: join(REPO_ROOT, shot), fullPage: true });
    }
    await context.close();
  }
  const cell = (t: number[]) => `${fmt(median(t))} (${fmt(Math.min(...t))}–${fmt(Math.max(...t))})`;
  console.log(
    `\na dropped-in model folder (${basename(dir)}/), wasm, ${threads} threads, ${loads} loads in fresh contexts, ${PHOTOS} photos each`,
  );
  console.log('| what | ms: median (min–max) |\n|---|---|');
  console.log(`| folder handed over → model ready | ${cell(ready)} |`);
  console.log(`| first photo | ${cell(first)} |`);
  console.log(`| later photos | ${cell(later)} |`);
  console.log(`screenshot: ${shot}`);
}

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const loads = arg('--loads', 5);
  const pairs = arg('--pairs', 10);
  const f = process.argv.indexOf('--folder');
  const folder = f >= 0 ? process.argv[f + 1] : undefined;
  if (f >= 0 && !(folder && existsSync(join(folder, 'config.json'))))
    throw new Error(`--folder: '${folder ?? ''}' is not a model folder (no config.json in it)`);
  await buildWeb();
  const server = await startServer(0);
  const browser = await launchChromium();
  try {
    // 1 thread, the page's default, and 1 thread on the stock .wasm (?fma=0), alternating load by load
    const variants = [
      { query: 'threads=1', label: (n: number) => `${n} thread` },
      { query: '', label: (n: number) => `${n} threads` },
      { query: 'threads=1&fma=0', label: (n: number) => `${n} thread, stock .wasm` },
    ];
    const runs: number[][][] = variants.map(() => []);
    const threads = variants.map(() => 0);
    for (let i = 0; i < loads; i++) {
      for (const [k, v] of variants.entries()) {
        const context = await browser.newContext();
        const r = await firstPrediction(await context.newPage(), server.url, v.query);
        runs[k].push(r.marks);
        threads[k] = r.threads;
        await context.close();
      }
    }
    console.log(
      `\npage load → first prediction (flatten_deit_fmnist, onnxruntime-web wasm, ${loads} loads each, alternating, each in a fresh context)`,
    );
    const head = variants.map((v, k) => `${v.label(threads[k])}: median (min–max)`);
    console.log(
      `| mark (ms after navigation start) | ${head.join(' | ')} |\n|---|${variants.map(() => '---|').join('')}`,
    );
    MARKS.forEach((name, m) => {
      const cell = (k: number) => {
        const t = runs[k].map((r) => r[m]);
        return `${fmt(median(t))} (${fmt(Math.min(...t))}–${fmt(Math.max(...t))})`;
      };
      console.log(`| ${name} | ${variants.map((_, k) => cell(k)).join(' | ')} |`);
    });

    const page = await (await browser.newContext()).newPage();
    await firstPrediction(page, server.url);
    const time = (b: 'cpu' | 'wasm') => page.evaluate((x) => (window as unknown as DemoHooks).__demo.timeCapture(x), b);
    // one of each first: backend start-up and kernel compilation are not what is compared
    await time('cpu');
    await time('wasm');
    const cpu: number[] = [];
    const wasm: number[] = [];
    for (let i = 0; i < pairs; i++) {
      cpu.push(await time('cpu'));
      wasm.push(await time('wasm'));
    }
    const ratios = cpu.map((c, i) => c / wasm[i]);
    console.log('\nattention capture (all blocks, one 28×28 image), tfjs cpu vs wasm, alternating in one page');
    console.log(
      '| pairs | cpu median ms | wasm median ms | cpu / wasm: median | min | max |\n|---|---|---|---|---|---|',
    );
    console.log(
      `| ${pairs} | ${median(cpu).toFixed(1)} | ${median(wasm).toFixed(1)} | ${median(ratios).toFixed(2)}× | ${Math.min(...ratios).toFixed(2)}× | ${Math.max(...ratios).toFixed(2)}× |`,
    );
    if (folder) await droppedFolder(browser, server.url, folder, loads);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((err: Error) => {
  console.error(`web/measure.ts: ${err.message}`);
  process.exit(1);
});
