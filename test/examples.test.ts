import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * The README's tours, run as written: examples/*.ts import the package by its name (`flatten-transformer`,
 * resolved to the built dist/ through package.json's exports, as in a user's project).
 */
function run(file: string): string {
  const argv = file.endsWith('.sh') ? ['bash', [file]] : [process.execPath, ['--import', 'tsx', file]];
  return execFileSync(argv[0] as string, argv[1] as string[], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('examples', () => {
  it('quickstart.ts classifies the three sample images with the shipped model', () => {
    const lines = run('examples/quickstart.ts').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^examples\/images\/sneaker\.png (Sneaker|Ankle boot|Sandal) \d/);
    expect(lines[2]).toMatch(/^examples\/images\/bag\.png Bag \d/);
  });

  it('api_tour.ts', () => {
    const out = run('examples/api_tour.ts');
    expect(out).toContain('flatten_pvt_v2_b0 flatten_pvt_v2_b1');
    expect(out).toContain('flatten_swin_t: 29,192,384 parameters, 4.48 GMACs');
    expect(out).toMatch(/onnx: (Sneaker|Ankle boot|Sandal) \(/);
    expect(out).toContain('pooled features: 1×64');
    expect(out).toContain('exported graph: logits 2×10');
    expect(out).toContain('stage 1: 64 ch, 1/8; stage 2: 160 ch, 1/16; stage 3: 256 ch, 1/32');
    expect(out).toMatch(/q8: (Sneaker|Ankle boot|Sandal) \(/);
    expect(out).toContain('feature maps: 1×64×28×36, 1×160×14×18, 1×256×7×9');
    expect(out).toMatch(/blocks\.0\.attn: rank \d+ without DWC, 50 with it \(50 tokens, head dim 32\)/);
  });

  it('custom_module.ts runs a module of its own on both engines and exports it', () => {
    const out = run('examples/custom_module.ts');
    const diff = Number(/max difference (\S+)/.exec(out)?.[1]);
    expect(diff).toBeLessThan(1e-5);
    expect(out).toMatch(/exported: \d+ bytes, batch 2 output 2×5×16/);
  });

  it('focused_layer.ts trains a network built with FocusedLinearAttention, exports it and runs the export', () => {
    const out = run('examples/focused_layer.ts');
    const [, before, after] = /loss (\S+) → (\S+)/.exec(out) ?? [];
    expect(Number(after)).toBeLessThan(0.5 * Number(before));
    expect(Number(/max difference (\S+);/.exec(out)?.[1])).toBeLessThan(1e-4);
    expect(out).toMatch(/exported \d+ bytes; batch 8 on ONNX Runtime/);
  });

  it('browser_entry.ts classifies the sample images through flatten-transformer/web (onnxruntime-web in Node)', () => {
    const out = run('examples/browser_entry.ts');
    expect(out).toMatch(/^flatten_deit_fmnist on wasm, 1 thread\(s\), fp32$/m);
    expect(out).toMatch(/^examples\/images\/sneaker\.png (Sneaker|Ankle boot|Sandal) 0\.\d{3}$/m);
    expect(out).toMatch(/^examples\/images\/bag\.png Bag 0\.\d{3}$/m);
  });

  it('cli_tour.sh', () => {
    const out = run('examples/cli_tour.sh');
    expect(out).toMatch(/flatten_swin_t: [\d,]+ parameters, [\d.]+ GMACs at 448×448/);
    expect(out).toMatch(/examples\/images\/bag\.png\n\s+\d+\.\d%\s+Bag/);
    expect(out).toContain('wrote ');
    expect(out).toMatch(/onnx\/model_quantized\.onnx .* q8/);
    expect(out).toMatch(/fmnist\.pth: 72 tensors, 155402 values \(safetensors → pth\)/);
    expect(out).toMatch(
      /ort\.fma\.wasm: our SGEMM kernel in place of MLAS’s two, our depthwise conv before MLAS’s, our block transpose, our erf, \d+ multiply-adds fused in \d+ functions/,
    );
    expect(out).toContain('0.745 GMACs at 224×288');
    expect(out).toMatch(/wrote .*\/features\/index\.html/);
  });
});
