import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { initTfjs } from '../../src/engines/tfjs/backend.js';
import { TrainTfjsOps } from '../../src/engines/tfjs/grad_ops.js';
import { Graph, type Value } from '../../src/engines/onnx/graph.js';
import { OnnxOps } from '../../src/engines/onnx/ops.js';
import { backward } from '../../src/engines/onnx/grad/backward.js';
import { NCHWC, useNchwc } from '../../src/engines/onnx/nchwc.js';
import { probeNchwcBlock } from '../../src/engines/onnx/nchwc_probe.js';
import { encodeModel } from '../../src/engines/onnx/proto.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { linearAttention } from '../../src/ops/linear_attention.js';
import type { Ops, Tensor } from '../../src/ops/ops.js';
import { relativeError } from '../util.js';

/**
 * Every VJP of the ONNX backward (src/engines/onnx/grad), through the Ops lowering the models use (so the
 * views and rewrites of OnnxOps are part of what is differentiated): the gradient of Σ f(x)·R, R a fixed
 * random tensor, against (a) tfjs autodiff of the same Ops code, ≤ 1e-4 relative to the largest gradient,
 * and (b) central differences along a random direction u per input.
 *
 * (b)'s tolerance: ORT computes f in float32, each output element rounded to 2⁻²⁴ relative; Σ f·R is summed
 * here in float64, so the difference quotient carries at most n·2⁻²⁴·max|f·R| / 2h ≈ 3e-6·n/1 of rounding
 * (h = 1e-2, n ≤ 500 outputs: ≤ 1.5e-3 in the worst case, ~1e-4 typically), plus the h²/6·f''' truncation
 * (≤ 2e-5 for these smooth ops): 2e-3·max(1, |numeric|). Inputs of the non-smooth ops (ReLU, |x|) stay 0.1
 * away from their kink, further than any step h·|u| ≤ 1e-2 takes them.
 */
type Fn = (ops: Ops, ...xs: Tensor[]) => Tensor;
interface Case {
  name: string;
  shapes: number[][];
  fn: Fn;
  /** Input values: uniform in [−1, 1] by default. */
  init?: 'positive' | 'awayFromZero';
  /** Traced for onnxruntime-node's NCHWc kernels (the Node training graph), which the case must use. */
  nchwc?: boolean;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
function rand(n: number, seed: number, init?: Case['init']): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => {
    const u = r.next() * 2 - 1;
    if (init === 'positive') return 0.5 + Math.abs(u);
    if (init === 'awayFromZero') return Math.sign(u || 1) * (0.1 + 0.9 * Math.abs(u));
    return u;
  });
}

/** The ONNX graph of f with its inputs as graph inputs: outputs y = f(x…) and the gradient of Σ y·R per input. */
async function onnxCase(c: Case, R: (shape: number[]) => Float32Array) {
  const g = new Graph(false);
  if (c.nchwc) {
    const block = await probeNchwcBlock();
    expect(block, 'this onnxruntime-node build has NCHWc kernels').toBeDefined();
    useNchwc(g, block!);
  }
  const ops = new OnnxOps(g);
  const xs = c.shapes.map((s, i) => g.input(`x${i}`, s));
  const y = ops.real(c.fn(ops, ...(xs as unknown as Tensor[])));
  const r = R(y.shape);
  const loss = g.emit('ReduceSum', [g.emit('Mul', [y, g.constant(y.shape, r)], y.shape)], [], { keepdims: 0 });
  const dxs = backward(g, loss, xs);
  const outputs: Record<string, Value> = { y };
  dxs.forEach((d, i) => (outputs[`d${i}`] = d!));
  const { proto } = g.toModel(outputs, { name: c.name });
  if (c.nchwc) {
    expect(proto.nodes.filter((n) => n.domain === NCHWC && n.op === 'Conv').length, 'NCHWc Convs').toBe(3);
    proto.opsets.push({ domain: NCHWC, version: 1 });
  }
  const session = await OnnxSession.create(encodeModel(proto), c.name, { threads: 1 });
  const run = async (vals: Float32Array[]) => {
    const feeds = Object.fromEntries(
      vals.map((v, i) => [`x${i}`, { dtype: 'float32' as const, shape: c.shapes[i], data: v }]),
    );
    return session.run(feeds);
  };
  return { run, r };
}

