/**
 * `jumprelu`: SAELens 6's JumpReLU SAE (sae_lens/saes/jumprelu_sae.py, as of 6.48: the threshold
 * θ is the trained parameter itself, used as relu(θ) so a negative θ just switches the gate off).
 *
 *   h = (x − b_dec·apply_b_dec_to_input) W_enc + b_enc,   f = JumpReLU(h, relu(θ)) = h·1[h > relu(θ)],
 *   x̂ = f W_dec + b_dec.
 *
 * Training, with the rectangle-kernel straight-through estimators of bandwidth ε
 * (rect(u) = 1[−½ < u < ½]):
 *   JumpReLU: ∂h = 1[h > θ]·g,  ∂θ = Σ_batch −(θ/ε)·rect((h − θ)/ε)·g
 *   Step:     ∂h = 0,           ∂θ = Σ_batch −(1/ε)·rect((h − θ)/ε)·g
 * Loss terms (SAELens metric names): `mse_loss` = mean_b Σ_d (x̂ − x)²;
 *   `l0_loss` = λ(t)·mean_b Σ_i Step(h, θ)                           (mode "step", DeepMind), or
 *             = λ(t)·mean_b Σ_i tanh(c·f_i·‖W_dec,i‖)                (mode "tanh", Anthropic);
 *   `pre_act_loss` (when pre_act_loss_coefficient is set) = coeff·mean_b Σ_i relu(θ_i − h_i)·dead_i·‖W_dec,i‖,
 *   0 while no latent is dead. λ(t) is `l0_coefficient` with a linear warm-up over `l0_warm_up_steps`.
 * Saved for inference as is (`threshold` under its name); folders of SAELens < 6.48 that hold
 * `log_threshold` load with θ = exp(log_threshold) (src/sae/folderWeights.ts).
 * `foldJumpReluDecoderNorm` folds ‖W_dec,i‖ into W_enc, b_enc and θ (SAELens `fold_W_dec_norm`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { JUMPRELU_FIELDS, JUMPRELU_SPARSITY_LOSS_MODES } from './fieldTables.js';
import { ConfigError } from '../../errors.js';
import { rowNorms } from '../ops.js';
import type { SaeConfig } from '../SaeConfig.js';
import { sparseStepMode } from '../sparse.js';
import type { Architecture, ParamTensors } from './Architecture.js';
import {
  baseInit, baseParams, baseTensors, checkKnownFields, field, foldDecoderNorms, inferencePreActs,
  inferenceWeightsAsIs, mseLoss, reconstructionTarget, trainingPreActs,
} from './saelens6Base.js';

type Arg = tf.Tensor | tf.GradSaveFunc;

const FIELDS = JUMPRELU_FIELDS;

const rect = (u: tf.Tensor) => tf.cast(tf.logicalAnd(tf.greater(u, -0.5), tf.less(u, 0.5)), 'float32');

/** h·1[h > θ] with SAELens's JumpReLU straight-through estimator (θ [d_sae], broadcast over rows). */
export function jumpReLU(h: tf.Tensor2D, theta: tf.Tensor1D, bandwidth: number): tf.Tensor2D {
  const f = tf.customGrad((...args: Arg[]) => {
    const [x, t, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([x, t]);
    return {
      value: tf.mul(x, tf.cast(tf.greater(x, t), 'float32')),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ts] = saved as [tf.Tensor2D, tf.Tensor1D];
        const dx = tf.mul(dy, tf.cast(tf.greater(xs, ts), 'float32'));
        const window = rect(tf.div(tf.sub(xs, ts), bandwidth));
        const dt = tf.sum(tf.mul(tf.mul(tf.neg(tf.div(ts, bandwidth)), window), dy), 0);
        return [dx, dt];
      },
    };
  });
  return f(h, theta) as tf.Tensor2D;
}

/** 1[h > θ] with SAELens's Step estimator: no gradient to h, ∂θ = Σ_batch −(1/ε)·rect((h − θ)/ε)·g. */
export function heavisideStep(h: tf.Tensor2D, theta: tf.Tensor1D, bandwidth: number): tf.Tensor2D {
  const f = tf.customGrad((...args: Arg[]) => {
    const [x, t, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([x, t]);
    return {
      value: tf.cast(tf.greater(x, t), 'float32'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ts] = saved as [tf.Tensor2D, tf.Tensor1D];
        const window = rect(tf.div(tf.sub(xs, ts), bandwidth));
        return [tf.zerosLike(xs), tf.sum(tf.mul(tf.mul(window, dy), -1 / bandwidth), 0)];
      },
    };
  });
  return f(h, theta) as tf.Tensor2D;
}

function threshold(p: ParamTensors): tf.Tensor1D {
  const t = p['threshold'];
  if (!t) throw new ConfigError(`jumprelu SAE: parameter threshold is missing (have ${Object.keys(p).join(', ')})`);
  return t as tf.Tensor1D;
}

function decode(p: ParamTensors, f: tf.Tensor2D): tf.Tensor2D {
  const { W_dec, b_dec } = baseTensors(p);
  return tf.add(tf.matMul(f, W_dec), b_dec) as tf.Tensor2D;
}

