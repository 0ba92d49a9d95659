/**
 * A tiny static server for the demo: web/ at /, the shipped weights at their repo path (/weights/…), so
 * the page fetches the same path the registry names, and the runtimes' own files straight from
 * node_modules: onnxruntime-web's loaders and .wasm at /ort/, tfjs-backend-wasm's .wasm at /tfjs-wasm/.
 * Every answer carries COOP/COEP (same-origin / require-corp): that makes the page cross-origin
 * isolated, the condition for SharedArrayBuffer and so for wasm threads. Loopback only, GET/HEAD only,
 * known file types only, and every path must resolve (symlinks included) inside its folder.
 * `tsx web/serve.ts [--port N]` (default: env PORT, else 5173).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ORT_DIST_DIR, REPO_ROOT, TFJS_WASM_DIST_DIR, WEB_DIR, WEIGHTS_PATH } from './paths.js';
import { ORT_PATH, TFJS_WASM_PATH } from './src/shared.js';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

/**
 * URL prefix → folder, most specific first. Each folder is mounted by itself so nothing else of the repo
 * (or of node_modules) is reachable.
 */
const WEIGHTS_URL_DIR = `/${dirname(WEIGHTS_PATH)}/`;
const MOUNTS: [string, string][] = [
  [WEIGHTS_URL_DIR, join(REPO_ROOT, dirname(WEIGHTS_PATH))],
  [`/${ORT_PATH}`, ORT_DIST_DIR],
  [`/${TFJS_WASM_PATH}`, TFJS_WASM_DIST_DIR],
  ['/', WEB_DIR],
];

/**
 * Sent with every answer. COOP + COEP make the page cross-origin isolated (SharedArrayBuffer, hence wasm
 * threads); every resource the page loads is same-origin, so require-corp blocks nothing of ours.
 */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const;

/** The file a URL path names, or undefined when it is outside the mounts, hidden, or of an unknown type. */
export async function resolveFile(urlPath: string): Promise<string | undefined> {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (path.endsWith('/')) path += 'index.html';
  if (path.includes('\0') || path.includes('\\') || path.split('/').some((s) => s.startsWith('.'))) return undefined;
  const [prefix, dir] = MOUNTS.find(([p]) => path.startsWith(p))!;
  try {
    const root = await realpath(dir);
    const file = await realpath(join(root, path.slice(prefix.length)));
    if (!file.startsWith(root + sep) || !(extname(file) in MIME) || !(await stat(file)).isFile()) return undefined;
    return file;
  } catch {
    return undefined;
  }
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  host?: string;
  /** Send COOP/COEP (default true); false shows what a plain static host gives: one wasm thread. */
  isolate?: boolean;
}

export async function startServer(port: number, opts: ServeOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const isolation = opts.isolate === false ? {} : ISOLATION_HEADERS;
  const server: Server = createServer(async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...isolation }).end();
      return;
    }
    const file = await resolveFile(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...isolation }).end('not found\n');
      return;
    }
    const { size } = await stat(file);
    // no-cache: a rebuilt bundle or newly trained weights show up on reload
    res.writeHead(200, {
      'content-type': MIME[extname(file)],
      'content-length': size,
      'cache-control': 'no-cache',
      ...isolation,
    });
    if (req.method === 'HEAD') res.end();
    else
      createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}/`,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function portFromArgs(argv: string[]): number {
  const i = argv.indexOf('--port');
  const raw = i >= 0 ? argv[i + 1] : (process.env.PORT ?? '5173');
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: '${raw}' is not a port number (0-65535)`);
  return port;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const { url } = await startServer(portFromArgs(process.argv.slice(2)));
    console.log(`FLatten demo at ${url} (Ctrl+C to stop)`);
  } catch (err) {
    console.error(`web/serve.ts: ${(err as Error).message}`);
    process.exit(1);
  }
}
