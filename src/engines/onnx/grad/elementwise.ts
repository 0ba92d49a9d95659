/**
 * VJPs of elementwise ops. Binary ops broadcast (numpy rules), so each input's gradient is summed back
 * to that input's shape. x, y, dy: the same shape unless said otherwise.
 */
import type { GraphNode, Value } from '../graph.js';
import { DataType } from '../proto.js';
import { scalarOf, type GradBuilder, type Vjp } from './builder.js';

const isScalar = (v: Value | undefined, c: number) => v?.data?.length === 1 && v.data[0] === Math.fround(c);

/**
 * The derivative of z = x·a(x) with a = 1 + erf(x/√2) (the GELU's product, OnnxOps.gelu) in x through both
 * factors, for the whole dx in one node instead of the VJPs of Mul, Add, Erf and Div (10 full-size passes →
 * 6): dz/dx = a + x·a'(x), a'(x) = √(2/π)·exp(−u²) with u = x/√2, the constant folded into the exponent.
 * Undefined unless `n` is that Mul; a's own gradient is then not needed (its other readers, if any, still
 * send theirs down the Erf chain).
 */
function geluFactor(b: GradBuilder, n: GraphNode): Value | undefined {
  const [x, a] = n.inputs;
  const add = a?.producer;
  if (add?.op !== 'Add' || !isScalar(add.inputs[1], 1)) return undefined;
  const erf = add.inputs[0]?.producer;
  if (erf?.op !== 'Erf') return undefined;
  const u = erf.inputs[0]!;
  const div = u.producer;
  if (div?.op !== 'Div' || div.inputs[0] !== x || !isScalar(div.inputs[1], Math.SQRT2)) return undefined;
  const e = b.unary('Exp', b.sub(b.scalar(Math.log(Math.sqrt(2 / Math.PI))), b.mul(u, u))); // √(2/π)·exp(−u²)
  return b.add(a!, b.mul(x!, e));
}

export const elementwise: Record<string, Vjp> = {
  Identity: (_, __, dy) => [dy],
  Neg: (b, _, dy) => [b.neg(dy)],
  Add: (b, n, dy, need) => {
    const [x, y] = n.inputs.map((v) => v!);
    return [need[0] ? b.sumTo(dy, x.shape) : undefined, need[1] ? b.sumTo(dy, y.shape) : undefined];
  },
  Sub: (b, n, dy, need) => {
    const [x, y] = n.inputs.map((v) => v!);
    return [need[0] ? b.sumTo(dy, x.shape) : undefined, need[1] ? b.neg(b.sumTo(dy, y.shape)) : undefined];
  },
  // z = x·y: dx = dy·y, dy' = dy·x
  Mul: (b, n, dy, need) => {
    const [x, y] = n.inputs.map((v) => v!);
    const gelu = need[0] && need[1] ? geluFactor(b, n) : undefined;
    if (gelu) return [b.mul(dy, gelu), undefined];
    return [need[0] ? b.sumTo(b.mul(dy, y), x.shape) : undefined, need[1] ? b.sumTo(b.mul(dy, x), y.shape) : undefined];
  },
  // z = x / y: dx = dy / y, dy' = −dy·z / y
  Div: (b, n, dy, need) => {
    const [x, y] = n.inputs.map((v) => v!);
    const dz = need[0] || need[1] ? b.div(dy, y) : undefined;
    return [
      need[0] ? b.sumTo(dz!, x.shape) : undefined,
      need[1] ? b.neg(b.sumTo(b.mul(dz!, n.output), y.shape)) : undefined,
    ];
  },
  // z = 1/x: dx = −dy·z²
  Reciprocal: (b, n, dy) => [b.neg(b.mul(dy, b.mul(n.output, n.output)))],
  // z = x^p (p a constant): dx = dy·p·x^(p−1)
  Pow: (b, n, dy) => {
    const p = scalarOf(n, 1);
    const x = n.inputs[0]!;
    const d = p === 2 ? x : b.emit('Pow', [x, b.scalar(p - 1)], x.shape);
    return [b.mul(dy, b.mul(d, b.scalar(p)))];
  },
  // z = √x: dx = dy / (2z)
  Sqrt: (b, n, dy) => [b.div(b.mul(dy, b.scalar(0.5)), n.output)],
  Abs: (b, n, dy) => [b.mul(dy, b.unary('Sign', n.inputs[0]!))],
  // z = max(x, 0): the gradient passes where z > 0, that mask as 0/1 floats (ORT's Sign took 2.5× as long)
  Relu: (b, n, dy) => {
    const mask = b.emit('Greater', [n.output, b.scalar(0)], n.output.shape); // bool
    return [b.mul(dy, b.emit('Cast', [mask], mask.shape, { to: DataType.FLOAT }))];
  },
  // z = log(1 + eˣ): dx = dy·σ(x) (PyTorch's threshold at 20 returns x there, whose slope 1 is σ(20) in float32)
  Softplus: (b, n, dy) => [b.mul(dy, b.unary('Sigmoid', n.inputs[0]!))],
  // z = erf(x): dx = dy·(2/√π)·exp(−x²)
  Erf: (b, n, dy) => {
    const x = n.inputs[0]!;
    const e = b.unary('Exp', b.neg(b.mul(x, x)));
    return [b.mul(dy, b.mul(e, b.scalar(2 / Math.sqrt(Math.PI))))];
  },
  Exp: (b, n, dy) => [b.mul(dy, n.output)],
  Sigmoid: (b, n, dy) => [b.mul(dy, b.mul(n.output, b.sub(b.scalar(1), n.output)))],
};
