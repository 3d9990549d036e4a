import type { Subscriber } from 'rxjs';

/**
 * Wraps a handler so that a throw inside it reaches the downstream subscriber's `error`
 * instead of being only reported (a plain observer's throw is swallowed by RxJS 7).
 */
export function guard<A extends unknown[]>(
  dest: Subscriber<unknown>,
  f: (...a: A) => void,
): (...a: A) => void {
  return (...a: A) => {
    try {
      f(...a);
    } catch (e) {
      dest.error(e);
    }
  };
}
