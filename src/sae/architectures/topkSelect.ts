/**
 * The selections of the TopK family as differentiable ops, each a tf.customGrad that keeps a 0/1
 * mask of what it selected and passes the gradient through exactly there (as torch's
 * topk + scatter does):
 *
 * - `topkRelu(h, k)`: per row, the k largest entries of h, then ReLU (SAELens `TopK`: values
 *   ReLU'd after selection); ties at the k-th value are all kept (measure zero for real data);
 * - `batchTopkRelu(h, n)`: ReLU, then the n largest entries of the whole batch (SAELens
 *   `BatchTopK`, n = int(k·batch)); also returns the smallest positive selected value (for the
 *   threshold EMA), +Infinity when none;
 * - `topkAmong(h, k)`: per row, the k largest entries, not ReLU'd (AuxK's dead latents).
 */
import * as tf from '@tensorflow/tfjs-core';

type Arg = tf.Tensor | tf.GradSaveFunc;

/** h ⊙ mask with gradient dy ⊙ mask, for a mask computed by `select` (no gradient of its own). */
function masked(h: tf.Tensor2D, select: (h: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Arg[]) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const mask = select(x);
    save([mask]);
    return { value: tf.mul(x, mask), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]!) };
  });
  return op(h) as tf.Tensor2D;
}

/** The k-th largest entry of each row, [rows, 1]. */
function kthPerRow(h: tf.Tensor2D, k: number): tf.Tensor2D {
  const { values, indices } = tf.topk(h, k, false);
  indices.dispose();
  return tf.min(values, 1, true) as tf.Tensor2D;
}

/** Per row: the k largest entries of h, ReLU'd; zeros elsewhere. */
export function topkRelu(h: tf.Tensor2D, k: number): tf.Tensor2D {
  return masked(h, (x) => tf.tidy(() => tf.mul(tf.cast(tf.greaterEqual(x, kthPerRow(x, k)), 'float32'), tf.step(x)) as tf.Tensor2D));
}

/** Per row: the k largest entries of h as they are (may be negative); zeros elsewhere. */
export function topkAmong(h: tf.Tensor2D, k: number): tf.Tensor2D {
  return masked(h, (x) => tf.tidy(() => tf.cast(tf.greaterEqual(x, kthPerRow(x, k)), 'float32') as tf.Tensor2D));
}

/**
 * ReLU(h), then its n largest entries over the whole batch (zeros elsewhere), and the smallest
 * positive value kept (+Infinity when none is positive).
 */
export function batchTopkRelu(h: tf.Tensor2D, n: number): { acts: tf.Tensor2D; minPositive: tf.Scalar } {
  const total = h.shape[0] * h.shape[1];
  if (n <= 0) return { acts: tf.mul(h, 0) as tf.Tensor2D, minPositive: tf.scalar(Infinity) };
  let minPositive: tf.Scalar | null = null;
  const acts = masked(h, (x) =>
    tf.tidy(() => {
      const flat = tf.reshape(tf.relu(x), [1, total]);
      const { values } = tf.topk(flat, Math.min(n, total), false);
      const kth = tf.min(values);
      minPositive = tf.keep(tf.min(tf.where(tf.greater(values, 0), values, tf.fill(values.shape, Infinity))) as tf.Scalar);
      return tf.mul(tf.cast(tf.greaterEqual(x, kth), 'float32'), tf.step(x)) as tf.Tensor2D;
    }),
  );
  return { acts, minPositive: minPositive! };
}
