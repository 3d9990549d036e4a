/**
 * Memory over 1,000 TopK-family training steps (the sparse step of src/sae/topkSparse.ts, as
 * bench/topkStepWorker.ts runs it) at (d_in 256, d_sae 4096, batch 1024, k 32), with 10 % of the
 * latents dead from the start so AuxK runs too, alternating TopK and BatchTopK halves: every 100
 * steps after a full GC, the tensor count, RSS, wasm heap and JS heap. Flat after warm-up = no
 * growth. Run alone: `npx tsx bench/topkStepMemory.ts [--quick]` (--quick: 200 steps).
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { mib } from './stats.js';
import { timeTopKStep } from './topkStepWorker.js';

const D_IN = 256, D_SAE = 4096, BATCH = 1024, K = 32;

function wasmHeapBytes(): number | null {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.byteLength ?? null;
}

export async function benchTopKStepMemory(opts: { quick?: boolean } = {}): Promise<object> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const steps = opts.quick ? 200 : 1000;
  const every = opts.quick ? 20 : 100;
  const x = tf.randomNormal([4 * BATCH, D_IN], 0, 1, 'float32', 5);
  const data = x.dataSync() as Float32Array;
  x.dispose();
  const samples: object[] = [];
  const sample = (step: number, selection: string, l0: number, dead: number) => {
    gc();
    const heap = wasmHeapBytes();
    samples.push({ step, selection, numTensors: tf.memory().numTensors, rssMiB: mib(process.memoryUsage().rss), wasmHeapMiB: heap === null ? null : mib(heap), jsHeapMiB: mib(process.memoryUsage().heapUsed), l0: +l0.toFixed(1), dead });
  };
  const t0 = performance.now();
  let done = 0;
  for (const selection of ['topk', 'batchtopk'] as const) {
    const offset = done;
    timeTopKStep(D_IN, D_SAE, BATCH, K, selection, 0, steps / 2, data, 0.1, (i, l0, dead) => {
      if (i === 1 || i % every === 0) sample(offset + i, selection, l0, dead);
    });
    done += steps / 2;
  }
  const sec = (performance.now() - t0) / 1000;
  const s = samples as Array<{ step: number; numTensors: number; rssMiB: number }>;
  const warm = s.find((v) => v.step >= 2 * every)!, last = s[s.length - 1]!;
  return {
    bench: 'topkStepMemory', dIn: D_IN, dSae: D_SAE, batch: BATCH, k: K, steps, deadFrac: 0.1, tokensPerSec: Math.round((steps * BATCH) / sec),
    samples, tensorGrowthAfterWarmup: last.numTensors - warm.numTensors, rssGrowthAfterWarmupMiB: +(last.rssMiB - warm.rssMiB).toFixed(1),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), backend: tf.getBackend(),
  };
}

if (process.argv[1]?.endsWith('topkStepMemory.ts')) {
  await selectBackend({ log: (l) => console.error(l) });
  process.stdout.write(JSON.stringify(await benchTopKStepMemory({ quick: process.argv.includes('--quick') })) + '\n');
}
