import { Subscriber, type Observable } from 'rxjs';

/** What an operator does with its source's notifications. */
export interface UpstreamHandlers<T> {
  readonly next: (value: T) => void;
  /** Default: pass the error downstream. */
  readonly error?: (e: unknown) => void;
  /** Default: complete downstream. */
  readonly complete?: () => void;
}

/**
 * Subscribes an operator to its source, the one way every operator here does it (our stand-in
 * for RxJS's internal `operate` + `createOperatorSubscriber`):
 *
 * - The upstream `Subscriber` is made and added to the downstream `subscriber` **before**
 *   `source.subscribe` is called. A synchronous source (`from(array)`, `range`, a chain of
 *   synchronous operators over one) emits everything inside that call; only a subscriber that
 *   already exists and is already linked sees an unsubscribe from downstream (`take(n)`, an
 *   error) and stops the source at once. `const sub = source.subscribe(...); return () =>
 *   sub.unsubscribe()` cannot: `sub` exists only once the source has run to its end.
 * - A throw inside a handler goes to `subscriber.error` (a plain observer's throw is only
 *   reported by RxJS 7), which also unsubscribes the source.
 * - `finalize` (freeing the operator's state) runs on complete, error and unsubscribe, after
 *   the source is unsubscribed. When downstream unsubscribes *from inside* a handler (the
 *   handler emitted, `take` closed), `finalize` waits until that handler returns, so a handler
 *   never runs on state that was freed under it; it should check `subscriber.closed` after
 *   each emission and stop.
 *
 * Returns the upstream subscriber (an operator stops reading early with `upstream.unsubscribe()`;
 * one that must do so from inside the source's first synchronous emission takes it from
 * `linkUpstream` and subscribes itself).
 */
export function subscribeUpstream<T>(
  subscriber: Subscriber<unknown>,
  source: Observable<T>,
  handlers: UpstreamHandlers<T>,
  finalize?: () => void,
): Subscriber<T> {
  const upstream = linkUpstream(subscriber, handlers, finalize);
  if (!subscriber.closed) source.subscribe(upstream);
  return upstream;
}

/**
 * The first half of `subscribeUpstream`: the upstream subscriber, already linked to
 * `subscriber` (and `finalize` registered), not yet subscribed. Pass it to `source.subscribe`.
 */
export function linkUpstream<T>(
  subscriber: Subscriber<unknown>,
  handlers: UpstreamHandlers<T>,
  finalize?: () => void,
): Subscriber<T> {
  const dest = subscriber;
  let depth = 0;
  let finalizeDue = false;
  const runFinalize = () => {
    finalizeDue = false;
    finalize?.();
  };
  const wrap = <A extends unknown[]>(f: (...a: A) => void) => (...a: A) => {
    depth++;
    try {
      f(...a);
    } catch (e) {
      dest.error(e);
    } finally {
      depth--;
      if (depth === 0 && finalizeDue) runFinalize();
    }
  };
  const upstream = new Subscriber<T>({
    next: wrap(handlers.next),
    error: wrap(handlers.error ?? ((e: unknown) => dest.error(e))),
    complete: wrap(handlers.complete ?? (() => dest.complete())),
  });
  dest.add(upstream);
  if (finalize)
    dest.add(() => {
      if (depth > 0) finalizeDue = true;
      else runFinalize();
    });
  return upstream;
}
