/** VJPs of the row-wise normalisations over the last axis: LayerNormalization, Softmax, LogSoftmax. */
import { FlattenError } from '../../../core/errors.js';
import type { GraphNode } from '../graph.js';
import { axisOf, type Vjp } from './builder.js';

function lastAxis(n: GraphNode): number {
  const r = n.inputs[0]!.shape.length;
  const a = axisOf(r, (n.attrs?.axis as number) ?? -1);
  if (a !== r - 1)
    throw new FlattenError('BAD_ARGUMENT', `backward: ${n.op} over axis ${a} (the trace writes the last)`);
  return a;
}

export const norm: Record<string, Vjp> = {
  /**
   * y = x̂·γ + β with x̂ = (x − μ)·r, r = 1/√(var + ε) per row; x (…, C), γ and β (C).
   * dγ = Σ_rows dy·x̂, dβ = Σ_rows dy, dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ.
   * μ and r are recomputed here: the forward node gives only y.
   */
  LayerNormalization: (b, node, dy, need) => {
    const a = lastAxis(node);
    const [x, gamma, beta] = node.inputs.map((v) => v!);
    const eps = (node.attrs?.epsilon as { float: number } | undefined)?.float ?? 1e-5;
    const rowsOf = (v: typeof x) => b.emit('ReduceMean', [v], [...v.shape.slice(0, -1), 1], { axes: [a], keepdims: 1 });
    const xc = b.sub(x, rowsOf(x)); // (…, C)
    const r = b.unary('Reciprocal', b.unary('Sqrt', b.add(rowsOf(b.mul(xc, xc)), b.scalar(eps)))); // (…, 1)
    const xhat = b.mul(xc, r);
    const dgamma = need[1] ? b.sumTo(b.mul(dy, xhat), gamma.shape) : undefined;
    const dbeta = need[2] ? b.sumTo(dy, beta.shape) : undefined;
    let dx;
    if (need[0]) {
      const g = b.mul(dy, gamma);
      const inner = b.add(rowsOf(g), b.mul(xhat, rowsOf(b.mul(g, xhat))));
      dx = b.mul(b.sub(g, inner), r);
    }
    return [dx, dgamma, dbeta];
  },
  // y = softmax(x) per row: dx = y·(dy − Σ dy·y)
  Softmax: (b, node, dy) => {
    const a = lastAxis(node);
    const y = node.output;
    const s = b.sumKeep(b.mul(dy, y), [a]);
    return [b.mul(y, b.sub(dy, s))];
  },
  // y = log softmax(x) per row: dx = dy − eʸ·Σ dy
  LogSoftmax: (b, node, dy) => {
    const a = lastAxis(node);
    return [b.sub(dy, b.mul(b.unary('Exp', node.output), b.sumKeep(dy, [a])))];
  },
};