/** The 0/1 float mask [d_sae] of the trainer's dead-latent indices. */
function deadMask(dSae: number, deadIdx: Int32Array): tf.Tensor1D {
  const m = new Float32Array(dSae);
  for (const i of deadIdx) m[i] = 1;
  return tf.tensor1d(m);
}

/**
 * Folds the decoder row norms n into the encoder (SAELens `fold_W_dec_norm`): W_enc·n, b_enc·n,
 * θ·n, W_dec/n. Feature acts scale by n, the reconstruction is unchanged.
 */
export function foldJumpReluDecoderNorm(cfg: SaeConfig, w: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  const { W_enc, b_enc, W_dec, norms } = foldDecoderNorms(cfg, w);
  return { ...w, W_enc, b_enc, W_dec, threshold: w['threshold']!.map((v, i) => Math.fround(v * norms[i]!)) };
}

export const jumprelu: Architecture = {
  name: 'jumprelu',
  summary: 'SAELens 6 JumpReLU SAE: trained threshold, step (L0) or tanh sparsity loss, optional pre-activation loss on dead latents',
  fields: FIELDS,
  // dL/df at latents below their threshold feeds the threshold's estimator: dense products needed
  sparseStepValid: false,
  rowSeparable: (cfg) => cfg.mseLossNormalization !== 'dense_batch',

  validate(cfg) {
    checkKnownFields(cfg, FIELDS);
    if (cfg.useGhostGrads) throw new ConfigError('use_ghost_grads: ghost grads stay with the v1.5 standard SAE; jumprelu uses pre_act_loss_coefficient for dead latents');
    const mode = field<string>(cfg, 'jumprelu_sparsity_loss_mode');
    if (!(JUMPRELU_SPARSITY_LOSS_MODES as readonly string[]).includes(mode)) {
      throw new ConfigError(`jumprelu_sparsity_loss_mode: expected step or tanh, got ${JSON.stringify(mode)}`);
    }
    const bw = field<number>(cfg, 'jumprelu_bandwidth');
    if (!(bw > 0)) throw new ConfigError(`jumprelu_bandwidth: expected > 0, got ${bw}`);
  },

  params: (cfg) => [...baseParams(cfg), { name: 'threshold', shape: [cfg.dSae] }],

  init(cfg, seed) {
    return { ...baseInit(cfg, seed), threshold: tf.fill([cfg.dSae], field<number>(cfg, 'jumprelu_init_threshold')) };
  },

  initialState: () => ({}),

  forward(cfg, p, x) {
    const { saeIn, hiddenPre } = inferencePreActs(cfg, p, x);
    const gate = tf.cast(tf.greater(hiddenPre, tf.relu(threshold(p))), 'float32');
    const featureActs = tf.mul(tf.relu(hiddenPre), gate) as tf.Tensor2D;
    return { saeIn, hiddenPre, featureActs, out: decode(p, featureActs) };
  },

  decode: (_cfg, p, f) => decode(p, f),

  trainingForward(cfg, p, s) {
    const eps = field<number>(cfg, 'jumprelu_bandwidth');
    const hiddenPre = trainingPreActs(cfg, p, s.x, s.sparseStep ?? sparseStepMode());
    const theta = tf.relu(threshold(p)) as tf.Tensor1D;
    const featureActs = jumpReLU(hiddenPre, theta, eps);
    const saeOut = decode(p, featureActs);
    const { mse, perRow } = mseLoss(cfg, saeOut, reconstructionTarget(s));
    const coeff = s.coefficients['l0'] ?? 0;
    const dNorm = rowNorms(baseTensors(p).W_dec);
    const perRowL0 =
      field<string>(cfg, 'jumprelu_sparsity_loss_mode') === 'step'
        ? tf.sum(heavisideStep(hiddenPre, theta, eps), -1)
        : tf.sum(tf.tanh(tf.mul(tf.mul(featureActs, dNorm), field<number>(cfg, 'jumprelu_tanh_scale'))), -1);
    const losses: Record<string, tf.Scalar> = { mse_loss: mse, l0_loss: tf.mean(tf.mul(perRowL0, coeff)) as tf.Scalar };
    const preActCoeff = field<number | null>(cfg, 'pre_act_loss_coefficient');
    if (preActCoeff !== null) {
      losses['pre_act_loss'] =
        s.deadIdx.length === 0
          ? tf.scalar(0)
          : (tf.mul(tf.mean(tf.sum(tf.mul(tf.mul(tf.relu(tf.sub(theta, hiddenPre)), deadMask(cfg.dSae, s.deadIdx)), dNorm), -1)), preActCoeff) as tf.Scalar);
    }
    const loss = Object.values(losses).reduce((a, b) => tf.add(a, b) as tf.Scalar);
    return { losses, loss, featureActs, saeOut, ...(cfg.mseLossNormalization === 'dense_batch' ? {} : { perTokenL2: perRow }) };
  },

  coefficients: (cfg) => ({ l0: { value: field<number>(cfg, 'l0_coefficient'), warmUpSteps: field<number>(cfg, 'l0_warm_up_steps') } }),

  toInference: (cfg, w) => ({ architecture: 'jumprelu', cfg: {}, weights: inferenceWeightsAsIs(jumprelu.params(cfg), w) }),
};
