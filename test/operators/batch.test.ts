import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Subject, throwError, concat, take, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { setupTf } from '../helpers/tf.js';
import { batch } from '../../src/operators/batch.js';
import { ConfigError } from '../../src/errors.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import { collectIds, idBatches, idSource } from './helpers.js';

test.before(async () => {
  await setupTf();
});

test.serial('batch(): exact sizes, rows in order, remainder dropped with its count', async (t) => {
  const before = tf.memory().numTensors;
  let dropped = -1;
  const ids = await collectIds(idSource([3, 5, 1, 4]).pipe(batch(4, { onDrop: (r) => (dropped = r) })));
  t.deepEqual(ids, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
  t.is(dropped, 1);
  t.is(tf.memory().numTensors, before);
});

test.serial('batch(): keepRemainder emits the smaller last batch', async (t) => {
  const before = tf.memory().numTensors;
  const ids = await collectIds(idSource([3, 3]).pipe(batch(4, { keepRemainder: true })));
  t.deepEqual(ids, [[0, 1, 2, 3], [4, 5]]);
  t.is(tf.memory().numTensors, before);
});

test.serial('batch(): one large input splits into several batches; tokens follow their rows', async (t) => {
  const before = tf.memory().numTensors;
  const src = idBatches([10]).map((b) => ({ ...b, tokens: Int32Array.from({ length: 10 }, (_, i) => 100 + i) }));
  const out: ActivationBatch[] = [];
  const s = new Subject<ActivationBatch>();
  s.pipe(batch(3)).subscribe((b) => out.push(b));
  s.next(src[0]!);
  s.complete();
  t.deepEqual(out.map((b) => Array.from(b.tokens!)), [[100, 101, 102], [103, 104, 105], [106, 107, 108]]);
  out.forEach((b) => b.acts.dispose());
  t.is(tf.memory().numTensors, before);
});

test.serial('batch(): bad n is a ConfigError naming the operator', (t) => {
  const e = t.throws(() => batch(0), { instanceOf: ConfigError });
  t.regex(e!.message, /batch\(\).*0/);
});

test.serial('batch(): no leak on error mid-stream or early unsubscribe', async (t) => {
  const before = tf.memory().numTensors;
  const err = await new Promise<unknown>((resolve) =>
    concat(idSource([3]), throwError(() => new Error('boom')))
      .pipe(batch(4))
      .subscribe({ next: (b) => b.acts.dispose(), error: resolve }),
  );
  t.is((err as Error).message, 'boom');
  t.is(tf.memory().numTensors, before);
  const ids = await collectIds(idSource([3, 3, 3, 3]).pipe(batch(2), take(2)));
  t.deepEqual(ids, [[0, 1], [2, 3]]);
  t.is(tf.memory().numTensors, before);
});

test.serial('batch(): batches of different widths are an error that leaks nothing', async (t) => {
  const before = tf.memory().numTensors;
  const parts: ActivationBatch[] = [
    { acts: tf.zeros([3, 2]), hooks: ['h'] },
    { acts: tf.zeros([3, 5]), hooks: ['h'] },
  ];
  const err = await new Promise<unknown>((resolve) =>
    concat(idSource([]), parts).pipe(batch(4)).subscribe({ next: (b) => b.acts.dispose(), error: resolve }),
  );
  t.true(err instanceof Error);
  t.is(tf.memory().numTensors, before);
});

test.serial('batch(): marble lifetime', (t) => {
  const before = tf.memory().numTensors;
  const sched = new TestScheduler((a, e) => t.deepEqual(a, e));
  sched.run(({ cold, expectObservable, expectSubscriptions }) => {
    // each value is a number of rows; map makes the batch lazily
    const src = cold('a-b-a|', { a: 3, b: 1 });
    const out = src.pipe(
      map((n) => idBatches([n])[0]!),
      batch(2),
      map((b) => {
        const r = b.acts.shape[0];
        b.acts.dispose();
        return r;
      }),
    );
    expectObservable(out).toBe('x-x-x|', { x: 2 });
    expectSubscriptions(src.subscriptions).toBe('^----!');
  });
  t.is(tf.memory().numTensors, before);
});
