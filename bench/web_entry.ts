/**
 * The browser entry (src/web) in Debian's headless Chromium, on a cross-origin-isolated page: a served model
 * folder on wasm and on WebGPU (SwiftShader here: correctness, not speed) against onnxruntime-node's logits for
 * the same image, the shipped model built in the tab from its weights URL, and registry models built in the tab
 * with random weights (build, session and first-run times). Prints one table.
 *
 *   npx tsx bench/web_entry.ts [--models flatten_pvt_v2_b0,flatten_swin_t]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createModel } from '../src/api/model.js';
import { exportOnnx } from '../src/api/export.js';
import { exportModelFolder } from '../src/api/folder.js';
import { prepareImages } from '../src/api/classify.js';
import { toBatch } from '../src/io/image.js';
import { OnnxSession } from '../src/engines/onnx/session.js';
import { launchChromium } from '../web/chromium.js';
import { markdownTable } from './report.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const NAME = 'flatten_deit_fmnist';
const SAMPLE = 'web/samples/7-sneaker.png';
const i = process.argv.indexOf('--models');
const MODELS = (i > 0 ? process.argv[i + 1] : 'flatten_pvt_v2_b0,flatten_swin_t').split(',');

/** What the page measures for one case. */
interface Case {
  what: string;
  device: string;
  threads: number;
  /** pipeline() start → ready, and when onProgress reported the graph built (registry names). */
  loadMs: number;
  buildMs?: number;
  firstRunMs: number;
  logits: number[];
  top: string;
}

// the page: every case in order, each pipeline disposed before the next
const PAGE = `<!doctype html><meta charset=utf-8><script type=module>
import { pipeline } from './entry.js';
const cases = ${JSON.stringify([
  { what: 'served folder', model: './fmnist/', options: { device: 'wasm' } },
  { what: 'served folder', model: './fmnist/', options: { device: 'webgpu' } },
  { what: `${NAME} + weights URL`, model: NAME, options: { device: 'wasm', weights: './weights.safetensors' } },
  ...MODELS.map((m) => ({ what: `${m}, random weights`, model: m, options: { device: 'wasm', weights: 'random' } })),
])};
const out = [];
try {
  for (const c of cases) {
    const t0 = performance.now();
    let built;
    const p = await pipeline('image-classification', c.model, { ...c.options, wasmPaths: '/ort/',
      onProgress: (e) => { if (e.stage === 'build' && e.loaded > 0) built = performance.now() - t0; } });
    const loadMs = performance.now() - t0;
    const [h] = p.info.imgSize;
    const image = c.model === '${NAME}' || c.model.startsWith('.') ? './sample.png'
      : { data: new Uint8Array(h * h * 3).fill(128), width: h, height: h, channels: 3 };
    const t1 = performance.now();
    const logits = await p.logits(image);
    const firstRunMs = performance.now() - t1;
    const [top] = await p(image, { topk: 1 });
    out.push({ what: c.what, device: p.device, threads: p.threads, loadMs, buildMs: built, firstRunMs,
      logits: c.model === '${NAME}' || c.model.startsWith('.') ? Array.from(logits) : [], top: top.label });
    await p.dispose();
  }
  window.result = { cases: out, isolated: crossOriginIsolated };
} catch (e) { window.result = { error: String(e && e.stack || e) }; }
</script>`;

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
};

const dir = mkdtempSync(join(tmpdir(), 'flatten-web-entry-'));
try {
  await exportModelFolder({ name: NAME, out: join(dir, 'fmnist'), check: false });
  await build({
    entryPoints: [join(ROOT, 'src/web/index.ts')],
    bundle: true,
    outfile: join(dir, 'entry.js'),
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  });
  writeFileSync(join(dir, 'index.html'), PAGE);
  // Node's logits for the sample: onnxruntime-node on the graph the Node pipeline builds
  const m = createModel(NAME);
  const session = await OnnxSession.create(exportOnnx({ name: NAME, checkpoint: m.weights }).bytes, NAME, {
    threads: 1,
  });
  const ref = (
    await session.run({ pixel_values: toBatch(await prepareImages([SAMPLE], m.preprocess, 1), m.preprocess) })
  ).logits.data as Float32Array;
  await session.release();

  const files: Record<string, string> = {
    '/sample.png': join(ROOT, SAMPLE),
    '/weights.safetensors': join(ROOT, `weights/${NAME}.safetensors`),
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    const file = path.startsWith('/ort/')
      ? join(ROOT, 'node_modules/onnxruntime-web/dist', path.slice(5))
      : (files[path] ?? join(dir, path === '/' ? 'index.html' : path));
    if (path.includes('..') || !existsSync(file)) return void res.writeHead(404).end();
    // COOP + COEP: a cross-origin-isolated page, so wasm gets its threads
    res
      .writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      })
      .end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    await page.waitForFunction(() => (window as { result?: unknown }).result, null, { timeout: 600_000 });
    const r = (await page.evaluate(() => (window as { result?: unknown }).result)) as {
      cases?: Case[];
      isolated?: boolean;
      error?: string;
    };
    if (!r.cases) throw new Error(`the page failed: ${r.error}`);
    const maxDiff = (a: number[]) => Math.max(...a.map((v, k) => Math.abs(v - ref[k])));
    const refTop = m.labels[ref.indexOf(Math.max(...ref))];
    console.log(`cross-origin isolated: ${r.isolated}; Node's top-1 for ${SAMPLE}: ${refTop}\n`);
    console.log(
      markdownTable(
        [
          'model',
          'device',
          'threads',
          'load ms',
          'graph built at ms',
          'first run ms',
          'max abs Δlogit vs Node',
          'top-1',
        ],
        r.cases.map((c) => [
          c.what,
          c.device,
          String(c.threads),
          c.loadMs.toFixed(0),
          c.buildMs === undefined ? '' : c.buildMs.toFixed(0),
          c.firstRunMs.toFixed(0),
          c.logits.length ? maxDiff(c.logits).toExponential(1) : '(random)',
          c.top,
        ]),
      ),
    );
  } finally {
    await browser.close();
    server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
