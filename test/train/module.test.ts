import { describe, expect, it } from 'vitest';
import {
  FocusedLinearAttention,
  Linear,
  Module,
  ParamTable,
  ProgressBar,
  initWeights,
  runModule,
  trainModule,
  type Ctx,
  type ModuleBatch,
  type Tensor,
} from '../../src/api/nn.js';
import { float32 } from '../../src/core/tensor.js';
import { mulberry32 } from '../../src/core/rng.js';

/** Tokens on a 4×4 grid → focused attention → mean over tokens → 2 logits. */
class TinyNet extends Module {
  readonly attn: FocusedLinearAttention;
  readonly head: Linear;
  constructor(table: ParamTable) {
    super(table, '');
    this.attn = new FocusedLinearAttention(table, 'attn', { dim: 8, numHeads: 2, grid: [4, 4] });
    this.head = new Linear(table, 'head', 8, 2);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    const y = ops.add(x, this.attn.forward(ctx, x, [4, 4])); // (B, 16, 8)
    return this.head.forward(ctx, ops.mean(y, [1])); // (B, 2)
  }
}

/** Class 1 when channel 0 is larger on the top half of the grid than on the bottom half. */
function batch(seed: number, b = 16): ModuleBatch {
  const r = mulberry32(seed);
  const x = Float32Array.from({ length: b * 16 * 8 }, () => r() * 2 - 1);
  const labels = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const label = i % 2;
    for (let t = 0; t < 16; t++) x[(i * 16 + t) * 8] += label === 1 ? 0.5 : -0.5;
    labels[i] = label;
  }
  return { inputs: [float32([b, 16, 8], x)], labels };
}

/** Mean cross-entropy (no smoothing) of weights on a batch, through runModule. */
async function meanLoss(net: TinyNet, weights: Map<string, ReturnType<typeof float32>>, data: ModuleBatch) {
  const { logits } = await runModule({
    weights,
    inputs: data.inputs,
    forward: (ctx, x) => ({ logits: net.forward(ctx, x) }),
  });
  const l = logits.data as Float32Array;
  let sum = 0;
  data.labels.forEach((c, i) => {
    const [a, b] = [l[2 * i], l[2 * i + 1]];
    const m = Math.max(a, b);
    sum += m + Math.log(Math.exp(a - m) + Math.exp(b - m)) - l[2 * i + c];
  });
  return sum / data.labels.length;
}

describe('trainModule: a module of your own on the trainer', () => {
  it('the loss goes down on a tiny synthetic task within a few steps, and the trained weights are returned', async () => {
    const table = new ParamTable();
    const net = new TinyNet(table);
    const start = initWeights(table, 3);
    const data = [batch(1), batch(2), batch(3), batch(4)];
    const lines: string[] = [];
    const stream = { isTTY: false, write: (l: string) => lines.push(l) } as unknown as NodeJS.WriteStream;
    const { weights, history } = await trainModule({
      progress: new ProgressBar(stream, 0),
      table,
      weights: start,
      forward: (ctx, x) => net.forward(ctx, x),
      data,
      epochs: 5,
      lr: 5e-2,
      labelSmoothing: 0,
    });
    expect(history.map((h) => h.step)).toEqual([...Array(20).keys()]);
    expect(history.every((h) => Number.isFinite(h.loss) && h.gradNorm > 0)).toBe(true);
    expect(history[19].lr).toBeLessThan(history[0].lr); // the cosine schedule
    const first = history.slice(0, 4).reduce((s, h) => s + h.loss, 0) / 4; // epoch 1
    const last = history.slice(16).reduce((s, h) => s + h.loss, 0) / 4; // epoch 5
    expect(last).toBeLessThan(0.5 * first);
    // the returned weights are the trained ones: held-out loss falls from the starting weights
    const heldOut = batch(99, 32);
    expect(await meanLoss(net, weights, heldOut)).toBeLessThan(0.8 * (await meanLoss(net, start, heldOut)));
    expect([...weights.keys()]).toEqual([...table.specs.keys()]);
    // flatten train's progress line: 4 batches a pass, 5 passes
    expect(lines).toHaveLength(20);
    expect(lines[19]).toMatch(/^epoch 5\/5 \[#{20}\] 4\/4 loss \d\.\d{4} acc \d+\.\d% lr /);
  });

  it('bad input is a named error', async () => {
    const table = new ParamTable();
    const net = new TinyNet(table);
    const forward = (ctx: Ctx, x: Tensor) => net.forward(ctx, x);
    await expect(trainModule({ table, forward, data: [] })).rejects.toThrow(/trainModule: data holds no batch/);
    await expect(trainModule({ table, forward, data: () => batch(1) })).rejects.toThrow(
      /steps is required when data is a function/,
    );
    await expect(trainModule({ table, forward, data: [batch(1)], steps: 0 })).rejects.toThrow(
      /steps must be a positive integer/,
    );
    const wrong = { inputs: batch(1).inputs, labels: new Int32Array(3) };
    await expect(trainModule({ table, forward, data: [wrong], steps: 1 })).rejects.toThrow(
      /logits of shape 16×2, not \(3, K\) for the batch's 3 labels/,
    );
  });
});
