/**
 * Speed of one SAELens training step (SaeTrainer.step: renormalize, forward, losses, backward,
 * clip, decoder-gradient projection, Adam) at SAE shapes (d_in, d_sae, batch):
 * (512, 4096, 4096) and (768, 12288, 4096). For each: median ms/step over several steps after
 * warm-up, tokens/s, and the step's FLOP rate (12·batch·d_in·d_sae per step: 2 forward and 4
 * backward products) against a plain tf.matMul of the same [batch, d_in]·[d_in, d_sae] shape
 * in the same run. Per matMul kernel (OpenBLAS when built, and the stock one) and per way of
 * differentiating the SAE's products (src/sae/ops.ts `setSaeMatMulImpl`).
 *
 * Plus the sparse step (SaeTrainer option sparseStep 'always', against 'never') on an SAE
 * started at L0 ≈ SPARSE_TARGET_L0, as bench/trainStepWorker.ts builds it.
 *
 * Run alone: `npx tsx bench/trainStep.ts [--quick]`; `npm run bench` calls benchTrainStep().
 */
import * as tf from '@tensorflow/tfjs-core';
import { blasStatus, matMulKernelState, selectBackend } from '../src/backend/index.js';
import { setMatMulKernel } from '../src/backend/register.js';
import { setSaeMatMulImpl, type SaeMatMulImpl } from '../src/sae/ops.js';
import { Sae } from '../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../src/sae/SaeConfig.js';
import { SaeTrainer } from '../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../src/train/TrainerConfig.js';
import type { SparseStepMode } from '../src/sae/sparse.js';
import { setTargetL0 } from './targetL0.js';
import { median } from './stats.js';

/** L0 of the SAE the sparse-step cases start from (as bench/compareTorch.ts). */
export const SPARSE_TARGET_L0 = 75;

export interface TrainStepBenchOptions {
  quick?: boolean;
  /** Only configurations whose name (`trainStep/<kernel>/<impl>/<dIn>x<dSae>x<batch>`) contains this. */
  filter?: string;
  emit?: (line: object) => void;
}

function timeMatMul(batch: number, dIn: number, dSae: number, reps: number): number {
  const a = tf.randomNormal([batch, dIn], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([dIn, dSae], 0, 1, 'float32', 2) as tf.Tensor2D;
  tf.matMul(a, b).dispose(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    ts.push(performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return median(ts);
}

/**
 * ms of each timed step. With `sparse`, the SAE starts with b_dec = 0 (and at L0 ≈ targetL0 when
 * given: biases from bench/targetL0.ts) and the trainer runs that sparse-step mode (chunked at
 * maxChunkElements when given); the L0 of each timed step goes to `l0s`. Also the loop of
 * bench/trainStepWorker.ts.
 */
export function timeTrainStep(
  dIn: number, dSae: number, batch: number, warmup: number, steps: number,
  sparse?: { mode: SparseStepMode; targetL0?: number; maxChunkElements?: number; l0s: number[] },
): number[] {
  const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn, dSae, ...(sparse ? { bDecInitMethod: 'zeros' as const } : {}) }, { seed: 1 });
  if (sparse?.targetL0 !== undefined) setTargetL0(sae, sparse.targetL0);
  const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: batch, totalTrainingSteps: 1000 }, sparse ? {
    sparseStep: sparse.mode, ...(sparse.maxChunkElements !== undefined ? { maxChunkElements: sparse.maxChunkElements } : {}),
  } : {});
  const x = tf.randomNormal([batch, dIn], 0, 1, 'float32', 3) as tf.Tensor2D;
  const ts: number[] = [];
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      const m = tr.step(x); // synchronous: returns after reading the metrics back
      if (i >= warmup) {
        ts.push(performance.now() - t0);
        sparse?.l0s.push(+m.l0.toFixed(1));
      }
    }
  } finally {
    x.dispose();
    tr.dispose();
    sae.dispose();
  }
  return ts;
}

