/**
 * The browser entry bundles for a page: esbuild with platform 'browser' and only onnxruntime-web left out must
 * reach no Node built-in and use no Node global; the package maps `./web` and the `browser` condition to it.
 */
import { readFileSync } from 'node:fs';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Imports a browser bundle cannot have: node:* and the bare names of Node's built-ins. */
const NODE_BUILTIN = /^(node:.*|fs|path|os|url|crypto|module|http|https|stream|util|worker_threads|child_process)$/;

async function bundle(minify: boolean, entry = 'src/web/index.ts'): Promise<{ code: string; node: string[] }> {
  const node: string[] = [];
  const refuseNode: Plugin = {
    name: 'refuse-node',
    setup(b) {
      b.onResolve({ filter: NODE_BUILTIN }, (a) => {
        node.push(`${a.importer} imports ${a.path}`);
        return { path: a.path, external: true };
      });
    },
  };
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify,
    // the runtimes a page brings itself (the analysis entry's tfjs and its wasm backend)
    external: ['onnxruntime-web', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'],
    plugins: [refuseNode],
    logLevel: 'silent',
  });
  return { code: r.outputFiles[0].text, node };
}

describe('flatten-transformer/web in a browser bundle', () => {
  it.each([
    ['flatten-transformer/web', 'src/web/index.ts'],
    ['flatten-transformer/web/analysis', 'src/web/analysis.ts'],
  ])('%s reaches no Node built-in and no Node global; minified size reported', async (name, entry) => {
    const { code, node } = await bundle(false, entry);
    expect(node).toEqual([]);
    // a global used as an object or called (globalThis.process?.env, guarded, is allowed)
    const globals = [
      ...code.matchAll(/(?<![.\w$])(process|Buffer|require|__dirname|__filename|setImmediate)\b(?=\s*[.([])/g),
    ];
    expect(globals.map((m) => code.slice(m.index - 40, m.index + 30))).toEqual([]);
    const min = await bundle(true, entry);
    console.info(`${name}: ${min.code.length} bytes minified (onnxruntime-web and tfjs not included)`);
    expect(min.code.length).toBeGreaterThan(10_000);
  });

  it('package.json exports ./web and the browser condition of "." as dist/web/index.js', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      exports: Record<string, Record<string, unknown>>;
    };
    expect(pkg.exports['./web'].default).toBe('./dist/web/index.js');
    expect(pkg.exports['./web/analysis'].default).toBe('./dist/web/analysis.js');
    expect(pkg.exports['.'].browser).toEqual({ types: './dist/web/index.d.ts', default: './dist/web/index.js' });
    expect(Object.keys(pkg.exports['.'])[0]).toBe('browser');
  });
});
