/**
 * Top activating examples per feature (the "max activating examples" of SAELens / sae_vis
 * dashboards): for each feature, the k (sequence, position) pairs where it fires hardest, with
 * a window of tokens and of that feature's activations around each.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

export interface ActivationExample {
  /** Sequence index (counted over every batch added so far). */
  readonly batch: number;
  readonly position: number;
  readonly value: number;
  /** Position of `tokens[0]` in its sequence. */
  readonly contextStart: number;
  /** Token ids of the window [position - before, position + after], clipped to the sequence. */
  readonly tokens: readonly number[];
  /** This feature's activation at each token of the window. */
  readonly values: readonly number[];
}

export interface FeatureTopActivations {
  readonly feature: number;
  /** Highest first; ties by (batch, position) ascending. Only activations > minValue. */
  readonly examples: readonly ActivationExample[];
}

export interface TopActivationsOptions {
  /** Features to collect (default: all). */
  readonly features?: readonly number[];
  /** Tokens of context before and after the activating token (default 5 and 3). */
  readonly contextBefore?: number;
  readonly contextAfter?: number;
  /** Only activations strictly above this count (default 0: the feature must fire). */
  readonly minValue?: number;
}

type Tokens = Int32Array | Uint32Array | readonly number[] | readonly (readonly number[])[] | tf.Tensor;

const better = (a: ActivationExample, b: ActivationExample) =>
  a.value !== b.value ? a.value > b.value : a.batch !== b.batch ? a.batch < b.batch : a.position < b.position;

/**
 * Keeps the top k examples per feature across batches. `add` takes feature activations
 * `[batch, seq, dSae]` and the batch's token ids `[batch, seq]`; it does not dispose them.
 */
export class TopActivationsAccumulator {
  private readonly features: number[];
  private readonly best: ActivationExample[][];
  private seqOffset = 0;
  private readonly before: number;
  private readonly after: number;
  private readonly minValue: number;

  constructor(readonly dSae: number, readonly k: number, opts: TopActivationsOptions = {}) {
    if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`topActivations: k must be a positive integer, got ${k}`);
    this.features = opts.features ? [...opts.features] : Array.from({ length: dSae }, (_, i) => i);
    for (const f of this.features) {
      if (!(Number.isInteger(f) && f >= 0 && f < dSae)) throw new RangeError(`topActivations: feature ${f} is not in [0, ${dSae})`);
    }
    this.before = opts.contextBefore ?? 5;
    this.after = opts.contextAfter ?? 3;
    this.minValue = opts.minValue ?? 0;
    this.best = this.features.map(() => []);
  }

  add(featureActs: tf.Tensor, tokens: Tokens): this {
    const shape = featureActs.shape;
    if (shape.length !== 3 || shape[2] !== this.dSae) {
      throw new ShapeError(`topActivations: feature activations must be [batch, seq, d_sae=${this.dSae}], got [${shape.join(', ')}]`);
    }
    const [nb, seq] = shape as [number, number, number];
    const tok = flatTokens(tokens, nb, seq);
    const acts = featureActs.dataSync() as Float32Array;
    const d = this.dSae;
    // rows outer, features inner: reads the activations in memory order; `floor` is each
    // feature's current k-th best value, so most entries are rejected with one compare
    const floor = this.best.map((l) => (l.length === this.k ? l[l.length - 1]!.value : this.minValue));
    const nf = this.features.length;
    for (let b = 0; b < nb; b++) {
      for (let p = 0; p < seq; p++) {
        const row = (b * seq + p) * d;
        for (let fi = 0; fi < nf; fi++) {
          const f = this.features[fi]!;
          const v = acts[row + f]!;
          if (!(v > floor[fi]!)) continue; // below minValue, or not above the k-th (later ties lose)
          const list = this.best[fi]!;
          const lo = Math.max(0, p - this.before);
          const hi = Math.min(seq, p + this.after + 1);
          const ex: ActivationExample = {
            batch: this.seqOffset + b,
            position: p,
            value: v,
            contextStart: lo,
            tokens: Array.from(tok.subarray(b * seq + lo, b * seq + hi)),
            values: Array.from({ length: hi - lo }, (_, j) => acts[(b * seq + lo + j) * d + f]!),
          };
          let at = list.length;
          while (at > 0 && better(ex, list[at - 1]!)) at--;
          list.splice(at, 0, ex);
          if (list.length > this.k) list.pop();
          if (list.length === this.k) floor[fi] = list[list.length - 1]!.value;
        }
      }
    }
    this.seqOffset += nb;
    return this;
  }

  result(): FeatureTopActivations[] {
    return this.features.map((feature, i) => ({ feature, examples: this.best[i]!.slice() }));
  }
}

function flatTokens(tokens: Tokens, nb: number, seq: number): Int32Array {
  let flat: Int32Array;
  if (tokens instanceof tf.Tensor) {
    if (tokens.size !== nb * seq) throw new ShapeError(`topActivations: tokens have shape [${tokens.shape.join(', ')}], want [${nb}, ${seq}]`);
    flat = Int32Array.from(tokens.dataSync());
  } else if (tokens.length > 0 && Array.isArray(tokens[0])) {
    flat = Int32Array.from((tokens as readonly (readonly number[])[]).flat());
  } else {
    flat = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens as ArrayLike<number>);
  }
  if (flat.length !== nb * seq) throw new ShapeError(`topActivations: ${flat.length} tokens for activations of [${nb}, ${seq}, ·] (want ${nb * seq})`);
  return flat;
}

/**
 * Per feature, the top-k activating examples of one batch of feature activations
 * `[batch, seq, dSae]` with its token ids `[batch, seq]` (flat row-major or nested). Inputs stay the caller's.
 */
export function topActivations(featureActs: tf.Tensor, tokens: Tokens, k: number, opts: TopActivationsOptions = {}): FeatureTopActivations[] {
  const d = featureActs.shape[featureActs.shape.length - 1] ?? 0;
  return new TopActivationsAccumulator(d, k, opts).add(featureActs, tokens).result();
}
