import type { Observer } from 'rxjs';
import type { TrainEvent } from '../stream/TrainEvent.js';
import { platform } from '../platform/index.js';

export interface SinksOptions {
  /** Where isolation warnings go (default: a line on stderr). */
  readonly warn?: (message: string) => void;
}

type Sink<T> = Partial<Observer<T>>;

/**
 * Fans one record stream out to several sinks. A sink that throws (or whose handler returns a
 * rejected Promise) is isolated: a warning is printed once for that sink, training goes on and
 * the other sinks keep receiving; the failing sink keeps being offered records (it may
 * recover) and its failure count is reported on complete.
 */
export function sinks<T = TrainEvent>(...observers: Sink<T>[]): Observer<T> {
  return withOptions<T>(observers, {});
}

/** `sinks()` with options (a custom warn function). */
export function sinksWith<T = TrainEvent>(opts: SinksOptions, ...observers: Sink<T>[]): Observer<T> {
  return withOptions<T>(observers, opts);
}

function withOptions<T>(observers: Sink<T>[], opts: SinksOptions): Observer<T> {
  const warn = opts.warn ?? ((m: string) => platform.warn(`sae-rx: ${m}`));
  const failures = observers.map(() => 0);
  const name = (i: number) => {
    const o = observers[i] as { name?: unknown };
    return typeof o.name === 'string' ? `sink ${i} (${o.name})` : `sink ${i}`;
  };
  const fail = (i: number, what: string, e: unknown) => {
    if (failures[i]++ === 0)
      warn(`${name(i)} failed in ${what}: ${e instanceof Error ? e.message : String(e)}; it is isolated, training and the other sinks go on`);
  };
  const call = (i: number, what: 'next' | 'error' | 'complete', arg?: unknown) => {
    const o = observers[i]!;
    const f = o[what] as ((a?: unknown) => unknown) | undefined;
    if (!f) return;
    try {
      const r = f.call(o, arg);
      if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, (e) => fail(i, what, e));
    } catch (e) {
      fail(i, what, e);
    }
  };
  return {
    next: (v: T) => observers.forEach((_, i) => call(i, 'next', v)),
    error: (e: unknown) => observers.forEach((_, i) => call(i, 'error', e)),
    complete: () => {
      observers.forEach((_, i) => call(i, 'complete'));
      failures.forEach((n, i) => {
        if (n > 1) warn(`${name(i)} failed ${n} times in this run`);
      });
    },
  };
}
