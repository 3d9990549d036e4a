import { seededRandom } from '../../sources/documents.js';

/**
 * The seeded generator of the shuffling operators and the toy data: the project's mulberry32
 * (`seededRandom`), plus a permutation in the form `tf.gather` takes. Deterministic across runs
 * and platforms.
 */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
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
}
