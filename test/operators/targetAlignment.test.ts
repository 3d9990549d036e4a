/**
 * Transcoder batches carry a `target` [n, d_out] next to `acts` [n, d_in]. Each operator must keep
 * the pair of row i together (same permutation, same slices, same concatenation) and free the
 * target with the acts. The target here is a fixed row-wise function of the input,
 * f([id, 2id]) = [3id + 1, −id, id mod 7], so a single misaligned row shows.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { concat, firstValueFrom, from, map, take, throwError, toArray, type Observable } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { batch } from '../../src/operators/batch.js';
import { mixingBuffer } from '../../src/operators/mixingBuffer.js';
import { normalizeActivations } from '../../src/operators/normalizeActivations.js';
import { shuffle } from '../../src/operators/shuffle.js';
import { fromActivations } from '../../src/sources/fromActivations.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import { disposeBatch } from '../../src/stream/ownership.js';
import { ConfigError, ShapeError } from '../../src/errors.js';

test.before(async () => {
  await setupTf();
});

const f = (id: number) => [3 * id + 1, -id, id % 7];

/** Batches of the given sizes, consecutive ids, acts [id, 2id], target f(id). */
function pairBatches(sizes: number[], start = 0): ActivationBatch[] {
  let id = start;
  return sizes.map((n) => {
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++, id++) {
      x.push(id, 2 * id);
      y.push(...f(id));
    }
    return { acts: tf.tensor2d(x, [n, 2]), hooks: ['in'], target: tf.tensor2d(y, [n, 3]), targetHook: 'out' };
  });
}
function pairSource(sizes: number[]): Observable<ActivationBatch> {
  return from((function* () {
    let start = 0;
    for (const n of sizes) {
      yield pairBatches([n], start)[0]!;
      start += n;
    }
  })());
}

/**
 * Collects every batch, checks each row's target is f(its id) (after undoing the scale factors),
 * disposes, and returns the ids per batch.
 */
async function collectAligned(t: { is: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void }, o: Observable<ActivationBatch>): Promise<number[][]> {
  const bs = await firstValueFrom(o.pipe(toArray()));
  return bs.map((b) => {
    t.true(b.target !== undefined, 'every batch carries its target');
    t.is(b.targetHook, 'out');
    t.is(b.target!.shape[0], b.acts.shape[0], 'as many target rows as rows');
    const sx = b.normScalingFactor ?? 1;
    const sy = b.targetNormScalingFactor ?? 1;
    const x = b.acts.arraySync() as number[][];
    const y = b.target!.arraySync() as number[][];
    const ids = x.map((r) => Math.round(r[0]! / sx));
    ids.forEach((id, i) => {
      const want = f(id);
      const got = y[i]!.map((v) => v / sy);
      t.true(got.every((v, j) => Math.abs(v - want[j]!) < 1e-3 * Math.max(1, Math.abs(want[j]!))), `row of id ${id}: target [${got}] ≠ f(id) [${want}]`);
    });
    disposeBatch(b);
    return ids;
  });
}
const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test.serial('shuffle(): the target is permuted with its rows; no leaks', async (t) => {
  const before = tf.memory().numTensors;
  const ids = await collectAligned(t, pairSource([6, 6]).pipe(shuffle({ seed: 3 })));
  t.deepEqual(sorted(ids.flat()), range(12));
  t.notDeepEqual(ids.flat(), range(12), 'shuffled');
  t.is(tf.memory().numTensors, before);
});

test.serial('mixingBuffer(): store, refills and the tail keep every row with its target; no leaks', async (t) => {
  const before = tf.memory().numTensors;
  const ids = await collectAligned(t, pairSource([5, 5, 5, 5, 5, 5, 5]).pipe(mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 5, trainBatchSize: 4, seed: 1 })));
  t.deepEqual(sorted(ids.flat()), range(35), 'every row once');
  t.notDeepEqual(ids.flat(), range(35), 'mixed');
  t.is(tf.memory().numTensors, before);
});

test.serial('mixingBuffer(): the same rows in the same order with or without a target (one permutation for both)', async (t) => {
  const withTarget = await collectAligned(t, pairSource([8, 8, 8, 8]).pipe(mixingBuffer({ batchesInBuffer: 2, storeBatchSize: 8, seed: 5 })));
  const plain = await firstValueFrom(pairSource([8, 8, 8, 8]).pipe(
    // drop the target before mixing
    map((b): ActivationBatch => {
      b.target!.dispose();
      return { acts: b.acts, hooks: b.hooks };
    }),
    mixingBuffer({ batchesInBuffer: 2, storeBatchSize: 8, seed: 5 }),
    toArray(),
  ));
  const plainIds = plain.map((b) => {
    const ids = (b.acts.arraySync() as number[][]).map((r) => r[0]!);
    disposeBatch(b);
    return ids;
  });
  t.deepEqual(withTarget, plainIds);
});

test.serial('batch(): slices and re-joins acts and target at the same rows; the dropped remainder is freed', async (t) => {
  const before = tf.memory().numTensors;
  let dropped = 0;
  const ids = await collectAligned(t, pairSource([3, 7, 2, 5]).pipe(batch(4, { onDrop: (n) => (dropped = n) })));
  t.deepEqual(ids.map((b) => b.length), [4, 4, 4, 4]);
  t.deepEqual(ids.flat(), range(16), 'order kept');
  t.is(dropped, 1);
  t.is(tf.memory().numTensors, before);
});

