/**
 * Every operator stops a synchronous source as soon as downstream stops (take(n), an error):
 * the source's subscriber must be linked downstream before the source runs (subscribeUpstream).
 * Each case counts what the source produced and checks no tensor is left.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { defer, firstValueFrom, lastValueFrom, map, range, take, toArray, type Observable, type OperatorFunction } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { batch } from '../../src/operators/batch.js';
import { shuffle } from '../../src/operators/shuffle.js';
import { mixingBuffer } from '../../src/operators/mixingBuffer.js';
import { normalizeActivations } from '../../src/operators/normalizeActivations.js';
import { packContext } from '../../src/operators/packContext.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { evaluate } from '../../src/operators/evaluate.js';
import { skipBatches } from '../../src/sources/cachedActivations.js';
import type { HookedTransformer } from '../../src/model/HookedTransformer.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import type { TrainEvent } from '../../src/stream/TrainEvent.js';
import type { Document } from '../../src/stream/Document.js';
import { spec } from './trainSaeHelpers.js';

test.before(async () => {
  await setupTf();
});

const MANY = 100_000;

/** A synchronous source of `MANY` batches of `rows` × 4 made lazily; `pulled()` counts them. */
function countingBatches(rows: number): { source: Observable<ActivationBatch>; pulled: () => number } {
  let n = 0;
  const source = defer(() => range(0, MANY).pipe(map((i): ActivationBatch => {
    n++;
    return { acts: tf.tidy(() => tf.add(tf.randomNormal([rows, 4], 0, 1, 'float32', i), 1)), hooks: ['hook_hidden'] };
  })));
  return { source, pulled: () => n };
}

/** Takes `k` values, disposing what is a batch. */
async function takeAndFree<T>(o: Observable<T>, k: number): Promise<T[]> {
  const got = await firstValueFrom(o.pipe(take(k), toArray()));
  for (const v of got) (v as Partial<ActivationBatch>).acts?.dispose();
  return got;
}

const activationCases: [string, () => OperatorFunction<ActivationBatch, ActivationBatch>, number][] = [
  ['batch', () => batch(8), 8],
  ['shuffle', () => shuffle({ seed: 1 }), 4],
  ['mixingBuffer', () => mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 4, trainBatchSize: 4, seed: 0 }), 8],
  ['normalizeActivations', () => normalizeActivations('expected_average_only_in', { estimationTokens: 16 }), 8],
  ['skipBatches', () => skipBatches(3), 8],
];

for (const [name, op, bound] of activationCases) {
  test.serial(`${name}: take(2) downstream stops a synchronous source at once, no tensor left`, async (t) => {
    const before = tf.memory().numTensors;
    const { source, pulled } = countingBatches(4);
    const got = await takeAndFree(source.pipe(op()), 2);
    t.is(got.length, 2);
    t.true(pulled() <= bound, `${name} pulled ${pulled()} batches for 2 (bound ${bound})`);
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`${name}: an error downstream stops a synchronous source at once, no tensor left`, async (t) => {
    const before = tf.memory().numTensors;
    const { source, pulled } = countingBatches(4);
    let seen = 0;
    await t.throwsAsync(
      lastValueFrom(source.pipe(op(), map((b) => {
        b.acts.dispose();
        if (++seen === 2) throw new Error('consumer failed');
        return b;
      }))),
      { message: 'consumer failed' },
    );
    t.true(pulled() <= bound, `${name} pulled ${pulled()} batches (bound ${bound})`);
    t.is(tf.memory().numTensors, before);
  });
}

test.serial('packContext: take(2) downstream stops a synchronous document source at once', async (t) => {
  let n = 0;
  const docs = range(0, MANY).pipe(map((i): Document => {
    n++;
    return { tokens: Int32Array.from({ length: 10 }, (_, k) => (i + k) % 50) };
  }));
  const got = await takeAndFree(docs.pipe(packContext({ contextSize: 8, prependBos: false, storeBatchSize: 2 })), 2);
  t.is(got.length, 2);
  t.true(n <= 4, `packContext read ${n} documents for 2 batches`);
});

test.serial('trainSae: take(2) of its records stops a synchronous source at once, and frees SAE, trainer and batches', async (t) => {
  const before = tf.memory().numTensors;
  const { source, pulled } = countingBatches(32);
  const recs = await takeAndFree(
    source.pipe(trainSae(spec({ trainer: { totalTrainingSteps: MANY } }), { warn: () => {}, handleSignals: false })),
    2,
  );
  t.deepEqual(recs.map((r) => r.type), ['step', 'step']);
  t.true(pulled() <= 2, `trainSae pulled ${pulled()} batches for 2 steps`);
  t.is(tf.memory().numTensors, before);
});

test.serial('trainSae: an error downstream (inside a step record) stops a synchronous source at once', async (t) => {
  const before = tf.memory().numTensors;
  const { source, pulled } = countingBatches(32);
  await t.throwsAsync(
    lastValueFrom(source.pipe(
      trainSae(spec({ trainer: { totalTrainingSteps: MANY } }), { warn: () => {}, handleSignals: false }),
      map((r) => {
        if (r.type === 'step' && r.step === 2) throw new Error('sink failed');
        return r;
      }),
    )),
    { message: 'sink failed' },
  );
  t.true(pulled() <= 3, `trainSae pulled ${pulled()} batches`);
  t.is(tf.memory().numTensors, before);
});

test.serial('evaluate: take(2) of the records stops a synchronous record source at once', async (t) => {
  let n = 0;
  const records = range(0, MANY).pipe(map((i): TrainEvent => {
    n++;
    return { type: 'warning', saeId: 'sae', step: i, tokens: i, message: 'x' };
  }));
  // no eval is due (no live SAEs, no folders), so the model is never touched
  const op = evaluate({ model: {} as HookedTransformer, tokens: [], fromCheckpoints: false });
  const got = await takeAndFree(records.pipe(op), 2);
  t.is(got.length, 2);
  t.true(n <= 2, `evaluate passed ${n} records for 2`);
});

test.serial('a chain of operators: take(1) at the end stops the source through every stage', async (t) => {
  const before = tf.memory().numTensors;
  const { source, pulled } = countingBatches(4);
  const got = await takeAndFree(
    source.pipe(skipBatches(1), normalizeActivations('expected_average_only_in', { estimationTokens: 8 }), shuffle({ seed: 2 }), mixingBuffer({ batchesInBuffer: 2, storeBatchSize: 4, trainBatchSize: 4, seed: 1 }), batch(4)),
    1,
  );
  t.is(got.length, 1);
  t.true(pulled() <= 8, `the chain pulled ${pulled()} batches for 1`);
  t.is(tf.memory().numTensors, before);
});
