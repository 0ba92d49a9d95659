import { describe, expect, it } from 'vitest';
import type { TensorData } from '../../src/core/tensor.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { traceOnnx } from '../../src/engines/onnx/trace.js';
import type { Ops, Tensor } from '../../src/ops/ops.js';

const [N, IN, OUT] = [5, 4, 6];
const f32 = (shape: number[], f: (i: number) => number): TensorData => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
};
const W = f32([2 * OUT, IN], (i) => Math.sin(i * 1.7));
const B = f32([2 * OUT], (i) => Math.cos(i) * 0.3);
const X = f32([N, IN], (i) => Math.sin(i * 0.9 + 0.5));

/** Reference in plain JS: y = (relu(x·W[rows]ᵀ + b[rows]) + eps) / s, row by row. */
function reference(s: number[], rows: number, eps: number): number[] {
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OUT; o++) {
      let acc = (B.data as Float32Array)[rows + o];
      for (let i = 0; i < IN; i++)
        acc += (X.data as Float32Array)[n * IN + i] * (W.data as Float32Array)[(rows + o) * IN + i];
      out.push((Math.max(acc, 0) + eps) / s[o]);
    }
  }
  return out;
}

/** φ's first steps on q (or k) taken from one fused projection, divided by a constant per channel. */
async function run(s: number[], rows: number, alsoRelu = false) {
  const weights = new Map([
    ['proj.weight', W],
    ['proj.bias', B],
  ]);
  const traced = traceOnnx(weights, [{ name: 'x', shape: [N, IN] }], (ctx, x) => {
    const ops: Ops = ctx.ops;
    const both = ops.linear(x, ctx.p('proj.weight'), ctx.p('proj.bias')); // (N, 2·OUT)
    const part: Tensor = ops.slice(both, [0, rows], [N, OUT]);
    const sigma = ops.constant(f32([1, OUT], (i) => s[i]));
    const r = ops.relu(part);
    // another reader of the ReLU output, there before the division is traced
    const extra: Record<string, Tensor> = alsoRelu ? { r: ops.mul(r, ops.scalar(2)) } : {};
    return { ...extra, y: ops.div(ops.add(r, ops.scalar(1e-3)), sigma) };
  });
  const session = await OnnxSession.create(traced.bytes, 'scale test', { threads: 1 });
  const { y } = await session.run({ x: X });
  await session.release();
  return { y: [...(y.data as Float32Array)], ops: traced.model.nodes.map((n) => n.op) };
}

describe('per-channel scales fold into the producing Gemm', () => {
  it('a positive scale after ReLU and a constant shift costs no pass over the activations', async () => {
    for (const rows of [0, OUT]) {
      const s = [0.5, 2, 3, 0.25, 1.5, 7];
      const { y, ops } = await run(s, rows);
      expect(ops).not.toContain('Div');
      const ref = reference(s, rows, 1e-3);
      y.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
    }
  });

  it('a scale with a negative entry does not commute with ReLU and stays a Div', async () => {
    const s = [0.5, -2, 3, 0.25, 1.5, 7];
    const { y, ops } = await run(s, OUT);
    expect(ops).toContain('Div');
    const ref = reference(s, OUT, 1e-3);
    y.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
  });

  it('is not folded when the activations it would rewrite have another reader (the Gemm would run twice)', async () => {
    const s = [0.5, 2, 3, 0.25, 1.5, 7];
    const { y, ops } = await run(s, OUT, true);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(1);
    expect(ops).toContain('Div');
    const ref = reference(s, OUT, 1e-3);
    y.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
  });
});
