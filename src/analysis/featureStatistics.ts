/**
 * Feature statistics of an SAE (SAELens v1.5 `analysis/feature_statistics.py`):
 * - per-feature properties (`get_feature_property_df`): log feature density, the
 *   encoder/decoder projection, b_enc, the projection of b_dec on each decoder row, dead;
 * - the logit-weight statistics of each decoder row through the unembedding
 *   (`get_W_U_W_dec_stats_df`): `W_dec · W_U` per feature over the vocabulary, with its mean,
 *   std, skewness and kurtosis, plus (beyond SAELens) the top and bottom tokens.
 *
 * Tables are columns of typed arrays, one entry per feature, so a caller can sort or plot them
 * without a data-frame library.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

/** What the statistics read from an SAE: its four weights (none is disposed or changed). */
export interface SaeWeightsView {
  readonly W_enc: tf.Tensor; // [d_in, d_sae]
  readonly b_enc: tf.Tensor; // [d_sae]
  readonly W_dec: tf.Tensor; // [d_sae, d_in]
  readonly b_dec: tf.Tensor; // [d_in]
}

/** SAELens's `get_feature_property_df` columns. */
export interface FeatureProperties {
  /** Feature index, 0..d_sae-1. */
  readonly feature: Int32Array;
  /** The log10 feature density given (SAELens adds 1e-10 to it, in float32, as here). */
  readonly logFeatureSparsity: Float32Array;
  /**
   * `Σ_d W_dec[f,d] · Ŵ_enc[d,f]` where Ŵ_enc is W_enc with each row (input dimension)
   * divided by its norm over the features: SAELens v1.5 normalizes W_enc along its last axis
   * (d_sae), not per feature; kept so the numbers match.
   */
  readonly dEProjection: Float64Array;
  readonly bEnc: Float32Array;
  /** `b_dec · W_dec[f]` (decoder rows not normalized, as in SAELens). Projections are summed in float64. */
  readonly bDecProjection: Float64Array;
  /** `logFeatureSparsity < -9` (never or almost never fired). */
  readonly dead: Uint8Array;
}

/** Threshold on log10 density below which SAELens calls a feature dead. */
export const DEAD_LOG_DENSITY = -9;

function checkSae(sae: SaeWeightsView, where: string): { dIn: number; dSae: number } {
  const [dIn, dSae] = sae.W_enc.shape as [number, number];
  const ok =
    sae.W_enc.rank === 2 &&
    sae.W_dec.rank === 2 &&
    sae.W_dec.shape[0] === dSae &&
    sae.W_dec.shape[1] === dIn &&
    sae.b_enc.size === dSae &&
    sae.b_dec.size === dIn;
  if (!ok) {
    throw new ShapeError(
      `${where}: SAE weights do not fit together: W_enc [${sae.W_enc.shape}], W_dec [${sae.W_dec.shape}], b_enc [${sae.b_enc.shape}], b_dec [${sae.b_dec.shape}] (want W_enc [d_in, d_sae], W_dec [d_sae, d_in])`,
    );
  }
  return { dIn, dSae };
}

/**
 * Per-feature properties (SAELens `get_feature_property_df`). `logFeatureDensity` is the SAE's
 * `sparsity.safetensors` (log10 of the firing frequency), one value per feature.
 */
