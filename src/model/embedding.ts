/**
 * Token and learned positional embeddings (`hook_embed`, `hook_pos_embed`) and the unembedding
 * to logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HookedTransformerConfig } from './ModelConfig.js';
import type { ModelWeights } from './weights.js';
import type { ForwardPass } from './forwardPass.js';

/** The residual stream `[B, P, d_model]` entering block 0 for `tokens` `[B, P]`. */
export function embed(
  cfg: HookedTransformerConfig,
  w: ModelWeights,
  tokens: tf.Tensor2D,
  { hp, looks }: ForwardPass,
): tf.Tensor3D {
  const [B, P] = tokens.shape;
  const flat = tf.reshape(tokens, [-1]);
  let resid: tf.Tensor3D = hp('hook_embed', tf.reshape(tf.gather(w.WE, flat), [B, P, cfg.dModel]) as tf.Tensor3D);
  if (cfg.positionalEmbedding === 'standard' && w.WPos) {
    const pos = tf.slice(w.WPos, [0, 0], [P, cfg.dModel]);
    // The hook sees [batch, pos, d_model] (as in TransformerLens); tiling is slow on wasm,
    // so only do it when someone looks.
    resid = tf.add(resid, looks('hook_pos_embed') ? hp('hook_pos_embed', tf.broadcastTo(pos, [B, P, cfg.dModel]) as tf.Tensor3D) : pos);
  }
  return resid;
}

/**
 * Logits `[B, P, d_vocab]` from the final-normed residual stream. With `biasRow`, the last row of
 * `WU` is b_U (HookedTransformer's constructor puts it there: the inputs get a column of ones).
 */
export function unembed(cfg: HookedTransformerConfig, WU: tf.Tensor2D, biasRow: boolean, normed: tf.Tensor3D): tf.Tensor3D {
  const [B, P] = normed.shape;
  let x = tf.reshape(normed, [B * P, cfg.dModel]);
  if (biasRow) x = tf.concat([x, tf.ones([B * P, 1])], 1);
  const logits = tf.matMul(x, WU);
  return tf.reshape(logits, [B, P, cfg.dVocab]) as tf.Tensor3D;
}
