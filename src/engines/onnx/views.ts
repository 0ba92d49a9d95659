import type { Tensor } from '../../ops/ops.js';
import { sizeOf, type Dense } from './fold.js';
import type { Graph, Value } from './graph.js';
import { canonical, isPlain, plainLayout, rowTail, withLastAxis, type Layout } from './layout.js';

/**
 * A tensor whose reshapes and transposes no node has needed yet: model code sees `shape`, the graph
 * holds `of`, and `layout` says how one reads as the other.
 */
export interface View {
  readonly shape: number[];
  readonly of: Value;
  readonly layout: Layout;
}
/** What an `OnnxOps` tensor is: a graph value, or a pending layout of one. */
export type Handle = Value | View;
export type Constant = Value & { data: Float32Array };

export const h = (x: Tensor): Handle => x as unknown as Handle;
export const t = (x: Handle): Tensor => x as unknown as Tensor;
export const isView = (x: Handle): x is View => 'of' in x;
/** The graph value a handle reads. */
export const phys = (x: Handle): Value => (isView(x) ? x.of : x);
export const layoutOf = (x: Handle): Layout => (isView(x) ? x.layout : plainLayout(x.shape));
export const isConst = (x: Handle): x is Constant => !isView(x) && x.data !== undefined;
export const dense = (x: Value): Dense => ({ shape: x.shape, data: x.data! });
export const last = (s: readonly number[]) => s[s.length - 1];
export const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);
export const axisOf = (rank: number, a: number) => (a < 0 ? a + rank : a);

/** A tensor as rows of its logical last axis: `p` holds them contiguously, `k` source axes make up a row. */
export interface Rows {
  p: Value;
  k: number;
  layout: Layout;
}

/**
 * The pending layouts of one graph, and the nodes that make them real. Chains of reshapes and transposes
 * cost at most one Transpose, made once per source and layout; row-wise consumers read the stored rows
 * whatever order they are in.
 */
export class Views {
  /** Nodes already emitted for a layout, by source value and layout. */
  private readonly cache = new Map<string, Value>();
  constructor(readonly g: Graph) {}

  /** `of` read through `layout`; a plain layout of the stored shape is `of` itself. */
  view(of: Value, layout: Layout): Tensor {
    return t(isPlain(layout) && same(layout.shape, of.shape) ? of : { shape: layout.shape, of, layout });
  }

  /** The tensor in its logical shape: the pending layout becomes Reshape → Transpose → Reshape, each only if needed. */
  real(x: Tensor): Value {
    const X = this.settle(h(x));
    return isView(X) ? this.reshaped(X.of, X.shape) : X;
  }

  /**
   * Carry out a layout's transposition, leaving only a plain reshape pending: the smallest Transpose of
   * the source split into its canonical axes, once per source and layout.
   */
  settle(x: Handle): Handle {
    if (!isView(x)) return x;
    const c = canonical(x.layout);
    if (isPlain(c)) return x;
    const key = `T${x.of.id}:${c.dims}:${c.perm}`;
    let r = this.cache.get(key);
    if (!r) {
      const src = this.reshaped(x.of, c.dims);
      this.cache.set(
        key,
        (r = this.g.emit(
          'Transpose',
          [src],
          c.perm.map((i) => c.dims[i]),
          { perm: c.perm },
        )),
      );
    }
    return h(this.view(r, plainLayout(x.shape)));
  }

  /** Whether the tensor a layout stands for already exists, or costs no Transpose. */
  cheap(of: Value, l: Layout): boolean {
    const c = canonical(l);
    return isPlain(c) || this.cache.has(`T${of.id}:${c.dims}:${c.perm}`);
  }

  /** `v` as `shape`: one Reshape node per source and shape, and a reshape of a reshape is one reshape. */
  reshaped(v: Value, shape: number[]): Value {
    const src = v.producer?.op === 'Reshape' ? v.producer.inputs[0]! : v;
    if (same(src.shape, shape)) return src;
    const key = `R${src.id}:${shape}`;
    let r = this.cache.get(key);
    if (!r)
      this.cache.set(
        key,
        (r = this.g.emit('Reshape', [src, this.g.ints(this.reshapeTarget(src.shape, shape))], shape)),
      );
    return r;
  }

  /** The int64 target of a Reshape: static sizes, with −1 on the one axis that carries the batch. */
  private reshapeTarget(from: number[], to: number[]): number[] {
    const batched = to.filter((d) => this.g.isBatchDim(d)).length;
    if (batched > 1 || (batched === 0 && from.some((d) => this.g.isBatchDim(d)))) {
      throw new Error(
        `reshape (${this.g.exportShape(from)}) → (${this.g.exportShape(to)}) mixes the batch with other axes; this model cannot export with a dynamic batch`,
      );
    }
    return to.map((d) => (this.g.isBatchDim(d) ? -1 : d));
  }

  /** The stored rows of `x`, when its logical rows are contiguous there (whatever order the rows are in). */
  rows(x: Handle, twoD = false): Rows | undefined {
    const layout = layoutOf(x);
    const k = rowTail(layout);
    if (k === undefined) return undefined;
    const c = last(x.shape);
    const of = phys(x);
    const p = !twoD && last(of.shape) === c ? of : this.reshaped(of, [sizeOf(of.shape) / c, c]);
    return { p, k, layout };
  }
  /** Rows of `x`, transposing it when they are not contiguous. */
  rowsOrReal(x: Handle, twoD = false): Rows {
    return this.rows(x, twoD) ?? this.rows(this.settle(x), twoD)!;
  }
  /** The result of a row-wise op on `r`'s rows, in the input's row order. */
  fromRows(r: Rows, y: Value): Tensor {
    return this.view(y, withLastAxis(r.layout, r.k, last(y.shape)));
  }
}
