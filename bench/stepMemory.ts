/**
 * Memory over 1,000 SAE training steps at a real SAE shape (d_in 512, d_sae 4096, batch 1024,
 * started at L0 ≈ 75 like a trained SAE, sparse step 'auto'; on random batches L0 drifts up and
 * 'auto' moves to the dense products, so both paths run): every 100 steps, after a full GC,
 * the tensor count, RSS, wasm heap size and JS heap. Flat after warm-up = no growth. The
 * toy-run memory bench (toyRun.ts) covers the whole Rx pipeline; this one the step at scale.
 * Run alone: `npx tsx bench/stepMemory.ts [--quick]` (--quick: 200 steps).
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { Sae } from '../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../src/sae/SaeConfig.js';
import { SaeTrainer } from '../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../src/train/TrainerConfig.js';
import { mib } from './stats.js';
import { setTargetL0 } from './targetL0.js';

const D_IN = 512, D_SAE = 4096, BATCH = 1024;

/** Bytes of the wasm backend's heap (it grows and never shrinks), or null on other backends. */
function wasmHeapBytes(): number | null {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.byteLength ?? null;
}

export async function benchStepMemory(opts: { quick?: boolean } = {}): Promise<object> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const steps = opts.quick ? 200 : 1000;
  const every = opts.quick ? 20 : 100;
  const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn: D_IN, dSae: D_SAE, bDecInitMethod: 'zeros' }, { seed: 1 });
  setTargetL0(sae, 75);
  const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: BATCH, totalTrainingSteps: steps, lrWarmUpSteps: 0 });
  const samples: { step: number; numTensors: number; rssMiB: number; wasmHeapMiB: number | null; jsHeapMiB: number; l0: number }[] = [];
  const t0 = performance.now();
  let l0 = 0;
  for (let i = 1; i <= steps; i++) {
    // A fresh batch each step (seeded), as a stream would deliver.
    const x = tf.randomNormal([BATCH, D_IN], 0, 1, 'float32', i) as tf.Tensor2D;
    l0 = tr.step(x).l0;
    x.dispose();
    if (i === 1 || i % every === 0) {
      gc();
      const heap = wasmHeapBytes();
      samples.push({ step: i, numTensors: tf.memory().numTensors, rssMiB: mib(process.memoryUsage().rss), wasmHeapMiB: heap === null ? null : mib(heap), jsHeapMiB: mib(process.memoryUsage().heapUsed), l0: +l0.toFixed(1) });
    }
  }
  const sec = (performance.now() - t0) / 1000;
  tr.dispose();
  sae.dispose();
  const warm = samples.find((s) => s.step >= 2 * every) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  return {
    bench: 'stepMemory', dIn: D_IN, dSae: D_SAE, batch: BATCH, steps, tokensPerSec: Math.round((steps * BATCH) / sec),
    samples, tensorGrowthAfterWarmup: last.numTensors - warm.numTensors, rssGrowthAfterWarmupMiB: +(last.rssMiB - warm.rssMiB).toFixed(1),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), backend: tf.getBackend(),
  };
}

if (process.argv[1]?.endsWith('stepMemory.ts')) {
  await selectBackend({ log: (l) => console.error(l) });
  process.stdout.write(JSON.stringify(await benchStepMemory({ quick: process.argv.includes('--quick') })) + '\n');
}
