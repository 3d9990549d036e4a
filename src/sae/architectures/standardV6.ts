/**
 * `standard_v6`: SAELens 6's standard SAE (sae_lens/saes/standard_sae.py): ReLU, L1 weighted by
 * the decoder row norms, no unit-norm decoder, no gradient projection, no ghost grads, decoder
 * initialised at row norm 0.1 with W_enc = W_decᵀ.
 *
 *   f = ReLU(x̃ W_enc + b_enc),  x̂ = f W_dec + b_dec,
 *   l1_loss = mean_b(coeff_l1 · ‖f ⊙ ‖W_dec,i‖‖_p)  (coefficient `l1`, warm-up l1_warm_up_steps)
 *
 * Named `standard_v6` so that `standard` stays SAELens v1.5's SAE, the default of v1.5 configs;
 * in a SAELens 6 runner config (the nested `sae:` block) `architecture: standard` means this one,
 * and its folders are saved with `"architecture": "standard"` as SAELens 6 writes them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../../errors.js';
import { saeLosses } from '../losses.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { Architecture } from './Architecture.js';
import { STANDARD_V6_FIELDS } from './fieldTables.js';
import { baseInit, baseParams, baseTensors, checkKnownFields, field, inferencePreActs, inferenceWeightsAsIs } from './saelens6Base.js';

const FIELDS = STANDARD_V6_FIELDS;

/** The v1.5 loss code computes exactly these terms with these settings (no noise, no ghost, scaling off). */
function asV15(cfg: SaeConfig): SaeConfig {
  return { ...cfg, activationFn: 'relu', noiseScale: 0, useGhostGrads: false, scaleSparsityPenaltyByDecoderNorm: true, lpNorm: field<number>(cfg, 'lp_norm') };
}

export const standardV6: Architecture = {
  name: 'standard_v6',
  summary: "SAELens 6 standard SAE: ReLU + L1 weighted by decoder norms, decoder init norm 0.1, W_enc = W_decᵀ (architecture 'standard' in a SAELens 6 sae: block)",
  fields: FIELDS,
  sparseStepValid: true,
  rowSeparable: (cfg) => cfg.mseLossNormalization !== 'dense_batch',

  validate(cfg) {
    checkKnownFields(cfg, FIELDS);
    if (cfg.activationFn !== 'relu') throw new ConfigError(`activation_fn: SAELens 6's standard SAE is ReLU, got '${cfg.activationFn}'`);
    if (cfg.noiseScale !== 0) throw new ConfigError(`noise_scale: SAELens 6's standard SAE has no training noise, got ${cfg.noiseScale}`);
    if (cfg.useGhostGrads) throw new ConfigError('use_ghost_grads: ghost grads stay with the v1.5 standard SAE (SAELens 6 removed them)');
    if (cfg.normalizeSaeDecoder) throw new ConfigError('normalize_sae_decoder: SAELens 6 keeps no unit-norm decoder (the L1 is weighted by decoder norms); set it to false');
  },

  params: baseParams,
  init: baseInit,
  initialState: () => ({}),

  forward(cfg, p, x) {
    const { saeIn, hiddenPre } = inferencePreActs(cfg, p, x);
    const featureActs = tf.relu(hiddenPre);
    const { W_dec, b_dec } = baseTensors(p);
    return { saeIn, hiddenPre, featureActs, out: tf.add(tf.matMul(featureActs, W_dec), b_dec) as tf.Tensor2D };
  },

  decode(_cfg, p, f) {
    const { W_dec, b_dec } = baseTensors(p);
    return tf.add(tf.matMul(f, W_dec), b_dec) as tf.Tensor2D;
  },

  trainingForward(cfg, p, s) {
    const { W_enc, b_enc, W_dec, b_dec } = baseTensors(p);
    const terms = saeLosses(asV15(cfg), { W_enc, b_enc, W_dec, b_dec, scalingFactor: null }, s.x, {
      l1Coefficient: s.coefficients['l1'] ?? 0,
      training: true,
      constantInput: true,
      noiseSeed: s.noiseSeed,
      ...(s.target !== undefined ? { target: s.target } : {}),
      ...(s.sparseStep !== undefined ? { sparseStep: s.sparseStep } : {}),
    });
    return {
      losses: { mse_loss: terms.mse, l1_loss: terms.l1 },
      loss: tf.add(terms.mse, terms.l1) as tf.Scalar,
      featureActs: terms.featureActs,
      saeOut: terms.saeOut,
      ...(cfg.mseLossNormalization === 'dense_batch' ? {} : { perTokenL2: terms.perTokenMse }),
    };
  },

  coefficients: (cfg) => ({ l1: { value: field<number>(cfg, 'l1_coefficient'), warmUpSteps: field<number>(cfg, 'l1_warm_up_steps') } }),

  toInference: (cfg, w) => ({ architecture: 'standard', cfg: {}, weights: inferenceWeightsAsIs(standardV6.params(cfg), w) }),
};
