/**
 * `npm run bench -- --only web [options]`: onnxruntime-web (wasm) in Debian's headless Chromium against
 * onnxruntime-node in this process, on the same exported graphs, in one run.
 *   latency   flatten_pvt_v2_b0 and flatten_swin_t at 224, batch 1, fp32 (random weights): each configuration of
 *             the page timed in rounds against onnxruntime-node at the same intra-op threads, web then node in
 *             every round (median of the pair ratios, min and max; warm-up first); the web logits are checked
 *             against node's
 *   levers    the same pairing for the alternatives (bundle, proxy worker, session options, a graph that
 *             onnxruntime-node optimised beforehand) on --lever-models
 *   load      page loads up to the shipped flatten_deit_fmnist's first prediction, from navigation start, in
 *             variants (build, threads, cache, a pre-optimised graph) that alternate round by round; the ORT
 *             files a page fetched (raw and gzip)
 *   profile   ORT's own profiler on both sides (1 thread): kernel time per op type, web/node
 *   simd      whether Chromium runs relaxed SIMD, and whether each build's .wasm uses it
 *   fma       the build's .wasm with its multiply-adds fused (relaxed SIMD; src/web/fma.ts) against the stock one
 *             and node, three-way per round, on the models and the Gemm, Gelu and depthwise kernels alone
 *   ops       the kernels wasm runs slowly, alone and in other lowerings of the same computation (bench/web_micro.ts)
 *   peak      the matrix floor: the page's 128-bit FMA peak, our SGEMM kernel alone and onnxruntime-node's MatMul, in
 *             GFLOPS (bench/web_peak.ts); with the profile part's Gemm time, the lowest web / node a model can reach
 * Options: --parts simd,latency,fma,levers,load,profile,ops,peak  --models a,b  --lever-models a  --levers q8,proxy (labels)
 *          --threads 1,2  --rounds 21  --runs 1  --loads 5  --fma (profile and ops on the fused multiply-add .wasm)
 * The page is served by a loopback server of its own with the COOP/COEP headers that wasm threads need.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { exportOnnx } from '../src/api/export.js';
import { shippedWeights } from '../src/api/model.js';
import { machine, markdownTable, median } from './report.js';
import { microGraphs, type MicroGraph } from './web_micro.js';
import { FLOPS_PER_ROUND, GEMM_SHAPE, PEAK_PAGE_JS, peakModule, type PeakTimes } from './web_peak.js';
import { CHROMIUM } from '../web/chromium.js';
import { Graph } from '../src/engines/onnx/graph.js';
import { encodeModel } from '../src/engines/onnx/proto.js';
import { buildFmaWasm } from '../src/engines/onnx/wasm/fma.js';
import { RELAXED_SIMD_PROBE } from '../src/web/runtime.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return (i >= 0 ? args[i + 1] : dflt).split(',').filter(Boolean);
};
const PARTS = opt('parts', 'simd,latency,fma,levers,load,profile,ops,peak');
const MODELS = opt('models', 'flatten_pvt_v2_b0,flatten_swin_t');
const LEVER_MODELS = opt('lever-models', 'flatten_pvt_v2_b0');
// only the levers whose label contains one of these (all by default)
const LEVER_LABELS = opt('levers', '');
const THREADS = opt('threads', '1,2').map(Number);
const ROUNDS = Number(opt('rounds', '21')[0]);
// one run per side per round by default: the shared host's load changes within seconds, and the closer in time the
// two halves of a pair, the less of that drift lands in its ratio
const RUNS = Number(opt('runs', '1')[0]);
const LOADS = Number(opt('loads', '5')[0]);
// the profile and ops parts on the fused multiply-add .wasm (what the web entry runs where relaxed SIMD is), not the stock one
const PROFILE_FMA = args.includes('--fma');
const log = (s: string) => process.stderr.write(`${s}\n`);
const fmt = (v: number, d = 2) => v.toFixed(d);

// no WebGPU flags (web/chromium.ts has them for the demo): this bench times the CPU path only
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
// the package's dist/ (its require entry lives there); its package.json is not among its exports
const ORT_DIST = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
const ortVersion = (JSON.parse(readFileSync(join(ORT_DIST, '..', 'package.json'), 'utf8')) as { version: string })
  .version;

/** The JS entry of each onnxruntime-web build; each loads its own ort-wasm-simd-threaded*.{mjs,wasm}. */
const BUNDLES = {
  plain: 'ort.wasm.min.mjs',
  jsep: 'ort.min.mjs',
  asyncify: 'ort.webgpu.min.mjs',
  jspi: 'ort.jspi.min.mjs',
} as const;
type Bundle = keyof typeof BUNDLES;
const WASM: Record<Bundle, string> = {
  plain: 'ort-wasm-simd-threaded.wasm',
  jsep: 'ort-wasm-simd-threaded.jsep.wasm',
  asyncify: 'ort-wasm-simd-threaded.asyncify.wasm',
  jspi: 'ort-wasm-simd-threaded.jspi.wasm',
};

/** One way of running the graph in the page. `graph`: the export as is, or onnxruntime-node's optimised copy. */
interface WebConfig {
  label: string;
  bundle: Bundle;
  threads: number;
  proxy?: boolean;
  options?: Record<string, unknown>;
  /** The page's graph: our fp32 export, it as onnxruntime-node optimised it, or our q8 export (int8 Linears). */
  graph?: 'export' | 'node-basic' | 'node-extended' | 'q8';
  /** Node's graph: our fp32 export (default) or the same q8 export. */
  nodeGraph?: 'q8';
  /** The same wasm build (its Node entry) in this process instead of the page: V8 11.3 against Chromium's. */
  inNode?: boolean;
  /** The build's .wasm for relaxed SIMD (buildFmaWasm: our SGEMM and depthwise kernels, fused multiply-adds), served from /ort-fma/. */
  fma?: boolean;
}

// ---- the page ---------------------------------------------------------------------------------------------------

/** The same input on both sides, (1, C, H, W): a fixed pattern in [-0.5, 0.5). */
const pattern = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 255) / 255 - 0.5);

