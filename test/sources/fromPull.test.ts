import test from 'ava';
import { lastValueFrom, take, toArray } from 'rxjs';
import { fromPull } from '../../src/sources/fromPull.js';

test('fromPull pulls one item at a time: never ahead of a synchronous consumer', async (t) => {
  let pulled = 0;
  let consumed = 0;
  let maxAhead = 0;
  async function* gen() {
    for (let i = 0; i < 50; i++) {
      pulled++;
      maxAhead = Math.max(maxAhead, pulled - consumed);
      await new Promise((r) => setImmediate(r));
      yield i;
    }
  }
  const got = await lastValueFrom(
    fromPull(gen).pipe(toArray()),
  ).then((xs) => xs);
  consumed = got.length;
  t.is(got.length, 50);
  // with toArray the consumer is synchronous; recompute with a counting consumer
  pulled = 0; consumed = 0; maxAhead = 0;
  await new Promise<void>((resolve, reject) =>
    fromPull(gen).subscribe({ next: () => { consumed++; }, error: reject, complete: () => resolve() }));
  t.true(maxAhead <= 1, `source ran ${maxAhead} items ahead`);
});

test('fromPull runs the generator finally block on unsubscribe and on error', async (t) => {
  let closed = 0;
  async function* gen() {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      closed++;
    }
  }
  const xs = await lastValueFrom(fromPull(gen).pipe(take(3), toArray()));
  t.deepEqual(xs, [0, 1, 2]);
  await new Promise((r) => setTimeout(r, 10));
  t.is(closed, 1);

  async function* bad() {
    try {
      yield 1;
      throw new Error('disk on fire');
    } finally {
      closed++;
    }
  }
  await t.throwsAsync(lastValueFrom(fromPull(bad)), { message: 'disk on fire' });
  t.is(closed, 2);
});
