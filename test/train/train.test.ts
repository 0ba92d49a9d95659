import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildNamed } from '../../src/models/build.js';
import { initWeights } from '../../src/nn/init.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/ops/ops.js';
import { smoothedCrossEntropy } from '../../src/train/loss.js';
import { AdamW, clipGlobalNorm } from '../../src/train/optim.js';
import { LiveWeights } from '../../src/train/params.js';
import { Rng } from '../../src/core/rng.js';
import { cosineLr } from '../../src/train/schedule.js';
import { lossAndGrads } from '../../src/train/step.js';
import { train } from '../../src/train/trainer.js';
import { GradientWorkers } from '../../src/train/workers.js';
import { evalCheckpoint } from '../../src/train/eval_checkpoint.js';
import { makeImageFolder, TINY_KWARGS, tinyOptions, trainerFixture } from './helpers.js';

const fx = trainerFixture();
const { out, quiet } = fx;

describe('optimisation pieces', () => {
  it('the loss falls on a fixed tiny batch (AdamW, clipping, drop path on)', async () => {
    const model = buildNamed('flatten_deit_fmnist', {
      ...TINY_KWARGS,
      embed_dim: 16,
      num_heads: 2,
      mlp_ratio: 2,
      drop_path_rate: 0.1,
    });
    const live = new LiveWeights(model.table, initWeights(model.table, 0));
    const opt = new AdamW(live.params, { lr: 1e-2, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const r = new Rng(5);
    const x = tf.tensor4d(
      Float32Array.from({ length: 16 * 3 * 12 * 12 }, () => r.next() * 2 - 1),
      [16, 3, 12, 12],
    );
    const y = Int32Array.from({ length: 16 }, (_, i) => i % 10);
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      const ctx = live.trainCtx([step]);
      const { value, grads } = tf.variableGrads(
        () => smoothedCrossEntropy(model.forward(ctx, x as unknown as Tensor).logits as unknown as tf.Tensor2D, y, 0),
        live.params.map((p) => p.variable),
      );
      losses.push(value.dataSync()[0]);
      const byPath = new Map(live.params.map((p) => [p.path, grads[p.variable.name]]));
      tf.tidy(() => opt.apply(clipGlobalNorm(byPath, 5).grads, 1e-2));
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[0]).toBeGreaterThan(2);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]);
    opt.dispose();
    live.dispose();
  });

  it('micro-batches and thread shares give the gradient of the whole batch, drop path included', async () => {
    const model = buildNamed('flatten_deit_fmnist', { ...TINY_KWARGS, depth: 3, drop_path_rate: 0.5 }); // linear rule: blocks 1–2 drop;
    const live = new LiveWeights(model.table, initWeights(model.table, 2));
    const r = new Rng(8);
    const per = 3 * 12 * 12;
    const x = Float32Array.from({ length: 6 * per }, () => r.next() * 2 - 1);
    const y = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const batch = { x, y, smoothing: 0.1, dropKeys: [0] };
    const whole = await lossAndGrads(model, live, batch);
    const parts = await lossAndGrads(model, live, { ...batch, micro: 4 });
    // two threads' shares: rows 0–1 and 2–5 of the same batch, each averaged over all 6 rows
    const a = await lossAndGrads(model, live, {
      ...batch,
      x: x.subarray(0, 2 * per),
      y: y.subarray(0, 2),
      micro: 2,
      share: { total: 6, first: 0 },
    });
    const b = await lossAndGrads(model, live, {
      ...batch,
      x: x.subarray(2 * per),
      y: y.subarray(2),
      micro: 3,
      share: { total: 6, first: 2 },
    });
    const other = await lossAndGrads(model, live, { ...batch, dropKeys: [1] });
    expect(other.loss).not.toBeCloseTo(whole.loss, 3); // drop path really draws: another key, another loss
    for (const [loss, grads] of [
      [parts.loss, parts.grads],
      [a.loss + b.loss, new Map([...a.grads].map(([k, g]) => [k, tf.add(g, b.grads.get(k)!)]))],
    ] as const) {
      expect(loss).toBeCloseTo(whole.loss, 5);
      expect(grads.size).toBe(whole.grads.size);
      for (const [path, g] of whole.grads) {
        const want = g.dataSync();
        const got = grads.get(path)!.dataSync();
        want.forEach((v, i) => expect(Math.abs(v - got[i]), path).toBeLessThan(1e-5 + 1e-4 * Math.abs(v)));
      }
    }
    live.dispose();
  });

  it('1-D parameters, scale and position tables get no weight decay', () => {
    const model = buildNamed('flatten_deit_fmnist');
    const noDecay = model.table
      .parameters()
      .filter((p) => p.noDecay)
      .map((p) => p.path);
    expect(noDecay).toContain('blocks.0.attn.scale');
    expect(noDecay).toContain('blocks.0.attn.positional_encoding');
    expect(noDecay).toContain('pos_embed');
    expect(noDecay).toContain('blocks.0.norm1.weight');
    expect(noDecay).toContain('head.bias');
    expect(noDecay).not.toContain('blocks.0.attn.qkv.weight');
    expect(noDecay).not.toContain('blocks.0.attn.dwc.weight');
  });

  it('cosine schedule with linear warmup', () => {
    expect(cosineLr(0, 100, 10, 1, 0)).toBeCloseTo(0.1);
    expect(cosineLr(9, 100, 10, 1, 0)).toBeCloseTo(1);
    expect(cosineLr(55, 100, 10, 1, 0)).toBeCloseTo(0.5);
    expect(cosineLr(100, 100, 10, 1, 0.01)).toBeCloseTo(0.01);
  });
});

