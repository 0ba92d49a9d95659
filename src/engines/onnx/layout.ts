/**
 * Layout algebra of pending reshapes and transposes. A layout reads a source tensor as: its elements
 * split row-major into `dims`, those axes permuted by `perm`, the result viewed as `shape`. Any chain of
 * reshapes and transposes composes into one layout, which costs at most Reshape → Transpose → Reshape
 * when a node finally needs the tensor, and nothing at all for row-wise consumers when the last axis
 * is untouched (a Gemm does not care in which order its rows are stored).
 */
export interface Layout {
  /** Row-major split of the source; no 1s. */
  readonly dims: number[];
  /** Logical order of the split axes. */
  readonly perm: number[];
  /** The logical shape: consecutive runs of the permuted dims (1s allowed anywhere). */
  readonly shape: number[];
}

const iota = (n: number) => [...Array(n).keys()];

export function plainLayout(shape: number[]): Layout {
  const dims = shape.filter((d) => d !== 1);
  return { dims, perm: iota(dims.length), shape: [...shape] };
}

export const isPlain = (l: Layout) => l.perm.every((p, i) => p === i);

/** For each logical axis, its run [start, end) of positions in `perm` (empty for size-1 axes). */
export function groups(l: Layout): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  for (const d of l.shape) {
    const start = pos;
    let prod = 1;
    while (prod < d) prod *= l.dims[l.perm[pos++]];
    if (prod !== d) throw new Error(`layout: (${l.shape}) is not a grouping of (${l.perm.map((p) => l.dims[p])})`);
    out.push([start, pos]);
  }
  return out;
}

/** Split source axis perm[pos] into (outer, inner), keeping both in place in the logical order. */
function split(dims: number[], perm: number[], pos: number, outer: number): void {
  const f = perm[pos];
  dims.splice(f, 1, outer, dims[f] / outer);
  for (let i = 0; i < perm.length; i++) if (perm[i] > f) perm[i]++;
  perm.splice(pos, 1, f, f + 1);
}

/** The layout read as `target` instead, or undefined when its axes cut across the permuted ones. */
export function reshapeLayout(l: Layout, target: number[]): Layout | undefined {
  if (isPlain(l)) return plainLayout(target);
  const dims = [...l.dims];
  const perm = [...l.perm];
  const t = target.filter((d) => d !== 1);
  // common refinement of the permuted dims and the target, splitting permuted dims where needed
  let i = 0;
  for (const want of t) {
    let b = want;
    while (b > 1) {
      const a = dims[perm[i]];
      if (a === b) {
        i++;
        b = 1;
      } else if (a > b) {
        if (a % b) return undefined;
        split(dims, perm, i, b);
        i++;
        b = 1;
      } else {
        if (b % a) return undefined;
        b /= a;
        i++;
      }
    }
  }
  return { dims, perm, shape: [...target] };
}

export function transposeLayout(l: Layout, p: number[]): Layout {
  const g = groups(l);
  return { dims: l.dims, perm: p.flatMap((a) => l.perm.slice(g[a][0], g[a][1])), shape: p.map((a) => l.shape[a]) };
}

/** The same layout with source axes that stay adjacent merged: the smallest Transpose that realizes it. */
export function canonical(l: Layout): Layout {
  const dims = [...l.dims];
  const perm = [...l.perm];
  for (let k = 0; k + 1 < perm.length;) {
    const f = perm[k];
    if (perm[k + 1] !== f + 1) {
      k++;
      continue;
    }
    dims.splice(f, 2, dims[f] * dims[f + 1]);
    perm.splice(k + 1, 1);
    for (let i = 0; i < perm.length; i++) if (perm[i] > f + 1) perm[i]--;
  }
  return { dims, perm, shape: l.shape };
}

/**
 * How many trailing source axes make up the logical last axis, when they are the source's own last axes
 * in order: then each logical row is one contiguous source row and row-wise ops can run on the source.
 */
export function rowTail(l: Layout): number | undefined {
  if (!l.shape.length) return undefined;
  const g = groups(l);
  const [s, e] = g[g.length - 1];
  const k = e - s;
  const n = l.dims.length;
  if (e !== l.perm.length) return undefined;
  for (let i = 0; i < k; i++) if (l.perm[s + i] !== n - k + i) return undefined;
  // a size-1 last axis has no axes of its own: only a plain layout keeps rows in order then
  return k === 0 && !isPlain(l) ? undefined : k;
}

/** The layout of a row-wise op's result: the last axis (k trailing source axes) becomes `size` wide. */
export function withLastAxis(l: Layout, k: number, size: number): Layout {
  const n = l.dims.length - k;
  const dims = l.dims.slice(0, n);
  const perm = l.perm.slice(0, l.perm.length - k);
  if (size !== 1) {
    dims.push(size);
    perm.push(n);
  }
  return { dims, perm, shape: [...l.shape.slice(0, -1), size] };
}

/** Same row order: everything but the last axis agrees. */
export function sameRows(a: Layout, ka: number, b: Layout, kb: number): boolean {
  const eq = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return (
    eq(a.dims.slice(0, a.dims.length - ka), b.dims.slice(0, b.dims.length - kb)) &&
    eq(a.perm.slice(0, a.perm.length - ka), b.perm.slice(0, b.perm.length - kb)) &&
    eq(a.shape.slice(0, -1), b.shape.slice(0, -1))
  );
}

/**
 * The layout of one value per row of `c` elements read like `l` (a row factor of a tensor, with that
 * tensor's layout): the source's trailing axes that make up a row are gone, and the logical axes they
 * formed are size 1. Undefined when the row is not trailing source axes or a logical axis mixes row and
 * other axes.
 */
export function perRowLayout(l: Layout, c: number): Layout | undefined {
  let n = l.dims.length;
  let row = 1;
  while (row < c && n > 0) row *= l.dims[--n];
  if (row !== c) return undefined;
  const shape: number[] = [];
  for (const [i, [s, e]] of groups(l).entries()) {
    const inRow = l.perm.slice(s, e).map((f) => f >= n);
    if (inRow.some((r) => r !== inRow[0])) return undefined;
    shape.push(inRow[0] ? 1 : l.shape[i]);
  }
  return { dims: l.dims.slice(0, n), perm: l.perm.filter((f) => f < n), shape };
}
