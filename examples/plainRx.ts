/**
 * The sae-rx operators in a plain RxJS app, no runner: a Subject you push activations into
 * (here random sparse data; in an app, whatever produces them), normalisation, mixing,
 * batching, a sweep of two SAEs over the one stream, and records handled with ordinary Rx
 * (`filter`, `map`, `scan`). Nothing is written to disk.
 *
 *   npm run example -- plainRx
 */
import * as tf from '@tensorflow/tfjs-core';
import { Subject, filter, lastValueFrom, map, scan, tap } from 'rxjs';
import {
  DEFAULT_SAE_CONFIG,
  DEFAULT_TRAINER_CONFIG,
  batch,
  mixingBuffer,
  normalizeActivations,
  selectBackend,
  trainSae,
  type ActivationBatch,
  type StepRecord,
} from '../src/index.js';

export const description = 'the operators composed in a plain RxJS app (Subject in, sweep of 2 SAEs, Rx on the records)';

export async function main(): Promise<void> {
  await selectBackend({ log: () => {} });
  const dIn = 16;
  const steps = 200;
  const tensorsBefore = tf.memory().numTensors;
  const activations = new Subject<ActivationBatch>();

  const base = {
    sae: { ...DEFAULT_SAE_CONFIG, dIn, dSae: 64, hookPoint: 'my_layer', bDecInitMethod: 'mean' as const },
    trainer: { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: 256, totalTrainingSteps: steps, lrWarmUpSteps: 20, lr: 1e-3 },
  };
  const records$ = activations.pipe(
    normalizeActivations('expected_average_only_in', { estimationTokens: 2048, onFactor: (f) => console.log(`norm scaling factor ${f.toFixed(4)}`) }),
    mixingBuffer({ batchesInBuffer: 8, storeBatchSize: 128, seed: 0 }),
    batch(256),
    trainSae(
      [
        { ...base, id: 'l1_3e-2', trainer: { ...base.trainer, l1Coefficient: 3e-2 } },
        { ...base, id: 'l1_3e-1', trainer: { ...base.trainer, l1Coefficient: 3e-1 } },
      ],
      { logEvery: 50 },
    ),
  );

  const done = lastValueFrom(
    records$.pipe(
      filter((r): r is StepRecord => r.type === 'step'),
      tap((r) => console.log(`${r.saeId} step ${r.step}: mse ${r.losses.mse.toFixed(4)} L0 ${r.l0.toFixed(2)}`)),
      scan((best, r) => (r.saeId === 'l1_3e-1' ? Math.min(best, r.l0) : best), Infinity),
      map((l0) => `lowest logged L0 of the stronger-L1 SAE: ${l0.toFixed(2)}`),
    ),
  );

  // Push activations in: sparse non-negative codes through a fixed random dictionary. The
  // chain is synchronous, so each `next` returns only when the batch has been handled.
  const dict = tf.randomNormal([32, dIn], 0, 1, 'float32', 1);
  let seed = 10;
  for (let i = 0; i < (steps * 256) / 128 + 16; i++) {
    const acts = tf.tidy(() => {
      const codes = tf.relu(tf.sub(tf.randomUniform([128, 32], 0, 1, 'float32', seed++), 0.9));
      return tf.matMul(codes, dict);
    });
    // A Subject is hot: once trainSae has its steps it unsubscribes, and a tensor pushed
    // into a Subject nobody observes would leak. Stop producing then (or dispose).
    if (!activations.observed) {
      acts.dispose();
      break;
    }
    activations.next({ acts, hooks: ['my_layer'] });
  }
  activations.complete();
  dict.dispose();
  console.log(await done);
  console.log(`tensors left behind by the run: ${tf.memory().numTensors - tensorsBefore}`);
}
