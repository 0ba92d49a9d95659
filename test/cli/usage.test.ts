import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { fashionMnist, FASHION_MNIST_CLASSES } from '../../src/data/fashion_mnist.js';
import { fileURLToPath } from 'node:url';
import { float32 } from '../../src/core/tensor.js';
import { readNpyFile, writeNpyFile } from '../../src/io/npy.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';
import { flatten } from './cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatten-usage-'));
const oneLine = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('(run with --help'));

/** The first Fashion-MNIST test image of each class, as root/val/<class>/0.png. */
let folder = '';
let shirt = '';
beforeAll(async () => {
  const data = fashionMnist('test');
  folder = join(tmp, 'fmnist');
  for (const [c, name] of FASHION_MNIST_CLASSES.entries()) {
    const dir = join(folder, 'val', `${c}_${name.replace(/\W+/g, '_')}`); // sorted folder names = class index
    mkdirSync(dir, { recursive: true });
    const px = Buffer.from(data.pixels.subarray(c * 1000 * 784, (c * 1000 + 1) * 784));
    await sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(join(dir, '0.png'));
  }
  mkdirSync(join(folder, 'train'));
  shirt = join(folder, 'val', '6_Shirt', '0.png');
});

describe('bad option values are usage errors that name the option', () => {
  for (const [args, option] of [
    [['info', 'flatten_swin_t', '--resolution', 'abc'], '--resolution'],
    [['classify', 'x.png', '--model', 'flatten_deit_fmnist', '--top-k', '0'], '--top-k'],
    [['classify', 'x.png', '--model', 'flatten_deit_fmnist', '--engine', 'gpu'], '--engine'],
    [['export', 'flatten_deit_fmnist', '--output', 'x.onnx', '--target', 'wasm'], '--target'],
    [['train', '--model', 'flatten_deit_fmnist', '--dataset', 'fashion-mnist', '--epochs', '-1'], '--epochs'],
    [['train', '--model', 'flatten_deit_fmnist', '--dataset', 'fashion-mnist', '--lr', 'fast'], '--lr'],
  ] as const) {
    it(`${args.join(' ')}`, () => {
      const r = flatten(...args);
      expect(r.status).toBe(1);
      const lines = oneLine(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^flatten: error: option '${option} [^']*' argument '[^']*' is invalid`));
      expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    });
  }

  it('--help never states a default twice', () => {
    // every command `flatten --help` lists, so that a new one cannot be left out
    const commands = [...flatten('--help').stdout.matchAll(/^ {2}([a-z]+) /gm)]
      .map((m) => m[1])
      .filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['forward', 'export', 'train', 'eval', 'convert']));
    for (const cmd of commands) {
      const help = flatten(cmd, '--help').stdout.replace(/\n\s+/g, ' ');
      for (const opt of help.split(/\s(?=-)/))
        expect(opt.match(/default/gi)?.length ?? 0, `${cmd}: ${opt}`).toBeLessThan(2);
    }
  });
});

describe('messages in our words', () => {
  it('a missing file says so once, without repeating the system code', () => {
    const r = flatten('forward', '--config', join(tmp, 'missing.json'), '--input', 'x.npy', '--output', 'y.npy');
    expect(r.stderr.trim()).toBe(
      `flatten: error: ${join(tmp, 'missing.json')}: cannot read file (no such file or directory, ENOENT)`,
    );
  });

  it('a failed write names the target, never its temporary file', () => {
    const g = `${GOLDEN_DIR}attn_pvt_sr1/`;
    const out = join(tmp, 'no', 'such', 'dir', 'out.npy');
    const r = flatten('forward', '--config', `${g}config.json`, '--input', `${g}input.npy`, '--output', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${out}: cannot write file (no such file or directory, ENOENT)`);
    expect(r.stderr).not.toMatch(/\.tmp/);
  });
});

describe('flatten forward', () => {
  const g = `${GOLDEN_DIR}pvt_v2_llll/`;
  const args = ['--config', `${g}config.json`, '--checkpoint', `${g}checkpoint.pth`, '--input', `${g}input.npy`];

  it('prints one line saying what it wrote', () => {
    const out = join(tmp, 'f1.npy');
    const feats = join(tmp, 'f1_features.npy');
    const r = flatten('forward', ...args, '--output', out, '--features', feats);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`wrote ${out} (2×10) and ${feats} (2×128) on tfjs`);
  });

  it('--stages writes every stage map as <prefix>i.npy, equal to the official maps', () => {
    const prefix = join(tmp, 'stage');
    const r = flatten('forward', ...args, '--output', join(tmp, 'f2.npy'), '--stages', prefix, '--engine', 'onnx');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${prefix}3.npy (2×128×7×7)`);
    const fixtures = fileURLToPath(new URL('../fixtures/stages/pvt_v2_llll/', import.meta.url));
    for (let i = 0; i < 4; i++) {
      const ref = readNpyFile(`${fixtures}stage${i}.npy`);
      const ours = readNpyFile(`${prefix}${i}.npy`);
      const first = float32(ref.shape, (ours.data as Float32Array).slice(0, ref.data.length));
      const { err, tol } = maxAbsError(first, ref);
      expect(err).toBeLessThanOrEqual(tol);
    }
  });

  /** The resample fixtures' input x[0, c, i, j] = sin(0.013·(c·65536 + i·W + j)), written as .npy. */
  const formulaInput = (h: number, w: number) => {
    const x = new Float32Array(3 * h * w);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) x[(c * h + i) * w + j] = Math.sin(0.013 * (c * 65536 + i * w + j));
    const input = join(tmp, `x${h}x${w}.npy`);
    writeNpyFile(input, float32([1, 3, h, w], x));
    return input;
  };
  const resampleFixture = <T>(file: string) =>
    JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/resample/${file}`, import.meta.url)), 'utf8')) as T;

  it('--img-size runs a 224² config at another size, its position tables resampled as the official model', () => {
    const out = join(tmp, 'y256.npy');
    const input = formulaInput(256, 256);
    const r = flatten('forward', ...args.slice(0, 4), '--input', input, '--output', out, '--img-size', '256');
    expect(r.status).toBe(0);
    const ref = resampleFixture<{ logits: number[] }>('pvt_v2_llll_256.json');
    const { err, tol } = maxAbsError(readNpyFile(out), float32([1, 10], Float32Array.from(ref.logits)));
    expect(err).toBeLessThanOrEqual(tol);
  });

  it('--img-size H,W --stages <prefix>: a non-square run writes the logits and every stage map of the official model', () => {
    const name = 'swin_llss';
    const ref = resampleFixture<{ logits: number[]; stages: { shape: number[]; stride?: number; values: number[] }[] }>(
      `${name}_224x448.json`,
    );
    const [out, prefix] = [join(tmp, 'y224x448.npy'), join(tmp, 'stage')];
    const r = flatten(
      'forward',
      ...['--config', `${GOLDEN_DIR}${name}/config.json`, '--checkpoint', `${GOLDEN_DIR}${name}/checkpoint.pth`],
      ...['--input', formulaInput(224, 448), '--output', out, '--img-size', '224,448', '--stages', prefix],
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const logits = maxAbsError(readNpyFile(out), float32([1, ref.logits.length], Float32Array.from(ref.logits)));
    expect(logits.err).toBeLessThanOrEqual(logits.tol);
    ref.stages.forEach((s, i) => {
      const y = readNpyFile(`${prefix}${i}.npy`);
      expect(y.shape).toEqual(s.shape);
      const picked = Float32Array.from(s.values, (_, k) => (y.data as Float32Array)[k * (s.stride ?? 1)]);
      const { err, tol } = maxAbsError(
        float32([picked.length], picked),
        float32([picked.length], Float32Array.from(s.values)),
      );
      expect(err, `stage ${i}`).toBeLessThanOrEqual(tol);
    });
  });

  it('writes all of its outputs or none: a bad second target leaves the first file untouched', () => {
    const out = join(tmp, 'keep.npy');
    writeFileSync(out, 'previous contents');
    const dir = join(tmp, 'a_folder');
    mkdirSync(dir);
    const r = flatten('forward', ...args, '--output', out, '--features', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`refusing to replace ${dir}: not a regular file`);
    expect(readFileSync(out, 'utf8')).toBe('previous contents');
  });
});

