import { FlattenError } from '../../../core/errors.js';
import type { Graph, GraphNode, Value } from '../graph.js';
import { GradBuilder, same, type Vjp } from './builder.js';
import { conv } from './conv.js';
import { elementwise } from './elementwise.js';
import { matmul } from './matmul.js';
import { nchwc } from './nchwc.js';
import { norm } from './norm.js';
import { reduce } from './reduce.js';
import { shape } from './shape.js';

/** One VJP per forward op type, by ONNX op name (`<domain>.<op>` outside the default domain). */
export const VJPS: Record<string, Vjp> = { ...elementwise, ...reduce, ...matmul, ...conv, ...norm, ...shape, ...nchwc };

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
  // gradients of slices of a value (q, k, v of one qkv; a cls token and the rest), kept apart until all of its
  // readers are done: slabs that tile an axis become one Concat instead of a zero-padded copy each plus their sum
  const slabs = new Map<Value, Slab[]>();
  const gradOf = (v: Value) => {
    const parts = slabs.get(v);
    if (parts) {
      slabs.delete(v);
      for (const d of joinSlabs(b, v, parts)) accumulate(v, d);
    }
    return grads.get(v);
  };
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    const dy = gradOf(node.output);
    if (!dy || !varies.has(node.output)) continue;
    grads.delete(node.output);
    const slab = node.op === 'Slice' && varies.has(node.inputs[0]!) ? sliceSlab(node, dy) : undefined;
    if (slab) {
      const x = node.inputs[0]!;
      slabs.set(x, [...(slabs.get(x) ?? []), slab]);
      continue;
    }
    const op = node.domain ? `${node.domain}.${node.op}` : node.op;
    const vjp = VJPS[op];
    if (!vjp) throw new FlattenError('BAD_ARGUMENT', `backward: no gradient for ONNX op ${op}`);
    const need = node.inputs.map((x) => x !== undefined && varies.has(x));
    const dxs = vjp(b, node, dy, need);
    node.inputs.forEach((x, k) => {
      if (x && need[k] && dxs[k]) accumulate(x, dxs[k]!);
    });
  }
  return wrt.map((w) => gradOf(w));
}

/** The gradient of one Slice's output: its input's elements [start, end) along `axis`. */
interface Slab {
  axis: number;
  start: number;
  end: number;
  d: Value;
}

/** A Slice along one axis with step 1, as a slab of its input; undefined for other slices (Pad VJP). */
function sliceSlab(node: GraphNode, dy: Value): Slab | undefined {
  const x = node.inputs[0]!;
  const [starts, ends, axes, steps] = node.inputs.slice(1).map((v) => v?.ints);
  if (!starts || !ends || !axes || starts.length !== 1 || steps?.some((s) => s !== 1)) return undefined;
  const axis = axes[0] < 0 ? axes[0] + x.shape.length : axes[0];
  const d = x.shape[axis];
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
  return { axis, start: clamp(starts[0]), end: clamp(ends[0]), d: dy };
}

/**
 * The slabs' gradients as tensors of v's shape: one Concat when they tile one axis of v exactly, else each
 * zero-padded to v's shape (the Slice VJP).
 */
function joinSlabs(b: GradBuilder, v: Value, parts: Slab[]): Value[] {
  const sorted = [...parts].sort((p, q) => p.start - q.start);
  const tiles =
    sorted.every((p) => p.axis === sorted[0].axis) &&
    sorted[0].start === 0 &&
    sorted[sorted.length - 1].end === v.shape[sorted[0].axis] &&
    sorted.every((p, i) => i === 0 || p.start === sorted[i - 1].end);
  if (tiles)
    return [
      sorted.length === 1
        ? sorted[0].d
        : b.emit(
            'Concat',
            sorted.map((p) => p.d),
            v.shape,
            { axis: sorted[0].axis },
          ),
    ];
  return parts.map((p) => {
    const pads = new Array<number>(2 * v.shape.length).fill(0);
    pads[p.axis] = p.start;
    pads[v.shape.length + p.axis] = v.shape[p.axis] - p.end;
    return b.emit('Pad', [p.d, b.ints(pads)], v.shape, { mode: 'constant' });
  });
}