test.serial('normalizeActivations(): each side its own factor √d / mean‖·‖, estimated on the same rows', async (t) => {
  const before = tf.memory().numTensors;
  let fx = 0;
  let fy = 0;
  const out = await firstValueFrom(pairSource([4, 4, 4]).pipe(
    normalizeActivations('expected_average_only_in', { estimationTokens: 8, onFactor: (v) => (fx = v), onTargetFactor: (v) => (fy = v) }),
    toArray(),
  ));
  let nx = 0;
  let ny = 0;
  for (let id = 0; id < 8; id++) {
    nx += Math.hypot(id, 2 * id);
    ny += Math.hypot(...f(id));
  }
  t.true(Math.abs(fx - Math.sqrt(2) / (nx / 8)) < 1e-5, `input factor ${fx}`);
  t.true(Math.abs(fy - Math.sqrt(3) / (ny / 8)) < 1e-5, `target factor ${fy}`);
  t.not(fx.toFixed(4), fy.toFixed(4), 'the two factors differ here');
  for (const b of out) {
    t.is(b.normScalingFactor, fx);
    t.is(b.targetNormScalingFactor, fy);
  }
  await collectAligned(t, from(out));
  t.is(tf.memory().numTensors, before);
});

test.serial('normalizeActivations(): known factors (resume) need both for a transcoder stream', async (t) => {
  const before = tf.memory().numTensors;
  const ids = await collectAligned(t, pairSource([4, 4]).pipe(normalizeActivations('expected_average_only_in', { factor: 2, targetFactor: 0.5 })));
  t.deepEqual(ids.flat(), range(8));
  const err = await t.throwsAsync(firstValueFrom(pairSource([4, 4]).pipe(normalizeActivations('expected_average_only_in', { factor: 2 }), toArray())));
  t.true(err instanceof ConfigError && /targetFactor/.test(err.message), err?.message);
  t.throws(() => normalizeActivations('expected_average_only_in', { targetFactor: 2 }), { instanceOf: ConfigError, message: /targetFactor given without factor/ });
  t.is(tf.memory().numTensors, before);
});

test.serial('the whole chain: fromActivations(target) → normalize → mixingBuffer → shuffle → batch keeps the pairs', async (t) => {
  const before = tf.memory().numTensors;
  const n = 60;
  const x = tf.tensor2d(range(n).flatMap((id) => [id, 2 * id]), [n, 2]);
  const y = tf.tensor2d(range(n).flatMap(f), [n, 3]);
  const ids = await collectAligned(t, fromActivations(x, { batchSize: 7, hook: 'in', target: y, targetHook: 'out' }).pipe(
    normalizeActivations('expected_average_only_in', { estimationTokens: 20 }),
    mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 5, seed: 2 }),
    shuffle({ seed: 9 }),
    batch(8, { keepRemainder: true }),
  ));
  t.deepEqual(sorted(ids.flat()), range(n));
  tf.dispose([x, y]);
  t.is(tf.memory().numTensors, before);
});

test.serial('no leaks on error and on early unsubscribe, target included', async (t) => {
  const before = tf.memory().numTensors;
  const failing = concat(pairSource([5, 5, 5]), throwError(() => new Error('boom')));
  for (const op of [mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 5, seed: 1 }), batch(4), normalizeActivations('expected_average_only_in', { estimationTokens: 100 }), shuffle({ seed: 1 })]) {
    await t.throwsAsync(firstValueFrom(failing.pipe(op, toArray())), { message: 'boom' });
  }
  const firstOnly = await firstValueFrom(pairSource([5, 5, 5, 5, 5, 5]).pipe(mixingBuffer({ batchesInBuffer: 2, storeBatchSize: 5, trainBatchSize: 2, seed: 1 }), batch(2), take(1), toArray()));
  firstOnly.forEach(disposeBatch);
  t.is(tf.memory().numTensors, before);
});

test.serial('a stream mixing batches with and without a target, or a target of the wrong row count, is an error', async (t) => {
  const before = tf.memory().numTensors;
  const [a] = pairBatches([3]);
  const plain: ActivationBatch = { acts: tf.tensor2d([[9, 18]]), hooks: ['in'] };
  const err = await t.throwsAsync(firstValueFrom(from([a!, plain]).pipe(batch(4), toArray())));
  t.true(err instanceof ShapeError && /1 of 2 batches carry a target/.test(err.message), err?.message);
  const bad: ActivationBatch = { acts: tf.tensor2d([[1, 2], [3, 4]]), hooks: ['in'], target: tf.tensor2d([[1, 2, 3]]), targetHook: 'out' };
  const err2 = await t.throwsAsync(firstValueFrom(from([bad]).pipe(shuffle({ seed: 1 }), toArray())));
  t.true(err2 instanceof ShapeError && /target has 1 rows, acts has 2/.test(err2.message), err2?.message);
  t.throws(() => fromActivations([[1, 2], [3, 4]], { batchSize: 1, target: [[1]] }), { instanceOf: ShapeError, message: /target has 1 rows, the activations 2/ });
  t.is(tf.memory().numTensors, before);
});
