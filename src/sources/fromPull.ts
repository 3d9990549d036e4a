import { Observable } from 'rxjs';
import { platform } from '../platform/index.js';

/**
 * A cold Observable over a pull source (an async iterable made per subscription).
 *
 * Pacing (DESIGN.md §3.2): the next item is pulled only after `subscriber.next(item)` has
 * returned. Every sae-rx operator handles a value synchronously inside `next`, so an expensive
 * source (disk, network, model forward passes) is never more than one item ahead of the
 * trainer. Put an async operator (concatMap with a Promise, observeOn, delay) between this
 * source and a slow consumer and that guarantee is lost — use `prefetch` semantics there.
 *
 * Between items it yields to the event loop (a macrotask) once the consumer has worked for
 * `YIELD_AFTER_MS` since the last yield: awaiting an iterator that has its next item ready
 * only runs microtasks, and a pipeline that never reaches the event loop never sees a signal
 * (SIGINT/SIGTERM) or finishes an asynchronous write until it ends.
 *
 * Unsubscribe (or an error downstream) stops the loop and calls the iterator's `return()`, so
 * `finally` blocks in the generator run (files closed, tensors freed). Items that arrive after
 * the subscriber closed are passed to `discard` (e.g. `t => t.dispose()` for tensors).
 */
/** Work between two yields to the event loop, at most (ms): signals are seen that soon after an item. */
const YIELD_AFTER_MS = 1;

export function fromPull<T>(
  make: () => AsyncIterable<T> | Iterable<T>,
  opts: { discard?: (item: T) => void } = {},
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let iterator: AsyncIterator<T> | Iterator<T> | undefined;
    let stopped = false;
    const run = async () => {
      const source = make();
      iterator = Symbol.asyncIterator in source
        ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
        : (source as Iterable<T>)[Symbol.iterator]();
      let lastYield = Date.now();
      for (;;) {
        if (Date.now() - lastYield >= YIELD_AFTER_MS) {
          await platform.yieldToEventLoop();
          lastYield = Date.now();
        }
        const r = await iterator.next();
        if (r.done) break;
        if (subscriber.closed || stopped) {
          opts.discard?.(r.value);
          break;
        }
        subscriber.next(r.value);
        if (subscriber.closed) break;
      }
      if (!subscriber.closed) subscriber.complete();
    };
    run().then(
      () => closeIterator(),
      (e) => {
        void closeIterator();
        subscriber.error(e);
      },
    );
    async function closeIterator() {
      const it = iterator;
      iterator = undefined;
      try {
        await it?.return?.();
      } catch {
        /* the generator's own cleanup failed after the stream ended; nothing to report to */
      }
    }
    return () => {
      stopped = true;
    };
  });
}
