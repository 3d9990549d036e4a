/**
 * Gradient of SaeMatMul, written with the SaeMatMul kernel itself so that backprop runs on the
 * same fast forward kernel (BLAS with native transposes, or explicit transposes on stock wasm)
 * instead of tfjs's global BatchMatMul gradient, whose transposed matMuls hit wasm's slow loop.
 * Broadcast batch dimensions are summed back to each input's shape.
 *
 * It runs the kernel directly rather than through the `saeMatMul` op: the op registers the
 * kernels (and this gradient) on first use, so importing it here would close an import cycle.
 * Inside a gradient the inputs are float32 tensors and the kernel is already registered.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaeMatMul, type SaeMatMulAttrs } from '../kernelNames.js';

function saeMatMul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  const attrs: SaeMatMulAttrs = { transposeA, transposeB };
  return tf.engine().runKernel(SaeMatMul, { a, b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

function reduceTo(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.util.arraysEqual(g.shape, shape)) return g;
  const axes = tf.broadcast_util.getReductionAxes(shape, g.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
}

export const saeMatMulGradConfig: tf.GradConfig = {
  kernelName: SaeMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved as [tf.Tensor, tf.Tensor];
    const d = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as unknown as SaeMatMulAttrs;
    // C = op(A)·op(B): dA = dC·op(B)ᵀ (transposed back if A was), dB likewise.
    let da: () => tf.Tensor, db: () => tf.Tensor;
    if (!transposeA && !transposeB) {
      da = () => saeMatMul(d, b, false, true);
      db = () => saeMatMul(a, d, true, false);
    } else if (!transposeA && transposeB) {
      da = () => saeMatMul(d, b, false, false);
      db = () => saeMatMul(d, a, true, false);
    } else if (transposeA && !transposeB) {
      da = () => saeMatMul(b, d, false, true);
      db = () => saeMatMul(a, d, false, false);
    } else {
      da = () => saeMatMul(b, d, true, true);
      db = () => saeMatMul(d, a, true, true);
    }
    return { a: () => reduceTo(da(), a.shape), b: () => reduceTo(db(), b.shape) };
  },
};
