/**
 * `topk`: SAELens 6's TopK SAE with the AuxK dead-latent loss (sae_lens/saes/topk_sae.py, the
 * aux reconstruction without b_dec as in SAELens ≥ 6.36.2).
 *
 *   h = x̃ W_enc + b_enc, times ‖W_dec,i‖ when rescale_acts_by_decoder_norm;
 *   f = the k largest entries of each row of h, ReLU'd;  x̂ = (f ⊙ 1/‖W_dec,i‖) W_dec + b_dec
 *   auxiliary_reconstruction_loss (only with dead latents): k_aux = ⌊d_in/2⌋,
 *     scale = min(dead/k_aux, 1), the min(k_aux, dead) largest dead entries of h per row (not
 *     ReLU'd), ê = (those ⊙ 1/‖W_dec,i‖) W_dec (no b_dec),
 *     loss = aux_loss_coefficient · scale · mean_b Σ_d (ê − sg(x − x̂))²
 *
 * No scheduled coefficients. Saved for inference with the decoder norms folded into the encoder
 * (`_fold_norm_topk`), so the saved decoder rows have unit norm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TOPK_FIELDS } from './fieldTables.js';
import type { FieldTable } from '../../config/fields.js';
import { ConfigError } from '../../errors.js';
import { gatherCols, gatherRows, mm, rowNorms, stopGradient } from '../ops.js';
import type { SaeConfig } from '../SaeConfig.js';
import { sparseDecodeMm, sparseStepMode, type SparseStepMode } from '../sparse.js';
import type { Architecture, InferenceSave, ParamTensors, TrainingForwardOutput, TrainingStepInput } from './Architecture.js';
import {
  baseInit, baseParams, baseTensors, checkKnownFields, field, foldDecoderNorms, inferencePreActs,
  inferenceWeightsAsIs, mseLoss, reconstructionTarget, trainingPreActs,
} from './saelens6Base.js';
import { topkAmong, topkRelu } from './topkSelect.js';
import { topkSparseStepApplies, topkSparseTrainingForward } from './topkSparseStep.js';

const FIELDS = TOPK_FIELDS;

/** 1/‖W_dec,i‖ when rescale_acts_by_decoder_norm (SAELens multiplies by the reciprocal), else null. */
export function invDecoderNorms(cfg: SaeConfig, W_dec: tf.Tensor2D): tf.Tensor1D | null {
  return field<boolean>(cfg, 'rescale_acts_by_decoder_norm') ? (tf.reciprocal(rowNorms(W_dec)) as tf.Tensor1D) : null;
}

/** h ⊙ ‖W_dec,i‖ when rescaling (the pre-activations the selection sees). */
export function rescaledPreActs(cfg: SaeConfig, h: tf.Tensor2D, W_dec: tf.Tensor2D): tf.Tensor2D {
  return field<boolean>(cfg, 'rescale_acts_by_decoder_norm') ? (tf.mul(h, rowNorms(W_dec)) as tf.Tensor2D) : h;
}

/** x̂ = (f ⊙ 1/‖W_dec,i‖) W_dec + b_dec, the decoder product sparse where the step says so. */
export function topkDecode(cfg: SaeConfig, p: ParamTensors, f: tf.Tensor2D, mode: SparseStepMode | 'dense'): tf.Tensor2D {
  const { W_dec, b_dec } = baseTensors(p);
  const inv = invDecoderNorms(cfg, W_dec);
  const scaled = inv ? (tf.mul(f, inv) as tf.Tensor2D) : f;
  return tf.add(mode === 'dense' ? tf.matMul(scaled, W_dec) : sparseDecodeMm(scaled, W_dec, mode), b_dec) as tf.Tensor2D;
}

/**
 * SAELens `calculate_topk_aux_loss` (0 without dead latents). `target` is what x̂ reconstructs
 * (the input for an SAE): the residual is sg(target − x̂). k_aux = ⌊d_in/2⌋ also for a
 * transcoder, as SAELens's code computes it (sae_in.shape[-1] // 2).
 */
export function auxKLoss(
  cfg: SaeConfig, p: ParamTensors, target: tf.Tensor2D, saeOut: tf.Tensor2D, hiddenPre: tf.Tensor2D, deadIdx: Int32Array,
): tf.Scalar {
  const nDead = deadIdx.length;
  if (nDead === 0) return tf.scalar(0);
  const { W_dec } = baseTensors(p);
  const kAux0 = Math.floor(cfg.dIn / 2);
  const scale = Math.min(nDead / kAux0, 1);
  const kAux = Math.min(kAux0, nDead);
  const residual = stopGradient(tf.sub(target, saeOut) as tf.Tensor2D);
  const idx = tf.tensor1d(deadIdx, 'int32');
  // Live latents would be −inf in SAELens's selection: only the dead columns take part.
  let acts = topkAmong(gatherCols(hiddenPre, idx), kAux);
  const wDead = gatherRows(W_dec, idx);
  if (field<boolean>(cfg, 'rescale_acts_by_decoder_norm')) acts = tf.mul(acts, tf.reciprocal(rowNorms(wDead))) as tf.Tensor2D;
  const recons = mm(acts, wDead);
  const loss = tf.mean(tf.sum(tf.square(tf.sub(recons, residual)), -1));
  return tf.mul(loss, field<number>(cfg, 'aux_loss_coefficient') * scale) as tf.Scalar;
}

