import { float32, type TensorData } from '../../core/tensor.js';
import type { Tensor } from '../../ops/ops.js';
import { focusedFeatureMap, splitHeads } from '../../attention/focused.js';
import type { Ctx } from '../../ops/ctx.js';
import { mulberry32 } from '../../core/rng.js';
import { OnnxSession } from '../../engines/onnx/session.js';
import { traceOnnx } from '../../engines/onnx/trace.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median wall time (ms) of `reps` calls after one warm-up. */
export async function timeMs(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

export type AttentionKind = 'focused' | 'softmax';

/** One attention head over N global tokens of C channels, as an ONNX graph on (1, N, C) q, k and v. */
function attentionGraph(kind: AttentionKind, n: number, c: number): Uint8Array {
  const weights = new Map<string, TensorData>([['scale', float32([1, 1, c])]]);
  const shape = [1, n, c];
  const { bytes } = traceOnnx(
    weights,
    ['q', 'k', 'v'].map((name) => ({ name, shape })),
    (ctx: Ctx, q: Tensor, k: Tensor, v: Tensor) => {
      const { ops } = ctx;
      if (kind === 'softmax') {
        const a = ops.softmax(
          ops.mul(ops.matmul(splitHeads(ops, q, 1), splitHeads(ops, k, 1), true), ops.scalar(c ** -0.5)),
        ); // (1, 1, N, N)
        return { out: ops.matmul(a, splitHeads(ops, v, 1)) };
      }
      const s = ctx.p('scale');
      return {
        out: ops.linearAttention(
          splitHeads(ops, focusedFeatureMap(ops, q, s, 3), 1),
          splitHeads(ops, focusedFeatureMap(ops, k, s, 3), 1),
          splitHeads(ops, v, 1),
        ),
      };
    },
  );
  return bytes;
}

/** Median time (ms) of one attention head over N tokens on ONNX Runtime. */
export async function attentionTime(kind: AttentionKind, n: number, c = 64, reps = 5): Promise<number> {
  const session = await OnnxSession.create(attentionGraph(kind, n, c), `${kind} attention N=${n}`);
  const rand = mulberry32(n);
  const feed = () =>
    float32(
      [1, n, c],
      Float32Array.from({ length: n * c }, () => rand() - 0.5),
    );
  const feeds = { q: feed(), k: feed(), v: feed() };
  try {
    return await timeMs(() => session.run(feeds), reps);
  } finally {
    await session.release();
  }
}
