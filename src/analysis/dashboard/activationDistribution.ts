/**
 * One feature's activation distribution, kept in bounded memory while tokens stream past:
 * an exact histogram of its non-zero activations on a fine grid, and a uniform sample of
 * example tokens per activation range (what sae_vis draws its "INTERVAL lo - hi" groups from).
 *
 * sae_vis keeps every activation of a batch of features and bins them at the end; here the
 * range is not known in advance, so the grid covers [0, R] with R a power of two ≥ the largest
 * activation so far. When a larger value arrives, R doubles and neighbouring bins merge (counts
 * add; samples merge as a uniform sample of the union), so counts stay exact on the grid and
 * the last value needs at most R < 2·max: every bin is at most max/(FINE_BINS/2) wide.
 */
import type { ActivationExample } from '../topActivations.js';


/** Bins of the fine grid over [0, R]. */
export const FINE_BINS = 320;
/** Sample cells over [0, R] (each covers FINE_BINS / SAMPLE_CELLS fine bins). */
export const SAMPLE_CELLS = 40;

interface Cell {
  /** Activations seen in this cell's range. */
  n: number;
  /** A uniform sample of at most `perCell` of them. */
  sample: ActivationExample[];
}

export interface IntervalSample {
  readonly lo: number;
  readonly hi: number;
  /** Non-zero activations in [lo, hi] (from the fine grid: bins whose centre lies in the interval). */
  readonly count: number;
  readonly examples: ActivationExample[];
}

export class ActivationDistribution {
  /** Upper end of the grid; 0 until the first non-zero activation. */
  private range = 0;
  private readonly fine = new Float64Array(FINE_BINS);
  private readonly cells: Cell[] = Array.from({ length: SAMPLE_CELLS }, () => ({ n: 0, sample: [] }));
  private nonZero = 0;
  private maxValue = 0;

  constructor(
    private readonly perCell: number,
    private readonly rand: () => number,
  ) {}

  get count(): number {
    return this.nonZero;
  }

  get max(): number {
    return this.maxValue;
  }

  /**
   * Counts a non-zero activation `v`; `example` builds its context window and is called only
   * when the token enters the sample (rarely, once a cell has seen many).
   */
  add(v: number, example: () => ActivationExample): void {
    if (!(v > 0)) return;
    if (this.range === 0) this.range = 2 ** Math.ceil(Math.log2(v));
    while (v > this.range) this.grow();
    this.nonZero++;
    if (v > this.maxValue) this.maxValue = v;
    const b = Math.min(FINE_BINS - 1, Math.floor((v / this.range) * FINE_BINS));
    this.fine[b]!++;
    const cell = this.cells[Math.floor(b / (FINE_BINS / SAMPLE_CELLS))]!;
    cell.n++;
    // reservoir sampling (Algorithm R): each of the n seen so far is in the sample with prob perCell/n
    if (cell.sample.length < this.perCell) cell.sample.push(example());
    else {
      const j = Math.floor(this.rand() * cell.n);
      if (j < this.perCell) cell.sample[j] = example();
    }
  }

  /** Doubles the range: bins 2i and 2i+1 become bin i; cells likewise. */
  private grow(): void {
    for (let i = 0; i < FINE_BINS / 2; i++) this.fine[i] = this.fine[2 * i]! + this.fine[2 * i + 1]!;
    this.fine.fill(0, FINE_BINS / 2);
    for (let i = 0; i < SAMPLE_CELLS / 2; i++) this.cells[i] = this.mergeCells(this.cells[2 * i]!, this.cells[2 * i + 1]!);
    for (let i = SAMPLE_CELLS / 2; i < SAMPLE_CELLS; i++) this.cells[i] = { n: 0, sample: [] };
    this.range *= 2;
  }

  /**
   * A uniform sample of the union of two cells from their uniform samples: draw without
   * replacement from the two populations (probability ∝ what is left of each), taking a
   * random not-yet-taken member of that side's sample.
   */
  private mergeCells(a: Cell, b: Cell): Cell {
    const sa = a.sample.slice(), sb = b.sample.slice();
    let ra = a.n, rb = b.n;
    const out: ActivationExample[] = [];
    while (out.length < this.perCell && (sa.length > 0 || sb.length > 0)) {
      const fromA = sb.length === 0 || (sa.length > 0 && this.rand() * (ra + rb) < ra);
      const src = fromA ? sa : sb;
      const j = Math.floor(this.rand() * src.length);
      out.push(src[j]!);
      src.splice(j, 1);
      if (fromA) ra--;
      else rb--;
    }
    return { n: a.n + b.n, sample: out };
  }

  /**
   * Histogram of the non-zero activations with about `bins` equal bins over [0, top], top the
   * end of the first fine bin holding the maximum: fine bins grouped `g` at a time.
   */
  histogram(bins: number): { edges: number[]; counts: number[] } {
    if (this.nonZero === 0) return { edges: [0, 1], counts: [0] };
    const w = this.range / FINE_BINS;
    const last = Math.min(FINE_BINS - 1, Math.floor(this.maxValue / w));
    const g = Math.max(1, Math.ceil((last + 1) / bins));
    const nb = Math.ceil((last + 1) / g);
    const counts = new Array<number>(nb).fill(0);
    for (let i = 0; i <= last; i++) counts[Math.floor(i / g)]! += this.fine[i]!;
    const edges = Array.from({ length: nb + 1 }, (_, i) => i * g * w);
    return { edges, counts };
  }

  /**
   * `n` equal intervals [lo, hi) of [0, max] (the top one closed; highest first, as sae_vis lists
   * them), each with up to `k` examples drawn uniformly from the tokens whose activation lies in it (zero activations are
   * never drawn: they carry no information about the feature).
   */
  intervals(n: number, k: number): IntervalSample[] {
    if (this.nonZero === 0) return [];
    const w = this.range / FINE_BINS;
    const perCellBins = FINE_BINS / SAMPLE_CELLS;
    const out: IntervalSample[] = [];
    for (let i = n - 1; i >= 0; i--) {
      const lo = (this.maxValue * i) / n;
      const hi = (this.maxValue * (i + 1)) / n;
      let count = 0;
      for (let b = 0; b < FINE_BINS; b++) {
        const c = (b + 0.5) * w;
        if (c >= lo && (c < hi || i === n - 1)) count += this.fine[b]!;
      }
      // candidates: sampled tokens inside [lo, hi], each standing for n_cell / |sample| tokens
      const pool: { ex: ActivationExample; weight: number }[] = [];
      const c0 = Math.max(0, Math.floor(lo / w / perCellBins));
      const c1 = Math.min(SAMPLE_CELLS - 1, Math.floor(hi / w / perCellBins));
      for (let c = c0; c <= c1; c++) {
        const cell = this.cells[c]!;
        for (const ex of cell.sample) {
          if (ex.value >= lo && (ex.value < hi || i === n - 1)) pool.push({ ex, weight: cell.n / cell.sample.length });
        }
      }
      const examples: ActivationExample[] = [];
      while (examples.length < k && pool.length > 0) {
        const total = pool.reduce((s, p) => s + p.weight, 0);
        let r = this.rand() * total;
        let j = 0;
        while (j < pool.length - 1 && r >= pool[j]!.weight) r -= pool[j++]!.weight;
        examples.push(pool[j]!.ex);
        pool.splice(j, 1);
      }
      examples.sort((a, b) => b.value - a.value);
      out.push({ lo, hi, count, examples });
    }
    return out;
  }
}