// window.bench: load a model with session options, time runs, end profiling. A fresh input array every run: the
// proxy worker takes the input buffers over (transfers them), so a reused one would be detached.
const HARNESS = `<!doctype html><meta charset="utf-8"><title>ort-web bench</title><body><script type="module">
const q = new URLSearchParams(location.search);
const ort = await import('/ort/' + q.get('bundle'));
ort.env.wasm.wasmPaths = q.get('fma') === '1' ? '/ort-fma/' : '/ort/';
ort.env.wasm.numThreads = Number(q.get('threads'));
ort.env.wasm.proxy = q.get('proxy') === '1';
const pattern = ${pattern.toString()};
// sessions by slot: 'main' for the model rows, two at once for an A/B of two lowerings
const slots = {};
const feeds = (s) => ({ [s.session.inputNames[0]]: new ort.Tensor('float32', s.base.slice(), s.dims) });
window.bench = {
  isolated: crossOriginIsolated,
  async load(url, shape, options, slot = 'main') {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    if (slots[slot]) await slots[slot].session.release();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], ...options });
    const s = (slots[slot] = { session, dims: shape, base: pattern(shape.reduce((a, b) => a * b, 1)) });
    const out = await session.run(feeds(s));
    return Array.from(out.logits.data);
  },
  async time(runs, slot = 'main') {
    const s = slots[slot];
    const t = [];
    for (let i = 0; i < runs; i++) {
      const f = feeds(s);
      const t0 = performance.now();
      await s.session.run(f);
      t.push(performance.now() - t0);
    }
    return t;
  },
  async endProfiling() { await slots.main.session.endProfiling(); },
};
document.body.dataset.ready = '1';
</script>`;

// The shipped model's first prediction, with the times of the steps that lead to it (ms from navigation start).
const FIRST = `<!doctype html><meta charset="utf-8"><title>first prediction</title><body><script type="module">
const q = new URLSearchParams(location.search);
const t = {};
const ort = await import('/ort/' + q.get('bundle'));
t.imported = performance.now();
ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = Number(q.get('threads'));
const options = { executionProviders: ['wasm'], ...JSON.parse(q.get('options')) };
if (q.get('tiny') === '1') {
  // the runtime started on a one-node model first: what is left is the model's own session
  const tiny = new Uint8Array(await (await fetch('/models/tiny.onnx')).arrayBuffer());
  await (await ort.InferenceSession.create(tiny, options)).release();
  t.runtime = performance.now();
}
const bytes = new Uint8Array(await (await fetch('/models/' + q.get('model'))).arrayBuffer());
t.fetched = performance.now();
const session = await ort.InferenceSession.create(bytes, options);
t.session = performance.now();
t.wasm = performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'))?.responseEnd ?? NaN;
const shape = JSON.parse(q.get('shape'));
const x = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);
const out = await session.run({ [session.inputNames[0]]: x });
t.first = performance.now();
t.top1 = out.logits.data.indexOf(Math.max(...out.logits.data));
window.first = t;
document.body.dataset.ready = '1';
</script>`;

const MIME: Record<string, string> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
};

interface Served {
  server: Server;
  url: string;
  models: Map<string, Uint8Array>;
  /** Paths served since the last reset, with their sizes. */
  fetched: Map<string, number>;
  /** Let the browser cache what it fetches (a returning visitor), else `no-store`. */
  cacheable: boolean;
}

const fused = new Map<string, Uint8Array>();
/** A build's .wasm with its multiply-adds fused, made once per file. */
function fusedWasm(file: string): Uint8Array {
  let b = fused.get(file);
  if (!b) {
    const r = buildFmaWasm(new Uint8Array(readFileSync(join(ORT_DIST, file))));
    log(
      `${file}: ${r.kernels} SGEMM kernels replaced, depthwise conv ${r.depthwise ? 'in' : 'not found'}, ` +
        `transpose ${r.transpose ? 'in' : 'not found'}, erf ${r.erf ? 'in' : 'not found'}, ` +
        `${r.fused} multiply-adds fused in ${r.functions} functions`,
    );
    fused.set(file, (b = r.bytes));
  }
  return b;
}

async function serve(): Promise<Served> {
  const models = new Map<string, Uint8Array>();
  const fetched = new Map<string, number>();
  const srv: Served = { server: undefined as unknown as Server, url: '', models, fetched, cacheable: false };
  const server = (srv.server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let body: Uint8Array | string | undefined;
    let type = 'application/octet-stream';
    if (path === '/harness.html' || path === '/first.html') {
      body = path === '/first.html' ? FIRST : HARNESS;
      type = 'text/html';
    } else if (path.startsWith('/ort/') && /^[\w.-]+$/.test(path.slice(5))) {
      try {
        body = readFileSync(join(ORT_DIST, path.slice(5)));
        type = MIME[extname(path)] ?? type;
      } catch {
        body = undefined;
      }
    } else if (path.startsWith('/ort-fma/') && /^[\w.-]+$/.test(path.slice(9))) {
      const file = path.slice(9);
      try {
        body = file.endsWith('.wasm') ? fusedWasm(file) : readFileSync(join(ORT_DIST, file));
        type = MIME[extname(path)] ?? type;
      } catch {
        body = undefined;
      }
    } else if (path.startsWith('/models/')) {
      body = models.get(path.slice(8));
    }
    // what wasm threads need (SharedArrayBuffer); no caching, so that every page pays its own load
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': srv.cacheable ? 'max-age=3600' : 'no-store',
    };
    if (body === undefined) {
      res.writeHead(404, headers).end();
      return;
    }
    fetched.set(path, typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    res.writeHead(200, { ...headers, 'Content-Type': type }).end(body);
  }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  srv.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return srv;
}

// ---- both sides -------------------------------------------------------------------------------------------------

interface Exported {
  name: string;
  /** Our export for onnxruntime-node (the default target): what node runs. */
  bytes: Uint8Array;
  /** The same model exported for the web (`target: 'web'`): what the pages run (micro graphs: the same graph). */
  webBytes?: Uint8Array;
  shape: number[];
}

/** onnxruntime-node as our engine creates it (src/engines/onnx/session.ts), plus the options given. */
const nodeSession = (bytes: Uint8Array, threads: number, extra: ort.InferenceSession.SessionOptions = {}) =>
  ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...extra,
  });

async function timeNode(s: ort.InferenceSession, x: ort.Tensor, runs: number): Promise<number[]> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run({ [s.inputNames[0]]: x });
    t.push(performance.now() - t0);
  }
  return t;
}

async function openPage(browser: Browser, srv: Served, c: WebConfig): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(300_000);
  const q = new URLSearchParams({
    bundle: BUNDLES[c.bundle],
    threads: String(c.threads),
    proxy: c.proxy ? '1' : '0',
    fma: c.fma ? '1' : '0',
  });
  await page.goto(`${srv.url}/harness.html?${q}`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 60_000 });
  if (!(await page.evaluate(() => (globalThis as unknown as { bench: { isolated: boolean } }).bench.isolated)))
    throw new Error('the page is not cross-origin isolated: wasm threads would be off');
  return page;
}

type BenchApi = {
  load(url: string, shape: number[], options: Record<string, unknown>, slot?: string): Promise<number[]>;
  time(runs: number, slot?: string): Promise<number[]>;
  endProfiling(): Promise<void>;
};
const pageLoad = (page: Page, url: string, shape: number[], options: Record<string, unknown>, slot = 'main') =>
  page.evaluate(([u, sh, o, sl]) => (globalThis as unknown as { bench: BenchApi }).bench.load(u, sh, o, sl), [
    url,
    shape,
    options,
    slot,
  ] as const);