const cases: Case[] = [
  {
    name: 'matmul, batch axes broadcast on both sides',
    shapes: [
      [2, 1, 4, 5],
      [3, 5, 3],
    ],
    fn: (o, a, b) => o.matmul(a, b),
  },
  {
    name: 'matmul with b transposed, inner axis broadcast',
    shapes: [
      [2, 3, 4, 5],
      [2, 1, 2, 5],
    ],
    fn: (o, a, b) => o.matmul(a, b, true),
  },
  {
    name: 'batched a times a 2-D weight',
    shapes: [
      [2, 3, 4],
      [4, 5],
    ],
    fn: (o, a, b) => o.matmul(a, b),
  },
  {
    name: 'linear (Gemm) with bias on 3-D rows',
    shapes: [[3, 5, 6], [4, 6], [4]],
    fn: (o, x, w, b) => o.linear(x, w, b),
  },
  {
    name: 'linear of transposed rows',
    shapes: [
      [3, 6, 5],
      [4, 6],
    ],
    fn: (o, x, w) => o.linear(o.transpose(x, [0, 2, 1]), w),
  },
  {
    name: 'conv 3×3 stride 2 pad 1, sizes the stride divides and not',
    shapes: [[2, 3, 9, 10], [4, 3, 3, 3], [4]],
    fn: (o, x, w, b) => o.conv2d(x, w, b, { stride: 2, padding: 1 }),
  },
  {
    name: 'conv 7×7 stride 4 pad 3 (a PVTv2 stem)',
    shapes: [[1, 2, 14, 14], [3, 2, 7, 7], [3]],
    fn: (o, x, w, b) => o.conv2d(x, w, b, { stride: 4, padding: 3 }),
  },
  {
    name: 'grouped conv',
    shapes: [[2, 4, 6, 6], [6, 2, 3, 3], [6]],
    fn: (o, x, w, b) => o.conv2d(x, w, b, { padding: 1, groups: 2 }),
  },
  {
    name: 'depthwise conv 5×5 on tokens turned into an image (a Toeplitz MatMul on this small map)',
    shapes: [[2, 25, 4], [4, 1, 5, 5], [4]],
    fn: (o, t, w, b) =>
      o.conv2d(o.transpose(o.reshape(t, [2, 5, 5, 4]), [0, 3, 1, 2]), w, b, { padding: 2, groups: 4 }),
  },
  {
    name: 'depthwise conv 3×3 on a map too large for its Toeplitz MatMul (ORT Conv)',
    shapes: [[1, 3, 12, 12], [3, 1, 3, 3], [3]],
    fn: (o, x, w, b) => o.conv2d(x, w, b, { padding: 1, groups: 3 }),
  },
  {
    name: 'depthwise conv 3×3 with bias on tokens turned into an image, on NCHWc kernels (channels-last reorder)',
    shapes: [[2, 12, 32], [32, 1, 3, 3], [32]],
    fn: (o, t, w, b) =>
      o.conv2d(o.transpose(o.reshape(t, [2, 3, 4, 32]), [0, 3, 1, 2]), w, b, { padding: 1, groups: 32 }),
    nchwc: true,
  },
  {
    name: 'depthwise conv 5×5 without bias on an NCHW map, on NCHWc kernels',
    shapes: [
      [2, 32, 3, 2],
      [32, 1, 5, 5],
    ],
    fn: (o, x, w) => o.conv2d(x, w, undefined, { padding: 2, groups: 32 }),
    nchwc: true,
  },
  {
    name: 'layer norm',
    shapes: [[3, 5, 6], [6], [6]],
    fn: (o, x, g, b) => o.layerNorm(x, g, b, 1e-5),
  },
  { name: 'GELU (the Erf form)', shapes: [[4, 7]], fn: (o, x) => o.gelu(o.mul(x, o.scalar(2))) },
  { name: 'ReLU', shapes: [[4, 7]], fn: (o, x) => o.relu(x), init: 'awayFromZero' },
  { name: '|x|', shapes: [[4, 7]], fn: (o, x) => o.abs(x), init: 'awayFromZero' },
  { name: 'softplus', shapes: [[4, 7]], fn: (o, x) => o.softplus(o.mul(x, o.scalar(3))) },
  { name: 'sqrt', shapes: [[4, 7]], fn: (o, x) => o.sqrt(x), init: 'positive' },
  {
    name: 'x³ (products) and x^2.5 (Pow)',
    shapes: [[4, 7]],
    fn: (o, x) => o.add(o.pow(x, 3), o.pow(x, 2.5)),
    init: 'positive',
  },
  { name: '1 / x (Reciprocal)', shapes: [[4, 7]], fn: (o, x) => o.div(o.scalar(1), x), init: 'positive' },
  {
    name: 'add, sub, mul, div with broadcasting both ways',
    shapes: [[2, 3, 4], [3, 1], [4]],
    fn: (o, a, b, c) => o.div(o.mul(o.sub(o.add(a, b), c), b), o.add(o.mul(c, c), o.scalar(1))),
  },
  {
    name: 'sum over axes 0 and 2, mean over the last',
    shapes: [[2, 3, 4]],
    fn: (o, x) => o.add(o.sum(x, [0, 2], true), o.mean(x, [-1], true)),
  },
  { name: 'mean over tokens (the GEMV form)', shapes: [[2, 5, 3]], fn: (o, x) => o.mean(x, [1]) },
  { name: 'l2 norm over the last axis', shapes: [[3, 5]], fn: (o, x) => o.div(x, o.l2norm(x)) },
  { name: 'softmax', shapes: [[3, 6]], fn: (o, x) => o.softmax(o.mul(x, o.scalar(3))) },
  {
    name: 'reshape, transpose, slice and concat',
    shapes: [[2, 6, 4]],
    fn: (o, x) => {
      const t = o.transpose(o.reshape(x, [2, 3, 2, 4]), [0, 2, 1, 3]); // (2, 2, 3, 4)
      return o.concat([o.slice(t, [0, 0, 1, 0], [2, 2, 2, 4]), o.slice(t, [0, 0, 1, 1], [2, 2, 2, 2])], 3); // (2, 2, 2, 6)
    },
  },
  {
    name: 'gather: a permutation (roll) and repeated indices (position table)',
    shapes: [
      [5, 3],
      [4, 3],
    ],
    fn: (o, x, tab) =>
      o.add(o.gather(x, Int32Array.from([2, 3, 4, 0, 1]), 0), o.gather(tab, Int32Array.from([3, 0, 3, 2, 1]), 0)),
  },
  { name: 'broadcastTo', shapes: [[1, 3, 1]], fn: (o, x) => o.broadcastTo(x, [2, 3, 4]) },
  { name: 'linear interpolation along an inner axis', shapes: [[2, 4, 3]], fn: (o, x) => o.interpolateLinear(x, 1, 7) },
  {
    name: 'linear attention (Ops.linearAttention, with its rewrites)',
    shapes: [
      [2, 2, 5, 3],
      [2, 2, 5, 3],
      [2, 2, 5, 3],
    ],
    fn: (o, q, k, v) => o.linearAttention(o.relu(q), o.relu(k), v),
    init: 'awayFromZero',
  },
  {
    name: 'linear attention by its definition',
    shapes: [
      [2, 2, 5, 3],
      [2, 2, 5, 3],
      [2, 2, 5, 3],
    ],
    fn: (o, q, k, v) => linearAttention(o, o.softplus(q), o.softplus(k), v),
  },
];

