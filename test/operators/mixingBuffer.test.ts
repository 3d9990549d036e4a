import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { concat, map, take, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { setupTf } from '../helpers/tf.js';
import { mixingBuffer } from '../../src/operators/mixingBuffer.js';
import { ConfigError } from '../../src/errors.js';
import { collectIds, idBatches, idSource } from './helpers.js';

test.before(async () => {
  await setupTf();
});

const sorted = (a: number[]) => [...a].sort((x, y) => x - y);

test.serial('mixingBuffer(): SAELens semantics — store fills first, each refill serves half of fresh+store', async (t) => {
  const before = tf.memory().numTensors;
  // batchesInBuffer 4, storeBatchSize 5 → half = 10 rows. 7 store batches of 5 = 35 rows.
  const ids = await collectIds(
    idSource([5, 5, 5, 5, 5, 5, 5]).pipe(mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 5, trainBatchSize: 4, seed: 1 })),
  );
  // refills at 20 rows (serves 10 of rows 0..19) and at 30 rows (serves 10 of the store + rows 20..29);
  // complete: the 5 pending rows + the 10-row store are served.
  const sizes = ids.map((b) => b.length);
  t.deepEqual(sizes, [4, 4, 2, 4, 4, 2, 4, 4, 4, 3]);
  const first = ids.slice(0, 3).flat();
  t.true(first.every((i) => i < 20), 'the first served rows come from the first two refills');
  const second = ids.slice(3, 6).flat();
  t.true(second.every((i) => i < 30));
  t.deepEqual(sorted(ids.flat()), Array.from({ length: 35 }, (_, i) => i), 'every row once, none lost');
  t.notDeepEqual(ids.flat(), Array.from({ length: 35 }, (_, i) => i), 'shuffled');
  t.is(tf.memory().numTensors, before);
});

test.serial('mixingBuffer(): seeded — same seed same order, other seed other order', async (t) => {
  const run = (seed: number) =>
    collectIds(idSource([8, 8, 8, 8]).pipe(mixingBuffer({ batchesInBuffer: 2, storeBatchSize: 8, seed })));
  t.deepEqual(await run(3), await run(3));
  t.notDeepEqual(await run(3), await run(4));
});

test.serial('mixingBuffer(): rows mix across store batches (later rows served before earlier ones)', async (t) => {
  const ids = (await collectIds(idSource(Array(20).fill(10)).pipe(mixingBuffer({ batchesInBuffer: 6, storeBatchSize: 10, seed: 0 })))).flat();
  // half = 30 rows. The first 30 rows fill the store; each refill keeps half of store+fresh, so
  // some of them are still kept after two refills and served after the first 60 served rows.
  const firstStorePositions = ids.map((id, pos) => (id < 30 ? pos : -1)).filter((p) => p >= 0);
  t.true(Math.max(...firstStorePositions) >= 60);
});

test.serial('mixingBuffer(): argument checks name the operator and value', (t) => {
  t.throws(() => mixingBuffer({ batchesInBuffer: 1, storeBatchSize: 4, seed: 0 }), { instanceOf: ConfigError, message: /mixingBuffer\(\).*batchesInBuffer.*1/ });
  t.throws(() => mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 0, seed: 0 }), { instanceOf: ConfigError, message: /storeBatchSize.*0/ });
  t.throws(() => mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 4, trainBatchSize: 1.5, seed: 0 }), { instanceOf: ConfigError, message: /trainBatchSize.*1\.5/ });
});

test.serial('mixingBuffer(): no leak on error mid-stream or early unsubscribe', async (t) => {
  const before = tf.memory().numTensors;
  const err = await new Promise<unknown>((resolve) =>
    concat(idSource([5, 5, 5, 5, 5]), throwError(() => new Error('upstream failed')))
      .pipe(mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 5, seed: 0 }))
      .subscribe({ next: (b) => b.acts.dispose(), error: resolve }),
  );
  t.is((err as Error).message, 'upstream failed');
  t.is(tf.memory().numTensors, before);
  await collectIds(idSource([5, 5, 5, 5, 5, 5]).pipe(mixingBuffer({ batchesInBuffer: 4, storeBatchSize: 5, trainBatchSize: 2, seed: 0 }), take(3)));
  t.is(tf.memory().numTensors, before);
});

test.serial('mixingBuffer(): marble lifetime (store fills silently, then one served half per refill)', (t) => {
  const before = tf.memory().numTensors;
  const sched = new TestScheduler((a, e) => t.deepEqual(a, e));
  sched.run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('a-a-a-a|', { a: 2 });
    // half = 1 store batch of 2 rows: a(store) a(serve 2) a(serve 2) a(serve 2) | (serve store 2)
    const out = src.pipe(
      map((n) => idBatches([n])[0]!),
      mixingBuffer({ batchesInBuffer: 2, storeBatchSize: 2, trainBatchSize: 2, seed: 0 }),
      map((b) => {
        b.acts.dispose();
        return 1;
      }),
    );
    expectObservable(out).toBe('--x-x-x(x|)', { x: 1 });
    expectSubscriptions(src.subscriptions).toBe('^------!');
  });
  t.is(tf.memory().numTensors, before);
});
