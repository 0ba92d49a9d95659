import { describe, expect, it } from 'vitest';
import { splitHeads } from '../../src/attention/focused.js';
import { mulberry32 } from '../../src/core/rng.js';
import type { TensorData } from '../../src/core/tensor.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { traceOnnx } from '../../src/engines/onnx/trace.js';
import type { Ops, Tensor } from '../../src/ops/ops.js';

const [N, C, H] = [6, 8, 2];
const rand = mulberry32(3);
const mat = (r: number, c: number, shift = 0) =>
  Array.from({ length: r }, () => Array.from({ length: c }, () => rand() - shift));
const f32 = (shape: number[], m: number[][]): TensorData => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from(m.flat()),
});
// u (N, C): the rows of N tokens; rows 0-1 get tiny factors, so that the 1e-6 in the normaliser matters
const u = mat(N, C);
const s = [1e-6, 3e-6, 0.5, 1, 2, 40];
const q = u.map((row, i) => row.map((x) => x * s[i])); // s·u, formed

/** One head in float64: O_i = q_i·(KᵀV/n) / (q_i·mean(K) + 1e-6). */
function attend(qh: number[][], k: number[][], v: number[][]): number[][] {
  const [n, d] = [k.length, k[0].length];
  const kMean = Array.from({ length: d }, (_, c) => k.reduce((a, r) => a + r[c], 0) / n);
  return qh.map((qi) => {
    const z = qi.reduce((a, x, c) => a + x * kMean[c], 0) + 1e-6;
    return Array.from(
      { length: v[0].length },
      (_, e) => k.reduce((a, kr, j) => a + qi.reduce((b, x, c) => b + x * kr[c], 0) * v[j][e], 0) / n / z,
    );
  });
}

/** `heads(ops, s·u)` → q (1, H, M, d), traced with k and v (1, H, n, d) as inputs and run on ORT. */
async function run(heads: (ops: Ops, x: Tensor) => Tensor, kv: [number, number], k: number[][], v: number[][]) {
  const traced = traceOnnx(
    new Map(),
    [
      { name: 'u', shape: [N, C] },
      { name: 's', shape: [N, 1] },
      { name: 'k', shape: [1, H, ...kv] },
      { name: 'v', shape: [1, H, ...kv] },
    ],
    (ctx, uT, sT, kT, vT) => ({ y: ctx.ops.linearAttention(heads(ctx.ops, ctx.ops.mul(uT, sT)), kT, vT) }),
  );
  const session = await OnnxSession.create(traced.bytes, 'row-scaled attention', { threads: 1 });
  const { y } = await session.run({
    u: f32([N, C], u),
    s: f32(
      [N, 1],
      s.map((x) => [x]),
    ),
    k: f32([1, H, ...kv], k),
    v: f32([1, H, ...kv], v),
  });
  await session.release();
  const formsSu = traced.model.nodes.some((x) => x.op === 'Mul' && x.inputs.includes('u'));
  return { y: y.data as Float32Array, formsSu };
}

const cols = (m: number[][], from: number, to: number) => m.map((r) => r.slice(from, to));
const transposed = (m: number[][]) => m[0].map((_, j) => m.map((r) => r[j]));

describe('linear attention on row-scaled queries (the ONNX rewrite of φ(q)’s row factor)', () => {
  it('never forms s·u, and equals attention on s·u also where s·u·mean(K) is as small as the 1e-6', async () => {
    const [n, d] = [10, C / H];
    const [k, v] = [mat(H * n, d), mat(H * n, d, 0.5)]; // (H·n, d): head h is rows [h·n, (h+1)·n)
    const { y, formsSu } = await run((ops, x) => splitHeads(ops, ops.reshape(x, [1, N, C]), H), [n, d], k, v);
    expect(formsSu).toBe(false);
    const want = [0, 1].flatMap((h) =>
      attend(cols(q, h * d, (h + 1) * d), k.slice(h * n, (h + 1) * n), v.slice(h * n, (h + 1) * n)).flat(),
    );
    // the tiny rows are genuinely different from attention without the factor (so the test can tell)
    const unscaled = attend(cols(u, 0, d), k.slice(0, n), v.slice(0, n)).flat();
    expect(Math.abs(want[0] - unscaled[0])).toBeGreaterThan(0.1 * Math.abs(unscaled[0]));
    want.forEach((w, i) => expect(y[i]).toBeCloseTo(w, 5));
  });

  it('keeps s·u when the factor varies along the contracted axis (queries with tokens last)', async () => {
    const [n, d] = [5, C / H];
    const [k, v] = [mat(H * n, N), mat(H * n, N, 0.5)]; // contracted axis: the N tokens
    // q (1, H, d, N): head h's queries are the channels [h·d, (h+1)·d), each over the tokens
    const heads = (ops: Ops, x: Tensor) => ops.transpose(ops.reshape(x, [1, N, H, d]), [0, 2, 3, 1]);
    const { y, formsSu } = await run(heads, [n, N], k, v);
    expect(formsSu).toBe(true);
    const want = [0, 1].flatMap((h) =>
      attend(transposed(cols(q, h * d, (h + 1) * d)), k.slice(h * n, (h + 1) * n), v.slice(h * n, (h + 1) * n)).flat(),
    );
    want.forEach((w, i) => expect(y[i]).toBeCloseTo(w, 5));
  });
});
