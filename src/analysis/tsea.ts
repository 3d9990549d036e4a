/**
 * Token set enrichment analysis (SAELens v1.5 `analysis/tsea.py`): for a feature, sort the
 * vocabulary by the feature's logit weight `W_dec[f] · W_U` (largest first) and walk down it,
 * adding 1/|S| at each token of the set S and subtracting 1/(V − |S|) at each other token; the
 * enrichment score is the largest |running sum| (a Kolmogorov–Smirnov statistic, as in gene set
 * enrichment analysis). 1 means the set's tokens are exactly the feature's top (or bottom)
 * tokens; SAELens plots −log(1 − score).
 *
 * SAELens builds the full [sets, features, vocab] running sums in float32. Here, the running sum
 * only rises at a hit and falls between hits, so its extremes sit at the hits and just before
 * them: one walk down the sorted vocabulary per feature serves every set, in float64.
 * Ties in the weights are broken by token id (a stable sort), which torch's default sort does not
 * promise.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { decoderLogitProjection } from './featureStatistics.js';
import type { TokenSets } from './tokenSets.js';

export interface EnrichmentScores {
  readonly setNames: readonly string[];
  readonly features: readonly number[];
  /** `[set][feature]` row-major: `scores[s * features.length + j]`. */
  readonly scores: Float64Array;
}

/**
 * Token ids of a row ordered by value, largest first, ties by id. Float32 rows use a stable
 * two-pass radix sort on order-preserving keys of the float bits (about twice as fast as a
 * comparator sort on a 50k vocabulary); float64 rows a comparator sort.
 */
class RowOrder {
  readonly order: Int32Array;
  private readonly keys: Uint32Array;
  private readonly tmpKeys: Uint32Array;
  private readonly tmpIds: Int32Array;
  private readonly counts = new Uint32Array(65537);

  constructor(private readonly n: number) {
    this.order = new Int32Array(n);
    this.keys = new Uint32Array(n);
    this.tmpKeys = new Uint32Array(n);
    this.tmpIds = new Int32Array(n);
  }

  sort(row: Float32Array | Float64Array): Int32Array {
    const n = this.n;
    if (row instanceof Float64Array) {
      const o = this.order;
      for (let i = 0; i < n; i++) o[i] = i;
      o.sort((a, b) => row[b]! - row[a]! || a - b);
      return o;
    }
    const bits = new Uint32Array(row.buffer, row.byteOffset, n);
    let ka = this.keys;
    let kb = this.tmpKeys;
    let ia = this.order;
    let ib = this.tmpIds;
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      // ascending key of the float (negatives flipped), then complemented: ascending = largest first
      const asc = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
      ka[i] = ~asc >>> 0;
      ia[i] = i;
    }
    for (let shift = 0; shift < 32; shift += 16) {
      const cnt = this.counts;
      cnt.fill(0);
      for (let i = 0; i < n; i++) cnt[((ka[i]! >>> shift) & 0xffff) + 1]!++;
      for (let i = 0; i < 65536; i++) cnt[i + 1]! += cnt[i]!;
      for (let i = 0; i < n; i++) {
        const p = cnt[(ka[i]! >>> shift) & 0xffff]!++;
        kb[p] = ka[i]!;
        ib[p] = ia[i]!;
      }
      [ka, kb] = [kb, ka];
      [ia, ib] = [ib, ia];
    }
    // two passes: the result is back in this.order / this.keys
    return ia;
  }
}

/**
 * Enrichment scores of each set for each feature, from the features' logit-weight rows
 * (`rows` is `[features.length, vocab]` row-major, e.g. from `decoderLogitProjection`).
 */
