import { FlattenError } from '../../../core/errors.js';
import type { Graph, GraphNode, Value } from '../graph.js';
import { GradBuilder, same, type Vjp } from './builder.js';
import { conv } from './conv.js';
import { elementwise } from './elementwise.js';
import { matmul } from './matmul.js';
import { norm } from './norm.js';
import { reduce } from './reduce.js';
import { shape } from './shape.js';

/** One VJP per forward op type, by ONNX op name. */
export const VJPS: Record<string, Vjp> = { ...elementwise, ...reduce, ...matmul, ...conv, ...norm, ...shape };

/**
 * Reverse-mode differentiation of the recorded graph: appends to `g` the nodes computing the gradient of
 * the scalar `loss` w.r.t. each of `wrt`. Only nodes on a path from some `wrt` to the loss get a VJP, and
 * each VJP only for the inputs on such a path: gradients of constants, masks and the batch are never
 * written. A value read by several nodes gets the sum of their contributions. Returns the gradient of each
 * `wrt` value (same shape), or undefined for one the loss does not depend on.
 */
export function backward(g: Graph, loss: Value, wrt: Value[]): (Value | undefined)[] {
  if (loss.shape.length !== 0)
    throw new FlattenError('BAD_ARGUMENT', `backward: the loss must be a scalar, got (${loss.shape})`);
  // nodes the loss reads, in emission order (a topological order)
  const live = new Set<GraphNode>();
  const stack = [loss];
  while (stack.length) {
    const p = stack.pop()!.producer;
    if (p && !live.has(p)) {
      live.add(p);
      for (const i of p.inputs) if (i) stack.push(i);
    }
  }
  const forward = g.nodes.filter((n) => live.has(n));
  // values that depend on some wrt value
  const varies = new Set<Value>(wrt);
  for (const n of forward) if (n.inputs.some((i) => i && varies.has(i))) varies.add(n.output);

  const b = new GradBuilder(g);
  const grads = new Map<Value, Value>([[loss, b.scalar(1)]]);
  const accumulate = (v: Value, d: Value) => {
    if (!same(d.shape, v.shape))
      throw new Error(`backward: gradient of shape (${d.shape}) for a value of shape (${v.shape})`);
    const prev = grads.get(v);
    grads.set(v, prev ? b.add(prev, d) : d);
  };
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    const dy = grads.get(node.output);
    if (!dy || !varies.has(node.output)) continue;
    grads.delete(node.output);
    const vjp = VJPS[node.op];
    if (!vjp) throw new FlattenError('BAD_ARGUMENT', `backward: no gradient for ONNX op ${node.op}`);
    const need = node.inputs.map((x) => x !== undefined && varies.has(x));
    const dxs = vjp(b, node, dy, need);
    node.inputs.forEach((x, k) => {
      if (x && need[k] && dxs[k]) accumulate(x, dxs[k]!);
    });
  }
  return wrt.map((w) => grads.get(w));
}
