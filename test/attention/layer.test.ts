import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bindStateDict,
  FocusedLinearAttention,
  loadWeights,
  readStateDict,
  ParamTable,
  runModule,
  type AttentionContext,
  type Ctx,
  type FocusedLinearAttentionOptions,
  type Tensor,
} from '../../src/api/nn.js';
import { float32, type TensorData } from '../../src/core/tensor.js';
import { mulberry32 } from '../../src/core/rng.js';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { readJsonFile } from '../../src/io/json.js';
import { readNpyFile } from '../../src/io/npy.js';
import { buildAttentionCase } from '../../src/models/attention_case.js';
import { resampleBicubic } from '../../src/nn/resample.js';
import { fromWindows, roll, toWindows } from '../../src/ops/compose.js';
import { LiveWeights } from '../../src/train/params.js';
import { GOLDEN_DIR } from '../golden.js';
import { maxAbsError } from '../util.js';

const B = 2;

function randomData(shape: number[], seed: number, scale = 1): TensorData {
  const r = mulberry32(seed);
  return float32(
    shape,
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * (2 * r() - 1)),
  );
}

/** Every parameter random (the default init zeroes `scale`, `positional_encoding` and the biases). */
function randomWeights(table: ParamTable, seed: number): Map<string, TensorData> {
  return new Map([...table.specs.values()].map((s, i) => [s.path, randomData(s.shape, seed + i, 0.3)]));
}

function maxDiff(a: TensorData, b: TensorData): number {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
}

interface Case {
  name: string;
  opts: FocusedLinearAttentionOptions;
  grid: [number, number];
  /** Shape (B, M, C_ctx) and grid of a cross-attention context. */
  context?: { shape: number[]; grid?: [number, number] };
}

const CASES: Case[] = [
  { name: 'self-attention on a non-square 4×6 grid', opts: { dim: 8, numHeads: 2, grid: [4, 6] }, grid: [4, 6] },
  {
    name: 'sr 2 on a 6×5 grid (keys on the floored 3×2 grid)',
    opts: { dim: 8, numHeads: 2, srRatio: 2, grid: [6, 5] },
    grid: [6, 5],
  },
  {
    name: 'windows of 2 on a 4×8 grid, shifted by 1',
    opts: { dim: 8, numHeads: 2, window: 2, shift: 1 },
    grid: [4, 8],
  },
  {
    name: 'built for 4×4, run on 6×5 (positional_encoding resampled in the graph)',
    opts: { dim: 8, numHeads: 2, grid: [4, 4], kernelSize: 3 },
    grid: [6, 5],
  },
  {
    name: 'cross-attention to a 6×4 context of 12 channels, sr 2',
    opts: { dim: 8, numHeads: 2, srRatio: 2, grid: [6, 4], contextDim: 12 },
    grid: [4, 6],
    context: { shape: [B, 24, 12], grid: [6, 4] },
  },
  {
    name: 'cross-attention to a gridless context of 7 tokens',
    opts: { dim: 8, numHeads: 4, grid: 7, focusingFactor: 2 },
    grid: [3, 5],
    context: { shape: [B, 7, 8] },
  },
];

/** The case's layer, its random weights and inputs, and a forward for runModule. */
function setUp(c: Case, seed = 1) {
  const table = new ParamTable();
  const layer = new FocusedLinearAttention(table, 'attn', c.opts);
  const inputs = [randomData([B, c.grid[0] * c.grid[1], c.opts.dim], seed)];
  if (c.context) inputs.push(randomData(c.context.shape, seed + 1));
  const forward = (ctx: Ctx, x: Tensor, context?: Tensor) => ({
    y: layer.forward(ctx, x, c.grid, context && ({ tokens: context, grid: c.context!.grid } as AttentionContext)),
  });
  return { table, layer, weights: randomWeights(table, 100 * seed), inputs, forward };
}

beforeAll(() => initTfjs());

