/**
 * Bundles the demo (web/src/main.ts → web/dist/app.js) with esbuild, writes the random-weights fallback the
 * page loads when the shipped weights are missing, and the shipped model's graph for onnxruntime-web. Run directly or via `npm run web:build`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { FASHION_MNIST_CLASSES } from '../src/data/fashion_mnist.js';
import { buildNamed } from '../src/models/build.js';
import { initWeights } from '../src/nn/init.js';
import { writeSafetensorsFile } from '../src/io/safetensors.js';
import { writeFileAtomic } from '../src/io/files.js';
import { exportOnnx, optimizeForWeb } from '../src/api/export.js';
import { buildFmaWasm } from '../src/engines/onnx/wasm/fma.js';
import { DIST_DIR, ORT_DIST_DIR, REPO_ROOT, WEB_DIR, WEIGHTS_PATH } from './paths.js';
import { FMA_WASM_PATH, MODEL_NAME, RANDOM_WEIGHTS_PATH, SHIPPED_ONNX_PATH } from './src/shared.js';

/**
 * The page imports the package by name, as a user's page would; the bundle takes those two entries from src/
 * (not the built dist/), so a rebuilt page always has the current code.
 */
const packageEntries: Plugin = {
  name: 'flatten-transformer-entries',
  setup(b) {
    b.onResolve({ filter: /^flatten-transformer\/web(\/analysis)?$/ }, (a) => ({
      path: join(REPO_ROOT, 'src', 'web', a.path.endsWith('/analysis') ? 'analysis.ts' : 'index.ts'),
    }));
  },
};

export async function buildWeb(): Promise<void> {
  mkdirSync(DIST_DIR, { recursive: true });
  await build({
    entryPoints: [join(WEB_DIR, 'src', 'main.ts')],
    outdir: DIST_DIR,
    entryNames: 'app',
    // the two onnxruntime-web builds load as chunks on first use: a page fetches only the one it runs
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
    plugins: [packageEntries],
    // onnxruntime-web's build that loads its wasm loader (.mjs) from env.wasm.wasmPaths rather than
    // inlining it: the threads' workers start from that loader's own URL, served by web/serve.ts
    conditions: ['onnxruntime-web-use-extern-wasm'],
    define: {
      __FASHION_MNIST_CLASSES__: JSON.stringify(FASHION_MNIST_CLASSES),
      __SHIPPED_WEIGHTS__: JSON.stringify(WEIGHTS_PATH),
    },
  });
  // seed 0: every build shows the same random maps
  const random = initWeights(buildNamed(MODEL_NAME).table, 0);
  writeSafetensorsFile(join(WEB_DIR, RANDOM_WEIGHTS_PATH), random, { weights: 'random', seed: '0' });
  // the page's predictions: the shipped model's graph as onnxruntime-node optimizes it, so that the page's
  // session skips the optimizer (the first prediction in 0.65× the time, docs/browser_speed.md)
  const shipped = join(REPO_ROOT, WEIGHTS_PATH);
  const graph = existsSync(shipped)
    ? exportOnnx({ name: MODEL_NAME, checkpoint: shipped, source: WEIGHTS_PATH.split('/').pop() })
    : exportOnnx({ name: MODEL_NAME, checkpoint: random, source: 'random (seed 0)' });
  writeFileAtomic(join(WEB_DIR, SHIPPED_ONNX_PATH), await optimizeForWeb(graph.bytes));
  // the plain build's .wasm with fused multiply-adds, for browsers with relaxed SIMD (docs/browser_speed.md)
  const stock = new Uint8Array(readFileSync(join(ORT_DIST_DIR, 'ort-wasm-simd-threaded.wasm')));
  writeFileAtomic(join(WEB_DIR, FMA_WASM_PATH), buildFmaWasm(stock).bytes);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildWeb();
  console.log(`built ${DIST_DIR}`);
}