export function featureProperties(sae: SaeWeightsView, logFeatureDensity: ArrayLike<number>): FeatureProperties {
  const { dIn, dSae } = checkSae(sae, 'featureProperties');
  if (logFeatureDensity.length !== dSae) {
    throw new ShapeError(`featureProperties: log feature density has ${logFeatureDensity.length} values, the SAE has d_sae ${dSae}`);
  }
  // Sums over d_in in float64 from the float32 weights: b_dec · W_dec[f] cancels to near zero for
  // some features, where a float32 kernel's summation order alone moves it by 1e-5 relative.
  const wEnc = sae.W_enc.dataSync() as Float32Array; // [d_in, d_sae]
  const wDec = sae.W_dec.dataSync() as Float32Array; // [d_sae, d_in]
  const bDec = sae.b_dec.dataSync() as Float32Array;
  const encNorm = new Float64Array(dIn);
  for (let d = 0; d < dIn; d++) {
    let ss = 0;
    for (let f = 0; f < dSae; f++) ss += wEnc[d * dSae + f]! ** 2;
    encNorm[d] = Math.sqrt(ss);
  }
  const dEProjection = new Float64Array(dSae);
  const bDecProjection = new Float64Array(dSae);
  for (let f = 0; f < dSae; f++) {
    let de = 0;
    let bd = 0;
    for (let d = 0; d < dIn; d++) {
      const w = wDec[f * dIn + d]!;
      de += (w * wEnc[d * dSae + f]!) / encNorm[d]!;
      bd += bDec[d]! * w;
    }
    dEProjection[f] = de;
    bDecProjection[f] = bd;
  }
  const logFeatureSparsity = new Float32Array(dSae);
  const dead = new Uint8Array(dSae);
  const feature = new Int32Array(dSae);
  for (let i = 0; i < dSae; i++) {
    feature[i] = i;
    logFeatureSparsity[i] = Math.fround(logFeatureDensity[i]! + 1e-10);
    dead[i] = logFeatureDensity[i]! < DEAD_LOG_DENSITY ? 1 : 0;
  }
  return { feature, logFeatureSparsity, dEProjection, bEnc: sae.b_enc.dataSync() as Float32Array, bDecProjection, dead };
}

/** Moments of one feature's logit weights over the vocabulary (SAELens `get_stats_df`). */
export interface LogitWeightStats {
  readonly feature: Int32Array;
  readonly mean: Float64Array;
  /** Population std (mean of squared deviations, then square root), as SAELens. */
  readonly std: Float64Array;
  /** `mean(z³)`. */
  readonly skewness: Float64Array;
  /** `mean(z⁴)` (not the excess kurtosis: a normal distribution gives 3). */
  readonly kurtosis: Float64Array;
  /** Per feature, the `topK` token ids with the largest weight, largest first, and their weights. */
  readonly topTokens: Int32Array[];
  readonly topValues: Float32Array[];
  /** Per feature, the `topK` token ids with the smallest weight, smallest first. */
  readonly bottomTokens: Int32Array[];
  readonly bottomValues: Float32Array[];
}

export interface LogitWeightOptions {
  /** Features to compute (default all, in order). */
  readonly features?: readonly number[];
  /** Divide each W_U column by its norm first (SAELens `cosine_sim`). Default false. */
  readonly cosineSim?: boolean;
  /** How many top and bottom tokens to keep per feature (default 10). */
  readonly topK?: number;
  /**
   * Called with each chunk of projection rows `[rows, vocab]` (row-major float32) and the
   * features they belong to, before they are dropped: how TSEA or a dashboard reuses the
   * projections without holding all of them.
   */
  readonly onRows?: (features: readonly number[], rows: Float32Array, vocab: number) => void;
  /** Floats per chunk of the projection (bounds memory); default 4M (16 MB). */
  readonly chunkFloats?: number;
}

/** Sorted (value desc, then id asc) top-k of a row, by a partial selection. */
function topKOf(row: Float32Array, k: number, sign: 1 | -1): { ids: Int32Array; values: Float32Array } {
  // A small bounded list kept sorted: k is small next to the vocabulary.
  const ids: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = sign * row[i]!;
    if (ids.length === k && v <= vals[k - 1]!) continue;
    let j = ids.length === k ? k - 1 : ids.length;
    if (ids.length < k) {
      ids.push(0);
      vals.push(0);
    }
    while (j > 0 && vals[j - 1]! < v) {
      ids[j] = ids[j - 1]!;
      vals[j] = vals[j - 1]!;
      j--;
    }
    ids[j] = i;
    vals[j] = v;
  }
  return { ids: Int32Array.from(ids), values: Float32Array.from(vals, (v) => sign * v) };
}

/**
 * The projection of W_dec rows through W_U (`[d_sae, d_in] @ [d_in, vocab]`) for the chosen
 * features, as row-major float32, computed in chunks of features. The caller owns the result.
 */
export function decoderLogitProjection(wDec: tf.Tensor, wU: tf.Tensor, features: readonly number[], opts: { cosineSim?: boolean } = {}): Float32Array {
  const vocab = checkChain(wDec, wU, 'decoderLogitProjection');
  const out = new Float32Array(features.length * vocab);
  let at = 0;
  forEachProjectionChunk(wDec, wU, features, opts.cosineSim ?? false, 4 << 20, (_f, rows) => {
    out.set(rows, at);
    at += rows.length;
  });
  return out;
}

