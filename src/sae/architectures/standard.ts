/**
 * `standard`: SAELens v1.5.0's ReLU (or tanh-ReLU) + L1 SAE, the default architecture of v1.5
 * configs, with its numerics unchanged (DESIGN.md §5): unit-norm decoder rows renormalized
 * before each step, the decoder-parallel gradient projected out after clipping, ghost grads,
 * `scaling_factor` and its fine-tuning phase. Its fields are the v1.5 runner's flat fields
 * (SaeConfig's camelCase ones), so `fields` is empty. Loss terms: mse_loss, l1_loss (λ-weighted,
 * SAELens's l1_loss), ghost_grad_loss. SAELens 6's standard SAE is `standard_v6`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../../errors.js';
import { initialWeights, unitRows } from '../init.js';
import { saeLosses } from '../losses.js';
import type { SaeConfig } from '../SaeConfig.js';
import { activation, decodeWith, encodePre, type SaeParams } from '../standardForward.js';
import type { Architecture, ParamTensors, TrainerSettings } from './Architecture.js';
import { STANDARD_FIELDS } from './fieldTables.js';

/** Which parameters train in each fine-tuning method (SAELens v1.5 FINETUNING_PARAMETERS). */
const FINETUNING_PARAMETERS = {
  scale: ['scaling_factor'],
  decoder: ['scaling_factor', 'W_dec', 'b_dec'],
  unrotated_decoder: ['scaling_factor', 'b_dec'],
} as const;
const TRAINING_PARAMETERS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;

/** The v1.5 parameter view of named tensors (scaling_factor null when `skipScaling`). */
export function standardParams(p: ParamTensors, skipScaling = false): SaeParams {
  const need = (n: string) => {
    const t = p[n];
    if (!t) throw new ConfigError(`standard SAE: parameter ${n} is missing (have ${Object.keys(p).join(', ')})`);
    return t;
  };
  return {
    W_enc: need('W_enc') as tf.Tensor2D,
    b_enc: need('b_enc') as tf.Tensor1D,
    W_dec: need('W_dec') as tf.Tensor2D,
    b_dec: need('b_dec') as tf.Tensor1D,
    scalingFactor: skipScaling ? null : ((p['scaling_factor'] as tf.Tensor1D | undefined) ?? null),
  };
}

export const standard: Architecture = {
  name: 'standard',
  summary: 'SAELens v1.5 ReLU + L1 SAE (unit-norm decoder, ghost grads, scaling_factor fine-tuning); the v1.5 default',
  fields: STANDARD_FIELDS,
  sparseStepValid: true,
  rowSeparable: (cfg) => cfg.noiseScale === 0 && cfg.mseLossNormalization !== 'dense_batch',

  validate(cfg: SaeConfig): void {
    if (cfg.activationFn !== 'relu' && cfg.activationFn !== 'tanh-relu') {
      throw new ConfigError(`activationFn: unknown '${String(cfg.activationFn)}', expected relu or tanh-relu`);
    }
    if (!(cfg.lpNorm > 0)) throw new ConfigError(`lpNorm: expected > 0, got ${cfg.lpNorm}`);
    if (cfg.mseLossNormalization !== null && cfg.mseLossNormalization !== 'dense_batch') {
      throw new ConfigError(`mseLossNormalization: expected null or 'dense_batch', got '${String(cfg.mseLossNormalization)}'`);
    }
    const extra = Object.keys(cfg.archFields ?? {});
    if (extra.length > 0) throw new ConfigError(`architecture 'standard' (SAELens v1.5) has no field ${extra.join(', ')}`);
  },

  params: (cfg) => [
    { name: 'W_enc', shape: [cfg.dIn, cfg.dSae] },
    { name: 'b_enc', shape: [cfg.dSae] },
    { name: 'W_dec', shape: [cfg.dSae, cfg.dIn] },
    { name: 'b_dec', shape: [cfg.dIn] },
    { name: 'scaling_factor', shape: [cfg.dSae] },
  ],

  init(cfg, seed) {
    const w = initialWeights(cfg, seed);
    return { W_enc: w.W_enc, b_enc: w.b_enc, W_dec: w.W_dec, b_dec: w.b_dec, scaling_factor: w.scalingFactor };
  },

  initialState: () => ({}),

  forward(cfg, p, x) {
    const sp = standardParams(p);
    const { saeIn, hiddenPre } = encodePre(cfg, sp, x);
    const featureActs = activation(cfg.activationFn, hiddenPre);
    return { saeIn, hiddenPre, featureActs, out: decodeWith(sp, featureActs) };
  },

  decode: (_cfg, p, f) => decodeWith(standardParams(p), f),

  trainingForward(cfg, p, s) {
    const useGhostGrads = s.trainer.useGhostGrads || cfg.useGhostGrads;
    const terms = saeLosses(cfg, standardParams(p, s.onesParams.has('scaling_factor')), s.x, {
      l1Coefficient: s.coefficients['l1'] ?? 0,
      training: true,
      constantInput: true,
      deadIdx: s.deadIdx,
      useGhostGrads,
      noiseSeed: s.noiseSeed,
      ...(s.sparseStep !== undefined ? { sparseStep: s.sparseStep } : {}),
    });
    return {
      losses: { mse_loss: terms.mse, l1_loss: terms.l1, ghost_grad_loss: terms.ghost },
      loss: terms.loss,
      featureActs: terms.featureActs,
      saeOut: terms.saeOut,
      // the loss's own per-row sum unless dense_batch divided it
      ...(cfg.mseLossNormalization === 'dense_batch' ? {} : { perTokenL2: terms.perTokenMse }),
    };
  },

  coefficients: (_cfg, t: TrainerSettings) => ({ l1: { value: t.l1Coefficient, warmUpSteps: t.l1WarmUpSteps } }),

  trainableParams: (_cfg, phase, t) =>
    phase === 'finetune' && t.finetuningMethod !== null ? FINETUNING_PARAMETERS[t.finetuningMethod] : TRAINING_PARAMETERS,

  beforeStep(cfg, vars) {
    if (!cfg.normalizeSaeDecoder) return;
    const w = vars['W_dec']!;
    const unit = unitRows(w as tf.Tensor2D);
    w.assign(unit);
    unit.dispose();
  },

  adjustGrads(cfg, vars, grads) {
    // remove the component of each W_dec row's gradient along the row (after clipping, as v1.5)
    const gd = grads['W_dec'];
    if (!cfg.normalizeSaeDecoder || !gd) return;
    const w = vars['W_dec']!;
    grads['W_dec'] = tf.sub(gd, tf.mul(tf.sum(tf.mul(gd, w), 1, true), w));
  },

  toInference(cfg, w) {
    // v1.5 saves its training weights as they are (scaling_factor included).
    const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const spec of standard.params(cfg)) weights[spec.name] = { shape: [...spec.shape], data: w[spec.name]! };
    return { architecture: 'standard', cfg: {}, weights };
  },
};
