/**
 * A serialisable seeded PRNG (mulberry32 over one 32-bit state). Training derives a fresh stream for
 * every (seed, epoch, batch, purpose), so the data order, augmentation and drop-path masks of any step
 * are a pure function of those numbers: resuming mid-epoch replays nothing and skips nothing.
 */
export class Rng {
  constructor(public state: number) {
    this.state >>>= 0;
  }

  /** A stream keyed by integers, mixed with a 32-bit hash so nearby keys give unrelated streams. */
  static derive(...keys: number[]): Rng {
    let h = 0x9e3779b9;
    for (const k of keys) {
      h = Math.imul(h ^ (k >>> 0), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h ^= h >>> 16;
    }
    return new Rng(h);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

/** The same generator as a plain function, for code that only needs uniform draws (random weights, test data). */
export function mulberry32(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}
