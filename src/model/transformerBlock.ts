/**
 * One transformer block: ln1 → attention, ln2 → MLP, sequential or parallel (GPT-NeoX), with the
 * residual-stream hook points `hook_resid_pre|mid|post`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HookedTransformerConfig } from './ModelConfig.js';
import type { BlockWeights } from './weights.js';
import type { ForwardPass } from './forwardPass.js';
import { normalize } from './norm.js';
import { attentionSublayer } from './attention.js';
import { mlpSublayer } from './mlp.js';

export function transformerBlock(
  cfg: HookedTransformerConfig,
  l: number,
  bw: BlockWeights,
  residPre: tf.Tensor3D,
  pass: ForwardPass,
): tf.Tensor3D {
  const { hp } = pass;
  const p = `blocks.${l}`;
  const [B, P, D] = residPre.shape;
  residPre = hp(`${p}.hook_resid_pre`, residPre);
  const n1 = tf.reshape(normalize(cfg, residPre, bw.ln1W, bw.ln1B, `${p}.ln1`, pass), [B * P, D]) as tf.Tensor2D;
  const attnOut = attentionSublayer(cfg, p, bw, n1, [B, P, D], pass);
  const mlpIn = cfg.parallelAttnMlp ? residPre : hp(`${p}.hook_resid_mid`, tf.add(residPre, attnOut) as tf.Tensor3D);
  const n2 = tf.reshape(normalize(cfg, mlpIn, bw.ln2W, bw.ln2B, `${p}.ln2`, pass), [B * P, D]) as tf.Tensor2D;
  const mlpOut = mlpSublayer(cfg, p, bw, n2, [B, P, D], pass);
  const residPost = cfg.parallelAttnMlp ? tf.add(tf.add(residPre, attnOut), mlpOut) : tf.add(mlpIn, mlpOut);
  return hp(`${p}.hook_resid_post`, residPost as tf.Tensor3D);
}
