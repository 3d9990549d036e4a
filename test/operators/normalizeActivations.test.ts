import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { concat, firstValueFrom, from, take, throwError, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { normalizeActivations } from '../../src/operators/normalizeActivations.js';
import { shuffle } from '../../src/operators/shuffle.js';
import { ConfigError } from '../../src/errors.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import { collectIds, idSource } from './helpers.js';

test.before(async () => {
  await setupTf();
});

const rowsBatch = (rows: number[][]): ActivationBatch => ({ acts: tf.tensor2d(rows), hooks: ['h'] });

test.serial('normalizeActivations(): factor √d_in / mean‖x‖ from the first N rows, applied to all and carried on batches', async (t) => {
  const before = tf.memory().numTensors;
  // rows of norm 5 and 10 in the first 4 rows → mean 7.5; the last batch (norm 100) is not in the estimate
  const src = from([rowsBatch([[3, 4], [6, 8]]), rowsBatch([[0, 5], [10, 0]]), rowsBatch([[100, 0]])]);
  let reported = 0;
  const out = await firstValueFrom(src.pipe(normalizeActivations('expected_average_only_in', { estimationTokens: 4, onFactor: (f) => (reported = f) }), toArray()));
  const s = Math.sqrt(2) / 7.5;
  t.true(Math.abs(reported - s) < 1e-9);
  t.deepEqual(out.map((b) => b.normScalingFactor), [reported, reported, reported]);
  const last = out[2]!.acts.dataSync();
  t.true(Math.abs(last[0]! - 100 * s) < 1e-4);
  const first = out[0]!.acts.dataSync();
  t.true(Math.abs(first[0]! - 3 * s) < 1e-5);
  out.forEach((b) => b.acts.dispose());
  t.is(tf.memory().numTensors, before);
});

test.serial('normalizeActivations(): estimate covers a partial batch; 3-D acts use one factor over all hooks', async (t) => {
  const before = tf.memory().numTensors;
  const acts = tf.tensor3d([[[3, 4], [0, 1]], [[0, 10], [0, 1]], [[7, 7], [7, 7]]]); // [3 rows, 2 hooks, 2]
  const out = await firstValueFrom(from([{ acts, hooks: ['a', 'b'] }]).pipe(normalizeActivations('expected_average_only_in', { estimationTokens: 2 }), toArray()));
  const meanNorm = (5 + 1 + 10 + 1) / 4;
  t.true(Math.abs(out[0]!.normScalingFactor! - Math.sqrt(2) / meanNorm) < 1e-6);
  out.forEach((b) => b.acts.dispose());
  t.is(tf.memory().numTensors, before);
});

test.serial("normalizeActivations('none') passes through; a given factor is used without estimation", async (t) => {
  const b = rowsBatch([[1, 2]]);
  const [same] = await firstValueFrom(from([b]).pipe(normalizeActivations('none'), toArray()));
  t.is(same, b);
  b.acts.dispose();
  const [scaled] = await firstValueFrom(from([rowsBatch([[1, 2]])]).pipe(normalizeActivations('expected_average_only_in', { factor: 2 }), toArray()));
  t.deepEqual(Array.from(scaled!.acts.dataSync()), [2, 4]);
  t.is(scaled!.normScalingFactor, 2);
  scaled!.acts.dispose();
});

test.serial('normalizeActivations(): bad arguments, and no leak on error while estimating or on early unsubscribe', async (t) => {
  t.throws(() => normalizeActivations('mean' as never), { instanceOf: ConfigError, message: /normalizeActivations\(\).*mean/ });
  t.throws(() => normalizeActivations('none', { estimationTokens: 0 }), { instanceOf: ConfigError, message: /estimationTokens.*0/ });
  const before = tf.memory().numTensors;
  const err = await new Promise<unknown>((resolve) =>
    concat(idSource([2, 2]), throwError(() => new Error('x')))
      .pipe(normalizeActivations('expected_average_only_in', { estimationTokens: 100 }))
      .subscribe({ next: (b) => b.acts.dispose(), error: resolve }),
  );
  t.is((err as Error).message, 'x');
  t.is(tf.memory().numTensors, before);
  await collectIds(idSource([2, 2, 2, 2]).pipe(normalizeActivations('expected_average_only_in', { estimationTokens: 4 }), take(1)));
  t.is(tf.memory().numTensors, before);
});

test.serial('shuffle(): permutes rows within each batch, seeded, tokens follow, no leak', async (t) => {
  const before = tf.memory().numTensors;
  const run = () =>
    firstValueFrom(
      idSource([8, 8]).pipe(
        shuffle({ seed: 5 }),
        toArray(),
      ),
    );
  const a = await run();
  const ids = a.map((b) => Array.from(b.acts.dataSync()).filter((_, i) => i % 2 === 0));
  a.forEach((b) => b.acts.dispose());
  t.deepEqual([...ids[0]!].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.notDeepEqual(ids[0], [0, 1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual([...ids[1]!].sort((x, y) => x - y), [8, 9, 10, 11, 12, 13, 14, 15]);
  const b = await run();
  t.deepEqual(b.map((x) => Array.from(x.acts.dataSync()).filter((_, i) => i % 2 === 0)), ids);
  b.forEach((x) => x.acts.dispose());
  t.throws(() => shuffle({ seed: NaN }), { instanceOf: ConfigError, message: /shuffle\(\)/ });
  t.is(tf.memory().numTensors, before);
});