const tfOps = new TrainTfjsOps();
beforeAll(async () => {
  expect(await initTfjs()).toBe('wasm');
});

describe('ONNX backward: each VJP against tfjs autodiff and finite differences', () => {
  cases.forEach((c, ci) => {
    it(c.name, async () => {
      const vals = c.shapes.map((s, i) => rand(size(s), 100 * ci + i, c.init));
      const R = (shape: number[]) => rand(size(shape), 7000 + ci);
      const { run, r } = await onnxCase(c, R);
      const out = await run(vals);
      const grads = c.shapes.map((_, i) => out[`d${i}`].data as Float32Array);

      // (a) tfjs: the same Ops code differentiated by tf.grads
      const ref = tf.tidy(() =>
        tf
          .grads((...xs: tf.Tensor[]) => {
            const y = c.fn(tfOps, ...(xs as unknown as Tensor[])) as unknown as tf.Tensor;
            return tf.sum(tf.mul(y, tf.tensor(r, y.shape)));
          })(vals.map((v, i) => tf.tensor(v, c.shapes[i])))
          .map((g) => g.dataSync() as Float32Array),
      );
      grads.forEach((d, i) => expect(relativeError(d, ref[i]), `input ${i} vs tfjs`).toBeLessThanOrEqual(1e-4));

      // (b) central differences of Σ y·R (in float64) along a random direction per input
      const h = 1e-2;
      const lossAt = async (xs: Float32Array[]) => {
        const y = (await run(xs)).y.data as Float32Array;
        return y.reduce((s, v, j) => s + v * r[j], 0);
      };
      for (let i = 0; i < vals.length; i++) {
        const u = rand(vals[i].length, 9000 + i);
        const shifted = (s: number) => vals.map((v, j) => (j === i ? v.map((a, k) => a + s * u[k]) : v));
        const numeric = ((await lossAt(shifted(h))) - (await lossAt(shifted(-h)))) / (2 * h);
        const analytic = grads[i].reduce((s, g, k) => s + g * u[k], 0);
        expect(Math.abs(analytic - numeric), `input ${i}: ${analytic} vs ${numeric}`).toBeLessThanOrEqual(
          2e-3 * Math.max(1, Math.abs(numeric)),
        );
      }
    });
  });

  it('an op without a VJP is a named error', () => {
    const g = new Graph(false);
    const x = g.input('x', [3]);
    const y = g.emit('Cos', [x], [3]);
    const loss = g.emit('ReduceSum', [y], [], { keepdims: 0 });
    expect(() => backward(g, loss, [x])).toThrow(/backward: no gradient for ONNX op Cos/);
  });
});
