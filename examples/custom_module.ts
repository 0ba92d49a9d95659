// Your own module over the engine-neutral ops, run on both engines and exported to ONNX.
//   npx tsx examples/custom_module.ts
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOnnx } from 'flatten-transformer';
import { exportModule, initWeights, LayerNorm, Linear, Module, ParamTable, runModule } from 'flatten-transformer/nn';
import type { Ctx, Tensor } from 'flatten-transformer/nn';

/** A pre-norm residual MLP on tokens (B, N, C): parameter paths are `norm.*`, `fc1.*`, `fc2.*`. */
class ResidualMlp extends Module {
  readonly norm: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(table: ParamTable, prefix: string, dim: number) {
    super(table, prefix);
    this.norm = new LayerNorm(table, this.sub('norm'), dim, 1e-5);
    this.fc1 = new Linear(table, this.sub('fc1'), dim, 4 * dim);
    this.fc2 = new Linear(table, this.sub('fc2'), 4 * dim, dim);
  }
  forward(ctx: Ctx, x: Tensor): Tensor {
    const { ops } = ctx;
    return ops.add(x, this.fc2.forward(ctx, ops.gelu(this.fc1.forward(ctx, this.norm.forward(ctx, x)))));
  }
}

const table = new ParamTable();
const net = new ResidualMlp(table, '', 16);
const weights = initWeights(table, 0); // deterministic; or loadWeights(table, 'file.safetensors')
const x = { dtype: 'float32' as const, shape: [2, 5, 16], data: new Float32Array(160).map((_, i) => Math.cos(i)) };
const forward = (ctx: Ctx, t: Tensor) => ({ y: net.forward(ctx, t) });

const a = await runModule({ weights, inputs: [x], forward, engine: 'tfjs' });
const b = await runModule({ weights, inputs: [x], forward, engine: 'onnx' });
const [ya, yb] = [a.y.data as Float32Array, b.y.data as Float32Array];
const diff = Math.max(...ya.map((v, i) => Math.abs(v - yb[i])));
console.log(`${table.parameterCount()} parameters; tfjs vs onnx max difference ${diff.toExponential(1)}`);

const bytes = exportModule({ weights, inputs: [{ name: 'x', shape: [1, 5, 16] }], forward });
const file = join(mkdtempSync(join(tmpdir(), 'flatten-module-')), 'module.onnx');
writeFileSync(file, bytes);
const session = await loadOnnx(file, { threads: 1 });
const { y } = await session.run({ x });
console.log(`exported: ${bytes.length} bytes, batch ${y.shape[0]} output ${y.shape.join('×')}`);
await session.release();
