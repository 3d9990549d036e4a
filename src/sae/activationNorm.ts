/**
 * SAELens's `normalize_activations` as an SAE applies it at inference (SAELens 6
 * `SAE._setup_activation_normalization`, sae_lens/saes/sae.py):
 *
 * - `none`: nothing.
 * - `expected_average_only_in`: nothing at run time either. The factor √d_in / E‖x‖ was applied
 *   to the training data; SAELens folds it into the weights when it knows it (end of training,
 *   or `norm_scaling_factor` of a pretrained release) and otherwise warns and runs unscaled.
 * - `constant_norm_rescale`: in `x · c` with `c = √d_in / ‖x‖` per row; out `y / c`.
 * - `layer_norm`: in `(x − μ) / (σ + 1e-5)` with μ the row mean and σ the row's *unbiased*
 *   standard deviation (torch's `std` default) of `x − μ`; out `y · σ + μ` (no epsilon).
 *
 * The in-transform runs before `b_dec` is subtracted, the out-transform after `b_dec` is added.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';

export const NORMALIZE_ACTIVATIONS = ['none', 'expected_average_only_in', 'constant_norm_rescale', 'layer_norm'] as const;
export type NormalizeActivations = (typeof NORMALIZE_ACTIVATIONS)[number];

export function isNormalizeActivations(v: unknown): v is NormalizeActivations {
  return typeof v === 'string' && (NORMALIZE_ACTIVATIONS as readonly string[]).includes(v);
}

/** The normalised input and the map that undoes it on the SAE's output (same rows). */
export interface RunTimeNorm {
  readonly x: tf.Tensor2D;
  readonly restore: (y: tf.Tensor2D) => tf.Tensor2D;
}

const identity = (y: tf.Tensor2D) => y;

/**
 * Normalises x [n, d_in] per `mode`. Call inside a `tf.tidy` that also runs `restore`: the
 * per-row statistics `restore` needs are tensors of that scope.
 */
export function runTimeNormIn(mode: NormalizeActivations, x: tf.Tensor2D): RunTimeNorm {
  switch (mode) {
    case 'none':
    case 'expected_average_only_in':
      return { x, restore: identity };
    case 'constant_norm_rescale': {
      const d = x.shape[1];
      const coeff = tf.div(Math.sqrt(d), tf.norm(x, 'euclidean', -1, true));
      return { x: tf.mul(x, coeff), restore: (y) => tf.div(y, coeff) };
    }
    case 'layer_norm': {
      const d = x.shape[1];
      const mu = tf.mean(x, -1, true);
      const centred = tf.sub(x, mu);
      // torch's x.std(dim=-1) is the unbiased estimate (divides by d − 1)
      const std = tf.sqrt(tf.div(tf.sum(tf.square(centred), -1, true), Math.max(d - 1, 1)));
      return { x: tf.div(centred, tf.add(std, 1e-5)), restore: (y) => tf.add(tf.mul(y, std), mu) };
    }
    default:
      throw new ConfigError(
        `normalize_activations: unknown value ${JSON.stringify(mode)}, expected one of ${NORMALIZE_ACTIVATIONS.join(', ')}`,
      );
  }
}