const pageTime = (page: Page, runs: number, slot = 'main') =>
  page.evaluate(([n, sl]) => (globalThis as unknown as { bench: BenchApi }).bench.time(n, sl), [runs, slot] as const);

interface Paired {
  label: string;
  model: string;
  threads: number;
  webMs: number;
  nodeMs: number;
  ratio: number;
  min: number;
  max: number;
  maxDiff: number;
}

/** max |a − b| over two equally long arrays (a loop: spreading ~10⁶ values into Math.max overflows the stack). */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The wasm side of a pair: the page, or the same build in this process. */
interface WasmSide {
  logits: number[];
  time(runs: number): Promise<number[]>;
  close(): Promise<void>;
}

async function pageSide(
  browser: Browser,
  srv: Served,
  m: Exported,
  c: WebConfig,
  bytes: Uint8Array,
): Promise<WasmSide> {
  const key = `${m.name.replace(/[^\w.-]+/g, '_')}.${c.graph ?? 'export'}.onnx`;
  srv.models.set(key, bytes);
  const page = await openPage(browser, srv, c);
  try {
    const logits = await pageLoad(page, `/models/${key}`, m.shape, c.options ?? {});
    return { logits, time: (n) => pageTime(page, n), close: () => page.close() };
  } catch (e) {
    await page.close();
    throw e;
  } finally {
    srv.models.delete(key);
  }
}

async function nodeWasmSide(m: Exported, c: WebConfig, bytes: Uint8Array): Promise<WasmSide> {
  const web = await import('onnxruntime-web');
  if (c.threads !== 1) throw new Error('the wasm build in Node is measured on 1 thread only');
  web.env.wasm.numThreads = 1;
  const s = await web.InferenceSession.create(bytes, { executionProviders: ['wasm'], ...(c.options ?? {}) });
  const feeds = () => ({
    [s.inputNames[0]]: new web.Tensor('float32', pattern(m.shape.reduce((a, b) => a * b, 1)), m.shape),
  });
  const logits = Array.from((await s.run(feeds())).logits.data as Float32Array);
  return {
    logits,
    async time(runs) {
      const t: number[] = [];
      for (let i = 0; i < runs; i++) {
        const f = feeds();
        const t0 = performance.now();
        await s.run(f);
        t.push(performance.now() - t0);
      }
      return t;
    },
    close: () => s.release(),
  };
}

/** Warm both sides up, then ROUNDS rounds of (wasm RUNS runs, node RUNS runs); each round's ratio of medians. */
async function paired(browser: Browser, srv: Served, m: Exported, c: WebConfig, graphs: Graphs): Promise<Paired> {
  const pick = { 'node-basic': graphs.basic, 'node-extended': graphs.extended, q8: graphs.q8 } as const;
  const bytes = c.graph && c.graph !== 'export' ? pick[c.graph](m) : (m.webBytes ?? m.bytes);
  const side = c.inNode ? await nodeWasmSide(m, c, bytes) : await pageSide(browser, srv, m, c, bytes);
  try {
    const node = await nodeSession(c.nodeGraph === 'q8' ? graphs.q8(m) : m.bytes, c.threads);
    const x = new ort.Tensor('float32', pattern(m.shape.reduce((a, b) => a * b, 1)), m.shape);
    const nodeLogits = (await node.run({ [node.inputNames[0]]: x })).logits.data as Float32Array;
    const maxDiff = maxAbsDiff(side.logits, nodeLogits);
    // warm-up: V8 compiles wasm with Liftoff first and moves hot functions to TurboFan as they run
    const warmStart = performance.now();
    while (performance.now() - warmStart < 3000) await side.time(1);
    await timeNode(node, x, 5);
    const web: number[] = [];
    const nodeT: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const w = median(await side.time(RUNS));
      const n = median(await timeNode(node, x, RUNS));
      web.push(w);
      nodeT.push(n);
      ratios.push(w / n);
    }
    await node.release();
    const row = {
      label: c.label,
      model: m.name,
      threads: c.threads,
      webMs: median(web),
      nodeMs: median(nodeT),
      ratio: median(ratios),
      min: Math.min(...ratios),
      max: Math.max(...ratios),
      maxDiff,
    };
    log(
      `${m.name === c.label ? m.name : `${m.name} ${c.label}`} ${c.threads}t: web ${fmt(row.webMs, 1)} ms, node ${fmt(row.nodeMs, 1)} ms, ` +
        `ratio ${fmt(row.ratio)} [${fmt(row.min)}, ${fmt(row.max)}], max |Δlogit| ${row.maxDiff.toExponential(1)}`,
    );
    return row;
  } finally {
    await side.close();
  }
}

interface FmaRow {
  model: string;
  threads: number;
  plainMs: number;
  fmaMs: number;
  nodeMs: number;
  /** [median, min, max] over the rounds of fma / plain, plain / node, fma / node. */
  gain: [number, number, number];
  plain: [number, number, number];
  fma: [number, number, number];
  maxDiff: number;
}

const WEB_GRAPH_NOTE =
  "The pages run each model exported for the web (`target: 'web'`: its large LayerNorms as elementwise ops), " +
  'onnxruntime-node the default export; the logits are compared across the two.';

const spread = (r: number[]): [number, number, number] => [median(r), Math.min(...r), Math.max(...r)];

/**
 * The stock build and its fused multiply-add copy in two pages, and onnxruntime-node, one run of each per round
 * (plain, fused, node): the fused build against the stock one directly, and both against node.
 */
async function fmaTriple(browser: Browser, srv: Served, m: Exported, threads: number): Promise<FmaRow> {
  const web = m.webBytes ?? m.bytes;
  const plain = await pageSide(browser, srv, m, { label: 'plain', bundle: 'plain', threads }, web);
  const fused = await pageSide(browser, srv, m, { label: 'fma', bundle: 'plain', threads, fma: true }, web);
  try {
    const node = await nodeSession(m.bytes, threads);
    const x = new ort.Tensor('float32', pattern(m.shape.reduce((a, b) => a * b, 1)), m.shape);
    const nodeLogits = (await node.run({ [node.inputNames[0]]: x })).logits.data as Float32Array;
    const maxDiff = Math.max(maxAbsDiff(fused.logits, nodeLogits), maxAbsDiff(fused.logits, plain.logits));
    const warm = performance.now();
    while (performance.now() - warm < 3000) {
      await plain.time(1);
      await fused.time(1);
    }
    await timeNode(node, x, 5);
    const t = { p: [] as number[], f: [] as number[], n: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      t.p.push((await plain.time(1))[0]);
      t.f.push((await fused.time(1))[0]);
      t.n.push((await timeNode(node, x, 1))[0]);
    }
    await node.release();
    const per = (a: number[], b: number[]) => spread(a.map((v, i) => v / b[i]));
    const row: FmaRow = {
      model: m.name,
      threads,
      plainMs: median(t.p),
      fmaMs: median(t.f),
      nodeMs: median(t.n),
      gain: per(t.f, t.p),
      plain: per(t.p, t.n),
      fma: per(t.f, t.n),
      maxDiff,
    };
    log(
      `${m.name} ${threads}t: fused/plain ${fmt(row.gain[0])}, plain/node ${fmt(row.plain[0])}, fused/node ` +
        `${fmt(row.fma[0])} [${fmt(row.fma[1])}, ${fmt(row.fma[2])}], max |Δ| ${maxDiff.toExponential(1)}`,
    );
    return row;
  } finally {
    await plain.close();
    await fused.close();
  }
}

