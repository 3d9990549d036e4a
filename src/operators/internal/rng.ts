/**
 * A small seeded PRNG (mulberry32) for shuffles and toy data: deterministic across runs and
 * platforms, and its state is one 32-bit integer (easy to checkpoint).
 */
export class Rng {
  private s: number;
  constructor(seed: number) {
    // Mix the seed so that neighbouring seeds (0, 1, 2, …) give unrelated streams.
    this.s = (Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0x6d2b79f5) >>> 0;
  }
  get state(): number {
    return this.s;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
  /** A seed for a child generator, drawn from this one. */
  fork(): number {
    return Math.floor(this.next() * 4294967296) | 0;
  }
}