describe('flatten train / eval on an image folder', () => {
  it('learns, writes checkpoints and metrics, and evaluates through the official keys', async () => {
    const dir = out('learn');
    const r = await train(tinyOptions(fx.folder, dir, { epochs: 4 }), false, quiet);
    expect(r.status).toBe('done');
    expect(readdirSync(dir).sort()).toEqual(['best.safetensors', 'last.safetensors', 'metrics.jsonl', 'state.json']);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([1, 2, 3, 4]);
    expect(lines[3].train_loss).toBeLessThan(lines[0].train_loss);
    const ev = await evalCheckpoint({
      model: 'flatten_deit_fmnist',
      checkpoint: join(dir, 'last.safetensors'),
      dataset: fx.folder,
      batchSize: 16,
    });
    expect(ev.images).toBe(24);
    expect(ev.top1).toBeCloseTo(lines[3].test.top1, 6);
  }, 60_000);

  it('a 1-channel model reads an RGB folder as grayscale, for training and evaluation', async () => {
    const r = await train(
      tinyOptions(fx.folder, out('gray'), { epochs: 1, kwargs: { ...TINY_KWARGS, in_chans: 1 } }),
      false,
      quiet,
    );
    expect(r.history[0].test?.images).toBe(24);
  }, 60_000);

  it('--resume after a stop mid-epoch gives exactly the weights of an uninterrupted run', async () => {
    const straight = out('straight');
    await train(tinyOptions(fx.folder, straight), false, quiet);
    const split = out('split');
    let steps = 0;
    const stopped = await train(tinyOptions(fx.folder, split), false, { ...quiet, shouldStop: () => steps++ === 4 });
    expect(stopped).toMatchObject({ status: 'interrupted', epoch: 1, stepInEpoch: 1 });
    const state = JSON.parse(readFileSync(join(split, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ epoch: 1, stepInEpoch: 1, globalStep: 4, rng: { seed: 3, epoch: 1, step: 1 } });
    expect(Object.keys(state.optimizer.m)).toContain('blocks.0.attn.qkv.weight');
    const done = await train(tinyOptions(fx.folder, split, { epochs: 0 }), true, quiet); // 0: keep the stored epoch count
    expect(done.status).toBe('done');
    expect(
      Buffer.compare(readFileSync(join(split, 'last.safetensors')), readFileSync(join(straight, 'last.safetensors'))),
    ).toBe(0);
  }, 60_000);

  it('killed between the metrics line of an epoch and its checkpoint, the resumed run lists that epoch once', async () => {
    const dir = out('metrics');
    await train(tinyOptions(fx.folder, dir, { epochs: 1 }), false, quiet);
    const metrics = join(dir, 'metrics.jsonl');
    const [first] = readFileSync(metrics, 'utf8').trim().split('\n');
    // what the killed run had appended: epoch 2's line, and a torn start of epoch 3's
    const ahead = JSON.stringify({ ...JSON.parse(first), epoch: 2, step: 2 * JSON.parse(first).step });
    writeFileSync(metrics, `${first}\n${ahead}\n{"epoch":3,"st`, { flag: 'w' });
    await train(tinyOptions(fx.folder, dir, { epochs: 3 }), true, quiet);
    const epochs = readFileSync(metrics, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).epoch);
    expect(epochs).toEqual([1, 2, 3]);
  }, 60_000);

  it('gradient workers (--engine tfjs --threads 3) train the same model as one thread', async () => {
    const one = out('t1');
    await train(tinyOptions(fx.folder, one, { engine: 'tfjs' }), false, quiet);
    const three = out('t3');
    const r = await train(tinyOptions(fx.folder, three, { threads: 3, engine: 'tfjs' }), false, quiet);
    expect(r.status).toBe('done');
    const a = readSafetensorsFile(join(one, 'last.safetensors')).tensors;
    const b = readSafetensorsFile(join(three, 'last.safetensors')).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    let worst = 0;
    for (const [k, t] of a) {
      const u = b.get(k)!.data as Float32Array;
      (t.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - u[i]))));
    }
    // the same batches, masks and gradients; only the order of float additions differs
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);

  it('a worker that cannot start fails the start with its reason, and nothing keeps running', async () => {
    await expect(GradientWorkers.start(1, 'no_such_model', {}, undefined, new Map())).rejects.toThrow(
      /gradient worker: .*unknown model 'no_such_model'/,
    );
  }, 60_000);

  it('a NaN loss stops the run and keeps the last good checkpoint byte for byte', async () => {
    const dir = out('nan');
    await train(tinyOptions(fx.folder, dir, { epochs: 1 }), false, quiet);
    const before = readFileSync(join(dir, 'last.safetensors'));
    const state = readFileSync(join(dir, 'state.json'));
    await expect(
      train(
        tinyOptions(fx.folder, dir, { epochs: 1, lr: 1e30, clipGrad: 0, warmupEpochs: 0, overwrite: true }),
        false,
        quiet,
      ),
    ).rejects.toThrow(/loss became (NaN|Infinity|-Infinity) .*last good checkpoint/);
    expect(Buffer.compare(readFileSync(join(dir, 'last.safetensors')), before)).toBe(0);
    expect(Buffer.compare(readFileSync(join(dir, 'state.json')), state)).toBe(0);
  }, 60_000);

  it('a new run refuses an --out folder that holds one, unless --overwrite; nothing there is touched', async () => {
    const dir = out('again');
    await train(tinyOptions(fx.folder, dir, { epochs: 1 }), false, quiet);
    const files = ['last.safetensors', 'best.safetensors', 'state.json', 'metrics.jsonl'];
    const before = files.map((f) => readFileSync(join(dir, f)));
    await expect(train(tinyOptions(fx.folder, dir, { epochs: 1, seed: 4 }), false, quiet)).rejects.toThrow(
      `--out ${dir} already holds a training run (last.safetensors, best.safetensors, state.json, metrics.jsonl): continue it with --resume, or start again with --overwrite`,
    );
    files.forEach((f, i) => expect(Buffer.compare(readFileSync(join(dir, f)), before[i]), f).toBe(0));
    const r = await train(tinyOptions(fx.folder, dir, { epochs: 1, seed: 4, overwrite: true }), false, quiet);
    expect(r.status).toBe('done');
    expect(Buffer.compare(readFileSync(join(dir, 'last.safetensors')), before[0])).not.toBe(0);
  }, 60_000);

  it('--pretrained loads every key but the head; a checkpoint of another model fails with named keys', async () => {
    const src = buildNamed('flatten_deit_fmnist', { ...TINY_KWARGS, num_classes: 7 });
    const file = join(out('pre'), 'pre.safetensors');
    writeSafetensorsFile(file, initWeights(src.table, 9));
    const r = await train(
      tinyOptions(fx.folder, out('ft'), { epochs: 1, pretrained: file, kwargs: { ...TINY_KWARGS, num_classes: 2 } }),
      false,
      quiet,
    );
    expect(r.status).toBe('done');
    const other = buildNamed('flatten_deit_fmnist', { ...TINY_KWARGS, embed_dim: 16 });
    const wrong = join(out('pre2'), 'other.safetensors');
    writeSafetensorsFile(wrong, initWeights(other.table, 9));
    await expect(train(tinyOptions(fx.folder, out('ft2'), { pretrained: wrong }), false, quiet)).rejects.toThrow(
      /0 of 24 parameter keys match; .*'cls_token' is \(1, 1, 16\) but the model needs \(1, 1, 8\)/,
    );
    await expect(
      evalCheckpoint({ model: 'flatten_deit_fmnist', checkpoint: wrong, dataset: fx.folder, batchSize: 8 }),
    ).rejects.toThrow(/with the wrong shape \('cls_token'/);
  }, 60_000);
});

