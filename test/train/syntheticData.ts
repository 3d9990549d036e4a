/**
 * Test helper: the synthetic activations of scripts/reference/sae_reference.py (SyntheticActs),
 * reproduced bit-for-bit (mulberry32 integer PRNG, float64 sums in the same order, then float32).
 */
export class Mulberry32 {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1) >>> 0;
    t = ((t + Math.imul(t ^ (t >>> 7), t | 61)) >>> 0) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export class SyntheticActs {
  private readonly g: Mulberry32;
  private readonly mu: number[];
  private readonly D: number[][];
  constructor(seed: number, readonly dIn = 16, readonly nTrue = 24) {
    this.g = new Mulberry32(seed);
    this.mu = Array.from({ length: dIn }, () => (this.g.next() - 0.5) * 2.0);
    this.D = Array.from({ length: nTrue }, () => Array.from({ length: dIn }, () => this.g.next() * 2.0 - 1.0));
  }
  /** n rows, row-major float32. */
  batch(n: number): Float32Array {
    const out = new Float32Array(n * this.dIn);
    for (let b = 0; b < n; b++) {
      const row = [...this.mu];
      for (let k = 0; k < this.nTrue; k++) {
        const u = this.g.next();
        const u2 = this.g.next();
        if (u > 0.85) {
          const c = 3.0 * u2;
          const dk = this.D[k]!;
          for (let j = 0; j < this.dIn; j++) row[j] = row[j]! + c * dk[j]!;
        }
      }
      for (let j = 0; j < this.dIn; j++) row[j] = row[j]! + 0.05 * (this.g.next() - 0.5);
      out.set(row, b * this.dIn);
    }
    return out;
  }
}

/**
 * The transcoder data of scripts/reference/transcoder_reference.py (SyntheticPairs), bit-for-bit:
 * x = mu + Σ_k c_k D_k + noise, y = nu + Σ_k c_k E_k + noise, the same sparse codes
 * (c_k = 3·u' with probability 0.15) through two dictionaries; float64 sums, then float32.
 */
export class SyntheticPairs {
  private readonly g: Mulberry32;
  private readonly mu: number[];
  private readonly nu: number[];
  /** The input and output dictionaries, [nTrue][dIn] and [nTrue][dOut]. */
  readonly D: number[][];
  readonly E: number[][];
  constructor(seed: number, readonly dIn: number, readonly dOut: number, readonly nTrue: number) {
    this.g = new Mulberry32(seed);
    this.mu = Array.from({ length: dIn }, () => (this.g.next() - 0.5) * 2.0);
    this.nu = Array.from({ length: dOut }, () => (this.g.next() - 0.5) * 2.0);
    this.D = Array.from({ length: nTrue }, () => Array.from({ length: dIn }, () => this.g.next() * 2.0 - 1.0));
    this.E = Array.from({ length: nTrue }, () => Array.from({ length: dOut }, () => this.g.next() * 2.0 - 1.0));
  }
  /** n rows of x [n, dIn] and y [n, dOut], row-major float32. */
  batch(n: number): { x: Float32Array; y: Float32Array } {
    const xs = new Float32Array(n * this.dIn);
    const ys = new Float32Array(n * this.dOut);
    for (let b = 0; b < n; b++) {
      const x = [...this.mu];
      const y = [...this.nu];
      for (let k = 0; k < this.nTrue; k++) {
        const u = this.g.next();
        const u2 = this.g.next();
        if (u > 0.85) {
          const c = 3.0 * u2;
          for (let j = 0; j < this.dIn; j++) x[j] = x[j]! + c * this.D[k]![j]!;
          for (let j = 0; j < this.dOut; j++) y[j] = y[j]! + c * this.E[k]![j]!;
        }
      }
      for (let j = 0; j < this.dIn; j++) x[j] = x[j]! + 0.05 * (this.g.next() - 0.5);
      for (let j = 0; j < this.dOut; j++) y[j] = y[j]! + 0.05 * (this.g.next() - 0.5);
      xs.set(x, b * this.dIn);
      ys.set(y, b * this.dOut);
    }
    return { x: xs, y: ys };
  }
}
