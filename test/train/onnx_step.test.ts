import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { buildNamed } from '../../src/models/build.js';
import type { VisionModel } from '../../src/models/model.js';
import { initWeights } from '../../src/nn/init.js';
import { OnnxGradients } from '../../src/train/onnx_grads.js';
import { OnnxTrainStep } from '../../src/train/onnx_step.js';
import { AdamW, applyStep } from '../../src/train/optim.js';
import { smoothedTargets } from '../../src/train/step_inputs.js';
import { LiveWeights } from '../../src/train/params.js';
import { lossAndGrads } from '../../src/train/step.js';
import { relativeError } from '../util.js';
import { tinyModels } from './tiny_models.js';

/**
 * The training-step graph on ONNX Runtime (forward, label-smoothed loss and the ONNX backward of every
 * parameter) against the tfjs trainer's lossAndGrads on the same weights, batch and drop-path keys.
 */
const TINY: Record<string, VisionModel> = {
  ...tinyModels(),
  flatten_deit_fmnist: buildNamed('flatten_deit_fmnist', { drop_path_rate: 0.1 }),
  // the ablation's other attention forms (scripts/ablation.ts trains them on the default engine)
  ...Object.fromEntries(
    ['softmax', 'linear', 'focused'].map((a) => [
      `flatten_deit_fmnist ${a}`,
      buildNamed('flatten_deit_fmnist', { attn_type: a, depth: 2, drop_path_rate: 0.1 }),
    ]),
  ),
};

function batchOf(model: VisionModel, B: number, seed: number) {
  const r = new Rng(seed);
  const [H, W] = model.imgSize;
  const x = Float32Array.from({ length: B * model.inChans * H * W }, () => r.next() * 2 - 1);
  const y = Int32Array.from({ length: B }, () => Math.floor(r.next() * model.numClasses));
  return { x, y };
}

const steps: OnnxTrainStep[] = [];
beforeAll(async () => {
  expect(await initTfjs()).toBe('wasm');
});
afterAll(async () => {
  for (const s of steps) await s.release();
});

