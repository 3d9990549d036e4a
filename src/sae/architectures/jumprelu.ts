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
import { NonNegativeInt, NonNegativeNum, nullable, oneOf, PositiveNum } from '../../config/codecs.js';
import { ConfigError } from '../../errors.js';
import { mm, rowNorms } from '../ops.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { Architecture, ParamTensors } from './Architecture.js';
import { archField, deadMask, saelens6DecoderInit } from './saelens6Shared.js';
import type { FieldTable } from '../../config/fields.js';

type Arg = tf.Tensor | tf.GradSaveFunc;

export const JUMPRELU_SPARSITY_LOSS_MODES = ['step', 'tanh'] as const;

/** The architecture's own fields, decoded (SAELens 6 JumpReLUTrainingSAEConfig names). */
export interface JumpReluFields {
  readonly jumprelu_init_threshold: number;
  readonly jumprelu_bandwidth: number;
  readonly jumprelu_sparsity_loss_mode: (typeof JUMPRELU_SPARSITY_LOSS_MODES)[number];
  readonly l0_coefficient: number;
  readonly l0_warm_up_steps: number;
  readonly pre_act_loss_coefficient: number | null;
  readonly jumprelu_tanh_scale: number;
  readonly decoder_init_norm: number | null;
}

const FIELDS: FieldTable = {
  jumprelu_init_threshold: { codec: NonNegativeNum, default: 0.01 },
  jumprelu_bandwidth: { codec: PositiveNum, default: 0.05 },
  jumprelu_sparsity_loss_mode: { codec: oneOf(JUMPRELU_SPARSITY_LOSS_MODES), default: 'step' },
  l0_coefficient: { codec: NonNegativeNum, default: 1.0, sweep: true },
  l0_warm_up_steps: { codec: NonNegativeInt, default: 0 },
  pre_act_loss_coefficient: { codec: nullable(NonNegativeNum), default: null },
  jumprelu_tanh_scale: { codec: PositiveNum, default: 4.0 },
  decoder_init_norm: { codec: nullable(PositiveNum), default: 0.1 },
};

function fieldsOf(cfg: SaeConfig): JumpReluFields {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(FIELDS)) out[name] = archField(cfg, FIELDS, name);
  return out as unknown as JumpReluFields;
}

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

function need(p: ParamTensors, name: string): tf.Tensor {
  const t = p[name];
  if (!t) throw new ConfigError(`jumprelu SAE: parameter ${name} is missing (have ${Object.keys(p).join(', ')})`);
  return t;
}

function preActivations(cfg: SaeConfig, p: ParamTensors, x: tf.Tensor2D): { saeIn: tf.Tensor2D; hiddenPre: tf.Tensor2D } {
  const saeIn = cfg.applyBDecToInput ? (tf.sub(x, need(p, 'b_dec')) as tf.Tensor2D) : x;
  const hiddenPre = tf.add(mm(saeIn, need(p, 'W_enc') as tf.Tensor2D), need(p, 'b_enc')) as tf.Tensor2D;
  return { saeIn, hiddenPre };
}

const decode = (p: ParamTensors, f: tf.Tensor2D) => tf.add(mm(f, need(p, 'W_dec') as tf.Tensor2D), need(p, 'b_dec')) as tf.Tensor2D;

/**
 * Folds the decoder row norms n into the encoder (SAELens `fold_W_dec_norm`): W_enc·n, b_enc·n,
 * θ·n, W_dec/n. Feature acts scale by n, the reconstruction is unchanged. Row-major arrays in,
 * new arrays out.
 */
export function foldJumpReluDecoderNorm(
  w: Readonly<Record<string, Float32Array>>,
  dIn: number,
  dSae: number,
): Record<string, Float32Array> {
  const n = decoderRowNorms(w['W_dec']!, dIn, dSae);
  const W_enc = new Float32Array(dIn * dSae);
  for (let r = 0; r < dIn; r++) for (let c = 0; c < dSae; c++) W_enc[r * dSae + c] = w['W_enc']![r * dSae + c]! * n[c]!;
  const W_dec = new Float32Array(dSae * dIn);
  for (let r = 0; r < dSae; r++) for (let c = 0; c < dIn; c++) W_dec[r * dIn + c] = w['W_dec']![r * dIn + c]! / n[r]!;
  return {
    ...w,
    W_enc,
    W_dec,
    b_enc: w['b_enc']!.map((v, i) => v * n[i]!),
    threshold: w['threshold']!.map((v, i) => v * n[i]!),
  };
}

/** ‖W_dec,i‖ per row (float64 sums), clamped at 1e-8 as SAELens. */
export function decoderRowNorms(W_dec: Float32Array, dIn: number, dSae: number): Float64Array {
  const n = new Float64Array(dSae);
  for (let r = 0; r < dSae; r++) {
    let s = 0;
    for (let c = 0; c < dIn; c++) s += W_dec[r * dIn + c]! ** 2;
    n[r] = Math.max(Math.sqrt(s), 1e-8);
  }
  return n;
}

