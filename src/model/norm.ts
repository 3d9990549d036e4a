/**
 * The model's normalization (LayerNorm, LNPre, RMSNorm) with TransformerLens's `hook_scale` and
 * `hook_normalized` hook points.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HookedTransformerConfig } from './ModelConfig.js';
import type { ForwardPass } from './forwardPass.js';
import { fusedNormalize, fusedNormalizeAvailable } from '../backend/index.js';

export function normalize(
  cfg: HookedTransformerConfig,
  x: tf.Tensor3D,
  w: tf.Tensor1D | undefined,
  b: tf.Tensor1D | undefined,
  prefix: string,
  { hp, replaces }: ForwardPass,
): tf.Tensor3D {
  const t = cfg.normalizationType;
  const eps = cfg.eps;
  // One native pass for the normalization unless a hook may replace the scale (the division
  // must then use the replaced one); a cached scale is the same either way.
  if (!replaces(`${prefix}.hook_scale`) && fusedNormalizeAvailable()) {
    const [normed, scaleOut] = fusedNormalize(x, eps, t === 'LN' || t === 'LNPre');
    hp(`${prefix}.hook_scale`, scaleOut);
    let n: tf.Tensor3D = normed;
    if (t === 'LN') {
      if (w) n = tf.mul(n, w);
      if (b) n = tf.add(n, b);
      return hp(`${prefix}.hook_normalized`, n);
    }
    // TransformerLens's RMSNorm hooks the normalized value before the weight.
    n = hp(`${prefix}.hook_normalized`, n);
    return t === 'RMS' && w ? (tf.mul(n, w) as tf.Tensor3D) : n;
  }
  if (t === 'LN' || t === 'LNPre') {
    const centered = tf.sub(x, tf.mean(x, -1, true));
    const scale = hp(`${prefix}.hook_scale`, tf.sqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps)));
    let n = tf.div(centered, scale);
    if (t === 'LN') {
      if (w) n = tf.mul(n, w);
      if (b) n = tf.add(n, b);
    }
    return hp(`${prefix}.hook_normalized`, n as tf.Tensor3D);
  }
  const scale = hp(`${prefix}.hook_scale`, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
  // TransformerLens's RMSNorm hooks the normalized value before the weight.
  const n = hp(`${prefix}.hook_normalized`, tf.div(x, scale) as tf.Tensor3D);
  return t === 'RMS' && w ? (tf.mul(n, w) as tf.Tensor3D) : n;
}