describe('FocusedLinearAttention: the official modules', () => {
  // the official FocusedLinearAttention modules' outputs on their own checkpoints (../shared/golden)
  const golden: [string, (kw: Record<string, number>) => FocusedLinearAttentionOptions, [number, number]][] = [
    ['attn_pvt_sr1', (kw) => ({ dim: kw.dim, numHeads: kw.num_heads, srRatio: kw.sr_ratio, grid: [8, 8] }), [8, 8]],
    ['attn_pvt_sr2', (kw) => ({ dim: kw.dim, numHeads: kw.num_heads, srRatio: kw.sr_ratio, grid: [8, 8] }), [8, 8]],
    ['attn_swin_window', (kw) => ({ dim: kw.dim, numHeads: kw.num_heads, window: 8 }), [8, 8]],
  ];
  for (const [name, options, grid] of golden) {
    it(`${name}: the official checkpoint binds by name and the output matches`, async () => {
      const dir = `${GOLDEN_DIR}${name}/`;
      const kw = readJsonFile<{ kwargs: Record<string, number> }>(`${dir}config.json`).kwargs;
      const table = new ParamTable();
      const layer = new FocusedLinearAttention(table, '', options(kw));
      const weights = loadWeights(table, `${dir}checkpoint.pth`, { strict: true });
      const { y } = await runModule({
        weights,
        inputs: [readNpyFile(`${dir}input.npy`)],
        forward: (ctx, x) => ({ y: layer.forward(ctx, x, grid) }),
      });
      const { err, tol } = maxAbsError(y, readNpyFile(`${dir}output.npy`));
      expect(err).toBeLessThanOrEqual(tol);
    });
  }

  it('a block’s attention inside an official model checkpoint binds by name (PVTv2 block2.0.attn, Swin layers.0.blocks.1.attn)', () => {
    const layers: [string, string, FocusedLinearAttentionOptions][] = [
      ['pvt_v2_llll', 'block2.0.attn', { dim: 32, numHeads: 2, grid: [28, 28] }],
      ['swin_llll_w7', 'layers.0.blocks.1.attn', { dim: 16, numHeads: 1, window: 7, shift: 3 }],
    ];
    for (const [name, prefix, options] of layers) {
      const table = new ParamTable();
      new FocusedLinearAttention(table, prefix, options);
      const sd = readStateDict(`${GOLDEN_DIR}${name}/checkpoint.pth`);
      const { weights, missing } = bindStateDict(table, sd, { strict: false, source: name });
      expect(missing).toEqual([]);
      for (const [path, w] of weights) expect(w.data, path).toEqual(sd.get(path)!.data);
      expect(weights.size).toBe(table.specs.size);
    }
  });

  it('equals the models’ own attentions on shared weights (PVT sr 4, Swin over a 2×3 grid of windows)', async () => {
    const pvt = buildAttentionCase('pvt', {
      dim: 16,
      num_patches: 64,
      num_heads: 4,
      qkv_bias: true,
      sr_ratio: 4,
      focusing_factor: 2.5,
      kernel_size: 3,
    });
    const a = new FocusedLinearAttention(new ParamTable(), '', {
      dim: 16,
      numHeads: 4,
      srRatio: 4,
      grid: [8, 8],
      focusingFactor: 2.5,
      kernelSize: 3,
    });
    const w1 = randomWeights(pvt.table, 7);
    const x1 = [randomData([B, 64, 16], 8)];
    const ours = await runModule({ weights: w1, inputs: x1, forward: (ctx, x) => ({ y: a.forward(ctx, x, [8, 8]) }) });
    const theirs = await runModule({ weights: w1, inputs: x1, forward: (ctx, x) => ({ y: pvt.forward(ctx, x) }) });
    expect(maxDiff(ours.y, theirs.y)).toBeLessThan(1e-6);

    const swin = buildAttentionCase('swin', { dim: 8, window_size: [4, 4], num_heads: 2 });
    const s = new FocusedLinearAttention(new ParamTable(), '', { dim: 8, numHeads: 2, window: 4 });
    const w2 = randomWeights(swin.table, 9);
    const x2 = [randomData([B, 8 * 12, 8], 10)];
    const grid: [number, number] = [8, 12];
    const mine = await runModule({ weights: w2, inputs: x2, forward: (ctx, x) => ({ y: s.forward(ctx, x, grid) }) });
    const model = await runModule({
      weights: w2,
      inputs: x2,
      forward: (ctx, x) => ({
        y: fromWindows(ctx.ops, swin.forward(ctx, toWindows(ctx.ops, x, grid, [4, 4])), grid, [4, 4]),
      }),
    });
    expect(maxDiff(mine.y, model.y)).toBeLessThan(1e-6);
  });
});

describe('FocusedLinearAttention: PyTorch oracles (test/fixtures/layer)', () => {
  type Arr = { shape: number[]; values: number[] };
  const fx = JSON.parse(readFileSync(new URL('../fixtures/layer/pvt_attn_sr2_6x8.json', import.meta.url), 'utf8'));
  const data = (a: Arr) => float32(a.shape, Float32Array.from(a.values));
  const stateDict = (sd: Record<string, Arr>) => new Map(Object.entries(sd).map(([k, v]) => [k, data(v)]));
  const cases: [string, string, [number, number], boolean][] = [
    ['the official PVT module on a non-square 6×8 grid with sr 2', 'native', [6, 8], false],
    [
      'a table built for 8×8, resampled in the graph to the 3×4 keys as torch’s bicubic interpolate',
      'resampled',
      [8, 8],
      false,
    ],
    ['cross-attention to a 4×4 context with sr 2 and the DWC on Q', 'cross', [4, 4], true],
  ];
  for (const [name, key, grid, cross] of cases) {
    it(name, async () => {
      const table = new ParamTable();
      const layer = new FocusedLinearAttention(table, '', { dim: 8, numHeads: 2, srRatio: 2, grid });
      const weights = loadWeights(table, stateDict(fx[key].state_dict), { strict: true });
      const inputs = [data(fx.input), ...(cross ? [data(fx[key].context)] : [])];
      const forward = (ctx: Ctx, x: Tensor, c?: Tensor) => ({
        y: layer.forward(ctx, x, [6, 8], c && { tokens: c, grid: [4, 4] }),
      });
      for (const engine of ['tfjs', 'onnx'] as const) {
        const { y } = await runModule({ weights, inputs, forward, engine });
        const { err, tol } = maxAbsError(y, data(fx[key].output));
        expect(err, engine).toBeLessThanOrEqual(tol);
      }
    });
  }
});

