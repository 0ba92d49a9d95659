import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { TrainTfjsOps } from '../../src/engines/tfjs/grad_ops.js';
import { FocusedLinearCore, headSharedDwc } from '../../src/attention/focused.js';
import { makeCtx } from '../../src/ops/ctx.js';
import { ParamTable } from '../../src/nn/module.js';
import { initWeights } from '../../src/nn/init.js';
import { Rng } from '../../src/core/rng.js';
import { LiveWeights } from '../../src/train/params.js';
import { smoothedCrossEntropy } from '../../src/train/loss.js';
import type { Tensor } from '../../src/ops/ops.js';
import { tinyModels } from './tiny_models.js';

const ops = new TrainTfjsOps();
const T = (x: tf.Tensor) => x as unknown as Tensor;
const F = (x: Tensor) => x as unknown as tf.Tensor;

function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  const r = new Rng(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * (r.next() * 2 - 1)),
    shape,
  );
}

/**
 * Directional finite-difference check: for a random direction u per input, compare ⟨∇f(x), u⟩ (tfjs
 * autodiff on the wasm backend) with (f(x + hu) − f(x − hu)) / 2h. f must return a scalar.
 */
function checkGrad(f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[], h = 1e-2): void {
  const grads = tf.grads((...a: tf.Tensor[]) => f(...a))(xs);
  xs.forEach((x, i) => {
    const u = randn(x.shape, 1000 + i);
    const analytic = tf.sum(tf.mul(grads[i], u)).dataSync()[0];
    const at = (s: number) => f(...xs.map((y, j) => (j === i ? tf.add(y, tf.mul(u, s)) : y))).dataSync()[0];
    const numeric = (at(h) - at(-h)) / (2 * h);
    expect(
      Math.abs(analytic - numeric),
      `input ${i}: autodiff ${analytic} vs finite difference ${numeric}`,
    ).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(numeric)));
  });
}

/** A fixed random projection to a scalar, so every output element contributes with its own weight. */
function project(y: tf.Tensor, seed: number): tf.Scalar {
  return tf.sum(tf.mul(y, randn(y.shape, seed))) as tf.Scalar;
}

beforeAll(async () => {
  expect(await initTfjs()).toBe('wasm');
});

