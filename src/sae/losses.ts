/**
 * The SAE's training losses, SAELens v1.5.0 `SparseAutoencoder.forward` (DESIGN.md §5):
 *
 *   mse   = mean_b Σ_d m,  m = (x̂ − x)² [/ (‖x − mean_b x‖ + 1e-6) with dense_batch]
 *   l1    = mean_b(λ·‖f‖_p)           (‖f ⊙ ‖W_dec,i‖‖_p when scaled by decoder norm)
 *   ghost = mean_all(sg(m / (m_g + 1e-6)) · m_g)   (training only, some feature dead)
 *   loss  = mse + l1 + ghost
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SaeConfig } from './SaeConfig.js';
import { reluTrain } from '../backend/index.js';
import { activation, type SaeParams } from './standardForward.js';
import { gatherCols, gatherRows, lpNorm, mm, rowNorms, saeMatMulImpl, stopGradient } from './ops.js';
import { encodeConstantInput, sparseDecodeMm, sparseGradEncode, sparseStepMode, type SparseStepMode } from './sparse.js';

export interface LossOptions {
  /** λ for this step (after L1 warm-up). */
  l1Coefficient: number;
  /** Training mode: noise on hidden_pre, ghost grads allowed. */
  training: boolean;
  /** Indices of dead features (ghost grads apply when non-empty and useGhostGrads). */
  deadIdx?: Int32Array | null;
  useGhostGrads?: boolean;
  /** Seed of the noise on hidden_pre (cfg.noiseScale > 0, training only). */
  noiseSeed?: number;
  /**
   * Sparse or dense products for the decoder and the gradients (src/sae/sparse.ts); default
   * sparseStepMode() ('auto' unless set). Same losses and gradients either way.
   */
  sparseStep?: SparseStepMode;
  /**
   * x needs no gradient (the trainer's batch): with applyBDecToInput, b_dec's gradient through
   * x − b_dec is then one small product (encodeConstantInput). Same losses and gradients.
   */
  constantInput?: boolean;
  /**
   * What x̂ reconstructs (a transcoder's target [batch, d_out]); default x. The MSE and the
   * ghost-grad residual are taken against it.
   */
  target?: tf.Tensor2D;
}

export interface LossTerms {
  loss: tf.Scalar;
  mse: tf.Scalar;
  /** Σ_d m per row, [batch] (mse is its mean; with no mse normalization, ‖x̂ − x‖² per row). */
  perTokenMse: tf.Tensor1D;
  l1: tf.Scalar;
  /** 0 when no ghost term applies. */
  ghost: tf.Scalar;
  saeIn: tf.Tensor2D;
  hiddenPre: tf.Tensor2D;
  featureActs: tf.Tensor2D;
  saeOut: tf.Tensor2D;
}

/** Elementwise (x̂ − target)², optionally divided by the centred target's row norm + 1e-6. */
export function perItemMse(
  preds: tf.Tensor2D,
  target: tf.Tensor2D,
  normalization: SaeConfig['mseLossNormalization'],
): tf.Tensor2D {
  const sq = tf.square(tf.sub(preds, target)) as tf.Tensor2D;
  if (normalization !== 'dense_batch') return sq;
  const centred = tf.sub(target, tf.mean(target, 0, true));
  const norm = tf.sqrt(tf.sum(tf.square(centred), -1, true));
  return tf.div(sq, tf.add(norm, 1e-6)) as tf.Tensor2D;
}

/** Per-example sparsity term ‖f‖_p (or ‖f ⊙ ‖W_dec rows‖‖_p). */
export function sparsityTerm(cfg: SaeConfig, p: SaeParams, f: tf.Tensor2D): tf.Tensor1D {
  const weighted = cfg.scaleSparsityPenaltyByDecoderNorm ? (tf.mul(f, rowNorms(p.W_dec)) as tf.Tensor2D) : f;
  // f ≥ 0 (relu, tanh∘relu) so ‖·‖₁ is a plain sum; its gradient 1 differs from torch's sign(f)
  // only where f = 0, and there the activation's own gradient is 0 (h_pre ≤ 0), so the
  // parameter gradients are identical and two passes over [batch, d_sae] are saved.
  if (cfg.lpNorm === 1) return tf.sum(weighted, -1) as tf.Tensor1D;
  return lpNorm(weighted, cfg.lpNorm);
}