describe('FocusedLinearAttention: tfjs and ONNX agree', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { weights, inputs, forward } = setUp(c);
      const a = await runModule({ weights, inputs, forward, engine: 'tfjs' });
      const b = await runModule({ weights, inputs, forward, engine: 'onnx' });
      expect(a.y.shape).toEqual([B, c.grid[0] * c.grid[1], c.opts.dim]);
      expect(maxDiff(a.y, b.y)).toBeLessThan(1e-5);
      expect(Math.max(...(a.y.data as Float32Array).map(Math.abs))).toBeGreaterThan(1e-2);
    });
  }
});

describe('FocusedLinearAttention: what it computes', () => {
  it('a table resampled in the graph equals the checkpoint-time bicubic resampling', async () => {
    const c = CASES[3]; // built for 4×4, run on 6×5
    const { weights, inputs, forward } = setUp(c);
    const table = new ParamTable();
    const atSize = new FocusedLinearAttention(table, 'attn', { ...c.opts, grid: c.grid });
    const pe = weights.get('attn.positional_encoding')!; // (1, 16, C) on 4×4
    const ch = c.opts.dim;
    const planes = new Float32Array(ch * 16);
    (pe.data as Float32Array).forEach((v, i) => (planes[(i % ch) * 16 + Math.floor(i / ch)] = v));
    const r = resampleBicubic(planes, ch, [4, 4], c.grid); // (C, 6, 5)
    const tokens = Float32Array.from({ length: 30 * ch }, (_, i) => r[(i % ch) * 30 + Math.floor(i / ch)]);
    const resampled = new Map(weights).set('attn.positional_encoding', float32([1, 30, ch], tokens));
    const a = await runModule({ weights, inputs, forward });
    const b = await runModule({
      weights: resampled,
      inputs,
      forward: (ctx, x) => ({ y: atSize.forward(ctx, x, c.grid) }),
    });
    expect(maxDiff(a.y, b.y)).toBeLessThan(1e-5);
  });

  it('cross-attention puts the DWC on Q: cross(x, x) − self(x) = proj(𝓓(Q) − 𝓓(V)) without bias', async () => {
    const c: Case = { name: '', opts: { dim: 8, numHeads: 2, grid: [3, 4] }, grid: [3, 4] };
    const { layer, weights, inputs } = setUp(c);
    const { y } = await runModule({
      weights,
      inputs,
      forward: (ctx, x) => {
        const { ops } = ctx;
        const diff = ops.sub(layer.forward(ctx, x, c.grid, { tokens: x, grid: c.grid }), layer.forward(ctx, x, c.grid));
        const q = layer.q!.forward(ctx, x);
        const v = ops.slice(layer.kv!.forward(ctx, x), [0, 0, 8], [B, 12, 8]);
        const local = ops.sub(layer.focused.dwc(ctx, q, c.grid), layer.focused.dwc(ctx, v, c.grid));
        return { y: ops.sub(diff, ops.linear(local, ctx.p(layer.proj.weight))) };
      },
    });
    expect(Math.max(...(y.data as Float32Array).map(Math.abs))).toBeLessThan(1e-5);
  });

  it('shifted windows: the unshifted layer on the map rolled by −s, rolled back by s (Swin’s cyclic shift)', async () => {
    const table = new ParamTable();
    const shifted = new FocusedLinearAttention(table, 'attn', { dim: 8, numHeads: 2, window: 2, shift: 1 });
    const plain = new FocusedLinearAttention(new ParamTable(), 'attn', { dim: 8, numHeads: 2, window: 2 });
    const { y } = await runModule({
      weights: randomWeights(table, 4),
      inputs: [randomData([B, 24, 8], 5)],
      forward: (ctx, x) => {
        const { ops } = ctx;
        const rolled = (t: Tensor, s: number) =>
          ops.reshape(roll(ops, roll(ops, ops.reshape(t, [B, 4, 6, 8]), s, 1), s, 2), [B, 24, 8]);
        const expected = rolled(plain.forward(ctx, rolled(x, -1), [4, 6]), 1);
        return { y: ops.sub(shifted.forward(ctx, x, [4, 6]), expected) };
      },
    });
    expect(Math.max(...(y.data as Float32Array).map(Math.abs))).toBeLessThan(1e-6);
  });

  it('the output keeps x’s grid whatever the context’s', async () => {
    const { weights, inputs, forward } = setUp(CASES[4]);
    expect((await runModule({ weights, inputs, forward })).y.shape).toEqual([B, 24, 8]);
  });
});

