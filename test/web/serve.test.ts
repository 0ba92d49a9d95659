/**
 * The demo's static server: types, methods, the cross-origin isolation headers, and paths that must not
 * escape web/, weights/ or the runtimes' dist folders.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../web/serve.js';

let server: RunningServer;

/** Raw request: fetch() would normalise '..' away before it reaches the server. */
function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; type?: string; body: string; headers: IncomingHttpHeaders }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, type: res.headers['content-type'], body, headers: res.headers }),
      );
    });
    req.on('error', reject).end();
  });
}

beforeAll(async () => {
  server = await startServer(0);
});
afterAll(() => server.close());

describe('web/serve.ts', () => {
  it('listens on loopback only', () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it('serves the page, samples and manifest with their MIME types', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('dist/app.js');
    expect((await get('/samples/1-trouser.png')).type).toBe('image/png');
    expect((await get('/samples/samples.json')).type).toBe('application/json; charset=utf-8');
    expect((await get('/style.css', 'HEAD')).status).toBe(200);
  });

  it('serves onnxruntime-web and tfjs-backend-wasm files from node_modules', async () => {
    const loader = await get('/ort/ort-wasm-simd-threaded.jsep.mjs', 'HEAD');
    expect(loader.status).toBe(200);
    expect(loader.type).toBe('text/javascript; charset=utf-8');
    expect((await get('/ort/ort-wasm-simd-threaded.jsep.wasm', 'HEAD')).type).toBe('application/wasm');
    expect((await get('/tfjs-wasm/tfjs-backend-wasm-threaded-simd.wasm', 'HEAD')).type).toBe('application/wasm');
  });

  it.each(['/', '/ort/ort-wasm-simd-threaded.mjs', '/missing.js'])(
    'sends COOP/COEP (cross-origin isolation, for wasm threads) on %s',
    async (path) => {
      const { headers } = await get(path, 'HEAD');
      expect(headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(headers['cross-origin-embedder-policy']).toBe('require-corp');
    },
  );

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/samples/..%2f..%2fpackage.json',
    '/weights/../package.json',
    '/weights/%2e%2e/src/index.ts',
    '/ort/../package.json',
    '/ort/%2e%2e/package.json',
    '/ort/README.md',
    '/tfjs-wasm/..%2f..%2fpackage.json',
    '/..%5cpackage.json',
    '/serve.ts',
    '/.gitignore',
    '/samples/%00.png',
    '/%E0%A4%A.png',
  ])('refuses %s', async (path) => {
    expect((await get(path)).status).toBe(404);
  });

  it('leaves COOP/COEP out when asked (isolate: false)', async () => {
    const plain = await startServer(0, { isolate: false });
    try {
      const res = await fetch(plain.url, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('cross-origin-embedder-policy')).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it('answers other methods with 405', async () => {
    expect((await get('/', 'POST')).status).toBe(405);
  });
});
