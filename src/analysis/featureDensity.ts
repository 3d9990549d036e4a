/**
 * Feature density (SAELens's "feature sparsity"): how often each SAE feature fires, over a set
 * of feature-activation batches. SAELens logs `log10(frequency + 1e-10)` (so a feature that
 * never fired sits at -10) and saves it as `sparsity.safetensors`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import type { Histogram } from '../stream/TrainEvent.js';

/** SAELens's offset inside log10, so dead features land at -10 rather than -Infinity. */
export const LOG_DENSITY_EPS = 1e-10;

export interface FeatureDensity {
  /** Rows (tokens) seen. */
  readonly nTokens: number;
  /** Times each feature fired (activation > threshold). */
  readonly counts: Float64Array;
  /** counts / nTokens. */
  readonly frequency: Float32Array;
  /** log10(frequency + 1e-10), the values of SAELens's `sparsity.safetensors`. */
  readonly logDensity: Float32Array;
  /** Histogram of `logDensity` (default 50 bins over [-10, 0]). */
  readonly histogram: Histogram;
  /** Mean of `logDensity` (SAELens: metrics/mean_log10_feature_sparsity). */
  readonly meanLogDensity: number;
  /** Features with frequency below 1e-5 and 1e-6 (SAELens: sparsity/below_1e-5, below_1e-6). */
  readonly below1e5: number;
  readonly below1e6: number;
  /** Features that never fired. */
  readonly neverFired: number;
}

export interface DensityOptions {
  /** A feature fires when its activation is > threshold (default 0). */
  readonly threshold?: number;
  readonly bins?: number;
  /** Histogram range (default [-10, 0]); values outside go to the end bins. */
  readonly range?: readonly [number, number];
}

/** The histogram of log10 densities; -Infinity and values below the range count in the first bin. */
export function logDensityHistogram(logDensity: ArrayLike<number>, opts: { bins?: number; range?: readonly [number, number] } = {}): Histogram {
  const bins = opts.bins ?? 50;
  const [lo, hi] = opts.range ?? [-10, 0];
  if (!(Number.isInteger(bins) && bins > 0)) throw new RangeError(`logDensityHistogram: bins must be a positive integer, got ${bins}`);
  if (!(hi > lo)) throw new RangeError(`logDensityHistogram: range [${lo}, ${hi}] is empty`);
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < logDensity.length; i++) {
    const v = logDensity[i]!;
    if (Number.isNaN(v)) continue;
    let b = Math.floor(((v - lo) / (hi - lo)) * bins);
    if (!(b >= 0)) b = 0;
    if (b >= bins) b = bins - 1;
    counts[b]!++;
  }
  return { edges, counts };
}

/**
 * Accumulates firing counts batch by batch. `add` reads a batch of feature activations
 * (`[tokens, dSae]` or `[batch, seq, dSae]`) and does not dispose it: the caller keeps ownership.
 */
export class FeatureDensityAccumulator {
  private readonly counts: Float64Array;
  private n = 0;

  constructor(readonly dSae: number, private readonly threshold = 0) {
    if (!(Number.isInteger(dSae) && dSae > 0)) throw new RangeError(`FeatureDensityAccumulator: dSae must be a positive integer, got ${dSae}`);
    this.counts = new Float64Array(dSae);
  }

  add(featureActs: tf.Tensor): this {
    const shape = featureActs.shape;
    if (shape.length < 1 || shape[shape.length - 1] !== this.dSae) {
      throw new ShapeError(`featureDensity: feature activations must end in d_sae=${this.dSae}, got shape [${shape.join(', ')}]`);
    }
    const rows = featureActs.size / this.dSae;
    if (rows === 0) return this;
    const fired = tf.tidy(() => {
      const x = tf.reshape(featureActs, [rows, this.dSae]);
      return tf.sum(tf.cast(tf.greater(x, this.threshold), 'float32'), 0);
    });
    const c = fired.dataSync();
    fired.dispose();
    for (let i = 0; i < this.dSae; i++) this.counts[i]! += c[i]!;
    this.n += rows;
    return this;
  }

  get nTokens(): number {
    return this.n;
  }

  result(opts: Omit<DensityOptions, 'threshold'> = {}): FeatureDensity {
    const d = this.dSae;
    const frequency = new Float32Array(d);
    const logDensity = new Float32Array(d);
    let sum = 0, below1e5 = 0, below1e6 = 0, neverFired = 0;
    for (let i = 0; i < d; i++) {
      const f = this.n > 0 ? this.counts[i]! / this.n : 0;
      frequency[i] = f;
      logDensity[i] = Math.log10(f + LOG_DENSITY_EPS);
      sum += logDensity[i]!;
      if (f < 1e-5) below1e5++;
      if (f < 1e-6) below1e6++;
      if (this.counts[i] === 0) neverFired++;
    }
    return {
      nTokens: this.n,
      counts: this.counts.slice(),
      frequency,
      logDensity,
      histogram: logDensityHistogram(logDensity, opts),
      meanLogDensity: sum / d,
      below1e5,
      below1e6,
      neverFired,
    };
  }
}

/**
 * Feature density over one or more batches of feature activations (each `[tokens, dSae]` or
 * `[batch, seq, dSae]`). The tensors stay the caller's.
 */
export function featureDensity(featureActs: tf.Tensor | Iterable<tf.Tensor>, opts: DensityOptions = {}): FeatureDensity {
  const batches = featureActs instanceof tf.Tensor ? [featureActs] : [...featureActs];
  if (batches.length === 0) throw new RangeError('featureDensity: no batches given');
  const first = batches[0]!;
  const acc = new FeatureDensityAccumulator(first.shape[first.shape.length - 1]!, opts.threshold ?? 0);
  for (const b of batches) acc.add(b);
  return acc.result(opts);
}
