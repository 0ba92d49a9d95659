import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flatten } from './cli.js';

describe('flatten export --format folder, flatten classify --onnx <folder> --dtype', () => {
  it('writes the folder a transformers.js user loads, and classifies with the dtype asked', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'flatten-folder-cli-')), 'fm');
    const e = flatten(
      'export',
      'flatten_deit_fmnist',
      '--format',
      'folder',
      '--dtype',
      'fp32,q8',
      '--out',
      out,
      '--no-check',
    );
    expect(e.stderr).toBe('');
    expect(e.status).toBe(0);
    expect(e.stdout).toMatch(/onnx\/model_quantized\.onnx +[\d.]+ KiB {2}q8/);
    expect(readdirSync(join(out, 'onnx')).sort()).toEqual(['model.onnx', 'model_quantized.onnx']);
    const c = flatten(
      'classify',
      'examples/images/sneaker.png',
      '--onnx',
      out,
      '--dtype',
      'q8',
      '--top-k',
      '1',
      '--json',
    );
    expect(c.stderr).toBe('');
    const r = JSON.parse(c.stdout) as { dtype: string; weights: string; predictions: { top: { label: string }[] }[] };
    expect(r.dtype).toBe('q8');
    expect(r.weights).toMatch(/model_quantized\.onnx$/);
    expect(r.predictions[0].top[0].label).toBe('Sneaker');
  });
});
