/**
 * Weight initialisation of the standard SAE, following SAELens v1.5.0's
 * `SparseAutoencoder.initialize_weights` step by step (values differ from PyTorch's because
 * the RNG is tfjs's seeded one; the distributions are the same).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SaeConfig } from './SaeConfig.js';
import { rowNorms } from './ops.js';

/**
 * torch.nn.init.kaiming_uniform_ with its defaults (a = 0, mode 'fan_in', leaky_relu gain √2):
 * U(−b, b) with b = √2·√(3/fan_in), fan_in = shape[1] of the 2-D tensor.
 */
export function kaimingUniform(shape: [number, number], seed: number): tf.Tensor2D {
  const bound = Math.sqrt(2) * Math.sqrt(3 / shape[1]);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed) as tf.Tensor2D;
}

/** Divide each row by its L2 norm. */
export function unitRows(w: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(w, tf.expandDims(rowNorms(w), 1)));
}

/**
 * torch.nn.init.orthogonal_ on a [rows, cols] tensor: QR of a standard normal matrix (of the
 * taller orientation), columns sign-fixed by diag(R), transposed back when rows < cols.
 */
export function orthogonal(shape: [number, number], seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [rows, cols] = shape;
    const tall: [number, number] = rows < cols ? [cols, rows] : [rows, cols];
    const a = tf.randomNormal(tall, 0, 1, 'float32', seed) as tf.Tensor2D;
    const [q, r] = tf.linalg.qr(a) as [tf.Tensor2D, tf.Tensor2D];
    const n = Math.min(...tall);
    const diag = tf.sum(tf.mul(tf.slice(r, [0, 0], [n, n]), tf.eye(n)), 0);
    // sign(0) would zero a column; torch's `d.sign()` has the same edge, which never happens
    // for a Gaussian draw.
    const qFixed = tf.mul(q, tf.expandDims(tf.sign(diag), 0)) as tf.Tensor2D;
    return rows < cols ? tf.transpose(qFixed) : qFixed;
  });
}

export interface InitialWeights {
  W_enc: tf.Tensor2D;
  b_enc: tf.Tensor1D;
  W_dec: tf.Tensor2D;
  b_dec: tf.Tensor1D;
  scalingFactor: tf.Tensor1D;
}

/** The initial weights for `cfg` (b_dec zeros: data-dependent b_dec init comes later). */
export function initialWeights(cfg: SaeConfig, seed: number): InitialWeights {
  return tf.tidy(() => {
    const { dIn, dSae } = cfg;
    let wDec = kaimingUniform([dSae, dIn], seed);
    if (cfg.decoderOrthogonalInit) {
      // SAELens: W_dec = orthogonal_(W_dec.T).T
      wDec = tf.transpose(orthogonal([dIn, dSae], seed + 1));
    } else if (cfg.decoderHeuristicInit) {
      // torch.rand rows, scaled to norm 0.1 (initialize_decoder_norm_constant_norm)
      const u = tf.randomUniform([dSae, dIn], 0, 1, 'float32', seed + 2) as tf.Tensor2D;
      wDec = tf.mul(unitRows(u), 0.1);
    } else if (cfg.normalizeSaeDecoder) {
      wDec = unitRows(wDec);
    }
    let wEnc = kaimingUniform([dIn, dSae], seed + 3);
    if (cfg.initEncoderAsDecoderTranspose) wEnc = tf.transpose(wDec);
    // SAELens renormalizes once more after the encoder init whenever normalize_sae_decoder is
    // set, so a heuristic (norm 0.1) decoder ends at unit norm then; the encoder copy keeps 0.1.
    if (cfg.normalizeSaeDecoder) wDec = unitRows(wDec);
    return {
      W_enc: wEnc,
      b_enc: tf.zeros([dSae]) as tf.Tensor1D,
      W_dec: wDec,
      b_dec: tf.zeros([dIn]) as tf.Tensor1D,
      scalingFactor: tf.ones([dSae]) as tf.Tensor1D,
    };
  });
}
