/** Where the demo's files live, for the Node-side scripts (build, serve, samples) and the e2e test. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registryEntry } from '../src/models/registry.js';
import { MODEL_NAME } from './src/shared.js';

export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = dirname(WEB_DIR);
export const DIST_DIR = join(WEB_DIR, 'dist');
export const SAMPLES_DIR = join(WEB_DIR, 'samples');
/** The shipped weights (repo-relative path from the registry), served at the same URL path. */
export const WEIGHTS_PATH = registryEntry(MODEL_NAME).weights!;

const require = createRequire(import.meta.url);
/** onnxruntime-web's dist folder (its loaders .mjs and builds .wasm), found through its own exports. */
export const ORT_DIST_DIR = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
/** tfjs-backend-wasm's dist folder (the three .wasm builds: plain, SIMD, threaded SIMD). */
export const TFJS_WASM_DIST_DIR = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
