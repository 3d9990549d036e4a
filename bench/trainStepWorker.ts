/**
 * One SAE training-step timing in its own process (so that its peak RSS is its own), for
 * bench/compareTorch.ts:
 *
 *   npx tsx bench/trainStepWorker.ts <dIn> <dSae> <batch> <never|always|auto> <warmup> <steps> [targetL0] [maxChunkElements]
 *
 * With targetL0 the SAE starts with L0 ≈ targetL0 on the batch (like a trained SAE; see
 * bench/targetL0.ts). Prints one JSON line: ms/step, L0 per step, maxRssMB.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { Sae } from '../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../src/sae/SaeConfig.js';
import type { SparseStepMode } from '../src/sae/sparse.js';
import { SaeTrainer } from '../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../src/train/TrainerConfig.js';
import { setTargetL0 } from './targetL0.js';
import { median } from './stats.js';

async function main(): Promise<void> {
  const [dIn, dSae, batch] = process.argv.slice(2, 5).map(Number) as [number, number, number];
  const mode = process.argv[5] as SparseStepMode;
  const warmup = Number(process.argv[6] ?? 1), steps = Number(process.argv[7] ?? 3);
  const targetL0 = process.argv[8] !== undefined && process.argv[8] !== '-' ? Number(process.argv[8]) : undefined;
  const maxChunk = process.argv[9] !== undefined ? { maxChunkElements: Number(process.argv[9]) } : {};
  await selectBackend({ log: () => {} });
  const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn, dSae, bDecInitMethod: 'zeros' }, { seed: 1 });
  if (targetL0 !== undefined) setTargetL0(sae, targetL0);
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
