import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/rng.js';
import * as F from '../../src/engines/onnx/fold.js';
import {
  canonical,
  plainLayout,
  reshapeLayout,
  rowTail,
  transposeLayout,
  type Layout,
} from '../../src/engines/onnx/layout.js';

/** What a layout stands for, computed the way the engine emits it: Reshape → Transpose → Reshape. */
function realize(src: F.Dense, l: Layout): F.Dense {
  const c = canonical(l);
  const t = F.transpose({ shape: c.dims, data: src.data }, c.perm);
  return { shape: l.shape, data: t.data };
}

/** A random factorization of n into up to `parts` factors (1s included). */
function factorize(n: number, parts: number, rand: () => number): number[] {
  const out: number[] = [];
  let rest = n;
  for (let i = 0; i < parts - 1; i++) {
    const divs = [...Array(rest).keys()].map((d) => d + 1).filter((d) => rest % d === 0);
    const d = divs[Math.floor(rand() * divs.length)];
    out.push(d);
    rest /= d;
  }
  out.push(rest);
  return out;
}

describe('layout algebra', () => {
  it('any chain of reshapes and transposes composes into one layout with the same values', () => {
    const rand = mulberry32(7);
    for (let trial = 0; trial < 300; trial++) {
      const n = [24, 36, 48, 60, 96, 120][trial % 6];
      const shape = factorize(n, 2 + Math.floor(rand() * 3), rand);
      const src: F.Dense = { shape, data: Float32Array.from({ length: n }, (_, i) => i) };
      let ref = src;
      let l = plainLayout(shape);
      let base = src;
      for (let step = 0; step < 6; step++) {
        if (rand() < 0.5) {
          const target = factorize(n, 1 + Math.floor(rand() * 4), rand);
          ref = { shape: target, data: ref.data };
          const next = reshapeLayout(l, target);
          if (next) l = next;
          else {
            // not expressible: the engine transposes first, then reshapes freely
            base = realize(base, l);
            l = plainLayout(target);
          }
        } else {
          const p = [...ref.shape.keys()].sort(() => rand() - 0.5);
          ref = F.transpose(ref, p);
          l = transposeLayout(l, p);
        }
        const got = realize(base, l);
        expect(got.shape).toEqual(ref.shape);
        expect(Array.from(got.data)).toEqual(Array.from(ref.data));
      }
    }
  });

  it('row-wise ops see through row reorders, not through moves of the last axis', () => {
    // (B, H, W, C) → (B, 2, 7, 2, 7, C) → windows: rows are moved, never cut
    const win = transposeLayout(reshapeLayout(plainLayout([1, 14, 14, 8]), [1, 2, 7, 2, 7, 8])!, [0, 1, 3, 2, 4, 5]);
    expect(rowTail(reshapeLayout(win, [4, 49, 8])!)).toBe(1);
    // (B, N, h, d) → (B, h, N, d): rows of d are still contiguous in the source
    expect(rowTail(transposeLayout(plainLayout([1, 49, 2, 4]), [0, 2, 1, 3]))).toBe(1);
    // tokens ↔ channels: each logical row is strided in the source
    expect(rowTail(transposeLayout(plainLayout([1, 49, 8]), [0, 2, 1]))).toBeUndefined();
  });
});
