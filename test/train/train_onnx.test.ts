import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { readSafetensorsFile } from '../../src/io/safetensors.js';
import { train } from '../../src/train/trainer.js';
import { makeImageFolder, tinyOptions, tmp } from './helpers.js';

/** `flatten train --engine onnx`: the trainer loop with its gradients from the ONNX Runtime training step. */
let folder: string;
const dirs: string[] = [];
const out = (name: string) => {
  const d = tmp(name);
  dirs.push(d);
  return d;
};
const quiet = { log: () => {} };
const onnx = { engine: 'onnx' as const };

beforeAll(async () => {
  await initTfjs();
  folder = await makeImageFolder(12);
});
afterAll(() => {
  for (const d of [folder, ...dirs]) rmSync(d, { recursive: true, force: true });
});

describe('flatten train --engine onnx', () => {
  it('trains the model the tfjs engine trains: same batches, masks and AdamW, gradients equal to 1e-4', async () => {
    const [a, b] = [out('onnx'), out('tfjs')];
    const r = await train(tinyOptions(folder, a, { epochs: 3, ...onnx }), false, quiet);
    await train(tinyOptions(folder, b, { epochs: 3 }), false, quiet);
    expect(r.status).toBe('done');
    expect(readdirSync(a).sort()).toEqual(['best.safetensors', 'last.safetensors', 'metrics.jsonl', 'state.json']);
    const lines = readFileSync(join(a, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[2].train_loss).toBeLessThan(lines[0].train_loss);
    const [wa, wb] = [
      readSafetensorsFile(join(a, 'last.safetensors')),
      readSafetensorsFile(join(b, 'last.safetensors')),
    ];
    expect([...wa.tensors.keys()]).toEqual([...wb.tensors.keys()]);
    let worst = 0;
    for (const [k, t] of wb.tensors) {
      const u = wa.tensors.get(k)!.data as Float32Array;
      (t.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - u[i]))));
    }
    // 9 AdamW steps at lr 5e-3 (measured: 1.4e-7; AdamW's m̂/√v̂ can amplify float-order differences of near-zero gradients)
    expect(worst).toBeLessThan(1e-5);
  }, 60_000);

  it('--resume after a stop mid-epoch gives exactly the weights of an uninterrupted run', async () => {
    const straight = out('straight');
    await train(tinyOptions(folder, straight, onnx), false, quiet);
    const split = out('split');
    let steps = 0;
    const stopped = await train(tinyOptions(folder, split, onnx), false, { ...quiet, shouldStop: () => steps++ === 4 });
    expect(stopped).toMatchObject({ status: 'interrupted', epoch: 1, stepInEpoch: 1 });
    await train(tinyOptions(folder, split, { epochs: 0, ...onnx }), true, quiet);
    expect(
      Buffer.compare(readFileSync(join(split, 'last.safetensors')), readFileSync(join(straight, 'last.safetensors'))),
    ).toBe(0);
  }, 60_000);

  it('--micro-batch is a tfjs option: a named error', async () => {
    await expect(train(tinyOptions(folder, out('micro'), { microBatch: 2, ...onnx }), false, quiet)).rejects.toThrow(
      /--micro-batch applies to the tfjs engine/,
    );
  });
});
