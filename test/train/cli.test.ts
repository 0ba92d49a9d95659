import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/train/trainer.js';
import { flatten, ROOT } from '../cli/cli.js';
import { makeImageFolder, tinyOptions, tmp } from './helpers.js';

let folder: string;
let run: string;
beforeAll(async () => {
  folder = await makeImageFolder(8);
  run = tmp('cli-run');
  await train(tinyOptions(folder, run, { epochs: 1 }), false, { log: () => {} });
});
afterAll(() => {
  for (const d of [folder, run]) rmSync(d, { recursive: true, force: true });
});

describe('flatten train / eval CLI', () => {
  it('eval --json prints top1 as a fraction, with top5, loss and the split', () => {
    const r = flatten(
      'eval',
      '--model',
      'flatten_deit_fmnist',
      '--checkpoint',
      join(run, 'last.safetensors'),
      '--dataset',
      folder,
      '--json',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ model: 'flatten_deit_fmnist', split: 'val', images: 16 });
    expect(j.top1).toBeGreaterThanOrEqual(0);
    expect(j.top1).toBeLessThanOrEqual(1);
    expect(j.top5).toBe(1); // two classes
    expect(Number.isFinite(j.loss)).toBe(true);
  }, 60_000);

  it('bad input is one line naming the problem, exit code 1', () => {
    const cases: [string[], RegExp][] = [
      [
        ['train', '--model', 'flatten_deit_fmnist', '--dataset', 'cifar-100', '--out', join(run, 'x')],
        /unknown dataset 'cifar-100'/,
      ],
      [['train', '--model', 'nope', '--dataset', folder, '--out', join(run, 'y')], /unknown model 'nope'/],
      [
        ['train', '--model', 'flatten_deit_fmnist', '--dataset', folder, '--engine', 'webgpu', '--out', join(run, 'z')],
        /--engine must be tfjs or onnx, got 'webgpu'/,
      ],
      [
        ['train', '--model', 'flatten_deit_fmnist', '--dataset', folder, '--out', join(run, 'metrics.jsonl')],
        /--out .*metrics\.jsonl: it exists and is not a folder/,
      ],
      [
        [
          'eval',
          '--model',
          'flatten_deit_fmnist',
          '--checkpoint',
          join(run, 'missing.safetensors'),
          '--dataset',
          folder,
        ],
        /missing\.safetensors: cannot read file/,
      ],
      [
        [
          'eval',
          '--model',
          'flatten_deit_fmnist',
          '--checkpoint',
          join(run, 'last.safetensors'),
          '--dataset',
          'fashion-mnist',
          '--split',
          'validation',
        ],
        /fashion-mnist has splits 'train' and 'test', not 'validation'/,
      ],
    ];
    for (const [args, msg] of cases) {
      const r = flatten(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^flatten: error: /);
      expect(r.stderr).toMatch(msg);
    }
  }, 60_000);

  it('SIGTERM (like Ctrl-C) finishes the step, saves a checkpoint and exits 130; --resume continues', async () => {
    const out = join(run, 'term');
    const args = [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'train',
      '--model',
      'flatten_deit_fmnist',
      '--dataset',
      folder,
      '--epochs',
      '40',
      '--batch-size',
      '2',
      '--threads',
      '1',
      '--out',
      out,
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT });
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/epoch 1\/40/.test(stderr) && !child.killed) child.kill('SIGTERM');
      });
      child.on('exit', resolve);
    });
    expect(stderr).toMatch(/stopping after this step and saving a checkpoint/);
    expect(stderr).toMatch(/checkpoint saved in .*term \(continue with --resume\)/);
    expect(code).toBe(130);
    const state = JSON.parse(readFileSync(join(out, 'state.json'), 'utf8'));
    expect(state.globalStep).toBeGreaterThan(0);
    expect(state.epoch).toBeLessThan(40);
    const r = flatten(
      'train',
      '--model',
      'flatten_deit_fmnist',
      '--dataset',
      folder,
      '--out',
      out,
      '--resume',
      '--epochs',
      String(state.epoch + 1),
      '--threads',
      '1',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done: .*term \(engine onnx; best held-out top-1/); // the default engine
    expect(JSON.parse(readFileSync(join(out, 'state.json'), 'utf8')).epoch).toBe(state.epoch + 1);
  }, 120_000);
});