describe('FocusedLinearAttention: gradients (tfjs)', () => {
  it('every parameter gets a finite, non-zero gradient, equal to finite differences on two of them', async () => {
    const c = CASES[4]; // cross-attention with sr: every kind of parameter
    const { table, layer, weights, inputs } = setUp(c);
    const live = new LiveWeights(table, weights);
    const [x, context] = inputs.map((t) => tf.tensor(t.data as Float32Array, t.shape));
    const target = tf.tensor(randomData([B, 24, 8], 77).data as Float32Array, [B, 24, 8]);
    const loss = () =>
      tf.sum(
        tf.mul(
          layer.forward(live.evalCtx(), x as unknown as Tensor, c.grid, {
            tokens: context as unknown as Tensor,
            grid: c.context!.grid,
          }) as unknown as tf.Tensor,
          target,
        ),
      ) as tf.Scalar;
    const { grads } = tf.variableGrads(loss);
    expect(live.params.map((p) => p.path)).toEqual([...table.specs.keys()]);
    for (const p of live.params) {
      const g = grads[p.variable.name].dataSync() as Float32Array;
      expect(g.every(Number.isFinite), p.path).toBe(true);
      expect(Math.max(...g.map(Math.abs)), p.path).toBeGreaterThan(0);
    }
    for (const path of ['attn.scale', 'attn.dwc.weight', 'attn.sr.weight']) {
      const v = live.params.find((p) => p.path === path)!.variable;
      const u = tf.tensor(randomData(v.shape, 5).data as Float32Array, v.shape);
      const analytic = tf.sum(tf.mul(grads[v.name], u)).dataSync()[0];
      const orig = v.clone();
      const h = 1e-2;
      const at = (s: number) => {
        v.assign(tf.add(orig, tf.mul(u, s)));
        return loss().dataSync()[0];
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      v.assign(orig);
      expect(Math.abs(analytic - numeric), `${path}: ${analytic} vs ${numeric}`).toBeLessThanOrEqual(
        2e-2 * Math.max(1, Math.abs(numeric)),
      );
    }
    live.dispose();
  });
});

describe('FocusedLinearAttention: bad input is a named error', () => {
  const make = (o: Partial<FocusedLinearAttentionOptions>) =>
    new FocusedLinearAttention(new ParamTable(), 'blocks.0.attn', { dim: 8, numHeads: 2, grid: [4, 4], ...o });
  const run = (layer: FocusedLinearAttention, x: number[], grid: [number, number], ctxShape?: number[]) =>
    runModule({
      weights: randomWeights(layer.table, 1),
      inputs: [randomData(x, 1), ...(ctxShape ? [randomData(ctxShape, 2)] : [])],
      forward: (ctx, t, c) => ({ y: layer.forward(ctx, t, grid, c && { tokens: c, grid: [4, 4] }) }),
    });

  it('options', () => {
    expect(() => make({ dim: 10, numHeads: 3 })).toThrow(/'blocks\.0\.attn': dim 10 is not divisible by numHeads 3/);
    expect(() => make({ grid: undefined })).toThrow(/grid is required without a window/);
    expect(() => make({ window: 4, srRatio: 2 })).toThrow(/window is for self-attention without srRatio/);
    expect(() => make({ srRatio: 1.5 })).toThrow(/srRatio must be an integer ≥ 1, not 1.5/);
  });

  it('a grid that does not match N, a window that does not tile it, a context of the wrong channels', async () => {
    await expect(run(make({}), [1, 16, 8], [4, 5])).rejects.toThrow(/grid 4×5 holds 20 tokens but x has 16/);
    await expect(run(make({ window: 4 }), [1, 24, 8], [4, 6])).rejects.toThrow(/window 4 does not tile the 4×6 grid/);
    await expect(run(make({}), [1, 16, 8], [4, 4], [1, 16, 6])).rejects.toThrow(
      /the context has 6 channels, not contextDim 8/,
    );
    await expect(run(make({}), [1, 16, 7], [4, 4])).rejects.toThrow(/x has 7 channels, not dim 8/);
    await expect(run(make({ grid: 9 }), [1, 16, 8], [4, 4], [1, 16, 8])).rejects.toThrow(
      /positional_encoding holds 9 keys but this forward has 16/,
    );
  });
});
