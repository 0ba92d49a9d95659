/** The demo's static server: types, methods, and paths that must not escape web/ or weights/. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../web/serve.js';

let server: RunningServer;

/** Raw request: fetch() would normalise '..' away before it reaches the server. */
function get(path: string, method = 'GET'): Promise<{ status: number; type?: string; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
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

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/samples/..%2f..%2fpackage.json',
    '/weights/../package.json',
    '/weights/%2e%2e/src/index.ts',
    '/..%5cpackage.json',
    '/serve.ts',
    '/.gitignore',
    '/samples/%00.png',
    '/%E0%A4%A.png',
  ])('refuses %s', async (path) => {
    expect((await get(path)).status).toBe(404);
  });

  it('answers other methods with 405', async () => {
    expect((await get('/', 'POST')).status).toBe(405);
  });
});
