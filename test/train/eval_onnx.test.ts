import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCheckpoint } from '../../src/api/train.js';
import type { ModelDType } from '../../src/api/export.js';
import { makeImageFolder } from './helpers.js';

let folder: string;
beforeAll(async () => {
  folder = await makeImageFolder(6);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** `flatten eval --engine onnx --dtype …` on the shipped flatten_deit_fmnist weights and a 12-image folder. */
describe('flatten eval --engine onnx', () => {
  // batches of 5, 5 and 2: the exported graph's batch axis is dynamic
  const base = { model: 'flatten_deit_fmnist', batchSize: 5, threads: 1 };

  it('fp32 gives the tfjs engine’s top-1 and loss; q8 and q4 stay close and say which images they classify', async () => {
    const tfjs = await evalCheckpoint({ ...base, dataset: folder });
    const fp32 = await evalCheckpoint({ ...base, dataset: folder, engine: 'onnx' });
    expect(fp32.images).toBe(12);
    expect(fp32.top1).toBe(tfjs.top1);
    expect(fp32.top5).toBe(tfjs.top5);
    expect(Math.abs(fp32.loss - tfjs.loss)).toBeLessThan(1e-4 * tfjs.loss);
    expect(fp32.predictions).toHaveLength(12);
    for (const dtype of ['fp16', 'q8', 'q4'] as const) {
      const r = await evalCheckpoint({ ...base, dataset: folder, engine: 'onnx', dtype });
      expect(r.images, dtype).toBe(12);
      // a loss near fp32's: these synthetic images are far from Fashion-MNIST (fp32 loss ≈ 2.5), where 4-bit
      // weights move it by up to ~15% (the golden-case tests bound each dtype's logit error itself)
      expect(Math.abs(r.loss - fp32.loss), dtype).toBeLessThan((dtype === 'q4' ? 0.25 : 0.03) * fp32.loss);
    }
  }, 60_000);

  it('the command: flatten eval --engine onnx --dtype q8 --json says what it ran', () => {
    // node with tsx's loader, not npx: npx may print warnings of its own
    const args = ['eval', '--model', base.model, '--dataset', folder, '--engine', 'onnx', '--dtype', 'q8', '--json'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--threads', '1'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect([res.engine, res.dtype, res.images]).toEqual(['onnx', 'q8', 12]);
  }, 60_000);

  it('bad input: an unknown dtype, a dtype on the tfjs engine, an unknown engine', async () => {
    const o = { ...base, dataset: folder };
    await expect(evalCheckpoint({ ...o, engine: 'onnx', dtype: 'q9' as ModelDType })).rejects.toThrow(
      "unknown dtype 'q9'; valid: fp32, fp16, q8, q4",
    );
    await expect(evalCheckpoint({ ...o, dtype: 'q4' })).rejects.toThrow("dtype 'q4' needs the onnx engine");
    await expect(evalCheckpoint({ ...o, engine: 'webgpu' as 'onnx' })).rejects.toThrow("unknown engine 'webgpu'");
  });
});
