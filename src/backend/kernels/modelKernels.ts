/**
 * The transformer forward's fused kernels for the wasm and cpu backends (the addon's
 * native/model_kernels.cc), registered where the addon loads:
 * - SaeGeluNew (x): GPT-2's gelu_new in one pass, where the tfjs formula takes six;
 * - SaeCausalAttention (q, k, v; scale): z [B, P, H, dh] = softmax(causal(q·kᵀ·scale))·v from
 *   q [B, P, H, dh] and k, v [B, P, K, dh] (grouped-query heads when K < H), with no transposes
 *   and no [B, H, P, P] scores or pattern in memory;
 * - SaeNormalize (x; eps, center): [x normalized over its last axis, the scale [..., 1]] for
 *   TransformerLens's LayerNormPre (center) and RMSNorm, one pass where tfjs takes eight.
 * Forward only (no gradients are registered): the model forward does not train.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas.js';
import { ShapeError } from '../../errors.js';
import { SaeCausalAttention, SaeGeluNew, SaeNormalize } from '../kernelNames.js';
import { nativeKernel, type BlasBackendKind } from './inPlace.js';

export function makeModelKernels(addon: BlasAddon, kind: BlasBackendKind): tf.KernelConfig[] {
  const gelu = addon.geluNew.bind(addon);
  const attend = addon.causalAttention.bind(addon);
  const geluFunc = nativeKernel(kind, ['x'], ([x]) => {
    if (x!.dtype !== 'float32') throw new ShapeError(`SaeGeluNew: x must be float32, got ${x!.dtype}`);
    return [{ shape: x!.shape, dtype: 'float32' }];
  }, (ins, outs) => gelu(ins[0] as Float32Array, outs[0] as Float32Array));
  const attnFunc = nativeKernel(kind, ['q', 'k', 'v'], ([q, k, v]) => {
    for (const [n, t] of [['q', q!], ['k', k!], ['v', v!]] as const) {
      if (t.dtype !== 'float32' || t.shape.length !== 4) throw new ShapeError(`SaeCausalAttention: ${n} must be a float32 [batch, pos, heads, d_head], got ${t.dtype} [${t.shape}]`);
    }
    const [B, P, H, dh] = q!.shape as [number, number, number, number];
    const [kb, kp, K, kd] = k!.shape as [number, number, number, number];
    if (kb !== B || kp !== P || kd !== dh || K < 1 || H % K !== 0 || !tf.util.arraysEqual(v!.shape, k!.shape)) {
      throw new ShapeError(`SaeCausalAttention: q [${q!.shape}], k [${k!.shape}], v [${v!.shape}] do not fit (k and v [batch, pos, kv_heads, d_head], heads a multiple of kv_heads)`);
    }
    return [{ shape: q!.shape, dtype: 'float32' }];
  }, (ins, outs, inputs, attrs) => {
    const [B, P, H, dh] = inputs[0]!.shape as [number, number, number, number];
    const K = inputs[1]!.shape[2]!;
    attend(ins[0] as Float32Array, ins[1] as Float32Array, ins[2] as Float32Array, outs[0] as Float32Array, B, P, H, K, dh, attrs['scale'] as number);
  });
  const normalize = addon.normalize.bind(addon);
  const normFunc = nativeKernel(kind, ['x'], ([x]) => {
    if (x!.dtype !== 'float32' || x!.shape.length < 1) throw new ShapeError(`SaeNormalize: x must be a float32 tensor of rank >= 1, got ${x!.dtype} [${x!.shape}]`);
    return [{ shape: x!.shape, dtype: 'float32' }, { shape: [...x!.shape.slice(0, -1), 1], dtype: 'float32' }];
  }, (ins, outs, inputs, attrs) => {
    normalize(ins[0] as Float32Array, outs[0] as Float32Array, outs[1] as Float32Array, inputs[0]!.shape[inputs[0]!.shape.length - 1]!, attrs['eps'] as number, attrs['center'] as boolean);
  });
  return [
    { kernelName: SaeNormalize, backendName: kind, kernelFunc: normFunc },
    { kernelName: SaeGeluNew, backendName: kind, kernelFunc: geluFunc },
    { kernelName: SaeCausalAttention, backendName: kind, kernelFunc: attnFunc },
  ];
}
