/**
 * Gives a freshly created SAE (b_dec = 0) an L0 of about `targetL0` on x ~ N(0, I) inputs, like a
 * trained SAE, for the sparse-step benches (bench/trainStepWorker.ts, bench/trainStep.ts): each
 * feature's bias b_enc_j = −z·σ_j, σ_j = ‖W_enc[:, j]‖ (the std of h_pre_j), z the standard
 * normal quantile at 1 − targetL0/dSae, so each feature fires with probability targetL0/dSae.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Sae } from '../src/sae/Sae.js';

/** Φ(z) through erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851638 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** z with Φ(z) = p, by bisection. */
export function normalQuantile(p: number): number {
  let lo = -10, hi = 10;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Sets `sae.b_enc` so that about `targetL0` features fire per N(0, I) input (b_dec must be 0). */
export function setTargetL0(sae: Sae, targetL0: number): void {
  const z = normalQuantile(1 - targetL0 / sae.cfg.dSae);
  const b = tf.tidy(() => tf.mul(tf.sqrt(tf.sum(tf.square(sae.W_enc), 0)), -z));
  sae.b_enc.assign(b);
  b.dispose();
}