describe('gradients on the wasm backend (finite differences)', () => {
  it('focused linear attention core: q, k, v, scale and positional encoding', () => {
    const [b, n, c, heads] = [2, 10, 8, 2];
    const args = [
      randn([b, n, c], 1),
      randn([b, n, c], 2),
      randn([b, n, c], 3),
      randn([1, 1, c], 4, 0.5),
      randn([1, n, c], 5, 0.2),
    ];
    const core = new FocusedLinearCore(new ParamTable(), 'attn', {
      dim: c,
      heads,
      focusingFactor: 3,
      kernelSize: 5,
      tokens: n,
      withDwc: false,
    });
    checkGrad((q, k, v, scale, pe) => {
      const ctx = makeCtx(
        ops,
        new Map([
          [core.scale, T(scale)],
          [core.pe, T(pe)],
        ]),
        true,
      );
      return project(F(core.core(ctx, T(q), T(k), T(v))), 9);
    }, args);
  });

  it('head-shared depthwise conv (no wasm DepthwiseConv2dNativeBackprop* kernels)', () => {
    const [b, heads, d, s] = [2, 2, 4, 5];
    const args = [randn([b, s * s, heads * d], 1), randn([d, 1, 5, 5], 2), randn([d], 3)];
    checkGrad((v, w, bias) => project(F(headSharedDwc(ops, T(v), T(w), T(bias), heads, [s, s])), 9), args);
  });

  it('dense strided conv with padding (no wasm Conv2DBackpropFilter kernel)', () => {
    const args = [randn([2, 3, 9, 9], 1), randn([4, 3, 3, 3], 2), randn([4], 3)];
    checkGrad((x, w, bias) => project(F(ops.conv2d(T(x), T(w), T(bias), { stride: 2, padding: 1 })), 9), args);
    // sizes the stride does not divide (the filter gradient's dilated conv overshoots and is cropped), and a 7×7/4 stem
    const odd = [randn([2, 3, 10, 10], 4), randn([4, 3, 3, 3], 5), randn([4], 6)];
    checkGrad((x, w, bias) => project(F(ops.conv2d(T(x), T(w), T(bias), { stride: 2, padding: 1 })), 9), odd);
    const stem = [randn([1, 2, 14, 14], 7), randn([3, 2, 7, 7], 8), randn([3], 9)];
    checkGrad((x, w, bias) => project(F(ops.conv2d(T(x), T(w), T(bias), { stride: 4, padding: 3 })), 9), stem);
  });

  it('matmul with batches broadcast on both sides and on an inner axis (explicitly broadcast, gradients summed back)', () => {
    checkGrad((a, b) => project(F(ops.matmul(T(a), T(b))), 9), [randn([2, 1, 4, 5], 1), randn([3, 5, 3], 2)]);
    checkGrad((a, b) => project(F(ops.matmul(T(a), T(b), true)), 9), [randn([2, 3, 4, 5], 3), randn([2, 1, 2, 5], 4)]);
  });

  it('grouped conv as one dense conv per group', () => {
    const args = [randn([2, 4, 6, 6], 1), randn([6, 2, 3, 3], 2), randn([6], 3)];
    checkGrad((x, w, bias) => project(F(ops.conv2d(T(x), T(w), T(bias), { padding: 1, groups: 2 })), 9), args);
  });

  it('LayerNorm → Linear → GELU → Linear (+bias) block, with the custom linear gradient', () => {
    const args = [
      randn([3, 5, 6], 1),
      randn([6], 2),
      randn([6], 3),
      randn([12, 6], 4, 0.5),
      randn([6, 12], 5, 0.5),
      randn([6], 6),
    ];
    checkGrad(
      (x, g, beta, w1, w2, b2) =>
        project(F(ops.linear(ops.gelu(ops.linear(ops.layerNorm(T(x), T(g), T(beta), 1e-5), T(w1))), T(w2), T(b2))), 9),
      args,
    );
  });

  it('gather as a one-hot matmul (no wasm UnsortedSegmentSum kernel)', () => {
    checkGrad((table) => project(F(ops.gather(T(table), Int32Array.from([3, 0, 3, 2, 1]), 0)), 9), [randn([4, 3], 1)]);
  });

  it('Swin: shifted window attention with relative position bias and mask, focused linear windows, patch merging', () => {
    // 28/2 = 14² tokens: stage 1 softmax in 7×7 windows, block 1 shifted by 3 (mask + rel-pos gather);
    // stage 2 focused linear over the clamped 7×7 map
    const model = tinyModels().swin; // evaluated with drop path off
    const live = new LiveWeights(model.table, initWeights(model.table, 3));
    const x = randn([2, 3, 28, 28], 7);
    const names = [
      'layers.0.blocks.1.attn.relative_position_bias_table',
      'layers.0.blocks.1.attn.qkv.weight',
      'layers.1.blocks.0.attn.dwc.weight',
      'layers.0.downsample.reduction.weight',
    ];
    const vars = names.map((n) => live.params.find((p) => p.path === n)!.variable);
    const loss = () =>
      smoothedCrossEntropy(F(model.forward(live.evalCtx(), T(x)).logits) as tf.Tensor2D, Int32Array.from([1, 3]), 0.1);
    const { grads } = tf.variableGrads(loss, vars);
    vars.forEach((v, i) => {
      const u = randn(v.shape, 50 + i, 1);
      const analytic = tf.sum(tf.mul(grads[v.name], u)).dataSync()[0];
      const orig = v.clone();
      const h = 1e-2;
      v.assign(tf.add(orig, tf.mul(u, h)));
      const plus = loss().dataSync()[0];
      v.assign(tf.sub(orig, tf.mul(u, h)));
      const minus = loss().dataSync()[0];
      v.assign(orig);
      const numeric = (plus - minus) / (2 * h);
      expect(Math.abs(analytic - numeric), `${names[i]}: ${analytic} vs ${numeric}`).toBeLessThanOrEqual(
        2e-2 * Math.max(1, Math.abs(numeric)),
      );
      expect(Math.abs(analytic)).toBeGreaterThan(0);
    });
    live.dispose();
  });
});

describe('a training step runs on every family (wasm backend)', () => {
  for (const [name, model] of Object.entries(tinyModels())) {
    it(name, () => {
      const live = new LiveWeights(model.table, initWeights(model.table, 1));
      const x = randn([2, 3, ...model.imgSize], 2);
      const ctx = live.trainCtx([0]);
      const { value, grads } = tf.variableGrads(
        () => smoothedCrossEntropy(F(model.forward(ctx, T(x)).logits) as tf.Tensor2D, Int32Array.from([0, 3]), 0.1),
        live.params.map((p) => p.variable),
      );
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      const byPath = new Map(live.params.map((p) => [p.path, grads[p.variable.name]]));
      // PVT v1 keeps a final norm that its forward never uses (as the official class does): the only parameters without a gradient
      const missing = [...byPath].filter(([, g]) => !g).map(([p]) => p);
      expect(missing).toEqual(name === 'pvt' ? ['norm.weight', 'norm.bias'] : []);
      for (const [path, g] of byPath) if (g) expect(g.dataSync().every(Number.isFinite), path).toBe(true);
      tf.dispose([value, ...Object.values(grads)]);
      live.dispose();
    });
  }
});