/** [median, min, max] of the per-round ratios b / a, one run of each per round after a warm-up of both. */
async function abRatios(time: (which: 'a' | 'b') => Promise<number>): Promise<[number, number, number]> {
  const warm = performance.now();
  while (performance.now() - warm < 3000) for (const w of ['a', 'b'] as const) await time(w);
  const r: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const ta = await time('a');
    r.push((await time('b')) / ta);
  }
  return [median(r), Math.min(...r), Math.max(...r)];
}

/** Lowering `b` against lowering `a` of the same computation, within the page and within node: b / a. */
async function abPair(browser: Browser, srv: Served, a: MicroGraph, b: MicroGraph, threads: number) {
  const page = await openPage(browser, srv, { label: 'a/b', bundle: 'plain', threads, fma: PROFILE_FMA });
  try {
    for (const [slot, m] of [
      ['a', a],
      ['b', b],
    ] as const) {
      srv.models.set(`${slot}.onnx`, m.bytes);
      await pageLoad(page, `/models/${slot}.onnx`, m.shape, {}, slot);
    }
    const web = await abRatios(async (w) => (await pageTime(page, 1, w))[0]);
    const x = new ort.Tensor('float32', pattern(a.shape.reduce((p, q) => p * q, 1)), a.shape);
    const sa = await nodeSession(a.bytes, threads);
    const sb = await nodeSession(b.bytes, threads);
    const node = await abRatios(async (w) => (await timeNode(w === 'a' ? sa : sb, x, 1))[0]);
    await sa.release();
    await sb.release();
    return { web, node };
  } finally {
    await page.close();
  }
}

/** onnxruntime-node's optimised copies of a graph (optimizedModelFilePath), made once per model and level. */
interface Graphs {
  basic(m: Exported): Uint8Array;
  extended(m: Exported): Uint8Array;
  q8(m: Exported): Uint8Array;
}
async function optimisedGraphs(models: Exported[], dir: string): Promise<Graphs> {
  const made = new Map<string, Uint8Array>();
  for (const m of models)
    for (const level of ['basic', 'extended'] as const) {
      const file = join(dir, `${m.name}.${level}.onnx`);
      const s = await nodeSession(m.bytes, 1, { graphOptimizationLevel: level, optimizedModelFilePath: file });
      await s.release();
      made.set(`${m.name}.${level}`, readFileSync(file));
    }
  return {
    basic: (m) => made.get(`${m.name}.basic`)!,
    extended: (m) => made.get(`${m.name}.extended`)!,
    // the same random weights (seed 0) as the fp32 export, quantized
    q8: (m) => exportOnnx({ name: m.name, imgSize: 224, dtype: 'q8' }).bytes,
  };
}

// ---- profiles ---------------------------------------------------------------------------------------------------

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

interface OpTime {
  ms: number;
  nodes: number;
}

/**
 * Kernel ms and kernels per run and op type over the runs after the first `skip` (the warm-up): each op's median
 * over those runs, so that a run that another tenant slowed down moves no row.
 */
function perOp(events: ProfileEvent[], skip: number): { runs: number; runMs: number; ops: Map<string, OpTime> } {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .sort((a, b) => a.ts - b.ts)
    .slice(skip);
  const perRun = runs.map(() => new Map<string, OpTime>());
  for (const e of events) {
    const r = runs.findIndex((run) => e.ts >= run.ts && e.ts <= run.ts + run.dur);
    if (r < 0 || e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    const o = perRun[r].get(e.args.op_name) ?? { ms: 0, nodes: 0 };
    perRun[r].set(e.args.op_name, { ms: o.ms + e.dur / 1000, nodes: o.nodes + 1 });
  }
  const ops = new Map<string, OpTime>();
  for (const op of new Set(perRun.flatMap((m) => [...m.keys()])))
    ops.set(op, {
      ms: median(perRun.map((m) => m.get(op)?.ms ?? 0)),
      nodes: median(perRun.map((m) => m.get(op)?.nodes ?? 0)),
    });
  return { runs: runs.length, runMs: median(runs.map((e) => e.dur / 1000)), ops };
}

/** ORT's profile JSON as the wasm build prints it: one event per console line, between `[` and `]`. */
const parseConsoleProfile = (lines: string[]): ProfileEvent[] =>
  lines
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l.startsWith('{"cat"'))
    .map((l) => JSON.parse(l) as ProfileEvent);

const PROFILE_RUNS = 12;
const PROFILE_SKIP = 3;

async function profileBoth(browser: Browser, srv: Served, m: Exported, dir: string) {
  const key = `${m.name}.profile.onnx`;
  srv.models.set(key, m.webBytes ?? m.bytes);
  const page = await openPage(browser, srv, { label: 'profile', bundle: 'plain', threads: 1, fma: PROFILE_FMA });
  const lines: string[] = [];
  page.on('console', (msg) => lines.push(msg.text()));
  const prefix = join(dir, `${m.name}_node`);
  const s = await nodeSession(m.bytes, 1, { enableProfiling: true, profileFilePrefix: prefix });
  const x = new ort.Tensor('float32', pattern(m.shape.reduce((a, b) => a * b, 1)), m.shape);
  try {
    await pageLoad(page, `/models/${key}`, m.shape, { enableProfiling: true });
    // web and node runs alternate, so that both profiles sample the same load of the host
    for (let i = 0; i < PROFILE_RUNS; i++) {
      await pageTime(page, 1);
      await timeNode(s, x, 1);
    }
    await page.evaluate(() => (globalThis as unknown as { bench: BenchApi }).bench.endProfiling());
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await page.close();
    srv.models.delete(key);
    s.endProfiling();
    await s.release();
  }
  const file = readdirSync(dir).find((f) => f.startsWith(`${m.name}_node`));
  if (!file) throw new Error(`onnxruntime-node wrote no profile under ${dir}`);
  // the page's first run is its load check (bench.load): skip one more there
  const node = perOp(JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[], PROFILE_SKIP);
  const web = perOp(parseConsoleProfile(lines), PROFILE_SKIP + 1);
  return { model: m.name, web, node };
}

