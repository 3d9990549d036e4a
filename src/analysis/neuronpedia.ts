/**
 * Export of feature dashboards in the JSON that SAELens's Neuronpedia runner uploads
 * (`batch-N.json`: model_id, layer, sae_id, features[] with top activations and logit tables;
 * plus `skipped_indexes.json` for features too sparse to show). Field names are Neuronpedia's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import type { Histogram } from '../stream/TrainEvent.js';
import { histogram } from './evals.js';
import type { FeatureTopActivations } from './topActivations.js';

/** SAELens's default: features with log10 density at or below -5 are skipped. */
export const DEFAULT_SPARSITY_THRESHOLD = -5;

/** Byte-level BPE renderings (GPT-2 vocab) and mojibake that dashboards show as plain text. */
const TOKEN_ANOMALIES: ReadonlyArray<[string, string]> = [
  ['âĢĶ', '—'],
  ['âĢĵ', '–'],
  ['âĢľ', '“'],
  ['âĢĿ', '”'],
  ['âĢĺ', '‘'],
  ['âĢĻ', '’'],
  ['âĢĭ', ' '],
  ['Ġ', ' '],
  ['Ċ', '\n'],
  ['ĉ', '\t'],
];

/** A vocab string as a dashboard shows it (Ġ → space, Ċ → newline, …). */
export function cleanTokenString(s: string): string {
  let out = s;
  for (const [from, to] of TOKEN_ANOMALIES) out = out.split(from).join(to);
  return out;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export interface FeatureLogits {
  readonly feature: number;
  readonly topIds: number[];
  readonly topValues: number[];
  readonly bottomIds: number[];
  readonly bottomValues: number[];
  /** Histogram of the feature's direct logit effect over the whole vocabulary. */
  readonly histogram: Histogram;
}

/**
 * The direct effect of each feature's decoder row on the logits, `W_dec[f] @ W_U`: the k most
 * promoted and most suppressed tokens (Neuronpedia's pos/neg tables) and a histogram over the
 * vocabulary. `wDec` is `[dSae, dIn]`, `wU` `[dIn, vocab]`; neither is disposed.
 */
export function logitWeights(wDec: tf.Tensor2D, wU: tf.Tensor2D, features: readonly number[], k = 10, bins = 40): FeatureLogits[] {
  if (wDec.rank !== 2 || wU.rank !== 2 || wDec.shape[1] !== wU.shape[0]) {
    throw new ShapeError(`logitWeights: W_dec [${wDec.shape.join(', ')}] and W_U [${wU.shape.join(', ')}] do not chain (W_dec [d_sae, d_in] @ W_U [d_in, d_vocab])`);
  }
  if (features.length === 0) return [];
  const vocab = wU.shape[1];
  const kk = Math.min(k, vocab);
  const [logits, top, bottom] = tf.tidy(() => {
    const rows = tf.gather(wDec, tf.tensor1d([...features], 'int32'));
    const l = tf.matMul(rows, wU);
    const t = tf.topk(l, kk);
    const b = tf.topk(tf.neg(l), kk);
    return [l, t, b] as const;
  });
  const lv = logits.dataSync() as Float32Array;
  const tv = top.values.dataSync(), ti = top.indices.dataSync();
  const bv = bottom.values.dataSync(), bi = bottom.indices.dataSync();
  tf.dispose([logits, top.values, top.indices, bottom.values, bottom.indices]);
  return features.map((feature, r) => {
    const row = lv.subarray(r * vocab, (r + 1) * vocab);
    return {
      feature,
      topIds: Array.from(ti.subarray(r * kk, (r + 1) * kk)),
      topValues: Array.from(tv.subarray(r * kk, (r + 1) * kk)),
      bottomIds: Array.from(bi.subarray(r * kk, (r + 1) * kk)),
      bottomValues: Array.from(bv.subarray(r * kk, (r + 1) * kk), (v) => -v),
      histogram: histogram(row, bins),
    };
  });
}

export interface NeuronpediaActivation {
  binMin: number;
  binMax: number;
  binContains: number;
  /** JSON string {"pos": [...], "neg": [...]}, one entry per token (empty objects when unknown). */
  logitContributions: string;
  tokens: string[];
  values: number[];
  maxValue: number;
  lossValues: number[];
}

export interface NeuronpediaFeature {
  featureIndex: number;
  neg_str: string[];
  neg_values: number[];
  pos_str: string[];
  pos_values: number[];
  frac_nonzero: number;
  freq_hist_data_bar_values: number[];
  freq_hist_data_bar_heights: number[];
  logits_hist_data_bar_heights: number[];
  logits_hist_data_bar_values: number[];
  num_tokens_for_dashboard: number;
  activations: NeuronpediaActivation[];
}

export interface NeuronpediaBatch {
  model_id: string;
  layer: string;
  sae_id: string;
  features: NeuronpediaFeature[];
  n_batches_to_sample_from: number;
  n_prompts_to_select: number;
}

export interface NeuronpediaExportInput {
  readonly modelId: string;
  readonly layer: number | string;
  readonly saeId: string;
  /** Top activations per feature (from `topActivations`). */
  readonly features: readonly FeatureTopActivations[];
  /** Token id → vocab string (cleaned with `cleanTokenString`). */
  readonly decode: (tokenId: number) => string;
  /** Firing frequency per feature, indexed by feature (e.g. `featureDensity(...).frequency`). */
  readonly frequency?: ArrayLike<number>;
  /** Logit tables (from `logitWeights`), matched by feature. */
  readonly logits?: readonly FeatureLogits[];
  /** Histograms of each feature's non-zero activations, by feature. */
  readonly activationHistograms?: ReadonlyMap<number, Histogram>;
  /** Tokens the dashboards were computed on. */
  readonly numTokens?: number;
  readonly nBatchesToSampleFrom?: number;
  readonly nPromptsToSelect?: number;
}

const centers = (h: Histogram) => h.edges.slice(0, -1).map((e, i) => r3((e + h.edges[i + 1]!) / 2));

/** One Neuronpedia batch file's JSON object (write it with JSON.stringify). */
export function neuronpediaExport(input: NeuronpediaExportInput): NeuronpediaBatch {
  const logits = new Map((input.logits ?? []).map((l) => [l.feature, l]));
  const str = (id: number) => cleanTokenString(input.decode(id));
  const features = input.features.map((ft): NeuronpediaFeature => {
    const lg = logits.get(ft.feature);
    const ah = input.activationHistograms?.get(ft.feature);
    const activations = ft.examples.map((ex): NeuronpediaActivation => {
      const values = ex.values.map(r3);
      return {
        // SAELens marks the top-activations group with binMin = binContains = -1, binMax = its max
        binMin: -1,
        binMax: r3(ft.examples[0]?.value ?? ex.value),
        binContains: -1,
        logitContributions: JSON.stringify({ pos: ex.tokens.map(() => ({})), neg: ex.tokens.map(() => ({})) }),
        tokens: ex.tokens.map(str),
        values,
        maxValue: Math.max(...values),
        lossValues: [],
      };
    });
    return {
      featureIndex: ft.feature,
      neg_str: lg ? lg.bottomIds.map(str) : [],
      neg_values: lg ? lg.bottomValues.map(r3) : [],
      pos_str: lg ? lg.topIds.map(str) : [],
      pos_values: lg ? lg.topValues.map(r3) : [],
      frac_nonzero: input.frequency ? Number(input.frequency[ft.feature] ?? 0) : 0,
      freq_hist_data_bar_values: ah ? centers(ah) : [],
      freq_hist_data_bar_heights: ah ? ah.counts.map(r3) : [],
      logits_hist_data_bar_heights: lg ? lg.histogram.counts.map(r3) : [],
      logits_hist_data_bar_values: lg ? centers(lg.histogram) : [],
      num_tokens_for_dashboard: input.numTokens ?? input.nPromptsToSelect ?? 0,
      activations,
    };
  });
  return {
    model_id: input.modelId,
    layer: String(input.layer),
    sae_id: input.saeId,
    features,
    n_batches_to_sample_from: input.nBatchesToSampleFrom ?? 0,
    n_prompts_to_select: input.nPromptsToSelect ?? 0,
  };
}

/**
 * The features a Neuronpedia export covers (log10 density above the threshold) and the
 * `skipped_indexes.json` object listing the rest.
 */
export function neuronpediaSkippedIndexes(
  logDensity: ArrayLike<number>,
  meta: { modelId: string; layer: number | string; saeId: string; threshold?: number },
): { targets: number[]; skipped: { model_id: string; layer: string; sae_id: string; log_sparsity: number; skipped_indexes: number[] } } {
  const threshold = meta.threshold ?? DEFAULT_SPARSITY_THRESHOLD;
  const targets: number[] = [];
  const skipped: number[] = [];
  for (let i = 0; i < logDensity.length; i++) (logDensity[i]! > threshold ? targets : skipped).push(i);
  return {
    targets,
    skipped: { model_id: meta.modelId, layer: String(meta.layer), sae_id: meta.saeId, log_sparsity: threshold, skipped_indexes: skipped },
  };
}
