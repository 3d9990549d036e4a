/**
 * `batchtopk`: SAELens 6's BatchTopK SAE (sae_lens/saes/batchtopk_sae.py), a TopK SAE whose k
 * is an average: the int(k·batch) largest ReLU'd pre-activations of the whole batch are kept.
 * The same AuxK loss and rescale_acts_by_decoder_norm as `topk`.
 *
 * After each step the float64 buffer `topk_threshold` (init 0) moves towards the smallest
 * positive kept activation: thr ← (1 − topk_threshold_lr)·thr + topk_threshold_lr·min (no update
 * when nothing fired). Saved for inference as SAELens does: decoder norms folded into the
 * encoder, then a `jumprelu` SAE with threshold = topk_threshold for every latent.
 *
 * In memory (evals during training) the SAE encodes as SAELens's training SAE does: the
 * batch-wide top-k of the batch it is given.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { BATCHTOPK_FIELDS } from './fieldTables.js';
import type { FieldTable } from '../../config/fields.js';
import { ConfigError } from '../../errors.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { Architecture, ArchState, InferenceSave } from './Architecture.js';
import { baseInit, baseParams, baseTensors, field, inferencePreActs } from './saelens6Base.js';
import { rescaledPreActs, topkDecode, topkFamilyForward, topkInferenceWeights, validateTopkFamily } from './topk.js';
import { batchTopkRelu } from './topkSelect.js';
import { topkSparseStepApplies, topkSparseTrainingForward } from './topkSparseStep.js';

/** How many activations the batch keeps: Python's int(k · rows). */
export function batchKeep(cfg: SaeConfig, rows: number): number {
  return Math.trunc(field<number>(cfg, 'k') * rows);
}

/** The threshold EMA (SAELens update_topk_threshold), in float64. */
export function updateTopkThreshold(cfg: SaeConfig, state: ArchState, stats: Readonly<Record<string, number>>): void {
  const min = stats['min_positive_act'];
  if (min === undefined || !Number.isFinite(min)) return;
  const lr = field<number>(cfg, 'topk_threshold_lr');
  state['topk_threshold'] = (1 - lr) * state['topk_threshold']! + lr * min;
}

/** Conversion to a JumpReLU SAE: TopK's fold, then threshold = topk_threshold for every latent. */
export function toJumpReluSave(cfg: SaeConfig, w: Readonly<Record<string, Float32Array>>, state: Readonly<ArchState>): InferenceSave {
  const weights = topkInferenceWeights(cfg, w);
  return {
    architecture: 'jumprelu',
    cfg: {},
    weights: { ...weights, threshold: { shape: [cfg.dSae], data: new Float32Array(cfg.dSae).fill(state['topk_threshold'] ?? 0) } },
  };
}

export function validateBatchTopk(cfg: SaeConfig, table: FieldTable): void {
  validateTopkFamily(cfg, table);
  const k = field<number>(cfg, 'k');
  if (k > cfg.dSae) throw new ConfigError(`k: ${k} exceeds d_sae ${cfg.dSae} (k is the average number of active latents per row)`);
}

/** Inference forward of the BatchTopK family (BatchTopK and Matryoshka share it). */
export const batchTopkForward: Architecture['forward'] = (cfg, p, x) => {
  const { saeIn, hiddenPre: h } = inferencePreActs(cfg, p, x);
  const hiddenPre = rescaledPreActs(cfg, h, baseTensors(p).W_dec);
  const { acts: featureActs, minPositive } = batchTopkRelu(hiddenPre, batchKeep(cfg, x.shape[0]));
  minPositive.dispose();
  return { saeIn, hiddenPre, featureActs, out: topkDecode(cfg, p, featureActs, 'dense') };
};

/** The training activation: batch top-k, reporting the smallest kept activation for the threshold EMA. */
export function batchTopkTrainingActivation(cfg: SaeConfig) {
  return (h: tf.Tensor2D) => {
    const { acts, minPositive } = batchTopkRelu(h, batchKeep(cfg, h.shape[0]));
    return { acts, stats: { min_positive_act: minPositive } };
  };
}

export const batchtopk: Architecture = {
  name: 'batchtopk',
  summary: 'SAELens 6 BatchTopK SAE: the k·batch largest activations of the batch, AuxK, threshold EMA; saved as jumprelu',
  fields: BATCHTOPK_FIELDS,
  sparseStepValid: true,
  rowSeparable: () => false,
  materializesActivations: (cfg, mode) => !topkSparseStepApplies(cfg, mode),

  validate: (cfg) => validateBatchTopk(cfg, BATCHTOPK_FIELDS),

  params: baseParams,
  init: baseInit,
  initialState: () => ({ topk_threshold: 0 }),

  forward: batchTopkForward,

  decode: (cfg, p, f) => topkDecode(cfg, p, f, 'dense'),

  trainingForward(cfg, p, s) {
    if (topkSparseStepApplies(cfg, s.sparseStep)) return topkSparseTrainingForward(cfg, p, s, 'batchtopk');
    const { hiddenPre: _h, ...out } = topkFamilyForward(cfg, p, s, batchTopkTrainingActivation(cfg));
    return out;
  },

  coefficients: () => ({}),
  afterStep: updateTopkThreshold,
  toInference: toJumpReluSave,
};
