import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { emitOrDispose } from '../stream/ownership.js';
import { shuffleRows } from './internal/batchOps.js';
import { Rng } from '../stream/rng.js';

/**
 * Shuffles the rows within each batch with a seeded RNG (one generator per subscription, so
 * two subscriptions with the same seed give the same order). Tokens/positions move with
 * their rows. For mixing across batches use `mixingBuffer`.
 *
 * Owns and disposes each input; each output belongs to the subscriber. Holds no tensors
 * between values.
 */
export function shuffle(opts: { readonly seed: number }): OperatorFunction<ActivationBatch, ActivationBatch> {
  if (!Number.isFinite(opts?.seed)) throw new ConfigError(`shuffle(): seed must be a number, got ${opts?.seed}`);
  return (source) =>
    new Observable<ActivationBatch>((subscriber) => {
      const rng = new Rng(opts.seed);
      subscribeUpstream(subscriber, source, {
        next: (b: ActivationBatch) => emitOrDispose(subscriber, shuffleRows(b, rng)),
      });
    });
}
