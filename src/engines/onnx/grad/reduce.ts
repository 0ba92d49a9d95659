/**
 * VJPs of reductions: dy, of the output's shape, is read with the reduced axes as size 1 (whether or not
 * the node kept them) and broadcasts back over them. x (…), dy (… with 1s on the reduced axes, or without them).
 */
import type { GraphNode, Value } from '../graph.js';
import { axisOf, intsOf, type GradBuilder, type Vjp } from './builder.js';

/** The reduced axes of a ReduceSum (axes as input) or ReduceMean/ReduceL2 (axes as attribute), non-negative. */
function reducedAxes(n: GraphNode): number[] {
  const x = n.inputs[0]!;
  const axes = n.op === 'ReduceSum' ? (n.inputs[1] ? intsOf(n, 1) : []) : ((n.attrs?.axes as number[]) ?? []);
  return axes.length ? axes.map((a) => axisOf(x.shape.length, a)) : [...x.shape.keys()];
}

/** A reduction's output (or its gradient) with the reduced axes kept as 1s. */
function kept(b: GradBuilder, n: GraphNode, v: Value): Value {
  const axes = reducedAxes(n);
  return b.reshape(
    v,
    n.inputs[0]!.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
  );
}

export const reduce: Record<string, Vjp> = {
  // y = Σ x: dx = dy broadcast
  ReduceSum: (b, n, dy) => [b.expand(kept(b, n, dy), n.inputs[0]!.shape)],
  // y = Σ x / count: dx = dy / count broadcast
  ReduceMean: (b, n, dy) => {
    const x = n.inputs[0]!;
    const count = reducedAxes(n).reduce((c, a) => c * x.shape[a], 1);
    return [b.expand(b.mul(kept(b, n, dy), b.scalar(1 / count)), x.shape)];
  },
  // y = √(Σ x²): dx = x·dy / y
  ReduceL2: (b, n, dy) => [b.mul(n.inputs[0]!, b.div(kept(b, n, dy), kept(b, n, n.output)))],
};
