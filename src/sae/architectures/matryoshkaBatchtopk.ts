/**
 * `matryoshka_batchtopk`: SAELens 6's Matryoshka BatchTopK SAE
 * (sae_lens/saes/matryoshka_batchtopk_sae.py, after #571: one batch-wide top-k shared by every
 * level). Everything of `batchtopk`, plus for each inner width w of `matryoshka_widths` (the last
 * level, d_sae, is the full SAE) the prefix reconstruction
 *
 *   x̂_w = b_dec + Σ_{levels up to w} (f[:, prev:w] ⊙ 1/‖W_dec,i‖) W_dec[prev:w],
 *   inner_mse_loss_<w> = mean_b Σ_d (x̂_w − x)²
 *
 * added to the loss unweighted (no detach between levels). A width list that does not end at
 * d_sae gets d_sae appended, as SAELens does (it warns); widths must increase strictly.
 * `use_matryoshka_aux_loss` (SAELens ≥ 6.37) gives each level its own AuxK on its dead latents
 * against that level's residual. Saved as `jumprelu`, like BatchTopK.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MATRYOSHKA_BATCHTOPK_FIELDS } from './fieldTables.js';
import { ConfigError } from '../../errors.js';
import { perItemMse } from '../losses.js';
import { gatherCols, gatherRows, mm, rowNorms, stopGradient } from '../ops.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { Architecture, ParamTensors } from './Architecture.js';
import { batchTopkForward, batchTopkTrainingActivation, toJumpReluSave, updateTopkThreshold, validateBatchTopk } from './batchtopk.js';
import { baseInit, baseParams, baseTensors, field } from './saelens6Base.js';
import { invDecoderNorms, topkDecode, topkFamilyForward } from './topk.js';
import { topkAmong } from './topkSelect.js';
import { topkSparseStepApplies, topkSparseTrainingForward } from './topkSparseStep.js';

const FIELDS = MATRYOSHKA_BATCHTOPK_FIELDS;

/** The level widths, d_sae appended when the list stops short of it (SAELens). */
export function matryoshkaWidths(cfg: SaeConfig): number[] {
  const w = [...field<number[]>(cfg, 'matryoshka_widths')];
  if (w[w.length - 1] !== cfg.dSae) w.push(cfg.dSae);
  return w;
}

/**
 * The cumulative prefix reconstructions, level by level (SAELens `_iterable_decode`): for each
 * width w, b_dec + the decoded latents [0, w). The outer level only when `includeOuter`.
 */
function prefixDecodes(cfg: SaeConfig, p: ParamTensors, f: tf.Tensor2D, includeOuter: boolean): Array<[number, tf.Tensor2D]> {
  const { W_dec, b_dec } = baseTensors(p);
  const inv = invDecoderNorms(cfg, W_dec);
  const scaled = inv ? (tf.mul(f, inv) as tf.Tensor2D) : f;
  const widths = matryoshkaWidths(cfg);
  const levels = includeOuter ? widths : widths.slice(0, -1);
  const out: Array<[number, tf.Tensor2D]> = [];
  let decoded: tf.Tensor = b_dec;
  let prev = 0;
  for (const w of levels) {
    const part = mm(tf.slice(scaled, [0, prev], [-1, w - prev]) as tf.Tensor2D, tf.slice(W_dec, [prev, 0], [w - prev, -1]) as tf.Tensor2D);
    decoded = tf.add(part, decoded);
    out.push([w, decoded as tf.Tensor2D]);
    prev = w;
  }
  return out;
}