describe('training step on ONNX Runtime: gradients equal the tfjs trainer', () => {
  for (const [name, model] of Object.entries(TINY)) {
    it(name, async () => {
      const B = 3;
      const weights = initWeights(model.table, 1);
      const { x, y } = batchOf(model, B, 2);
      const live = new LiveWeights(model.table, weights);
      const ref = await lossAndGrads(model, live, { x, y, smoothing: 0.1, dropKeys: [4, 2] });
      const step = await OnnxTrainStep.create(model, B, { threads: 1 });
      steps.push(step);
      expect(step.graph.masks.length).toBeGreaterThan(0);
      const params = new Map([...weights].map(([k, w]) => [k, w.data as Float32Array]));
      const out = await step.run(params, { x, y, smoothing: 0.1, dropKeys: [4, 2] });
      expect(Math.abs(out.loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, ref.loss));
      expect(relativeError(out.logits, ref.logits)).toBeLessThanOrEqual(1e-5);
      // PVT v1 keeps a final norm its forward never reads (as the official class does): no gradient on either engine
      expect([...ref.grads.keys()].sort()).toEqual([...out.grads.keys()].sort());
      expect(step.graph.unused).toEqual(name === 'pvt' ? ['norm.weight', 'norm.bias'] : []);
      for (const [k, g] of out.grads)
        expect(relativeError(g, (await ref.grads.get(k)!.data()) as Float32Array), k).toBeLessThanOrEqual(1e-4);
      tf.dispose([...ref.grads.values()]);
      live.dispose();
    });
  }

  it('20 steps of SGD with momentum 0.9 give the same weights on both engines', async () => {
    const model = TINY.deit;
    const B = 4;
    const init = initWeights(model.table, 5);
    const live = new LiveWeights(model.table, init);
    const step = await OnnxTrainStep.create(model, B, { threads: 1 });
    steps.push(step);
    const paths = live.params.map((p) => p.path);
    // the same update on both sides: v ← 0.9·v + g, w ← w − 0.1·v (torch.optim.SGD, no weight decay)
    const state = () => ({
      w: new Map(paths.map((k) => [k, Float32Array.from(init.get(k)!.data as Float32Array)])),
      v: new Map(paths.map((k) => [k, new Float32Array(init.get(k)!.data.length)])),
    });
    const [onnx, tfjs] = [state(), state()];
    const sgd = (s: ReturnType<typeof state>, grads: Map<string, Float32Array>) => {
      for (const k of paths) {
        const [w, v, g] = [s.w.get(k)!, s.v.get(k)!, grads.get(k)!];
        for (let i = 0; i < w.length; i++) {
          v[i] = 0.9 * v[i] + g[i];
          w[i] -= 0.1 * v[i];
        }
      }
    };
    for (let i = 0; i < 20; i++) {
      const { x, y } = batchOf(model, B, 100 + i);
      sgd(onnx, (await step.run(onnx.w, { x, y, smoothing: 0, dropKeys: [] })).grads);
      live.assign(tfjs.w);
      const ref = await lossAndGrads(model, live, { x, y, smoothing: 0, dropKeys: [] });
      const g = new Map<string, Float32Array>();
      for (const [k, t] of ref.grads) g.set(k, (await t.data()) as Float32Array);
      tf.dispose([...ref.grads.values()]);
      sgd(tfjs, g);
    }
    let moved = 0;
    for (const k of paths) {
      const [a, b] = [onnx.w.get(k)!, tfjs.w.get(k)!];
      const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      const scale = Math.max(1, ...b.map(Math.abs));
      expect(diff, k).toBeLessThanOrEqual(1e-4 * scale);
      moved = Math.max(moved, relativeError(a, init.get(k)!.data as Float32Array));
    }
    // the run moved the weights: the comparison is not of the initial values
    expect(moved).toBeGreaterThan(0.1);
    live.dispose();
  });

  it('20 AdamW steps (clipping, label smoothing, drop path): the largest weight difference between engines', async () => {
    const model = TINY.deit;
    const B = 4;
    const init = initWeights(model.table, 6);
    const [a, b] = [new LiveWeights(model.table, init), new LiveWeights(model.table, init)];
    const adamw = (l: LiveWeights) =>
      new AdamW(l.params, { lr: 1e-3, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const [oa, ob] = [adamw(a), adamw(b)];
    const onnx = await OnnxGradients.create(model, { batch: B, threads: 1 });
    for (let i = 0; i < 20; i++) {
      const batch = { ...batchOf(model, B, 200 + i), smoothing: 0.1, dropKeys: [i] };
      applyStep(oa, (await onnx.grads(a, batch)).grads, 1e-3, 5);
      applyStep(ob, (await lossAndGrads(model, b, batch)).grads, 1e-3, 5);
    }
    const [va, vb] = [a.paramValues(), b.paramValues()];
    let worst = { path: '', rel: 0 };
    for (const [k, w] of vb) {
      const diff = va.get(k)!.reduce((m, v, j) => Math.max(m, Math.abs(v - w[j])), 0);
      const rel = diff / Math.max(1, ...w.map(Math.abs));
      if (rel > worst.rel) worst = { path: k, rel };
    }
    console.log(`20 AdamW steps: largest weight difference ${worst.rel.toExponential(1)} (${worst.path})`);
    // AdamW's m̂/√v̂ turns float-order differences of near-zero gradients into steps of up to lr: a looser bound than SGD's
    expect(worst.rel).toBeLessThan(1e-4);
    await onnx.release();
    for (const x of [oa, ob, a, b]) x.dispose();
  });

  it('smoothed targets put 1 − ε + ε/K on the label and ε/K elsewhere', () => {
    expect([...smoothedTargets(Int32Array.from([2, 0]), 4, 0.2)].map((v) => +v.toFixed(6))).toEqual([
      0.05, 0.05, 0.85, 0.05, 0.85, 0.05, 0.05, 0.05,
    ]);
  });
});
