/**
 * A block's attention sublayer: q/k/v projections (grouped-query when n_kv_heads < n_heads),
 * rotary, causal attention and the output projection, with TransformerLens's `attn.*` hook points
 * and `hook_attn_out`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HookedTransformerConfig } from './ModelConfig.js';
import type { BlockWeights } from './weights.js';
import type { ForwardPass } from './forwardPass.js';
import { applyRotary } from './rotary.js';
import { linear } from './linear.js';
import { fusedAttentionAvailable, fusedCausalAttention } from '../backend/index.js';

/** `hook_attn_out` `[B, P, d_model]` from the normalized input `n1` `[B*P, d_model]` of block `p`. */
export function attentionSublayer(
  cfg: HookedTransformerConfig,
  p: string,
  bw: BlockWeights,
  n1: tf.Tensor2D,
  [B, P, D]: readonly [number, number, number],
  pass: ForwardPass,
): tf.Tensor3D {
  const { hp, rot } = pass;
  const H = cfg.nHeads;
  const K = cfg.nKvHeads;
  const dh = cfg.dHead;
  let q = hp(`${p}.attn.hook_q`, tf.reshape(linear(n1, bw.WQ, bw.bQ), [B, P, H, dh]) as tf.Tensor4D);
  let k = hp(`${p}.attn.hook_k`, tf.reshape(linear(n1, bw.WK, bw.bK), [B, P, K, dh]) as tf.Tensor4D);
  const v = hp(`${p}.attn.hook_v`, tf.reshape(linear(n1, bw.WV, bw.bV), [B, P, K, dh]) as tf.Tensor4D);
  if (rot) {
    q = hp(`${p}.attn.hook_rot_q`, applyRotary(q, rot.cos, rot.sin));
    k = hp(`${p}.attn.hook_rot_k`, applyRotary(k, rot.cos, rot.sin));
  }
  const z = hp(`${p}.attn.hook_z`, causalAttention(cfg, p, q, k, v, pass));
  return hp(
    `${p}.hook_attn_out`,
    tf.reshape(linear(tf.reshape(z, [B * P, H * dh]), bw.WO, bw.bO), [B, P, D]) as tf.Tensor3D,
  );
}

/**
 * z [B, P, H, dh] from q, k, v. Where no hook looks at the scores or the pattern, one fused
 * native kernel (backend/ops/modelOps.ts: no transposes, no [B, H, P, P] tensors); otherwise
 * the hooked tfjs ops.
 */
function causalAttention(
  cfg: HookedTransformerConfig,
  p: string,
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  { hp, looks, mask }: ForwardPass,
): tf.Tensor4D {
  const H = cfg.nHeads;
  const K = cfg.nKvHeads;
  const dh = cfg.dHead;
  if (!looks(`${p}.attn.hook_attn_scores`) && !looks(`${p}.attn.hook_pattern`) && fusedAttentionAvailable()) {
    return fusedCausalAttention(q, k, v, 1 / Math.sqrt(dh));
  }
  const qh = tf.transpose(q, [0, 2, 1, 3]); // [B, H, P, dh]
  let kh = tf.transpose(k, [0, 2, 3, 1]); // [B, K, dh, P]: plain matMul, no transpose flag
  let vh = tf.transpose(v, [0, 2, 1, 3]); // [B, K, P, dh]
  if (K !== H) {
    // Grouped-query attention: query head h reads kv head floor(h / (H/K)).
    const g = H / K;
    const idx = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / g)), 'int32');
    kh = tf.gather(kh, idx, 1);
    vh = tf.gather(vh, idx, 1);
  }
  let scores = tf.div(tf.matMul(qh, kh), Math.sqrt(dh)) as tf.Tensor4D;
  scores = hp(`${p}.attn.hook_attn_scores`, tf.add(scores, mask()) as tf.Tensor4D);
  const pattern = hp(`${p}.attn.hook_pattern`, tf.softmax(scores) as tf.Tensor4D);
  return tf.transpose(tf.matMul(pattern, vh), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** `[pos, pos]`: 0 on and below the diagonal, -inf above (TransformerLens masks with -inf). */
export function causalMask(p: number): tf.Tensor2D {
  const m = new Float32Array(p * p);
  for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) m[i * p + j] = -Infinity;
  return tf.tensor2d(m, [p, p]);
}
