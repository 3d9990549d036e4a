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
import type { SparseStepMode } from '../src/sae/sparse.js';
import { median } from './stats.js';
import { timeTrainStep } from './trainStep.js';

async function main(): Promise<void> {
  const [dIn, dSae, batch] = process.argv.slice(2, 5).map(Number) as [number, number, number];
  const mode = process.argv[5] as SparseStepMode;
  const warmup = Number(process.argv[6] ?? 1), steps = Number(process.argv[7] ?? 3);
  const targetL0 = process.argv[8] !== undefined && process.argv[8] !== '-' ? Number(process.argv[8]) : undefined;
  const maxChunk = process.argv[9] !== undefined ? { maxChunkElements: Number(process.argv[9]) } : {};
  await selectBackend({ log: () => {} });
  const l0s: number[] = [];
  const ts = timeTrainStep(dIn, dSae, batch, warmup, steps, { mode, ...(targetL0 !== undefined ? { targetL0 } : {}), ...maxChunk, l0s });
  const ms = median(ts);
  console.log(JSON.stringify({
    impl: 'sae-rx', backend: tf.getBackend(), mode, ...maxChunk, dIn, dSae, batch, steps, msPerStep: Math.round(ms),
    msPerStepAll: ts.map(Math.round), tokensPerSec: Math.round((batch * 1000) / ms), l0: l0s,
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
