/** VJPs of the ops that move elements without computing: reshapes, transposes, slices, concats, gathers. */
import { FlattenError } from '../../../core/errors.js';
import { axisOf, intsOf, type Vjp } from './builder.js';

/** Above this many elements the one-hot matrix of a repeating Gather's gradient is not worth storing. */
const ONE_HOT_LIMIT = 1 << 22;

export const shape: Record<string, Vjp> = {
  Reshape: (b, n, dy) => [b.reshape(dy, n.inputs[0]!.shape)],
  // y = xᵀ with perm p: dx = dyᵀ with p's inverse
  Transpose: (b, n, dy) => {
    const perm = n.attrs!.perm as number[];
    return [
      b.transpose(
        dy,
        perm.map((_, i) => perm.indexOf(i)),
      ),
    ];
  },
  Expand: (b, n, dy) => [b.sumTo(dy, n.inputs[0]!.shape)],
  // y = x[starts:ends] on `axes` (step 1): dx = dy padded with zeros back to x's shape
  Slice: (b, n, dy) => {
    const x = n.inputs[0]!;
    const r = x.shape.length;
    if (n.inputs[4]?.ints?.some((s) => s !== 1))
      throw new FlattenError('BAD_ARGUMENT', 'backward: Slice with a step (the trace writes none)');
    const [starts, ends] = [intsOf(n, 1), intsOf(n, 2)];
    const axes = n.inputs[3] ? intsOf(n, 3) : starts.map((_, i) => i);
    const pads = new Array(2 * r).fill(0);
    axes.forEach((a0, i) => {
      const a = axisOf(r, a0);
      const d = x.shape[a];
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      pads[a] = clamp(starts[i]);
      pads[r + a] = d - clamp(ends[i]);
    });
    return [b.emit('Pad', [dy, b.ints(pads)], x.shape, { mode: 'constant' })];
  },
  // y = x padded with constants (pads = begins…, ends…): dx = dy's interior
  Pad: (b, n, dy) => {
    const x = n.inputs[0]!;
    if ((n.attrs?.mode ?? 'constant') !== 'constant' || n.inputs[3])
      throw new FlattenError('BAD_ARGUMENT', 'backward: Pad other than constant on all axes (the trace writes none)');
    const begins = intsOf(n, 1).slice(0, x.shape.length);
    const axes = [...x.shape.keys()];
    return [b.emit('Slice', [dy, b.ints(begins), b.ints(begins.map((s, i) => s + x.shape[i])), b.ints(axes)], x.shape)];
  },
  // y = [x₀, x₁, …] on `axis`: dxᵢ = dy's slab of xᵢ
  Concat: (b, n, dy, need) => {
    const ax = axisOf(dy.shape.length, n.attrs!.axis as number);
    let at = 0;
    return n.inputs.map((x, i) => {
      const [s, e] = [at, (at += x!.shape[ax])];
      if (!need[i]) return undefined;
      return b.emit('Slice', [dy, b.ints([s]), b.ints([e]), b.ints([ax])], x!.shape);
    });
  },
  /**
   * y = x[idx] on `axis`, idx (L) constant, x (…, n, …), y and dy (…, L, …). A permutation (Swin's roll) is
   * undone by the inverse Gather. Indices that repeat (a relative position table) add up their rows: dy's axis
   * moved last times the (L, n) one-hot matrix of idx, dx (…, n) moved back.
   */
  Gather: (b, node, dy) => {
    const x = node.inputs[0]!;
    const idx = intsOf(node, 1);
    const r = x.shape.length;
    const ax = axisOf(r, (node.attrs?.axis as number) ?? 0);
    const n = x.shape[ax];
    const rank = node.inputs[1]!.shape.length;
    if (rank !== 1) throw new FlattenError('BAD_ARGUMENT', 'backward: Gather with indices of rank ≠ 1');
    const inverse = new Array<number>(n).fill(-1);
    idx.forEach((v, i) => (inverse[v < 0 ? v + n : v] = inverse[v < 0 ? v + n : v] === -1 ? i : -2));
    if (idx.length === n && inverse.every((v) => v >= 0))
      return [b.emit('Gather', [dy, b.ints(inverse)], x.shape, { axis: ax })];
    if (idx.length * n > ONE_HOT_LIMIT)
      throw new FlattenError(
        'BAD_ARGUMENT',
        `backward: Gather of ${idx.length} from ${n} rows is too large to scatter`,
      );
    const oneHot = new Float32Array(idx.length * n);
    idx.forEach((v, i) => (oneHot[i * n + (v < 0 ? v + n : v)] = 1));
    const toLast = [...Array(r).keys()].filter((i) => i !== ax).concat(ax);
    const moved = b.transpose(dy, toLast); // (…, L)
    const summed = b.matmul(moved, b.g.constant([idx.length, n], oneHot, `gather_grad(${idx.length}→${n})`)); // (…, n)
    return [
      b.transpose(
        summed,
        toLast.map((_, i) => toLast.indexOf(i)),
      ),
    ];
  },
};