/** Fused and layout variants next to the op they stand for, so that a row compares like with like. */
const FAMILY: Record<string, string> = {
  FusedMatMul: 'MatMul',
  FusedGemm: 'Gemm',
  FusedConv: 'Conv',
  ReorderInput: 'Conv',
  ReorderOutput: 'Conv',
};
const byFamily = (ops: Map<string, OpTime>) => {
  const f = new Map<string, OpTime>();
  for (const [op, t] of ops) {
    const o = f.get(FAMILY[op] ?? op) ?? { ms: 0, nodes: 0 };
    f.set(FAMILY[op] ?? op, { ms: o.ms + t.ms, nodes: o.nodes + t.nodes });
  }
  return f;
};

// ---- page load --------------------------------------------------------------------------------------------------

/** One way of reaching the first prediction. */
interface LoadVariant {
  bundle: Bundle;
  threads: number;
  /** One context whose cache a first, unmeasured load filled (a returning visitor), else a fresh one each time. */
  cached?: boolean;
  /** onnxruntime-node's 'extended' copy of the graph, loaded with graphOptimizationLevel 'disabled'. */
  preoptimized?: boolean;
  /** Start the runtime on a one-node model first, which splits the time of session creation in two. */
  tiny?: boolean;
}

interface FirstLoad extends LoadVariant {
  label: string;
  first: number[];
  steps: { imported: number; runtime?: number; fetched: number; wasm: number; session: number; first: number };
  /** first / the first variant's first, per round: median, min, max. */
  ratio: [number, number, number];
  files: [string, number][];
}

const variantLabel = (v: LoadVariant) =>
  [
    v.bundle,
    v.cached && 'cached',
    v.preoptimized && "node's 'extended' graph, level 'disabled'",
    v.tiny && 'runtime started first',
  ]
    .filter(Boolean)
    .join(', ');

/**
 * LOADS rounds of one page load per variant (ms from navigation start to the first prediction), the variants in
 * turn within each round, so that each variant's ratio to the first one comes from loads seconds apart.
 */
async function firstPredictions(browser: Browser, srv: Served, shape: number[], variants: LoadVariant[]) {
  const query = (v: LoadVariant) =>
    new URLSearchParams({
      bundle: BUNDLES[v.bundle],
      threads: String(v.threads),
      shape: JSON.stringify(shape),
      model: v.preoptimized ? 'first.extended.onnx' : 'first.onnx',
      options: JSON.stringify(v.preoptimized ? { graphOptimizationLevel: 'disabled' } : {}),
      tiny: v.tiny ? '1' : '0',
    });
  const load = async (context: BrowserContext, v: LoadVariant) => {
    srv.cacheable = Boolean(v.cached);
    srv.fetched.clear();
    const page = await context.newPage();
    await page.goto(`${srv.url}/first.html?${query(v)}`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 120_000 });
    const t = await page.evaluate(() => (globalThis as unknown as { first: FirstLoad['steps'] }).first);
    await page.close();
    return t;
  };
  // a cached variant keeps one context, whose cache a first, unmeasured load fills
  const shared = new Map<LoadVariant, BrowserContext>();
  const runs = variants.map(() => [] as FirstLoad['steps'][]);
  const files = variants.map(() => [] as [string, number][]);
  try {
    for (const v of variants.filter((x) => x.cached)) {
      shared.set(v, await browser.newContext());
      await load(shared.get(v)!, v);
    }
    for (let r = 0; r < LOADS; r++)
      for (const [i, v] of variants.entries()) {
        const context = shared.get(v) ?? (await browser.newContext());
        runs[i].push(await load(context, v));
        if (r === 0) files[i] = [...srv.fetched].filter(([p]) => p.startsWith('/ort/'));
        if (!shared.has(v)) await context.close();
      }
  } finally {
    for (const c of shared.values()) await c.close();
    srv.cacheable = false;
  }
  return variants.map((v, i): FirstLoad => {
    const ratios = runs[i].map((t, r) => t.first / runs[0][r].first);
    return {
      ...v,
      label: variantLabel(v),
      first: runs[i].map((t) => t.first),
      steps: [...runs[i]].sort((a, b) => a.first - b.first)[runs[i].length >> 1],
      ratio: [median(ratios), Math.min(...ratios), Math.max(...ratios)],
      files: files[i],
    };
  });
}

/** y = Relu(x) on one float: enough to start the runtime. */
function tinyModel(): Uint8Array {
  const g = new Graph(false);
  return encodeModel(g.toModel({ y: g.emit('Relu', [g.input('x', [1])], [1]) }, { name: 'tiny' }).proto);
}

