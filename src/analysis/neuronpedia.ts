/**
 * Export of feature dashboards in the files SAELens v1.5's Neuronpedia runner writes
 * (`sae_lens/analysis/neuronpedia_runner.py`): `batch-N.json` (model_id, layer, sae_id,
 * features[] from sae_vis's feature data: tables, logit tables and histograms, activation groups
 * with per-token logit contributions and loss changes) and `skipped_indexes.json` for features
 * too sparse to show. Keys, key order, rounding and token strings are the runner's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import type { Histogram } from '../stream/TrainEvent.js';
import { histogram } from './evals.js';
import type { SaeVisFeature } from './saeVisFeatureData.js';

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

/** SAELens's stand-in for token ids past the tokenizer's vocabulary. */
export const OUT_OF_RANGE_TOKEN = '<|outofrange|>';

/** numpy's `np.round(x, 3)` (scale, round half to even, unscale), which the runner applies to every list. */
export function npRound3(x: number): number {
  const y = x * 1000;
  let r = Math.round(y);
  if (r - y === 0.5 && r % 2 !== 0) r -= 1;
  return r / 1000 + 0; // no -0: JSON writes it as 0 anyway
}
const roundList = (xs: readonly number[]) => xs.map(npRound3);

export interface NeuronpediaActivation {
  binMin: number;
  binMax: number;
  binContains: number;
  /** JSON string {"pos": [{t, v}...], "neg": [...]}, one entry per token. */
  logitContributions: string;
  tokens: string[];
  values: number[];
  maxValue: number;
  lossValues: number[];
}

/** One feature of a batch file, keys in the runner's order. */
export interface NeuronpediaFeature {
  featureIndex: number;
  neuron_alignment_indices: number[];
  neuron_alignment_values: number[];
  neuron_alignment_l1: number[];
  correlated_neurons_indices: number[];
  correlated_neurons_l1: number[];
  correlated_neurons_pearson: number[];
  correlated_features_indices: number[];
  correlated_features_l1: number[];
  correlated_features_pearson: number[];
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
  /** sae_vis feature data of the batch's features (`saeVisFeatureData`). */
  readonly features: readonly SaeVisFeature[];
  /** Vocabulary strings by token id, before cleaning (the tokenizer's vocab); ids past it are out of range. */
  readonly vocab: readonly string[];
  /** The model's d_vocab (ids from vocab.length to d_vocab - 1 are `<|outofrange|>`, as the runner pads them). */
  readonly dVocab: number;
  readonly nBatchesToSampleFrom: number;
  readonly nPromptsToSelect: number;
}

/** Bin fields of a sequence group, parsed from its sae_vis title exactly as the runner does. */
function groupBins(title: string): { binMin: number; binMax: number; binContains: number } {
  if (title.includes('TOP ACTIVATIONS')) return { binMin: -1, binMax: Number(title.split(' = ').pop()), binContains: -1 };
  if (title.includes('INTERVAL')) {
    const [first, second] = title.split('<br>') as [string, string];
    const a = first.split(' ');
    const b = second.split(' ');
    return { binMin: Number(a[1]), binMax: Number(a[a.length - 1]), binContains: Number(b[b.length - 1]!.replace(/%+$/, '')) / 100 };
  }
  return { binMin: 0, binMax: 0, binContains: 0 };
}

/**
 * One `batch-N.json` object of SAELens v1.5's Neuronpedia runner (write it with JSON.stringify):
 * the same keys in the same order, the same rounding (np.round to 3 decimals), the same token
 * strings (vocab with Ġ/Ċ/… replaced, `<|outofrange|>` past the vocabulary).
 */
export function neuronpediaExport(input: NeuronpediaExportInput): NeuronpediaBatch {
  const cleaned = input.vocab.map(cleanTokenString);
  const str = (id: number) => (id < input.dVocab && id < cleaned.length ? cleaned[id]! : id < input.dVocab ? OUT_OF_RANGE_TOKEN : OUT_OF_RANGE_TOKEN);
  const features = input.features.map((fd): NeuronpediaFeature => {
    const t = fd.tables;
    const title = fd.actsHistogram.title;
    const activations: NeuronpediaActivation[] = [];
    for (const g of fd.groups) {
      const bins = groupBins(g.title);
      for (const sd of g.sequences) {
        const values = roundList(sd.featActs);
        activations.push({
          ...bins,
          logitContributions: JSON.stringify({
            pos: sd.topTokenIds.map((ids, i) => (ids.length > 0 ? { t: ids.map(str), v: roundList(sd.topLogits[i]!) } : {})),
            neg: sd.bottomTokenIds.map((ids, i) => (ids.length > 0 ? { t: ids.map(str), v: roundList(sd.bottomLogits[i]!) } : {})),
          }),
          tokens: sd.tokenIds.map(str),
          values,
          maxValue: Math.max(...values),
          lossValues: roundList(sd.lossContribution),
        });
      }
    }
    return {
      featureIndex: fd.feature,
      neuron_alignment_indices: t.neuronAlignmentIndices,
      neuron_alignment_values: roundList(t.neuronAlignmentValues),
      neuron_alignment_l1: roundList(t.neuronAlignmentL1),
      correlated_neurons_indices: t.correlatedNeuronsIndices,
      correlated_neurons_l1: roundList(t.correlatedNeuronsCossim),
      correlated_neurons_pearson: roundList(t.correlatedNeuronsPearson),
      correlated_features_indices: t.correlatedFeaturesIndices,
      correlated_features_l1: roundList(t.correlatedFeaturesCossim),
      correlated_features_pearson: roundList(t.correlatedFeaturesPearson),
      neg_str: fd.logitsTable.bottomIds.map(str),
      neg_values: roundList(fd.logitsTable.bottomValues),
      pos_str: fd.logitsTable.topIds.map(str),
      pos_values: roundList(fd.logitsTable.topValues),
      frac_nonzero: title !== null ? Number(title.split(' = ')[1]!.split('%')[0]) / 100 : 0,
      freq_hist_data_bar_values: roundList(fd.actsHistogram.barValues),
      freq_hist_data_bar_heights: roundList(fd.actsHistogram.barHeights),
      logits_hist_data_bar_heights: roundList(fd.logitsHistogram.barHeights),
      logits_hist_data_bar_values: roundList(fd.logitsHistogram.barValues),
      num_tokens_for_dashboard: input.nPromptsToSelect,
      activations,
    };
  });
  return {
    model_id: input.modelId,
    layer: String(input.layer),
    sae_id: input.saeId,
    features,
    n_batches_to_sample_from: input.nBatchesToSampleFrom,
    n_prompts_to_select: input.nPromptsToSelect,
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