describe('bad input gets a clear message', () => {
  it('unknown model, unknown dataset, missing or empty folders', async () => {
    await expect(train(tinyOptions(fx.folder, out('x'), { model: 'no_such_model' }), false, quiet)).rejects.toThrow(
      /unknown model 'no_such_model'/,
    );
    await expect(train(tinyOptions('imagenet-21k', out('x')), false, quiet)).rejects.toThrow(
      /unknown dataset 'imagenet-21k'/,
    );
    const empty = out('empty');
    await expect(train(tinyOptions(empty, out('x')), false, quiet)).rejects.toThrow(
      /split folder .*train does not exist/,
    );
    const noImages = await makeImageFolder(0);
    fx.track(noImages);
    await expect(train(tinyOptions(noImages, out('x')), false, quiet)).rejects.toThrow(
      /has no \.jpg\/\.png\/\.webp images/,
    );
  });

  it('corrupt images are skipped and reported; more than 1% stops the run', async () => {
    const few = await makeImageFolder(60, 1); // 1 of 121 train files
    fx.track(few);
    const messages: string[] = [];
    const r = await train(tinyOptions(few, out('c1'), { epochs: 1, batchSize: 40 }), false, {
      log: (m) => messages.push(m),
    });
    expect(r.status).toBe('done');
    expect(messages.join('\n')).toMatch(/skipped 1 corrupt image\(s\): .*broken0\.png/);
    const many = await makeImageFolder(12, 2); // 2 of 26
    fx.track(many);
    await expect(train(tinyOptions(many, out('c2')), false, quiet)).rejects.toThrow(
      /2 of 26 images .* are corrupt \(more than 1%\), stopping/,
    );
  }, 60_000);

  it('a hand-edited optimizer moment of the wrong length is refused by file and key', async () => {
    const dir = out('moment');
    await train(tinyOptions(fx.folder, dir, { epochs: 1 }), false, quiet);
    const path = join(dir, 'state.json');
    const state = JSON.parse(readFileSync(path, 'utf8'));
    state.optimizer.m['head.bias'] = 'AAAA'; // 3 bytes: not even a whole float32
    writeFileSync(path, JSON.stringify(state));
    await expect(train(tinyOptions(fx.folder, dir, { epochs: 2 }), true, quiet)).rejects.toThrow(
      `${path}: optimizer moment m for 'head.bias' is 3 bytes, expected 40`,
    );
  }, 60_000);

  it('--resume needs a checkpoint of the same model', async () => {
    await expect(train(tinyOptions(fx.folder, out('none')), true, quiet)).rejects.toThrow(/--resume: no checkpoint in/);
    const dir = out('other');
    await train(tinyOptions(fx.folder, dir, { epochs: 1 }), false, quiet);
    expect(existsSync(join(dir, 'state.json'))).toBe(true);
    await expect(train(tinyOptions(fx.folder, dir, { model: 'flatten_deit_tiny' }), true, quiet)).rejects.toThrow(
      /holds a 'flatten_deit_fmnist' run, not 'flatten_deit_tiny'/,
    );
  }, 60_000);
});
