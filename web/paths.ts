/** Where the demo's files live, for the Node-side scripts (build, serve, samples) and the e2e test. */
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