export const jumprelu: Architecture = {
  name: 'jumprelu',
  summary: 'SAELens 6 JumpReLU SAE: trained threshold, step (L0) or tanh sparsity loss, optional pre-activation loss on dead latents',
  fields: FIELDS,
  // dL/df at latents below the threshold feeds the threshold's estimator: dense products needed
  sparseStepValid: false,
  rowSeparable: () => true,

  validate(cfg) {
    const f = fieldsOf(cfg);
    if (!(JUMPRELU_SPARSITY_LOSS_MODES as readonly string[]).includes(f.jumprelu_sparsity_loss_mode)) {
      throw new ConfigError(`jumprelu_sparsity_loss_mode: expected step or tanh, got ${JSON.stringify(f.jumprelu_sparsity_loss_mode)}`);
    }
    if (!(f.jumprelu_bandwidth > 0)) throw new ConfigError(`jumprelu_bandwidth: expected > 0, got ${f.jumprelu_bandwidth}`);
  },

  params: (cfg) => [
    { name: 'W_enc', shape: [cfg.dIn, cfg.dSae] },
    { name: 'b_enc', shape: [cfg.dSae] },
    { name: 'W_dec', shape: [cfg.dSae, cfg.dIn] },
    { name: 'b_dec', shape: [cfg.dIn] },
    { name: 'threshold', shape: [cfg.dSae] },
  ],

  init(cfg, seed) {
    const f = fieldsOf(cfg);
    const { W_enc, W_dec } = saelens6DecoderInit(cfg, seed, f.decoder_init_norm);
    return {
      W_enc,
      b_enc: tf.zeros([cfg.dSae]),
      W_dec,
      b_dec: tf.zeros([cfg.dIn]),
      threshold: tf.fill([cfg.dSae], f.jumprelu_init_threshold),
    };
  },

  initialState: () => ({}),

  forward(cfg, p, x) {
    const { saeIn, hiddenPre } = preActivations(cfg, p, x);
    const gate = tf.cast(tf.greater(hiddenPre, tf.relu(need(p, 'threshold'))), 'float32');
    const featureActs = tf.mul(tf.relu(hiddenPre), gate) as tf.Tensor2D;
    return { saeIn, hiddenPre, featureActs, out: decode(p, featureActs) };
  },

  decode: (_cfg, p, f) => decode(p, f),

  trainingForward(cfg, p, s) {
    const f = fieldsOf(cfg);
    const eps = f.jumprelu_bandwidth;
    const { hiddenPre } = preActivations(cfg, p, s.x);
    const theta = tf.relu(need(p, 'threshold')) as tf.Tensor1D;
    const featureActs = jumpReLU(hiddenPre, theta, eps);
    const saeOut = decode(p, featureActs);
    const perTokenL2 = tf.sum(tf.square(tf.sub(saeOut, s.x)), -1) as tf.Tensor1D;
    const mse = tf.mean(perTokenL2) as tf.Scalar;
    const coeff = s.coefficients['l0'] ?? 0;
    const dNorm = rowNorms(need(p, 'W_dec') as tf.Tensor2D);
    const perRowL0 =
      f.jumprelu_sparsity_loss_mode === 'step'
        ? tf.sum(heavisideStep(hiddenPre, theta, eps), -1)
        : tf.sum(tf.tanh(tf.mul(tf.mul(featureActs, dNorm), f.jumprelu_tanh_scale)), -1);
    const losses: Record<string, tf.Scalar> = { mse_loss: mse, l0_loss: tf.mean(tf.mul(perRowL0, coeff)) as tf.Scalar };
    if (f.pre_act_loss_coefficient !== null) {
      losses['pre_act_loss'] =
        s.deadIdx.length === 0
          ? tf.scalar(0)
          : (tf.mul(
              tf.mean(tf.sum(tf.mul(tf.mul(tf.relu(tf.sub(theta, hiddenPre)), deadMask(cfg.dSae, s.deadIdx)), dNorm), -1)),
              f.pre_act_loss_coefficient,
            ) as tf.Scalar);
    }
    const loss = Object.values(losses).reduce((a, b) => tf.add(a, b) as tf.Scalar);
    return { losses, loss, featureActs, saeOut, perTokenL2 };
  },

  coefficients: (cfg) => {
    const f = fieldsOf(cfg);
    return { l0: { value: f.l0_coefficient, warmUpSteps: f.l0_warm_up_steps } };
  },

  toInference(cfg, w) {
    const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const spec of jumprelu.params(cfg)) weights[spec.name] = { shape: [...spec.shape], data: w[spec.name]! };
    return { architecture: 'jumprelu', cfg: {}, weights };
  },
};
