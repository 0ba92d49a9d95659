import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOOK = fileURLToPath(new URL('./deny_engines.mjs', import.meta.url));

/** Runs node with tsx and a hook that throws on tfjs, onnxruntime and sharp; returns stdout, or throws. */
function denied(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', '--import', HOOK, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
const cli = (...args: string[]) => denied(['src/cli/main.ts', ...args]);

describe('lazy engines: light entry points load neither tfjs, nor onnxruntime, nor sharp', () => {
  it('the hook itself refuses those packages (so the tests below can fail)', () => {
    expect(() => denied(['--input-type=module', '-e', "await import('onnxruntime-node')"])).toThrow(
      /deny_engines: refused to load onnxruntime-node/,
    );
    expect(() => cli('classify', 'assets/none.png', '--model', 'flatten_deit_fmnist')).toThrow(/deny_engines/);
  });

  it('importing the package root', () => {
    const out = denied([
      '--input-type=module',
      '-e',
      "const m = await import('./src/index.ts'); console.log(typeof m.createModel, typeof m.pipeline)",
    ]);
    expect(out.trim()).toBe('function function');
  });

  it('flatten --help, list and info', () => {
    expect(cli('--help')).toMatch(/Usage: flatten/);
    expect(JSON.parse(cli('list', '--json')).length).toBeGreaterThanOrEqual(18);
    expect(JSON.parse(cli('info', 'flatten_swin_t', '--json')).parameters).toBe(29_192_384);
  });
});
