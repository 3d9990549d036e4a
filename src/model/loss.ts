/**
 * Next-token cross-entropy from logits, summed at float32 precision over large vocabularies.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * log Σ exp over the last axis, summed in chunks: the stock Sum kernels add sequentially in
 * float32, which over a 50k vocabulary loses ~1e-3 in the loss; two levels of ≤ 256 terms
 * keep it at float32 precision.
 */
export function logSumExpLastAxis(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const v = shape[shape.length - 1]!;
    const { lse } = softmaxParts(tf.reshape(x, [x.size / v, v]) as tf.Tensor2D);
    return tf.reshape(lse, shape.slice(0, -1));
  });
}

/**
 * The pieces of a softmax over the last axis of `[rows, v]`, one exp per entry: `e = exp(x − max)`,
 * its chunked row sums `z`, and `lse = log z + max`. Call inside a tidy.
 */
export function softmaxParts(x: tf.Tensor2D): { e: tf.Tensor2D; z: tf.Tensor1D; lse: tf.Tensor1D } {
  const m = tf.max(x, -1, true);
  const e = tf.exp(tf.sub(x, m)) as tf.Tensor2D;
  const z = sumLastAxisChunked(e);
  return { e, z, lse: tf.add(tf.log(z), tf.reshape(m, [-1])) as tf.Tensor1D };
}

/** Σ over the last axis of `[rows, v]` in chunks of 256 (the stock sum adds sequentially in float32). */
export function sumLastAxisChunked(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [rows, v] = x.shape;
    const chunk = 256;
    if (v <= chunk) return tf.sum(x, -1) as tf.Tensor1D;
    const n = Math.ceil(v / chunk);
    const padded = n * chunk === v ? x : tf.pad(x, [[0, 0], [0, n * chunk - v]]);
    return tf.sum(tf.sum(tf.reshape(padded, [rows, n, chunk]), -1), -1) as tf.Tensor1D;
  });
}

/**
 * Each position's logit of the next token, `[B·(P−1)]`, from logits `[B, P, V]` (or `[B·P, V]`)
 * and tokens `[B, P]`: a gather from the flattened logits (no `[B, P, V]` one-hot).
 */
export function nextTokenLogits(logits: tf.Tensor, tokens: tf.Tensor2D): tf.Tensor1D {
  const [B, P] = tokens.shape;
  const V = logits.shape[logits.shape.length - 1]!;
  const tok = tokens.dataSync();
  const idx = new Int32Array(B * (P - 1));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < P - 1; t++) idx[b * (P - 1) + t] = (b * P + t) * V + tok[b * P + t + 1]!;
  }
  return tf.tidy(() => tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(idx, 'int32')) as tf.Tensor1D);
}

/** `[batch, pos-1]` next-token cross-entropy from logits `[batch, pos, vocab]`. */
export function lossPerTokenFromLogits(logits: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, P] = logits.shape;
    if (P < 2) return tf.zeros([B, 0]) as tf.Tensor2D;
    const lse = tf.slice(logSumExpLastAxis(logits), [0, 0], [B, P - 1]);
    const target = tf.reshape(nextTokenLogits(logits, tokens), [B, P - 1]);
    return tf.sub(lse, target) as tf.Tensor2D;
  });
}