/** SAELens `calculate_matryoshka_aux_loss`: an AuxK per level, on that level's dead latents and residual. */
function matryoshkaAuxLoss(cfg: SaeConfig, p: ParamTensors, x: tf.Tensor2D, f: tf.Tensor2D, hiddenPre: tf.Tensor2D, deadIdx: Int32Array): tf.Scalar {
  if (deadIdx.length === 0) return tf.scalar(0);
  const { W_dec } = baseTensors(p);
  const kAux0 = Math.floor(cfg.dIn / 2);
  const scaledWDec = field<boolean>(cfg, 'rescale_acts_by_decoder_norm') ? (tf.div(W_dec, tf.expandDims(rowNorms(W_dec), 1)) as tf.Tensor2D) : W_dec;
  const terms: tf.Scalar[] = [];
  let prev = 0;
  for (const [w, partial] of prefixDecodes(cfg, p, f, true)) {
    const dead = Int32Array.from(Array.from(deadIdx).filter((i) => i >= prev && i < w));
    if (dead.length > 0) {
      const scale = Math.min(dead.length / kAux0, 1);
      const kAux = Math.min(kAux0, dead.length);
      const idx = tf.tensor1d(dead, 'int32');
      const residual = stopGradient(tf.sub(x, partial) as tf.Tensor2D);
      const acts = topkAmong(gatherCols(hiddenPre, idx), kAux);
      const recons = mm(acts, gatherRows(scaledWDec, idx));
      terms.push(tf.mul(tf.mean(tf.sum(tf.square(tf.sub(recons, residual)), -1)), scale) as tf.Scalar);
    }
    prev = w;
  }
  return tf.mul(tf.addN(terms), field<number>(cfg, 'aux_loss_coefficient')) as tf.Scalar;
}

export const matryoshkaBatchtopk: Architecture = {
  name: 'matryoshka_batchtopk',
  summary: 'SAELens 6 Matryoshka BatchTopK SAE: one batch-wide top-k, full MSE + prefix reconstruction per matryoshka width; saved as jumprelu',
  fields: FIELDS,
  sparseStepValid: true,
  rowSeparable: () => false,
  materializesActivations: (cfg, mode) => !topkSparseStepApplies(cfg, mode),

  validate(cfg) {
    validateBatchTopk(cfg, FIELDS);
    const given = field<number[]>(cfg, 'matryoshka_widths');
    if (given.length === 0) throw new ConfigError('matryoshka_widths: must not be empty (the widths of the nested levels, the last one d_sae)');
    const w = matryoshkaWidths(cfg);
    for (let i = 1; i < w.length; i++) {
      if (!(w[i]! > w[i - 1]!)) throw new ConfigError(`matryoshka_widths: must increase strictly and stay within d_sae ${cfg.dSae}, got ${JSON.stringify(given)}`);
    }
  },

  params: baseParams,
  init: baseInit,
  initialState: () => ({ topk_threshold: 0 }),

  forward: batchTopkForward,

  decode: (cfg, p, f) => topkDecode(cfg, p, f, 'dense'),

  trainingForward(cfg, p, s) {
    if (topkSparseStepApplies(cfg, s.sparseStep)) return topkSparseTrainingForward(cfg, p, s, 'batchtopk', matryoshkaWidths(cfg).slice(0, -1));
    const useLevelAux = field<boolean>(cfg, 'use_matryoshka_aux_loss');
    const base = topkFamilyForward(cfg, p, s, batchTopkTrainingActivation(cfg));
    const losses: Record<string, tf.Scalar> = { mse_loss: base.losses['mse_loss']! };
    losses['auxiliary_reconstruction_loss'] = useLevelAux
      ? matryoshkaAuxLoss(cfg, p, s.x, base.featureActs, base.hiddenPre, s.deadIdx)
      : base.losses['auxiliary_reconstruction_loss']!;
    let loss = tf.add(losses['mse_loss']!, losses['auxiliary_reconstruction_loss']!) as tf.Scalar;
    for (const [w, recon] of prefixDecodes(cfg, p, base.featureActs, false)) {
      const inner = tf.mean(tf.sum(perItemMse(recon, s.x, cfg.mseLossNormalization), -1)) as tf.Scalar;
      losses[`inner_mse_loss_${w}`] = inner;
      loss = tf.add(loss, inner) as tf.Scalar;
    }
    const { hiddenPre: _h, losses: _l, loss: _s, ...rest } = base;
    return { ...rest, losses, loss };
  },

  coefficients: () => ({}),
  afterStep: updateTopkThreshold,
  toInference: toJumpReluSave,
};
