// Focused linear attention as a layer of your own network: a conv stem, a self-attention block on a non-square
// grid, a block that cross-attends to a second image, a head. Trained a few steps, exported to ONNX, run there.
//   npx tsx examples/focused_layer.ts
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOnnx } from 'flatten-transformer';
import {
  Conv2d,
  exportModule,
  FocusedLinearAttention,
  LayerNorm,
  Linear,
  Mlp,
  Module,
  ParamTable,
  runModule,
  trainModule,
} from 'flatten-transformer/nn';
import type { AttentionContext, Ctx, ModuleBatch, Tensor } from 'flatten-transformer/nn';

const DIM = 16;

/** Pre-norm residual block: x + attn(norm1(x)), then x + mlp(norm2(x)); with a context, attn cross-attends to it. */
class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: FocusedLinearAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(table: ParamTable, prefix: string, attn: { grid: [number, number]; srRatio?: number }) {
    super(table, prefix);
    this.norm1 = new LayerNorm(table, this.sub('norm1'), DIM, 1e-6);
    this.attn = new FocusedLinearAttention(table, this.sub('attn'), { dim: DIM, numHeads: 2, ...attn });
    this.norm2 = new LayerNorm(table, this.sub('norm2'), DIM, 1e-6);
    this.mlp = new Mlp(table, this.sub('mlp'), DIM, 2 * DIM);
  }
  forward(ctx: Ctx, x: Tensor, grid: [number, number], context?: AttentionContext): Tensor {
    const { ops } = ctx;
    x = ops.add(x, this.attn.forward(ctx, this.norm1.forward(ctx, x), grid, context));
    return ops.add(x, this.mlp.forward(ctx, this.norm2.forward(ctx, x)));
  }
}

/** Image (B, 3, 16, 24) and a reference image (B, 3, 16, 16) → 2 logits. */
class Net extends Module {
  readonly stem: Conv2d;
  readonly refStem: Conv2d;
  readonly self: Block;
  readonly cross: Block;
  readonly head: Linear;
  constructor(table: ParamTable) {
    super(table, '');
    this.stem = new Conv2d(table, 'stem', 3, DIM, { kernel: 4, stride: 4 }); // → 4×6 tokens
    this.refStem = new Conv2d(table, 'ref_stem', 3, DIM, { kernel: 4, stride: 4 }); // → 4×4 tokens
    this.self = new Block(table, 'blocks.0', { grid: [4, 6] });
    this.cross = new Block(table, 'blocks.1', { grid: [4, 4], srRatio: 2 }); // keys from the reference's 2×2 grid
    this.head = new Linear(table, 'head', DIM, 2);
  }
  forward(ctx: Ctx, image: Tensor, reference: Tensor): Tensor {
    const { ops } = ctx;
    const tokens = (t: Tensor) => {
      const [b, c, h, w] = ops.shape(t);
      return ops.transpose(ops.reshape(t, [b, c, h * w]), [0, 2, 1]); // (B, H·W, C)
    };
    let x = tokens(this.stem.forward(ctx, image)); // (B, 24, C)
    const ref = tokens(this.refStem.forward(ctx, reference)); // (B, 16, C)
    x = this.self.forward(ctx, x, [4, 6]);
    x = this.cross.forward(ctx, x, [4, 6], { tokens: ref, grid: [4, 4] }); // still (B, 24, C)
    return this.head.forward(ctx, ops.mean(x, [1])); // (B, 2)
  }
}

/** Noise images; the label is whether the reference image is bright, which only the cross-attention can see. */
function batch(seed: number, b: number): ModuleBatch {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const labels = Int32Array.from({ length: b }, (_, i) => i % 2);
  const image = Float32Array.from({ length: b * 3 * 16 * 24 }, rand);
  const reference = Float32Array.from(
    { length: b * 3 * 16 * 16 },
    (_, i) => rand() + (labels[Math.floor(i / 768)] ? 0.5 : -0.5),
  );
  return {
    inputs: [
      { dtype: 'float32', shape: [b, 3, 16, 24], data: image },
      { dtype: 'float32', shape: [b, 3, 16, 16], data: reference },
    ],
    labels,
  };
}

const table = new ParamTable();
const net = new Net(table);
const data = Array.from({ length: 4 }, (_, i) => batch(i + 1, 16));
const { weights, history } = await trainModule({
  table,
  forward: (ctx, image, reference) => net.forward(ctx, image, reference),
  data,
  epochs: 3,
  lr: 1e-2,
  labelSmoothing: 0,
});
const loss = (h: typeof history) => (h.reduce((a, s) => a + s.loss, 0) / h.length).toFixed(3);
console.log(
  `${table.parameterCount()} parameters; trained ${history.length} steps: loss ${loss(history.slice(0, 4))} → ${loss(history.slice(-4))}`,
);

const forward = (ctx: Ctx, image: Tensor, reference: Tensor) => ({ logits: net.forward(ctx, image, reference) });
const test = batch(99, 8);
const bytes = exportModule({
  weights,
  inputs: [
    { name: 'image', shape: [1, 3, 16, 24] },
    { name: 'reference', shape: [1, 3, 16, 16] },
  ],
  forward,
});
const file = join(mkdtempSync(join(tmpdir(), 'flatten-layer-')), 'net.onnx');
writeFileSync(file, bytes);
const session = await loadOnnx(file, { threads: 1 });
const [image, reference] = test.inputs;
const onnx = (await session.run({ image, reference })).logits.data as Float32Array;
await session.release();
const tfjs = (await runModule({ weights, inputs: test.inputs, forward })).logits.data as Float32Array;
const diff = Math.max(...tfjs.map((v, i) => Math.abs(v - onnx[i])));
const right = test.labels.filter((c, i) => (tfjs[2 * i + 1] > tfjs[2 * i] ? 1 : 0) === c).length;
console.log(
  `exported ${bytes.length} bytes; batch ${test.labels.length} on ONNX Runtime vs tfjs: max difference ${diff.toExponential(1)}; ${right}/${test.labels.length} held-out right`,
);
