/**
 * `gated`: SAELens 6's Gated SAE (sae_lens/saes/gated_sae.py, v6.18.0; Rajamanoharan et al. 2024).
 * No `b_enc`: a gate path and a magnitude path share W_enc.
 *
 *   x̃ = x − b_dec·apply_b_dec_to_input,  π_gate = x̃ W_enc + b_gate,
 *   f = 1[π_gate > 0] · relu(x̃ (W_enc ⊙ exp(r_mag)) + b_mag),  x̂ = f W_dec + b_dec.
 *
 * (hidden_pre, as SAELens's hook_sae_acts_pre, is the magnitude pre-activation.) Loss terms:
 *   `mse_loss` = mean_b Σ_d (x̂ − x)²,
 *   `l1_loss` = λ(t)·mean_b Σ_i relu(π_gate)_i·‖W_dec,i‖,
 *   `auxiliary_reconstruction_loss` = mean_b Σ_d (relu(π_gate) W_dec + b_dec − x)²
 * with W_dec and b_dec NOT detached in the auxiliary term, as SAELens 6 releases do (the paper and
 * dictionary_learning use a frozen decoder copy there). The gate's indicator has no gradient:
 * W_enc and b_gate learn through the L1 and auxiliary terms, r_mag and b_mag through the MSE.
 * λ(t) is `l1_coefficient` (default 1.0) with a linear warm-up over `l1_warm_up_steps`.
 * `foldGatedDecoderNorm` is SAELens's `fold_W_dec_norm`: W_enc·n, b_gate·n, b_mag·n, W_dec/n,
 * r_mag unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GATED_FIELDS } from './fieldTables.js';
import { ConfigError } from '../../errors.js';
import { mm, rowNorms } from '../ops.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { Architecture, ParamTensors } from './Architecture.js';
import { baseInit, checkKnownFields, field, foldDecoderNorms, mseLoss } from './saelens6Base.js';

const FIELDS = GATED_FIELDS;

function need(p: ParamTensors, name: string): tf.Tensor {
  const t = p[name];
  if (!t) throw new ConfigError(`gated SAE: parameter ${name} is missing (have ${Object.keys(p).join(', ')})`);
  return t;
}

interface GatedPaths {
  saeIn: tf.Tensor2D;
  piGate: tf.Tensor2D;
  magPre: tf.Tensor2D;
  featureActs: tf.Tensor2D;
}

function paths(cfg: SaeConfig, p: ParamTensors, x: tf.Tensor2D): GatedPaths {
  const W_enc = need(p, 'W_enc') as tf.Tensor2D;
  const saeIn = cfg.applyBDecToInput ? (tf.sub(x, need(p, 'b_dec')) as tf.Tensor2D) : x;
  const piGate = tf.add(mm(saeIn, W_enc), need(p, 'b_gate')) as tf.Tensor2D;
  const magPre = tf.add(mm(saeIn, tf.mul(W_enc, tf.exp(need(p, 'r_mag'))) as tf.Tensor2D), need(p, 'b_mag')) as tf.Tensor2D;
  // 1[π_gate > 0], a constant for autodiff (a bool in SAELens): tf.step is 0 at 0 and has a zero gradient
  const active = tf.step(piGate);
  const featureActs = tf.mul(active, tf.relu(magPre)) as tf.Tensor2D;
  return { saeIn, piGate, magPre, featureActs };
}

const decode = (p: ParamTensors, f: tf.Tensor2D) => tf.add(mm(f, need(p, 'W_dec') as tf.Tensor2D), need(p, 'b_dec')) as tf.Tensor2D;

/** SAELens `GatedSAE.fold_W_dec_norm`: W_enc·n, b_gate·n, b_mag·n, W_dec/n; r_mag unchanged. */
export function foldGatedDecoderNorm(cfg: SaeConfig, w: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  // the shared fold scales a b_enc; gated has none, so its biases are scaled here
  const { W_enc, W_dec, norms } = foldDecoderNorms(cfg, { ...w, b_enc: new Float32Array(cfg.dSae) });
  const byNorm = (a: Float32Array) => a.map((v, i) => Math.fround(v * norms[i]!));
  return { ...w, W_enc, W_dec, b_gate: byNorm(w['b_gate']!), b_mag: byNorm(w['b_mag']!) };
}

export const gated: Architecture = {
  name: 'gated',
  summary: 'SAELens 6 Gated SAE: gate and magnitude paths sharing W_enc, decoder-norm-weighted gate L1, auxiliary gate reconstruction',
  fields: FIELDS,
  // the gate L1 and auxiliary terms use relu(π_gate) where the feature acts are zero: dense products
  sparseStepValid: false,
  rowSeparable: (cfg) => cfg.mseLossNormalization !== 'dense_batch',

  validate(cfg) {
    checkKnownFields(cfg, FIELDS);
    if (cfg.useGhostGrads) throw new ConfigError('use_ghost_grads: ghost grads stay with the v1.5 standard SAE (SAELens 6 removed them)');
  },

  params: (cfg) => [
    { name: 'W_enc', shape: [cfg.dIn, cfg.dSae] },
    { name: 'W_dec', shape: [cfg.dSae, cfg.dIn] },
    { name: 'b_dec', shape: [cfg.dIn] },
    { name: 'b_gate', shape: [cfg.dSae] },
    { name: 'b_mag', shape: [cfg.dSae] },
    { name: 'r_mag', shape: [cfg.dSae] },
  ],

  init(cfg, seed) {
    const { b_enc, ...base } = baseInit(cfg, seed);
    b_enc!.dispose();
    return { ...base, b_gate: tf.zeros([cfg.dSae]), b_mag: tf.zeros([cfg.dSae]), r_mag: tf.zeros([cfg.dSae]) };
  },

  initialState: () => ({}),

  forward(cfg, p, x) {
    const { saeIn, magPre, featureActs } = paths(cfg, p, x);
    return { saeIn, hiddenPre: magPre, featureActs, out: decode(p, featureActs) };
  },

  decode: (_cfg, p, f) => decode(p, f),

  trainingForward(cfg, p, s) {
    const { piGate, featureActs } = paths(cfg, p, s.x);
    const saeOut = decode(p, featureActs);
    const { mse, perRow } = mseLoss(cfg, saeOut, s.x);
    const gateAct = tf.relu(piGate) as tf.Tensor2D;
    const dNorm = rowNorms(need(p, 'W_dec') as tf.Tensor2D);
    const coeff = s.coefficients['l1'] ?? 0;
    const losses: Record<string, tf.Scalar> = {
      mse_loss: mse,
      l1_loss: tf.mul(tf.mean(tf.sum(tf.mul(gateAct, dNorm), -1)), coeff) as tf.Scalar,
      auxiliary_reconstruction_loss: tf.mean(tf.sum(tf.square(tf.sub(decode(p, gateAct), s.x)), -1)) as tf.Scalar,
    };
    const loss = Object.values(losses).reduce((a, b) => tf.add(a, b) as tf.Scalar);
    return { losses, loss, featureActs, saeOut, ...(cfg.mseLossNormalization === 'dense_batch' ? {} : { perTokenL2: perRow }) };
  },

  coefficients: (cfg) => {
    return { l1: { value: field<number>(cfg, 'l1_coefficient'), warmUpSteps: field<number>(cfg, 'l1_warm_up_steps') } };
  },

  toInference(cfg, w) {
    const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const spec of gated.params(cfg)) weights[spec.name] = { shape: [...spec.shape], data: w[spec.name]! };
    return { architecture: 'gated', cfg: {}, weights };
  },
};