/** Ghost-grad loss (SAELens calculate_ghost_grad_loss). */
export function ghostGradLoss(
  cfg: SaeConfig,
  p: SaeParams,
  /** What x̂ reconstructs (the input for an SAE). */
  x: tf.Tensor2D,
  saeOut: tf.Tensor2D,
  perItem: tf.Tensor2D,
  hiddenPre: tf.Tensor2D,
  deadIdx: Int32Array,
): tf.Scalar {
  const residual = tf.sub(x, saeOut) as tf.Tensor2D;
  const residualNorm = tf.sqrt(tf.sum(tf.square(residual), -1));
  const idx = tf.tensor1d(deadIdx, 'int32');
  const deadActs = tf.exp(gatherCols(hiddenPre, idx)) as tf.Tensor2D;
  let ghostOut = mm(deadActs, gatherRows(p.W_dec, idx));
  const ghostNorm = tf.sqrt(tf.sum(tf.square(ghostOut), -1));
  const scale = stopGradient(tf.div(residualNorm, tf.add(tf.mul(ghostNorm, 2), 1e-6)));
  ghostOut = tf.mul(ghostOut, tf.expandDims(scale, 1)) as tf.Tensor2D;
  const ghostMse = perItemMse(ghostOut, stopGradient(residual), cfg.mseLossNormalization);
  const rescale = stopGradient(tf.div(perItem, tf.add(ghostMse, 1e-6)));
  return tf.mean(tf.mul(rescale, ghostMse)) as tf.Scalar;
}

/**
 * Sae.ts's activation with relu through reluTrain: the same values and gradient as tf.relu,
 * with a one-pass backward that keeps only the output.
 */
function trainingActivation(fn: SaeConfig['activationFn'], h: tf.Tensor2D): tf.Tensor2D {
  if (fn === 'relu') return reluTrain(h);
  if (fn === 'tanh-relu') return tf.tanh(reluTrain(h)) as tf.Tensor2D;
  return activation(fn, h);
}

/** Forward pass with every loss term. Call inside tf.tidy / tf.variableGrads. */
export function saeLosses(cfg: SaeConfig, p: SaeParams, x: tf.Tensor2D, opts: LossOptions): LossTerms {
  const mode = opts.sparseStep ?? sparseStepMode();
  // Sae.ts encodePre / decodeWith, with the products of sparse.ts.
  const saeIn = cfg.applyBDecToInput ? (tf.sub(x, p.b_dec) as tf.Tensor2D) : x;
  const hiddenPre =
    opts.constantInput && cfg.applyBDecToInput && !(mode === 'never' && saeMatMulImpl() !== 'saeMatMul')
      ? encodeConstantInput(x, p.b_dec, p.W_enc, p.b_enc, mode, saeIn)
      : sparseGradEncode(saeIn, p.W_enc, p.b_enc, mode);
  let noisy = hiddenPre;
  if (opts.training && cfg.noiseScale > 0) {
    noisy = tf.add(hiddenPre, tf.randomNormal(hiddenPre.shape, 0, cfg.noiseScale, 'float32', opts.noiseSeed)) as tf.Tensor2D;
  }
  const featureActs = trainingActivation(cfg.activationFn, noisy);
  const scaled = p.scalingFactor ? (tf.mul(featureActs, p.scalingFactor) as tf.Tensor2D) : featureActs;
  const saeOut = tf.add(sparseDecodeMm(scaled, p.W_dec, mode), p.b_dec) as tf.Tensor2D;
  const target = opts.target ?? x;
  const perItem = perItemMse(saeOut, target, cfg.mseLossNormalization);
  const dead = opts.deadIdx;
  const ghost =
    opts.training && opts.useGhostGrads && dead && dead.length > 0
      ? ghostGradLoss(cfg, p, target, saeOut, perItem, hiddenPre, dead)
      : (tf.scalar(0) as tf.Scalar);
  const perTokenMse = tf.sum(perItem, -1) as tf.Tensor1D;
  const mse = tf.mean(perTokenMse) as tf.Scalar;
  const l1 = tf.mean(tf.mul(opts.l1Coefficient, sparsityTerm(cfg, p, featureActs))) as tf.Scalar;
  const loss = tf.add(tf.add(mse, l1), ghost) as tf.Scalar;
  return { loss, mse, perTokenMse, l1, ghost, saeIn, hiddenPre, featureActs, saeOut };
}