// ---- the run ----------------------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'flatten-web-bench-'));
const srv = await serve();
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
const out: Record<string, unknown> = { machine: machine(), ortWeb: ortVersion, chromium: browser.version() };
const report: string[] = [];
const started = new Date();
try {
  const exported = new Map<string, Exported>();
  for (const name of [...new Set([...MODELS, ...(PARTS.includes('levers') ? LEVER_MODELS : [])])]) {
    const r = exportOnnx({ name, imgSize: 224 });
    const web = exportOnnx({ name, imgSize: 224, target: 'web' });
    exported.set(name, { name, bytes: r.bytes, webBytes: web.bytes, shape: [1, 3, 224, 224] });
  }
  const graphs = await optimisedGraphs([...exported.values()], dir);

  if (PARTS.includes('simd')) {
    const probe = RELAXED_SIMD_PROBE; // the web entry's own test for relaxed SIMD
    const page = await openPage(browser, srv, { label: 'simd', bundle: 'plain', threads: 1 });
    const inChromium = await page.evaluate((b) => WebAssembly.validate(new Uint8Array(b)), [...probe]);
    await page.close();
    // A .wasm with one relaxed instruction fails validation where relaxed SIMD is off, as in Node 20 by default.
    const nodeHasIt = WebAssembly.validate(probe);
    // 'no' does not say relaxed: the build may need another feature that this V8 lacks (JSPI's does)
    const rows = (Object.keys(WASM) as Bundle[]).map((b) => [
      b,
      WASM[b],
      WebAssembly.validate(new Uint8Array(readFileSync(join(ORT_DIST, WASM[b])))) ? 'yes' : 'no (inconclusive)',
    ]);
    out.simd = { relaxedInChromium: inChromium, relaxedInNode: nodeHasIt, builds: rows };
    report.push(
      '### Relaxed SIMD',
      '',
      `Chromium validates a module that uses f32x4.relaxed_madd: ${inChromium ? 'yes' : 'no'}. ` +
        `Node ${process.versions.node} (V8 ${process.versions.v8}) does: ${nodeHasIt ? 'yes, so the column below proves nothing' : 'no, so a .wasm that validates here holds no relaxed instruction'}.`,
      '',
      markdownTable(['build', '.wasm', `validates in Node ${process.versions.node} without relaxed SIMD`], rows),
      '',
    );
  }

  if (PARTS.includes('latency')) {
    const rows: Paired[] = [];
    for (const name of MODELS)
      for (const threads of THREADS)
        rows.push(
          await paired(browser, srv, exported.get(name)!, { label: 'plain', bundle: 'plain', threads }, graphs),
        );
    out.latency = rows;
    report.push(
      '### onnxruntime-web wasm (plain build) against onnxruntime-node, same threads',
      '',
      WEB_GRAPH_NOTE,
      '',
      markdownTable(
        ['model', 'threads', 'web ms', 'node ms', 'web / node (median)', 'min', 'max', 'max |Δ logit|'],
        rows.map((r) => [
          r.model,
          String(r.threads),
          fmt(r.webMs, 1),
          fmt(r.nodeMs, 1),
          fmt(r.ratio),
          fmt(r.min),
          fmt(r.max),
          r.maxDiff.toExponential(1),
        ]),
      ),
      '',
    );
  }

  if (PARTS.includes('levers')) {
    const t1 = THREADS[0];
    const t2 = THREADS[THREADS.length - 1];
    const levers: WebConfig[] = [
      { label: 'plain', bundle: 'plain', threads: t1 },
      { label: 'fused multiply-add (relaxed SIMD)', bundle: 'plain', threads: t1, fma: true },
      { label: 'jsep build', bundle: 'jsep', threads: t1 },
      { label: 'asyncify build', bundle: 'asyncify', threads: t1 },
      { label: 'jspi build', bundle: 'jspi', threads: t1 },
      { label: 'proxy worker', bundle: 'plain', threads: t1, proxy: true },
      {
        label: "graphOptimizationLevel 'extended'",
        bundle: 'plain',
        threads: t1,
        options: { graphOptimizationLevel: 'extended' },
      },
      {
        label: "graphOptimizationLevel 'basic'",
        bundle: 'plain',
        threads: t1,
        options: { graphOptimizationLevel: 'basic' },
      },
      { label: 'enableMemPattern false', bundle: 'plain', threads: t1, options: { enableMemPattern: false } },
      { label: 'enableCpuMemArena false', bundle: 'plain', threads: t1, options: { enableCpuMemArena: false } },
      { label: "node's 'basic' graph", bundle: 'plain', threads: t1, graph: 'node-basic' },
      { label: "node's 'extended' graph", bundle: 'plain', threads: t1, graph: 'node-extended' },
      { label: 'the same wasm in Node 20 (no page)', bundle: 'plain', threads: 1, inNode: true },
      { label: 'q8 export in the page (node: fp32)', bundle: 'plain', threads: t1, graph: 'q8' },
      { label: 'q8 export on both sides', bundle: 'plain', threads: t1, graph: 'q8', nodeGraph: 'q8' },
      { label: 'plain', bundle: 'plain', threads: t2 },
      { label: 'fused multiply-add (relaxed SIMD)', bundle: 'plain', threads: t2, fma: true },
      { label: 'proxy worker', bundle: 'plain', threads: t2, proxy: true },
      {
        label: 'no intra-op spinning',
        bundle: 'plain',
        threads: t2,
        options: { extra: { session: { intra_op: { allow_spinning: '0' } } } },
      },
      { label: "executionMode 'parallel'", bundle: 'plain', threads: t2, options: { executionMode: 'parallel' } },
      { label: 'q8 export in the page (node: fp32)', bundle: 'plain', threads: t2, graph: 'q8' },
    ];
    const chosen = levers.filter((c) => !LEVER_LABELS.length || LEVER_LABELS.some((l) => c.label.includes(l)));
    const rows: (Paired | { label: string; model: string; threads: number; failed: string })[] = [];
    for (const name of LEVER_MODELS)
      for (const c of chosen) {
        try {
          rows.push(await paired(browser, srv, exported.get(name)!, c, graphs));
        } catch (e) {
          const failed = String((e as Error).message ?? e)
            .split('\n')[0]
            .slice(0, 160);
          log(`${name} ${c.label}: failed: ${failed}`);
          rows.push({ label: c.label, model: name, threads: c.threads, failed });
        }
      }
    out.levers = rows;
    report.push(
      '### Levers: each against onnxruntime-node at the same threads',
      '',
      markdownTable(
        ['model', 'threads', 'web configuration', 'web ms', 'node ms', 'web / node (median)', 'min', 'max'],
        rows.map((r) =>
          'failed' in r
            ? [r.model, String(r.threads), r.label, `failed: ${r.failed}`, '', '', '', '']
            : [
                r.model,
                String(r.threads),
                r.label,
                fmt(r.webMs, 1),
                fmt(r.nodeMs, 1),
                fmt(r.ratio),
                fmt(r.min),
                fmt(r.max),
              ],
        ),
      ),
      '',
    );
  }

  if (PARTS.includes('load')) {
    const name = 'flatten_deit_fmnist';
    const weights = shippedWeights(name);
    const r = exportOnnx({ name, ...(weights ? { checkpoint: weights } : {}) });
    const probe = await nodeSession(r.bytes, 1);
    const meta = probe.inputMetadata[0];
    // the symbolic batch axis as 1
    const shape = meta.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : 1)) : [];
    await probe.release();
    srv.models.set('first.onnx', r.bytes);
    const extendedFile = join(dir, 'first.extended.onnx');
    await (
      await nodeSession(r.bytes, 1, { graphOptimizationLevel: 'extended', optimizedModelFilePath: extendedFile })
    ).release();
    srv.models.set('first.extended.onnx', readFileSync(extendedFile));
    srv.models.set('tiny.onnx', tinyModel());
    const variants: LoadVariant[] = [
      { bundle: 'plain', threads: 1 },
      { bundle: 'plain', threads: 2 },
      { bundle: 'jsep', threads: 2 },
      { bundle: 'plain', threads: 2, cached: true },
      { bundle: 'plain', threads: 1, preoptimized: true },
      { bundle: 'plain', threads: 1, tiny: true },
    ];
    const loads = await firstPredictions(browser, srv, shape, variants);
    out.load = { model: name, shippedWeights: Boolean(weights), modelBytes: r.bytes.byteLength, loads };
    report.push(
      `### Page load to the first prediction (${name}${weights ? ', shipped weights' : ''}, ${(r.bytes.byteLength / 1024).toFixed(0)} KiB; from navigation start; each in a fresh context with nothing cached, or 'cached': in one context after a first load filled its cache; ${LOADS} rounds, one load of each variant per round; medians)`,
      '',
      markdownTable(
        [
          'build',
          'threads',
          'ort imported',
          '.wasm received',
          'runtime started',
          'model fetched',
          'session created',
          'first prediction',
          'vs the first row (median of pairs, min–max)',
          'all loads',
        ],
        loads.map((l) => [
          l.label,
          String(l.threads),
          `${fmt(l.steps.imported, 0)} ms`,
          `${fmt(l.steps.wasm, 0)} ms`,
          l.steps.runtime === undefined ? '' : `${fmt(l.steps.runtime, 0)} ms`,
          `${fmt(l.steps.fetched, 0)} ms`,
          `${fmt(l.steps.session, 0)} ms`,
          `**${fmt(l.steps.first, 0)} ms**`,
          `${fmt(l.ratio[0])} (${fmt(l.ratio[1])}–${fmt(l.ratio[2])})`,
          l.first.map((v) => fmt(v, 0)).join(', '),
        ]),
      ),
      '',
      'ORT files each page fetched (bytes as served; gzip -9 for what a compressing server sends):',
      '',
      markdownTable(
        ['build', 'file', 'bytes', 'gzip'],
        loads
          .filter((l, i) => loads.findIndex((o) => o.bundle === l.bundle) === i)
          .flatMap((l) => {
            const files = l.files.map(
              ([p, b]) =>
                [p.slice(5), b, gzipSync(readFileSync(join(ORT_DIST, p.slice(5))), { level: 9 }).byteLength] as const,
            );
            const total = files.reduce((a, f) => [a[0] + f[1], a[1] + f[2]], [0, 0]);
            return [
              ...files.map(([f, b, g]) => [l.label, f, mib(b), mib(g)]),
              [l.label, '**total**', `**${mib(total[0])}**`, `**${mib(total[1])}**`],
            ];
          }),
      ),
      '',
    );
  }

  if (PARTS.includes('fma')) {
    const micro = microGraphs().filter((g) => /^(Gelu|Gemm|depthwise)/.test(g.name));
    const rows: FmaRow[] = [];
    for (const m of [...MODELS.map((n) => exported.get(n)!), ...micro])
      for (const threads of THREADS) rows.push(await fmaTriple(browser, srv, m, threads));
    out.fma = rows;
    const r3 = (r: [number, number, number]) => `${fmt(r[0])} (${fmt(r[1])}–${fmt(r[2])})`;
    report.push(
      '### Fused multiply-add (relaxed SIMD) against the stock wasm build and onnxruntime-node',
      '',
      WEB_GRAPH_NOTE,
      '',
      markdownTable(
        [
          'graph',
          'threads',
          'stock ms',
          'fused ms',
          'node ms',
          'fused / stock',
          'stock / node',
          'fused / node',
          'max |Δ|',
        ],
        rows.map((r) => [
          r.model,
          String(r.threads),
          fmt(r.plainMs, 1),
          fmt(r.fmaMs, 1),
          fmt(r.nodeMs, 1),
          r3(r.gain),
          r3(r.plain),
          r3(r.fma),
          r.maxDiff.toExponential(1),
        ]),
      ),
      '',
    );
  }

  if (PARTS.includes('ops')) {
    const graphsMicro = microGraphs();
    const nodeOut = new Map<string, Float32Array>();
    for (const m of graphsMicro) {
      const s = await nodeSession(m.bytes, 1);
      const x = new ort.Tensor('float32', pattern(m.shape.reduce((a, b) => a * b, 1)), m.shape);
      nodeOut.set(m.name, (await s.run({ [s.inputNames[0]]: x })).logits.data as Float32Array);
      await s.release();
    }
    const rows: { row: Paired; same: string; ab?: Awaited<ReturnType<typeof abPair>> }[] = [];
    const ratio = (r?: [number, number, number]) => (r ? `${fmt(r[0])} (${fmt(r[1])}–${fmt(r[2])})` : '');
    for (const m of graphsMicro) {
      const c = { label: m.name, bundle: 'plain', threads: THREADS[0], fma: PROFILE_FMA } as const;
      const row = await paired(browser, srv, m, c, graphs);
      // a lowering is only an alternative if it computes the same values (on node, relative to the largest)
      const base = graphsMicro.find((g) => g.name === m.sameAs);
      if (!base) {
        rows.push({ row, same: '' });
        continue;
      }
      const ref = nodeOut.get(base.name)!;
      const scale = maxAbsDiff(ref, new Float32Array(ref.length));
      const same = `${(maxAbsDiff(nodeOut.get(m.name)!, ref) / scale).toExponential(1)} vs ${base.name}`;
      // and its speed against that one directly: both in one page, both in node, alternating
      const ab = await abPair(browser, srv, base, m, THREADS[0]);
      log(`${m.name} / ${base.name}: web ${ratio(ab.web)}, node ${ratio(ab.node)}`);
      rows.push({ row, same, ab });
    }
    out.ops = rows;
    report.push(
      `### Kernels and lowerings alone (flatten_pvt_v2_b0's first-stage sizes, ${THREADS[0]} thread)`,
      '',
      'A lowering of the same computation is also timed against the graph it replaces, directly: both in one page ' +
        '(web) and both in node, alternating, median of the pair ratios (min–max).',
      '',
      markdownTable(
        [
          'graph',
          'web ms',
          'node ms',
          'web / node (median, min–max)',
          'same values as (max |Δ| / max |y|, node)',
          'this / that, web',
          'this / that, node',
        ],
        rows.map(({ row: r, same, ab }) => [
          r.label,
          fmt(r.webMs, 2),
          fmt(r.nodeMs, 2),
          ratio([r.ratio, r.min, r.max]),
          same,
          ratio(ab?.web),
          ratio(ab?.node),
        ]),
      ),
      '',
    );
  }

  if (PARTS.includes('profile')) {
    const profiles = [];
    for (const name of MODELS) profiles.push(await profileBoth(browser, srv, exported.get(name)!, dir));
    out.profile = profiles.map((p) => ({
      model: p.model,
      web: { ...p.web, ops: Object.fromEntries(p.web.ops) },
      node: { ...p.node, ops: Object.fromEntries(p.node.ops) },
    }));
    for (const p of profiles) {
      const web = byFamily(p.web.ops);
      const node = byFamily(p.node.ops);
      const sum = (f: Map<string, OpTime>) => [...f.values()].reduce((a, o) => a + o.ms, 0);
      const webSum = sum(web);
      const nodeSum = sum(node);
      const ms = (f: Map<string, OpTime>, op: string) => f.get(op)?.ms ?? 0;
      const ops = [...new Set([...web.keys(), ...node.keys()])].sort((a, b) => ms(web, b) - ms(web, a));
      const matrix = ms(web, 'Gemm') + ms(web, 'MatMul');
      report.push(
        `### Where the time goes: ${p.model}, 1 thread${PROFILE_FMA ? ', fused multiply-add .wasm' : ''}, ORT's profiler (kernel ms per run: each op's median over ${p.web.runs} web and ${p.node.runs} node runs, alternating, after warm-up)`,
        '',
        `Whole run (median): web ${fmt(p.web.runMs, 1)} ms, node ${fmt(p.node.runMs, 1)} ms (${fmt(p.web.runMs / p.node.runMs)}×; profiling on). ` +
          `Fused and layout kernels (FusedMatMul, FusedGemm, NCHWc reorders) are counted under the op they implement; ` +
          `the page runs the export for the web, whose LayerNorms are counted under ReduceMean, Sub, Mul, Add, Sqrt and Reciprocal.`,
        '',
        `Matrix kernels (Gemm, MatMul) alone on the web: ${fmt(matrix, 1)} ms, ${fmt(matrix / p.node.runMs)}× node's whole run: ` +
          `the lowest web / node this graph reaches at this matrix speed, every other kernel free.`,
        '',
        markdownTable(
          ['op type', 'kernels web / node', 'web ms', 'node ms', 'web / node', 'share of web', 'web − node ms'],
          [
            ...ops.map((op) => {
              const w = ms(web, op);
              const n = ms(node, op);
              return [
                op,
                `${Math.round(web.get(op)?.nodes ?? 0)} / ${Math.round(node.get(op)?.nodes ?? 0)}`,
                fmt(w, 2),
                fmt(n, 2),
                n > 0 ? fmt(w / n) : '—',
                `${fmt((100 * w) / webSum, 1)}%`,
                fmt(w - n, 2),
              ];
            }),
            [
              '**all kernels**',
              '',
              fmt(webSum, 1),
              fmt(nodeSum, 1),
              fmt(webSum / nodeSum),
              '100%',
              fmt(webSum - nodeSum, 1),
            ],
          ],
        ),
        '',
      );
    }
  }

  if (PARTS.includes('peak')) {
    // the page: our module alone; node: onnxruntime-node's MatMul on the same shape (three pairs in a chain, so that
    // the run is the products and not the copies of a 3136 × 384 output); one of each per round, alternating
    const [m, k, n] = GEMM_SHAPE;
    const chain = new Graph(false);
    let y = chain.input('x', [1, m, k]);
    const weights = (rows: number, cols: number, seed: number) =>
      Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i + seed) / Math.sqrt(rows));
    for (let r = 0; r < 3; r++) {
      const up = chain.constant([k, n], weights(k, n, r), `up${r}`, true);
      const down = chain.constant([n, k], weights(n, k, r + 7), `down${r}`, true);
      y = chain.emit('MatMul', [chain.emit('MatMul', [y, up], [1, m, n]), down], [1, m, k]);
    }
    const node = await nodeSession(encodeModel(chain.toModel({ logits: y }, { name: 'matmul chain' }).proto), 1);
    const x = new ort.Tensor('float32', pattern(m * k), [1, m, k]);
    const page = await browser.newPage();
    const bytes = [...peakModule()];
    const ROUNDS_FMA = 2_000_000;
    const inPage = () =>
      page.evaluate(([src, arg]) => (0, eval)(src)(arg) as Promise<PeakTimes>, [
        PEAK_PAGE_JS,
        [bytes, GEMM_SHAPE, ROUNDS_FMA, 3],
      ] as const);
    const gflops = (flops: number, ms: number) => flops / ms / 1e6;
    const gemmFlops = 2 * m * k * n;
    for (let w = 0; w < 3; w++) await inPage(); // warm-up: V8 tiers the functions up to TurboFan
    await timeNode(node, x, 3);
    const fmaG: number[] = [];
    const gemmG: number[] = [];
    const nodeG: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = await inPage();
      fmaG.push(gflops(FLOPS_PER_ROUND * t.rounds, t.fmaMs));
      gemmG.push(gflops(gemmFlops, t.gemmMs));
      nodeG.push(gflops(6 * gemmFlops, median(await timeNode(node, x, 1))));
    }
    await page.close();
    await node.release();
    const peak = median(fmaG);
    const rowOf = (label: string, g: number[], of: string) => {
      const [mid, lo, hi] = spread(g);
      return [label, `${fmt(mid, 1)} (${fmt(lo, 1)}–${fmt(hi, 1)})`, of];
    };
    out.peak = { fmaGflops: fmaG, sgemmGflops: gemmG, nodeMatMulGflops: nodeG, shape: GEMM_SHAPE };
    log(
      `peak: wasm FMA ${fmt(peak, 1)}, our SGEMM ${fmt(median(gemmG), 1)}, node MatMul ${fmt(median(nodeG), 1)} GFLOPS`,
    );
    report.push(
      `### The matrix floor: 128-bit FMA in the page against onnxruntime-node (1 thread, GFLOPS, median of ${ROUNDS} rounds, min–max)`,
      '',
      markdownTable(
        ['what', 'GFLOPS', 'against the page’s FMA peak'],
        [
          rowOf('f32x4.relaxed_madd, 12 independent chains, no loads (the page’s peak)', fmaG, '1×'),
          rowOf(
            `our SGEMM kernel alone, (${m}, ${k}) · (${k}, ${n}), in the page`,
            gemmG,
            `${fmt(median(gemmG) / peak)}×`,
          ),
          rowOf(
            `onnxruntime-node MatMul, the same shapes (3 pairs chained), 1 thread`,
            nodeG,
            `${fmt(median(nodeG) / peak)}×`,
          ),
        ],
      ),
      '',
      'With the profile part’s Gemm + MatMul time, this bounds web / node from below: a model whose matrix kernels ' +
        'already run near the page’s peak cannot go lower than its matrix time over node’s whole run.',
      '',
    );
  }
} finally {
  await browser.close();
  srv.server.close();
  rmSync(dir, { recursive: true, force: true });
}

function mib(b: number) {
  return b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`;
}

const header =
  `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC — onnxruntime-web ${ortVersion} in Chromium ${browser.version()} (headless, ` +
  `--disable-gpu) vs onnxruntime-node ${machine().ort}; ${machine().cpu}, ${ROUNDS} rounds × ${RUNS} run(s) per side`;
const text = [header, '', ...report].join('\n');
console.log(text);
// bench/run.ts runs this file as a bundle inside bench/results/ and says where the results go
const resultsDir = process.env.FLATTEN_BENCH_RESULTS ?? join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  join(resultsDir, `web-${started.toISOString().replace(/[:.]/g, '-')}.json`),
  JSON.stringify(out, null, 1),
);
writeFileSync(join(resultsDir, 'web-latest.md'), `${text}\n`);
