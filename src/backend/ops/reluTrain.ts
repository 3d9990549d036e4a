/**
 * relu with a leaner gradient for the SAE training step: the backward keeps the output y (not
 * the input) and computes dy where y > 0 with one native pass (kernels/reluGradKernel.ts) where
 * it is registered, else as dy·step(y) (two passes; tfjs's stock Relu gradient takes three).
 * Same values and gradients as tf.relu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaeReluGrad } from '../kernelNames.js';
import { hasSaeKernel } from '../register.js';

/** dy where y > 0, else 0 (y a relu output). */
export function reluGradFromOutput(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (hasSaeKernel(SaeReluGrad)) return tf.engine().runKernel(SaeReluGrad, { dy, y }) as tf.Tensor;
  return tf.mul(dy, tf.step(y));
}

export function reluTrain<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const y = tf.relu(xIn);
    save([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [reluGradFromOutput(dy, saved[0]!)] };
  });
  return op(x) as T;
}