function checkChain(wDec: tf.Tensor, wU: tf.Tensor, where: string): number {
  if (wDec.rank !== 2 || wU.rank !== 2 || wDec.shape[1] !== wU.shape[0]) {
    throw new ShapeError(`${where}: W_dec [${wDec.shape.join(', ')}] and W_U [${wU.shape.join(', ')}] do not chain (W_dec [d_sae, d_in] @ W_U [d_in, d_vocab])`);
  }
  return wU.shape[1]!;
}

function forEachProjectionChunk(
  wDec: tf.Tensor,
  wU: tf.Tensor,
  features: readonly number[],
  cosineSim: boolean,
  chunkFloats: number,
  each: (features: readonly number[], rows: Float32Array) => void,
): void {
  const dSae = wDec.shape[0]!;
  for (const f of features) {
    if (!Number.isInteger(f) || f < 0 || f >= dSae) throw new ShapeError(`feature index ${f} is out of range (d_sae ${dSae})`);
  }
  const vocab = wU.shape[1]!;
  const rowsPerChunk = Math.max(1, Math.floor(chunkFloats / vocab));
  const u = cosineSim ? tf.tidy(() => tf.div(wU, tf.sqrt(tf.sum(tf.square(wU), 0, true)))) : wU;
  try {
    for (let s = 0; s < features.length; s += rowsPerChunk) {
      const fs = features.slice(s, s + rowsPerChunk);
      const proj = tf.tidy(() => tf.matMul(tf.gather(wDec, tf.tensor1d(fs, 'int32')) as tf.Tensor2D, u as tf.Tensor2D));
      const rows = proj.dataSync() as Float32Array;
      proj.dispose();
      each(fs, rows);
    }
  } finally {
    if (u !== wU) u.dispose();
  }
}

/**
 * Logit-weight statistics of each feature: the moments of `W_dec[f] · W_U` over the vocabulary
 * (SAELens `get_W_U_W_dec_stats_df`), and its top and bottom tokens. The projection is computed
 * in float32 (tfjs matMul), in chunks of features; the moments are summed in float64 so that a
 * 50k-token vocabulary adds no rounding of its own.
 */
export function logitWeightStats(wDec: tf.Tensor, wU: tf.Tensor, opts: LogitWeightOptions = {}): LogitWeightStats {
  const vocab = checkChain(wDec, wU, 'logitWeightStats');
  const features = opts.features ?? Array.from({ length: wDec.shape[0]! }, (_, i) => i);
  const k = Math.min(opts.topK ?? 10, vocab);
  const n = features.length;
  const res = {
    feature: Int32Array.from(features),
    mean: new Float64Array(n),
    std: new Float64Array(n),
    skewness: new Float64Array(n),
    kurtosis: new Float64Array(n),
    topTokens: [] as Int32Array[],
    topValues: [] as Float32Array[],
    bottomTokens: [] as Int32Array[],
    bottomValues: [] as Float32Array[],
  };
  let at = 0;
  forEachProjectionChunk(wDec, wU, features, opts.cosineSim ?? false, opts.chunkFloats ?? 4 << 20, (fs, rows) => {
    for (let r = 0; r < fs.length; r++, at++) {
      const row = rows.subarray(r * vocab, (r + 1) * vocab);
      let sum = 0;
      for (let i = 0; i < vocab; i++) sum += row[i]!;
      const mean = sum / vocab;
      let m2 = 0;
      for (let i = 0; i < vocab; i++) {
        const d = row[i]! - mean;
        m2 += d * d;
      }
      const std = Math.sqrt(m2 / vocab);
      let m3 = 0;
      let m4 = 0;
      for (let i = 0; i < vocab; i++) {
        const z = (row[i]! - mean) / std;
        const z2 = z * z;
        m3 += z2 * z;
        m4 += z2 * z2;
      }
      res.mean[at] = mean;
      res.std[at] = std;
      res.skewness[at] = m3 / vocab;
      res.kurtosis[at] = m4 / vocab;
      const top = topKOf(row, k, 1);
      const bottom = topKOf(row, k, -1);
      res.topTokens.push(top.ids);
      res.topValues.push(top.values);
      res.bottomTokens.push(bottom.ids);
      res.bottomValues.push(bottom.values);
    }
    opts.onRows?.(fs, rows, vocab);
  });
  return res;
}
