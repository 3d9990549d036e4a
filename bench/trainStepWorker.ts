/**
 * One SAE training-step timing in its own process (so that its peak RSS is its own), for
 * bench/compareTorch.ts:
 *
 *   npx tsx bench/trainStepWorker.ts <dIn> <dSae> <batch> <never|always|auto> <warmup> <steps> [targetL0] [maxChunkElements]
 *
 * With targetL0 the SAE starts with L0 ≈ targetL0 on the batch (like a trained SAE): each
 * feature's bias b_enc_j = −z·σ_j, σ_j = ‖W_enc[:, j]‖ (the std of h_pre_j for x ~ N(0, I),
 * b_dec = 0), z the standard normal quantile at 1 − targetL0/dSae, so each feature fires with
 * probability targetL0/dSae. Prints one JSON line: ms/step, L0 per step, maxRssMB.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { Sae } from '../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../src/sae/SaeConfig.js';
import type { SparseStepMode } from '../src/sae/sparse.js';
import { SaeTrainer } from '../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../src/train/TrainerConfig.js';

/** Φ(z) through erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851638 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** z with Φ(z) = p, by bisection. */
function normalQuantile(p: number): number {
  let lo = -10, hi = 10;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const [dIn, dSae, batch] = process.argv.slice(2, 5).map(Number) as [number, number, number];
  const mode = process.argv[5] as SparseStepMode;
  const warmup = Number(process.argv[6] ?? 1), steps = Number(process.argv[7] ?? 3);
  const targetL0 = process.argv[8] !== undefined && process.argv[8] !== '-' ? Number(process.argv[8]) : undefined;
  const maxChunk = process.argv[9] !== undefined ? { maxChunkElements: Number(process.argv[9]) } : {};
  await selectBackend({ log: () => {} });
  const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn, dSae, bDecInitMethod: 'zeros' }, { seed: 1 });
  if (targetL0 !== undefined) {
    const z = normalQuantile(1 - targetL0 / dSae);
    const b = tf.tidy(() => tf.mul(tf.sqrt(tf.sum(tf.square(sae.W_enc), 0)), -z));
    sae.b_enc.assign(b);
    b.dispose();
  }
  const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: batch, totalTrainingSteps: 1000 }, { sparseStep: mode, ...maxChunk });
  const x = tf.randomNormal([batch, dIn], 0, 1, 'float32', 3) as tf.Tensor2D;
  const ts: number[] = [];
  const l0s: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const m = tr.step(x);
    if (i >= warmup) {
      ts.push(performance.now() - t0);
      l0s.push(+m.l0.toFixed(1));
    }
  }
  const ms = median(ts);
  console.log(JSON.stringify({
    impl: 'sae-rx', backend: tf.getBackend(), mode, ...maxChunk, dIn, dSae, batch, steps, msPerStep: Math.round(ms),
    msPerStepAll: ts.map(Math.round), tokensPerSec: Math.round((batch * 1000) / ms), l0: l0s,
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
  x.dispose();
  tr.dispose();
  sae.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
