/**
 * One TopK-family training-step timing in its own process (its peak RSS is its own), for
 * bench/compareTorchTopK.ts, against scripts/reference/topk_train_timing.py on the same batches:
 *
 *   npx tsx bench/topkStepWorker.ts <dIn> <dSae> <batch> <k> <topk|batchtopk> <warmup> <steps> <dataFile> [deadFrac]
 *
 * The step is SAELens 6's: dead mask (steps since fired > 1000) → forward + backward (MSE +
 * AuxK over dead latents) → clip_grad_norm 1.0 → Adam (0.9, 0.999) → fired-counter bookkeeping
 * (→ BatchTopK's threshold update), with the sparse TopK-family forward of
 * src/sae/topkSparse.ts. dataFile holds the batches (float32, little-endian, [n·batch, dIn]),
 * used in turn. deadFrac marks that fraction of the latents dead from the start (AuxK active).
 * Prints one JSON line: ms/step, tokens/s, L0, maxRssMB.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { topkFamilyForward, type TopKFamilyParams } from '../src/sae/topkSparse.js';
import { Adam } from '../src/train/Adam.js';
import { kaimingUniform } from '../src/sae/init.js';
import { median } from './stats.js';

const DEAD_FEATURE_WINDOW = 1000;

export function timeTopKStep(
  dIn: number, dSae: number, batch: number, k: number, selection: 'topk' | 'batchtopk', warmup: number, steps: number,
  data: Float32Array, deadFrac = 0,
  /** Called after each step (1-based count) with its L0 and dead count (bench/topkStepMemory.ts samples memory there). */
  onStep?: (step: number, l0: number, dead: number) => void,
): { ms: number[]; l0: number[]; dead: number } {
  const nBatches = Math.floor(data.length / (batch * dIn));
  if (nBatches < 1) throw new Error(`topkStepWorker: the data file holds less than one batch of ${batch}×${dIn}`);
  const batches = Array.from({ length: nBatches }, (_, i) => tf.tensor2d(data.subarray(i * batch * dIn, (i + 1) * batch * dIn), [batch, dIn]));
  // SAELens 6 init: W_dec kaiming-uniform rows scaled to norm 0.1, W_enc = W_decᵀ, biases 0.
  const init = tf.tidy(() => {
    const w = kaimingUniform([dSae, dIn], 1);
    const wd = tf.mul(tf.div(w, tf.norm(w, 2, 1, true)), 0.1) as tf.Tensor2D;
    return { W_dec: wd, W_enc: tf.transpose(wd) as tf.Tensor2D };
  });
  const zEnc = tf.zeros([dSae]), zDec = tf.zeros([dIn]);
  const p = {
    W_enc: tf.variable(init.W_enc, true, 'W_enc'), b_enc: tf.variable(zEnc, true, 'b_enc'),
    W_dec: tf.variable(init.W_dec, true, 'W_dec'), b_dec: tf.variable(zDec, true, 'b_dec'),
  };
  tf.dispose([init.W_enc, init.W_dec, zEnc, zDec]);
  const vars = Object.values(p);
  const adam = new Adam(0.9, 0.999);
  const since = new Float32Array(dSae);
  // deadFrac: the first latents look dead (as after > 1000 steps without firing).
  since.fill(DEAD_FEATURE_WINDOW + 1, 0, Math.floor(deadFrac * dSae));
  let threshold = 0;
  const ms: number[] = [], l0: number[] = [];
  let deadCount = 0;
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      const x = batches[i % nBatches]!;
      const dead: number[] = [];
      for (let j = 0; j < dSae; j++) if (since[j]! > DEAD_FEATURE_WINDOW) dead.push(j);
      deadCount = dead.length;
      let fired: { counts: Float32Array; nnz: number; minActivation: number } | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const f = topkFamilyForward(p as unknown as TopKFamilyParams, x, {
          k, selection, rescaleActsByDecoderNorm: true, applyBDecToInput: true, deadIdx: Int32Array.from(dead), auxLossCoefficient: 1,
        });
        fired = f.fired;
        return f.loss;
      }, vars);
      const t1 = performance.now();
      tf.tidy(() => {
        const g = vars.map((v) => grads[v.name]!);
        const total = tf.sqrt(tf.addN(g.map((gi) => tf.sum(tf.square(gi)))));
        const coef = tf.minimum(tf.div(1.0, tf.add(total, 1e-6)), 1);
        vars.forEach((v, j) => adam.update(v.name, v, tf.mul(g[j]!, coef), 3e-4));
      });
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      if (process.env['TOPK_PROF']) console.error(`fwd+bwd ${Math.round(t1 - t0)} ms, clip+adam ${Math.round(performance.now() - t1)} ms`);
      for (let j = 0; j < dSae; j++) since[j] = fired!.counts[j]! > 0 ? 0 : since[j]! + 1;
      if (selection === 'batchtopk') threshold = 0.99 * threshold + 0.01 * fired!.minActivation;
      onStep?.(i + 1, fired!.nnz / batch, deadCount);
      if (i >= warmup) {
        ms.push(performance.now() - t0);
        l0.push(+(fired!.nnz / batch).toFixed(2));
      }
    }
  } finally {
    adam.dispose();
    tf.dispose([...vars, ...batches]);
  }
  return { ms, l0, dead: deadCount };
}

async function main(): Promise<void> {
  const [dIn, dSae, batch] = process.argv.slice(2, 5).map(Number) as [number, number, number];
  const k = Number(process.argv[5]);
  const selection = process.argv[6] as 'topk' | 'batchtopk';
  const warmup = Number(process.argv[7] ?? 1), steps = Number(process.argv[8] ?? 3);
  const file = process.argv[9]!;
  const deadFrac = Number(process.argv[10] ?? 0);
  await selectBackend({ log: () => {} });
  const buf = readFileSync(file);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const r = timeTopKStep(dIn, dSae, batch, k, selection, warmup, steps, data, deadFrac);
  const m = median(r.ms);
  console.log(JSON.stringify({
    impl: 'sae-rx', backend: tf.getBackend(), selection, dIn, dSae, batch, k, steps, deadFrac, dead: r.dead,
    msPerStep: Math.round(m), msPerStepAll: r.ms.map(Math.round), tokensPerSec: Math.round((batch * 1000) / m), l0: r.l0,
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
}

if (process.argv[1]?.endsWith('topkStepWorker.ts')) {
  main().catch((e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
