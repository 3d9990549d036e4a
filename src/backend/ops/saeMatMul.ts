import * as tf from '@tensorflow/tfjs-core';
import { SaeMatMul, type SaeMatMulAttrs } from '../kernelNames.js';
import { ensureSaeKernels } from '../register.js';

function saeMatMul_<T extends tf.Tensor = tf.Tensor>(
  a: T | tf.TensorLike,
  b: tf.Tensor | tf.TensorLike,
  transposeA = false,
  transposeB = false,
): T {
  const A = a instanceof tf.Tensor ? a : tf.tensor(a, undefined, 'float32');
  const B = b instanceof tf.Tensor ? b : tf.tensor(b, undefined, 'float32');
  if (A.dtype !== 'float32' || B.dtype !== 'float32') {
    throw new TypeError(`saeMatMul: a and b must be float32, got ${A.dtype} and ${B.dtype}`);
  }
  ensureSaeKernels(tf.getBackend());
  const attrs: SaeMatMulAttrs = { transposeA, transposeB };
  return tf.engine().runKernel(SaeMatMul, { a: A, b: B }, attrs as unknown as tf.NamedAttrMap) as T;
}

/**
 * Matrix product for the SAE hot paths: `op(a) · op(b)` with `op` transposing the last two
 * dims when the flag is set, batch dims broadcast as in `tf.matMul`. float32 only.
 *
 * Same result as `tf.matMul(a, b, transposeA, transposeB)`, but it is its own kernel
 * (`SaeMatMul`) with its own gradient, so forward AND backward avoid tfjs-backend-wasm's slow
 * transposed path: it runs on OpenBLAS when the addon is built (see `backendInfo()`), else on
 * wasm with explicit transposes + XNNPACK, else on the backend's stock BatchMatMul.
 * Kernels are registered by `selectBackend()` (or lazily on first use). The result is typed
 * like `a` (a Tensor2D gives a Tensor2D); it has the broadcast batch rank of both.
 * Prefer it to `tf.matMul(tf.transpose(a), b)`: with BLAS the explicit transposes only cost
 * (on cpu, tfjs's Transpose of a 4096×12288 matrix alone is slower than the product).
 *
 * ```ts
 * const hPre = tf.add(saeMatMul(x, W_enc), b_enc);        // [B, d_in]·[d_in, d_sae]
 * const xHat = tf.add(saeMatMul(f, W_dec), b_dec);        // gradients flow through tf.grads
 * const xW = saeMatMul(x, W_dec, false, true);            // x · W_decᵀ, no slow path
 * ```
 */
export const saeMatMul = tf.op({ saeMatMul_ });