export async function benchTrainStep(opts: TrainStepBenchOptions = {}): Promise<object[]> {
  await selectBackend({ log: () => {} });
  const backend = tf.getBackend();
  const shapes: Array<[number, number, number]> = opts.quick ? [[512, 4096, 4096]] : [[512, 4096, 4096], [768, 12288, 4096]];
  const kernels: Array<'blas' | 'stock'> = blasStatus().loaded && (backend === 'wasm' || backend === 'cpu') ? ['blas', 'stock'] : ['stock'];
  const initialKernel = matMulKernelState(backend)?.matMul;
  const out: object[] = [];
  try {
    for (const kernel of kernels) {
      if (kernels.length > 1 || initialKernel !== kernel) setMatMulKernel(backend, kernel);
      // 'tfjs' (stock matMul gradient, transposed products): on stock wasm that is the naive
      // loop (minutes per step at these shapes), so it runs there on the small shape with the
      // batch cut to 256 (`scaledBatch`; its rate hardly depends on the batch).
      const impls: SaeMatMulImpl[] = ['saeMatMul', 'customGrad', 'tfjs'];
      for (const [dIn, dSae, fullBatch] of shapes) {
        const big = dSae > 4096;
        const mmMs = timeMatMul(fullBatch, dIn, dSae, opts.quick ? 3 : 5);
        const mmGflops = (2 * fullBatch * dIn * dSae) / (mmMs * 1e6);
        for (const impl of impls) {
          const slowPath = impl === 'tfjs' && kernel === 'stock' && backend === 'wasm';
          if (slowPath && dSae > 4096) continue;
          const batch = slowPath ? 256 : fullBatch;
          const name = `trainStep/${kernel}/${impl}/${dIn}x${dSae}x${batch}`;
          if (opts.filter !== undefined && !name.includes(opts.filter)) continue;
          const prev = setSaeMatMulImpl(impl);
          let ts: number[];
          try {
            ts = timeTrainStep(dIn, dSae, batch, 1, opts.quick || big ? 3 : 5);
          } finally {
            setSaeMatMulImpl(prev);
          }
          const ms = median(ts);
          const flops = 12 * batch * dIn * dSae;
          const line = {
            bench: 'trainStep',
            name,
            backend,
            kernel,
            impl,
            dIn,
            dSae,
            batch,
            ...(batch !== fullBatch ? { scaledBatch: true } : {}),
            steps: ts.length,
            msPerStep: Math.round(ms),
            msPerStepAll: ts.map(Math.round),
            tokensPerSec: Math.round((batch * 1000) / ms),
            trainGflops: +(flops / (ms * 1e6)).toFixed(1),
            matMulShape: [fullBatch, dIn, dSae],
            matMulMs: Math.round(mmMs),
            matMulGflops: +mmGflops.toFixed(1),
            trainVsMatMul: +(flops / (ms * 1e6) / mmGflops).toFixed(2),
          };
          opts.emit?.(line);
          out.push(line);
        }
        // The sparse step (src/sae/sparse.ts) at a trained-SAE L0, against the dense products
        // on the same SAE ('never'): the same maths, so the ratio is the sparse kernels' gain.
        for (const mode of ['never', 'always'] as const) {
          const name = `trainStep/${kernel}/sparse-${mode}/${dIn}x${dSae}x${fullBatch}`;
          if (opts.filter !== undefined && !name.includes(opts.filter)) continue;
          const l0s: number[] = [];
          const ts = timeTrainStep(dIn, dSae, fullBatch, 1, opts.quick || big ? 3 : 5, { mode, targetL0: SPARSE_TARGET_L0, l0s });
          const ms = median(ts);
          const line = {
            bench: 'trainStep', name, backend, kernel, sparseStep: mode, targetL0: SPARSE_TARGET_L0, l0: l0s,
            dIn, dSae, batch: fullBatch, steps: ts.length, msPerStep: Math.round(ms), msPerStepAll: ts.map(Math.round),
            tokensPerSec: Math.round((fullBatch * 1000) / ms),
          };
          opts.emit?.(line);
          out.push(line);
        }
      }
    }
  } finally {
    if (initialKernel && kernels.length > 1) setMatMulKernel(backend, initialKernel);
  }
  return out;
}

// Run directly: print JSON lines.
if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const fi = process.argv.indexOf('--filter');
  benchTrainStep({ quick, ...(fi > 0 ? { filter: process.argv[fi + 1]! } : {}), emit: (l) => console.log(JSON.stringify(l)) }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
