/**
 * Toy-run benchmarks (JSON-able objects; `npx tsx bench/toyRun.ts [--quick]` prints them as
 * JSON lines): tokens/s of the toy pipeline, a sweep of 4 SAEs against 1 on the same stream,
 * and tensor count + RSS at intervals over a 1M-token run (flat after warm-up = no leak).
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { lastValueFrom, tap } from 'rxjs';
import { backendInfo, selectBackend } from '../src/backend/index.js';
import { batch } from '../src/operators/batch.js';
import { mixingBuffer } from '../src/operators/mixingBuffer.js';
import { trainSae, type TrainSaeSpec } from '../src/operators/trainSae.js';
import { DEFAULT_SAE_CONFIG } from '../src/sae/SaeConfig.js';
import { DEFAULT_TRAINER_CONFIG } from '../src/train/TrainerConfig.js';
import { toyActivations } from '../src/sources/toyActivations.js';
import { toyModel } from '../src/sources/toyModel.js';
import { mib } from './stats.js';

interface Shape {
  readonly name: string;
  readonly nFeatures: number;
  readonly nHidden: number;
  readonly dSae: number;
}
const EXAMPLE: Shape = { name: 'example', nFeatures: 10, nHidden: 5, dSae: 20 };
const WIDER: Shape = { name: 'wider', nFeatures: 256, nHidden: 64, dSae: 512 };
const BATCH = 1024;

function specs(s: Shape, n: number, steps: number): TrainSaeSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `sae_${i}`,
    sae: { ...DEFAULT_SAE_CONFIG, dIn: s.nHidden, dSae: s.dSae, hookPoint: 'hook_hidden', seed: 42 + i },
    trainer: { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: BATCH, totalTrainingSteps: steps, lrWarmUpSteps: 0, lr: 3e-3, l1Coefficient: 0.1 * (i + 1) },
  }));
}

/** Runs the toy pipeline; `onStep` sees every step record of the first SAE. */
async function run(s: Shape, nSaes: number, steps: number, onStep?: (step: number) => void): Promise<number> {
  const model = toyModel({ nFeatures: s.nFeatures, nHidden: s.nHidden, featureProbability: 0.05 });
  const t0 = performance.now();
  await lastValueFrom(
    toyActivations(model, { batchSize: BATCH, seed: 1 }).pipe(
      mixingBuffer({ batchesInBuffer: 8, storeBatchSize: BATCH, seed: 2 }),
      batch(BATCH),
      trainSae(specs(s, nSaes, steps), { handleSignals: false }),
      tap((r) => r.type === 'step' && r.saeId === 'sae_0' && onStep?.(r.step)),
    ),
  );
  return (performance.now() - t0) / 1000;
}

export async function benchToyRun(opts: { quick?: boolean } = {}): Promise<object[]> {
  const quick = opts.quick ?? false;
  const out: object[] = [];
  const backend = backendInfo().backend;
  const steps = quick ? 30 : 200;

  for (const s of [EXAMPLE, WIDER]) {
    await run(s, 1, 5); // warm-up: kernels, wasm pages
    const sec = await run(s, 1, steps);
    out.push({ bench: 'toyRun', shape: s.name, dIn: s.nHidden, dSae: s.dSae, batch: BATCH, steps, saes: 1, tokensPerSec: Math.round((steps * BATCH) / sec), msPerStep: +((sec * 1000) / steps).toFixed(2), backend });
  }
  for (const n of [1, 4]) {
    const sec = await run(WIDER, n, steps);
    out.push({
      bench: 'toyRun.sweep', shape: WIDER.name, dIn: WIDER.nHidden, dSae: WIDER.dSae, batch: BATCH, steps, saes: n,
      streamTokensPerSec: Math.round((steps * BATCH) / sec), saeTokensPerSec: Math.round((n * steps * BATCH) / sec), backend,
    });
  }

  // Memory over a 1M-token run (example shape): tensors, RSS and JS heap every ~10% of the
  // steps, after a full GC (V8 collects lazily; without it RSS drifts up with garbage).
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const memSteps = Math.ceil((quick ? 200_000 : 1_000_000) / BATCH);
  const every = Math.ceil(memSteps / 10);
  const samples: { step: number; numTensors: number; rssMiB: number; heapMiB: number }[] = [];
  const sample = (step: number) => {
    gc();
    const m = process.memoryUsage();
    samples.push({ step, numTensors: tf.memory().numTensors, rssMiB: mib(m.rss), heapMiB: mib(m.heapUsed) });
  };
  const before = tf.memory().numTensors;
  const sec = await run(EXAMPLE, 1, memSteps, (step) => step % every === 0 && sample(step));
  sample(memSteps);
  const warm = samples[Math.min(2, samples.length - 1)]!;
  const last = samples[samples.length - 1]!;
  out.push({
    bench: 'toyRun.memory', shape: EXAMPLE.name, tokens: memSteps * BATCH, steps: memSteps, tokensPerSec: Math.round((memSteps * BATCH) / sec),
    tensorsBefore: before, tensorsAfter: tf.memory().numTensors, samples,
    rssGrowthAfterWarmupMiB: +(last.rssMiB - warm.rssMiB).toFixed(1), heapGrowthAfterWarmupMiB: +(last.heapMiB - warm.heapMiB).toFixed(1), backend,
  });
  return out;
}

if (process.argv[1]?.endsWith('toyRun.ts')) {
  await selectBackend({ log: (l) => console.error(l) });
  for (const line of await benchToyRun({ quick: process.argv.includes('--quick') })) process.stdout.write(JSON.stringify(line) + '\n');
}
