import { FlattenError } from '../../../core/errors.js';
import { broadcastShapes, sizeOf } from '../fold.js';
import type { Graph, GraphNode, Value } from '../graph.js';
import type { AttrValue } from '../proto.js';

/**
 * Emits backward nodes into the forward's graph with their static shapes worked out here (the
 * training graph has a fixed batch). Thin wrappers over `Graph.emit`: one per ONNX op the VJPs use.
 */
export class GradBuilder {
  constructor(readonly g: Graph) {}

  emit(
    op: string,
    inputs: (Value | undefined)[],
    shape: number[],
    attrs?: Record<string, AttrValue>,
    domain?: string,
  ): Value {
    return this.g.emit(op, inputs, shape, attrs, domain);
  }
  scalar(v: number): Value {
    return this.g.scalar(v);
  }
  ints(v: number[]): Value {
    return this.g.ints(v);
  }

  private binary(op: string, a: Value, b: Value): Value {
    return this.emit(op, [a, b], broadcastShapes(a.shape, b.shape));
  }
  add(a: Value, b: Value) {
    return this.binary('Add', a, b);
  }
  sub(a: Value, b: Value) {
    return this.binary('Sub', a, b);
  }
  mul(a: Value, b: Value) {
    return this.binary('Mul', a, b);
  }
  div(a: Value, b: Value) {
    return this.binary('Div', a, b);
  }
  unary(op: string, x: Value, attrs?: Record<string, AttrValue>) {
    return this.emit(op, [x], x.shape, attrs);
  }
  neg(x: Value) {
    return this.unary('Neg', x);
  }

  reshape(x: Value, shape: number[]): Value {
    return same(x.shape, shape) ? x : this.emit('Reshape', [x, this.ints(shape)], shape);
  }
  transpose(x: Value, perm: number[]): Value {
    if (perm.every((p, i) => p === i)) return x;
    return this.emit(
      'Transpose',
      [x],
      perm.map((p) => x.shape[p]),
      { perm },
    );
  }
  /** a (…, m, k) · b (…, k, n) → (…, m, n), batch axes broadcast. */
  matmul(a: Value, b: Value): Value {
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 1];
    if (k !== b.shape[b.shape.length - 2]) throw new Error(`grad matmul: inner dims ${k} and ${b.shape.at(-2)}`);
    return this.emit('MatMul', [a, b], [...broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n]);
  }
  /** The last two axes swapped (ORT folds such a Transpose into FusedMatMul). */
  swapLast(x: Value): Value {
    const p = [...x.shape.keys()];
    [p[p.length - 2], p[p.length - 1]] = [p[p.length - 1], p[p.length - 2]];
    return this.transpose(x, p);
  }
  /** Sum over `axes`, kept as size-1 axes. */
  sumKeep(x: Value, axes: number[]): Value {
    if (!axes.length) return x;
    return this.emit(
      'ReduceSum',
      [x, this.ints(axes)],
      x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
      { keepdims: 1 },
    );
  }
  /**
   * A gradient of a broadcast result summed back to the input's shape: over the leading axes the input
   * lacks and the axes where it has size 1. dy (…, broadcast shape) → (shape)
   */
  sumTo(dy: Value, shape: number[]): Value {
    if (same(dy.shape, shape)) return dy;
    const lead = dy.shape.length - shape.length;
    const axes = dy.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1));
    return this.reshape(this.sumKeep(dy, axes), shape);
  }
  /** x broadcast to `shape` (numpy rules). */
  expand(x: Value, shape: number[]): Value {
    return same(x.shape, shape) ? x : this.emit('Expand', [x, this.ints(shape)], shape);
  }
  zeros(shape: number[]): Value {
    return this.g.constant(shape, new Float32Array(sizeOf(shape)));
  }
}

export const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * The vector-Jacobian product of one forward node: given dy (the loss's gradient w.r.t. the node's
 * output, same shape), the gradient w.r.t. each input that `need`s one (undefined elsewhere), each
 * already in its input's shape.
 */
export type Vjp = (b: GradBuilder, node: GraphNode, dy: Value, need: boolean[]) => (Value | undefined)[];

/** The int64 constant a node reads at input i (axes, shapes, indices): the trace writes these as constants. */
export function intsOf(node: GraphNode, i: number): number[] {
  const v = node.inputs[i];
  if (!v?.ints) throw new FlattenError('BAD_ARGUMENT', `backward: ${node.op} input ${i} is not an int64 constant`);
  return v.ints;
}

/** The float scalar a node reads at input i (Pow's exponent). */
export function scalarOf(node: GraphNode, i: number): number {
  const v = node.inputs[i];
  if (!v?.data || v.data.length !== 1)
    throw new FlattenError('BAD_ARGUMENT', `backward: ${node.op} input ${i} is not a scalar constant`);
  return v.data[0];
}

export const axisOf = (rank: number, a: number) => (a < 0 ? a + rank : a);
