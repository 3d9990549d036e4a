/**
 * Fused forward-only ops of the transformer (kernels/modelKernels.ts), each with the plain tfjs
 * computation it replaces where the kernel is not registered (no addon, other backends).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaeCausalAttention, SaeGeluNew, SaeNormalize } from '../kernelNames.js';
import { hasSaeKernel } from '../register.js';

/**
 * GPT-2's gelu_new 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³). The tfjs form is x·σ(2u)
 * (the same function: 1 + tanh(u) = 2σ(2u)) because tfjs-wasm's sigmoid is ~7× faster than its
 * tanh; x³ as products since Pow is slower still.
 */
export function geluNew<T extends tf.Tensor>(x: T): T {
  if (x.dtype === 'float32' && hasSaeKernel(SaeGeluNew)) return tf.engine().runKernel(SaeGeluNew, { x }) as T;
  return tf.tidy(() => {
    const x3 = tf.mul(tf.mul(x, x), x);
    const twoU = tf.mul(2 * Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, x3)));
    return tf.mul(x, tf.sigmoid(twoU)) as T;
  });
}

/** Whether fusedCausalAttention runs on the current backend. */
export function fusedAttentionAvailable(): boolean {
  return hasSaeKernel(SaeCausalAttention);
}

/**
 * z [B, P, H, dh] = softmax(q·kᵀ·scale + causal mask)·v for q [B, P, H, dh] and k, v
 * [B, P, K, dh] (query head h reads kv head ⌊h/(H/K)⌋). Only where fusedAttentionAvailable().
 */
export function fusedCausalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.engine().runKernel(SaeCausalAttention, { q, k, v }, { scale } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** Whether fusedNormalize runs on the current backend. */
export function fusedNormalizeAvailable(): boolean {
  return hasSaeKernel(SaeNormalize);
}

/**
 * [(x − c)/scale, scale] over the last axis, scale = √(mean((x − c)²) + eps) [..., 1], with
 * c = mean(x) when `center` (LayerNormPre) else 0 (RMSNorm). Only where fusedNormalizeAvailable().
 */
export function fusedNormalize<T extends tf.Tensor>(x: T, eps: number, center: boolean): [T, T] {
  return tf.engine().runKernel(SaeNormalize, { x }, { eps, center } as unknown as tf.NamedAttrMap) as unknown as [T, T];
}
