/**
 * A block's MLP sublayer (plain or gated) with TransformerLens's `mlp.hook_pre`,
 * `mlp.hook_pre_linear`, `mlp.hook_post` and `hook_mlp_out` hook points.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HookedTransformerConfig } from './ModelConfig.js';
import type { BlockWeights } from './weights.js';
import type { ForwardPass } from './forwardPass.js';
import { linear } from './linear.js';
import { geluNew } from '../backend/index.js';

/** `hook_mlp_out` `[B, P, d_model]` from the normalized input `n2` `[B*P, d_model]` of block `p`. */
export function mlpSublayer(
  cfg: HookedTransformerConfig,
  p: string,
  bw: BlockWeights,
  n2: tf.Tensor2D,
  [B, P, D]: readonly [number, number, number],
  { hp }: ForwardPass,
): tf.Tensor3D {
  const M = cfg.dMlp;
  let post: tf.Tensor3D;
  if (cfg.gatedMlp) {
    const pre = hp(`${p}.mlp.hook_pre`, tf.reshape(tf.matMul(n2, bw.WGate!), [B, P, M]) as tf.Tensor3D);
    const preLin = hp(`${p}.mlp.hook_pre_linear`, tf.reshape(linear(n2, bw.WIn, bw.bIn), [B, P, M]) as tf.Tensor3D);
    post = tf.mul(activate(pre, cfg.actFn), preLin);
  } else {
    const pre = hp(`${p}.mlp.hook_pre`, tf.reshape(linear(n2, bw.WIn, bw.bIn), [B, P, M]) as tf.Tensor3D);
    post = activate(pre, cfg.actFn);
  }
  post = hp(`${p}.mlp.hook_post`, post);
  return hp(
    `${p}.hook_mlp_out`,
    tf.reshape(linear(tf.reshape(post, [B * P, M]), bw.WOut, bw.bOut), [B, P, D]) as tf.Tensor3D,
  );
}

function activate<T extends tf.Tensor>(x: T, act: HookedTransformerConfig['actFn']): T {
  switch (act) {
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'gelu':
      // exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2))
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'gelu_new':
    case 'gelu_fast':
      // GPT-2's tanh approximation (backend/ops/modelOps.ts: one native pass where available).
      return geluNew(x);
  }
}
