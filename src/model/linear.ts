/** The affine map every projection of the model uses: `x W (+ b)` on `[tokens, d]` rows. */
import * as tf from '@tensorflow/tfjs-core';

export function linear(x: tf.Tensor, W: tf.Tensor2D, b: tf.Tensor1D | undefined): tf.Tensor2D {
  const y = tf.matMul(x as tf.Tensor2D, W) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}