export function enrichmentScoresFromRows(rows: Float32Array | Float64Array, vocab: number, features: readonly number[], sets: TokenSets): EnrichmentScores {
  if (rows.length !== features.length * vocab) {
    throw new ShapeError(`enrichmentScores: ${rows.length} projection values for ${features.length} features × vocab ${vocab}`);
  }
  const setNames = [...sets.keys()];
  const nS = setNames.length;
  const hit = new Float64Array(nS);
  const miss = new Float64Array(nS);
  // token -> the sets it belongs to (CSR), so one walk down the sorted vocabulary serves all sets
  const perToken = new Uint32Array(vocab + 1);
  setNames.forEach((name, s) => {
    const ids = sets.get(name)!;
    for (const id of ids) {
      if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new ShapeError(`token set "${name}": token id ${id} is outside the vocabulary (size ${vocab})`);
      perToken[id + 1]!++;
    }
    if (ids.size === 0 || ids.size === vocab) {
      throw new ConfigError(`token set "${name}" has ${ids.size} of ${vocab} tokens: an enrichment score needs a set that is neither empty nor the whole vocabulary`);
    }
    hit[s] = 1 / ids.size;
    miss[s] = 1 / (vocab - ids.size);
  });
  for (let i = 0; i < vocab; i++) perToken[i + 1]! += perToken[i]!;
  const setOf = new Uint32Array(perToken[vocab]!);
  const fill = perToken.slice(0, vocab);
  setNames.forEach((name, s) => {
    for (const id of sets.get(name)!) setOf[fill[id]!++] = s;
  });

  const nF = features.length;
  const scores = new Float64Array(nS * nF);
  const sorter = new RowOrder(vocab);
  const hits = new Float64Array(nS);
  const best = new Float64Array(nS);
  for (let j = 0; j < nF; j++) {
    const order = sorter.sort(rows.subarray(j * vocab, (j + 1) * vocab));
    hits.fill(0);
    best.fill(0);
    // The running sum rises only at a hit and falls between hits: its extremes are at a hit
    // (k + 1 hits, p − k misses) and just before it (k hits, p − k misses; an entry when p > 0).
    for (let p = 0; p < vocab; p++) {
      const tok = order[p]!;
      for (let q = perToken[tok]!, e = perToken[tok + 1]!; q < e; q++) {
        const s = setOf[q]!;
        const k = hits[s]!;
        const down = (p - k) * miss[s]!;
        const at = Math.abs((k + 1) * hit[s]! - down);
        const before = p > 0 ? Math.abs(k * hit[s]! - down) : 0;
        const m = at > before ? at : before;
        if (m > best[s]!) best[s] = m;
        hits[s] = k + 1;
      }
    }
    for (let s = 0; s < nS; s++) scores[s * nF + j] = best[s]!;
  }
  return { setNames, features: [...features], scores };
}

/**
 * TSEA of the chosen features of an SAE: their logit weights `W_dec[f] · W_U` (in chunks),
 * then the enrichment score of every token set. `wDec` `[d_sae, d_in]`, `wU` `[d_in, vocab]`.
 */
export function enrichmentScores(
  wDec: tf.Tensor,
  wU: tf.Tensor,
  features: readonly number[],
  sets: TokenSets,
  opts: { chunkFeatures?: number } = {},
): EnrichmentScores {
  const vocab = wU.shape[1]!;
  const step = opts.chunkFeatures ?? 64;
  const setNames = [...sets.keys()];
  const scores = new Float64Array(setNames.length * features.length);
  for (let s = 0; s < features.length; s += step) {
    const fs = features.slice(s, s + step);
    const part = enrichmentScoresFromRows(decoderLogitProjection(wDec, wU, fs), vocab, fs, sets);
    for (let i = 0; i < setNames.length; i++) {
      for (let j = 0; j < fs.length; j++) scores[i * features.length + s + j] = part.scores[i * fs.length + j]!;
    }
  }
  return { setNames, features: [...features], scores };
}

/** SAELens's plotted value: −log(1 − score) (∞ when the score is 1). */
export function enrichmentToLogScale(score: number): number {
  return -Math.log(1 - score);
}

/** The `k` features with the highest score for one set, best first (ties by feature order). */
export function topFeaturesForSet(es: EnrichmentScores, setName: string, k = 5): Array<{ feature: number; score: number }> {
  const s = es.setNames.indexOf(setName);
  if (s < 0) throw new ConfigError(`no token set "${setName}" in the enrichment scores (have: ${es.setNames.join(', ')})`);
  const n = es.features.length;
  return es.features
    .map((feature, j) => ({ feature, score: es.scores[s * n + j]!, j }))
    .sort((a, b) => b.score - a.score || a.j - b.j)
    .slice(0, k)
    .map(({ feature, score }) => ({ feature, score }));
}