/** The TopK family's training forward with a given selection of h (per row, or batch-wide). */
export function topkFamilyForward(
  cfg: SaeConfig, p: ParamTensors, s: TrainingStepInput,
  select: (h: tf.Tensor2D) => { acts: tf.Tensor2D; stats?: Record<string, tf.Scalar> },
): TrainingForwardOutput & { hiddenPre: tf.Tensor2D; featureActs: tf.Tensor2D } {
  const mode = s.sparseStep ?? sparseStepMode();
  const { W_dec } = baseTensors(p);
  const hiddenPre = rescaledPreActs(cfg, trainingPreActs(cfg, p, s.x, mode), W_dec);
  const { acts, stats } = select(hiddenPre);
  const saeOut = topkDecode(cfg, p, acts, mode);
  const target = reconstructionTarget(s);
  const { mse, perRow } = mseLoss(cfg, saeOut, target);
  const aux = auxKLoss(cfg, p, target, saeOut, hiddenPre, s.deadIdx);
  return {
    losses: { mse_loss: mse, auxiliary_reconstruction_loss: aux },
    loss: tf.add(mse, aux) as tf.Scalar,
    featureActs: acts,
    saeOut,
    hiddenPre,
    ...(cfg.mseLossNormalization === 'dense_batch' ? {} : { perTokenL2: perRow }),
    ...(stats ? { stats } : {}),
  };
}

/** The TopK family's common checks. */
export function validateTopkFamily(cfg: SaeConfig, table: FieldTable): void {
  checkKnownFields(cfg, table);
  if (cfg.noiseScale !== 0) throw new ConfigError(`noise_scale: the ${cfg.architecture} SAE has no training noise, got ${cfg.noiseScale}`);
  if (cfg.useGhostGrads) throw new ConfigError(`use_ghost_grads: ghost grads stay with the v1.5 standard SAE; ${cfg.architecture} uses AuxK for dead latents`);
  if (cfg.normalizeSaeDecoder) throw new ConfigError(`normalize_sae_decoder: SAELens 6 keeps no unit-norm decoder (${cfg.architecture} uses rescale_acts_by_decoder_norm); set it to false`);
  if (cfg.dIn < 2) throw new ConfigError(`d_in: AuxK needs d_in >= 2 (k_aux = d_in // 2), got ${cfg.dIn}`);
}

/** What TopK saves: decoder norms folded in when trained with rescale_acts_by_decoder_norm. */
export function topkInferenceWeights(cfg: SaeConfig, w: Readonly<Record<string, Float32Array>>): InferenceSave['weights'] {
  const folded = field<boolean>(cfg, 'rescale_acts_by_decoder_norm') ? foldDecoderNorms(cfg, w) : { W_enc: w['W_enc']!, b_enc: w['b_enc']!, W_dec: w['W_dec']! };
  return inferenceWeightsAsIs(baseParams(cfg), { ...w, ...folded });
}

export const topk: Architecture = {
  name: 'topk',
  summary: 'SAELens 6 TopK SAE: k largest pre-activations per token (ReLU), AuxK loss on dead latents, decoder norms folded on save',
  fields: FIELDS,
  sparseStepValid: true,
  rowSeparable: (cfg) => cfg.mseLossNormalization !== 'dense_batch',
  materializesActivations: (cfg, mode) => !topkSparseStepApplies(cfg, mode),

  validate(cfg) {
    validateTopkFamily(cfg, FIELDS);
    const k = field<number>(cfg, 'k');
    if (k > cfg.dSae) throw new ConfigError(`k: ${k} exceeds d_sae ${cfg.dSae}`);
  },

  params: baseParams,
  init: baseInit,
  initialState: () => ({}),

  forward(cfg, p, x) {
    const { saeIn, hiddenPre: h } = inferencePreActs(cfg, p, x);
    const hiddenPre = rescaledPreActs(cfg, h, baseTensors(p).W_dec);
    const featureActs = topkRelu(hiddenPre, field<number>(cfg, 'k'));
    return { saeIn, hiddenPre, featureActs, out: topkDecode(cfg, p, featureActs, 'dense') };
  },

  decode: (cfg, p, f) => topkDecode(cfg, p, f, 'dense'),

  trainingForward(cfg, p, s) {
    if (topkSparseStepApplies(cfg, s.sparseStep)) return topkSparseTrainingForward(cfg, p, s, 'topk');
    const k = field<number>(cfg, 'k');
    const { hiddenPre: _h, ...out } = topkFamilyForward(cfg, p, s, (h) => ({ acts: topkRelu(h, k) }));
    return out;
  },

  coefficients: () => ({}),

  toInference(cfg, w) {
    return {
      architecture: 'topk',
      cfg: { k: field<number>(cfg, 'k'), rescale_acts_by_decoder_norm: field<boolean>(cfg, 'rescale_acts_by_decoder_norm') },
      weights: topkInferenceWeights(cfg, w),
    };
  },
};
