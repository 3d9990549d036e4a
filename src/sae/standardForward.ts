/**
 * The forward pass of SAELens v1.5.0's standard SAE (DESIGN.md §5):
 *
 *   sae_in = x − b_dec (apply_b_dec_to_input),  h_pre = sae_in @ W_enc + b_enc,
 *   f = act(h_pre) (relu | tanh-relu),          x̂ = (f ⊙ scaling_factor) @ W_dec + b_dec.
 *
 * Shared by the `standard` architecture (architectures/standard.ts) and its losses (losses.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { SaeConfig } from './SaeConfig.js';
import { mm } from './ops.js';

/** The parameter tensors the v1.5 maths runs on (variables, or plain tensors in tests). */
export interface SaeParams {
  W_enc: tf.Tensor2D;
  b_enc: tf.Tensor1D;
  W_dec: tf.Tensor2D;
  b_dec: tf.Tensor1D;
  /** null: known to be all ones (training phase), the multiply is skipped (x·1 = x exactly). */
  scalingFactor: tf.Tensor1D | null;
}

export function activation(fn: SaeConfig['activationFn'], h: tf.Tensor2D): tf.Tensor2D {
  if (fn === 'relu') return tf.relu(h);
  if (fn === 'tanh-relu') return tf.tanh(tf.relu(h));
  throw new ConfigError(`activation_fn: unknown '${String(fn)}', expected relu or tanh-relu`);
}

/** sae_in and hidden_pre (before noise) for x. */
export function encodePre(cfg: SaeConfig, p: SaeParams, x: tf.Tensor2D): { saeIn: tf.Tensor2D; hiddenPre: tf.Tensor2D } {
  const saeIn = cfg.applyBDecToInput ? (tf.sub(x, p.b_dec) as tf.Tensor2D) : x;
  const hiddenPre = tf.add(mm(saeIn, p.W_enc), p.b_enc) as tf.Tensor2D;
  return { saeIn, hiddenPre };
}

/** x̂ = (f ⊙ scaling_factor) @ W_dec + b_dec. */
export function decodeWith(p: SaeParams, f: tf.Tensor2D): tf.Tensor2D {
  const scaled = p.scalingFactor ? (tf.mul(f, p.scalingFactor) as tf.Tensor2D) : f;
  return tf.add(mm(scaled, p.W_dec), p.b_dec) as tf.Tensor2D;
}
