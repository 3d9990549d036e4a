import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { RowQueue } from './internal/batchOps.js';
import { emitOrDispose } from '../stream/ownership.js';

export interface BatchOptions {
  /** Emit the last, smaller batch on complete (default false: it is dropped). */
  readonly keepRemainder?: boolean;
  /** Called with the number of rows dropped on complete (only when rows were dropped). */
  readonly onDrop?: (rows: number) => void;
}

/**
 * Re-batches activation rows into batches of exactly `n` rows (the train batch size).
 *
 * Rows keep their order. On complete, fewer than `n` leftover rows are dropped (reported to
 * `onDrop` with their count) unless `keepRemainder`, which emits them as one smaller batch.
 *
 * Owns its inputs; each emitted batch belongs to the subscriber. Pending rows (at most n−1
 * plus one input batch) are disposed on complete, error and unsubscribe.
 */
export function batch(n: number, opts: BatchOptions = {}): OperatorFunction<ActivationBatch, ActivationBatch> {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`batch(): n must be a positive integer, got ${n}`);
  return (source) =>
    new Observable<ActivationBatch>((subscriber) => {
      const queue = new RowQueue();
      subscribeUpstream(subscriber, source, {
        next: (b: ActivationBatch) => {
          queue.push(b);
          while (queue.rows >= n && !subscriber.closed) emitOrDispose(subscriber, queue.take(n));
        },
        complete: () => {
          const left = queue.rows;
          if (left > 0) {
            if (opts.keepRemainder) emitOrDispose(subscriber, queue.take(left));
            else {
              queue.dispose();
              opts.onDrop?.(left);
            }
          }
          subscriber.complete();
        },
      }, () => queue.dispose());
    });
}