describe('shipped weights and random weights', () => {
  it('export uses the weights shipped for flatten_deit_fmnist, and says so when a model has none', () => {
    const shipped = flatten('export', 'flatten_deit_fmnist', '--output', join(tmp, 'fm.onnx'), '--no-check');
    expect(shipped.status).toBe(0);
    expect(shipped.stderr).toBe('');
    const fromFile = flatten('classify', shirt, '--onnx', join(tmp, 'fm.onnx'), '--top-k', '1', '--json');
    const fromName = flatten('classify', shirt, '--model', 'flatten_deit_fmnist', '--top-k', '1', '--json');
    expect(fromFile.status).toBe(0);
    const top = (s: string) => JSON.parse(s).predictions[0].top[0];
    expect(top(fromFile.stdout).label).toBe(top(fromName.stdout).label);
    expect(Math.abs(top(fromFile.stdout).score - top(fromName.stdout).score)).toBeLessThan(1e-5);
    const random = flatten('export', 'flatten_pvt_v2_b0', '--output', join(tmp, 'b0.onnx'), '--no-check');
    expect(random.status).toBe(0);
    expect(random.stderr).toMatch(/^flatten: warning: flatten_pvt_v2_b0 has no weights here; .*RANDOM weights/);
  });

  it('eval defaults to the shipped weights, and names the missing checkpoint for other models', () => {
    const r = flatten('eval', '--model', 'flatten_deit_fmnist', '--dataset', folder, '--json');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(res.images).toBe(10);
    expect(res.top1).toBeGreaterThanOrEqual(0.7);
    const none = flatten('eval', '--model', 'flatten_swin_t', '--dataset', folder);
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe(
      'flatten: error: flatten_swin_t ships no weights: pass --checkpoint (a .pth or .safetensors file)',
    );
  });
});
