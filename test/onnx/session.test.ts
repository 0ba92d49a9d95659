import { describe, expect, it } from 'vitest';
import type { TensorData } from '../../src/core/tensor.js';
import { OnnxSession } from '../../src/engines/onnx/session.js';
import { traceOnnx } from '../../src/engines/onnx/trace.js';

const W: TensorData = { dtype: 'float32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i - 5) };
const batchOf = (b: number, seed: number): TensorData => ({
  dtype: 'float32',
  shape: [b, 4],
  data: Float32Array.from({ length: 4 * b }, (_, i) => Math.sin(i + seed)),
});

async function session() {
  const { bytes } = traceOnnx(
    new Map([['w', W]]),
    [{ name: 'x', shape: [2, 4], batchAxis: 0 }],
    (ctx, x) => ({ y: ctx.ops.relu(ctx.ops.linear(x, ctx.p('w'))) }),
    { dynamic: true },
  );
  return OnnxSession.create(bytes, 'reuse test', { threads: 1 });
}

describe('OnnxSession.run with reuseOutputs', () => {
  it('gives the same values as a plain run, in one kept buffer per output shape', async () => {
    const s = await session();
    for (const b of [2, 3, 2]) {
      const x = batchOf(b, b);
      const plain = await s.run({ x });
      const reused = await s.run({ x }, { reuseOutputs: true });
      expect(reused.y.shape).toEqual([b, 3]);
      expect([...reused.y.data]).toEqual([...plain.y.data]);
    }
    // the second call with the same shape writes over the first one's array
    const first = await s.run({ x: batchOf(2, 10) }, { reuseOutputs: true });
    const kept = [...first.y.data];
    const second = await s.run({ x: batchOf(2, 20) }, { reuseOutputs: true });
    expect((second.y.data as Float32Array).buffer).toBe((first.y.data as Float32Array).buffer);
    expect([...first.y.data]).not.toEqual(kept);
    await s.release();
  });
});
