import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * examples/browser_entry.ts as written: it imports `flatten-transformer/web`, which package.json maps to the
 * built dist/web/ (as in a user's project), and runs it in Node on onnxruntime-web's wasm build.
 */
describe('examples/browser_entry.ts', () => {
  it('classifies the sample images through flatten-transformer/web', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/browser_entry.ts'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toMatch(/^flatten_deit_fmnist on wasm, 1 thread\(s\), fp32$/m);
    expect(out).toMatch(/^examples\/images\/sneaker\.png (Sneaker|Ankle boot|Sandal) 0\.\d{3}$/m);
    expect(out).toMatch(/^examples\/images\/bag\.png Bag 0\.\d{3}$/m);
  });
});
