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
 * Upper-triangular R with RᵀR = G (Cholesky, float64), for a symmetric positive definite G.
 */
function cholUpper(g: Float64Array, k: number): Float64Array {
  const r = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    let d = g[j * k + j]!;
    for (let p = 0; p < j; p++) d -= r[p * k + j]! ** 2;
    if (!(d > 0)) throw new Error('orthogonal init: Gram matrix not positive definite');
    const rjj = Math.sqrt(d);
    r[j * k + j] = rjj;
    for (let i = j + 1; i < k; i++) {
      let v = g[j * k + i]!;
      for (let p = 0; p < j; p++) v -= r[p * k + j]! * r[p * k + i]!;
      r[j * k + i] = v / rjj;
    }
  }
  return r;
}

/** Inverse of an upper-triangular matrix (float64, back substitution per column). */
function invUpper(r: Float64Array, k: number): Float64Array {
  const inv = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    inv[j * k + j] = 1 / r[j * k + j]!;
    for (let i = j - 1; i >= 0; i--) {
      let v = 0;
      for (let p = i + 1; p <= j; p++) v += r[i * k + p]! * inv[p * k + j]!;
      inv[i * k + j] = -v / r[i * k + i]!;
    }
  }
  return inv;
}

/** Q of the QR decomposition of a tall [n, k] matrix with diag(R) > 0 (CholeskyQR2). */
function orthonormalColumns(a: tf.Tensor2D): tf.Tensor2D {
  const k = a.shape[1];
  let q = a;
  for (let pass = 0; pass < 2; pass++) {
    const prev = q;
    const gram = Float64Array.from(tf.tidy(() => tf.matMul(tf.transpose(prev), prev)).dataSync());
    const rInv = tf.tensor2d(Float32Array.from(invUpper(cholUpper(gram, k), k)), [k, k]);
    q = tf.matMul(prev, rInv);
    rInv.dispose();
    if (prev !== a) prev.dispose();
  }
  return q;
}

/**
 * torch.nn.init.orthogonal_ on a [rows, cols] tensor: Q of the QR decomposition of a standard
 * normal matrix (of the taller orientation) with the signs fixed so that diag(R) > 0, transposed
 * back when rows < cols. Q with a positive-diagonal R is unique, so it is computed here as
 * CholeskyQR2 (Q = A·R⁻¹ with RᵀR = AᵀA, twice), two matMuls instead of tfjs's Householder loop.
 */
export function orthogonal(shape: [number, number], seed: number): tf.Tensor2D {
  const [rows, cols] = shape;
  const tall: [number, number] = rows < cols ? [cols, rows] : [rows, cols];
  const a = tf.randomNormal(tall, 0, 1, 'float32', seed) as tf.Tensor2D;
  const q = orthonormalColumns(a);
  a.dispose();
  if (rows >= cols) return q;
  const t = tf.transpose(q);
  q.dispose();
  return t;
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
