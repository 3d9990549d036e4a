import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { RowQueue, concatBatches, shuffleRows, sliceRows } from './internal/batchOps.js';
import { disposeBatch, emitOrDispose } from '../stream/ownership.js';
import { Rng } from '../stream/rng.js';

export interface MixingBufferOptions {
  /** SAELens `n_batches_in_buffer` (20): a full buffer holds this many store batches. */
  readonly batchesInBuffer: number;
  /**
   * Rows (tokens) per store batch: SAELens's `store_batch_size × context_size` for a language
   * model. Input batches of any size are accepted; only row counts matter.
   */
  readonly storeBatchSize: number;
  /** Rows per emitted batch (default `storeBatchSize`). See the note on partial batches. */
  readonly trainBatchSize?: number;
  readonly seed: number;
}

/**
 * SAELens v1.5's activation mixing (`ActivationsStore.get_data_loader`) as an operator.
 *
 * With `half = ⌊batchesInBuffer/2⌋ · storeBatchSize` rows:
 * 1. the first `half` rows fill the store, shuffled;
 * 2. every further `half` rows are concatenated with the store and shuffled; the first half of
 *    the result becomes the new store, the second half is served in batches of
 *    `trainBatchSize` rows (the last of each refill smaller when `half` is not a multiple, as
 *    SAELens's DataLoader; put `batch(n)` after this operator for exact sizes).
 * 3. on complete (SAELens's streams never end) the unfilled refill and the store are mixed
 *    and served too, so no row is lost.
 *
 * Shuffles use one seeded RNG per subscription. Token ids/positions, and a transcoder's `target`
 * rows, move with their rows (one permutation for both).
 * Owns its inputs and the store (≈ 2·half rows at most, plus one input batch); each emitted
 * batch belongs to the subscriber. The store is disposed on complete, error and unsubscribe.
 * Everything happens synchronously inside `next`, so a pull source is paced by the consumer;
 * a refill's half is served over the inputs that follow it, about one input's rows per input.
 */
export function mixingBuffer(opts: MixingBufferOptions): OperatorFunction<ActivationBatch, ActivationBatch> {
  const { batchesInBuffer, storeBatchSize, seed } = opts ?? ({} as MixingBufferOptions);
  const trainBatchSize = opts?.trainBatchSize ?? storeBatchSize;
  if (!Number.isInteger(batchesInBuffer) || batchesInBuffer < 2)
    throw new ConfigError(`mixingBuffer(): batchesInBuffer must be an integer ≥ 2, got ${batchesInBuffer}`);
  if (!Number.isInteger(storeBatchSize) || storeBatchSize < 1)
    throw new ConfigError(`mixingBuffer(): storeBatchSize must be a positive integer, got ${storeBatchSize}`);
  if (!Number.isInteger(trainBatchSize) || trainBatchSize < 1)
    throw new ConfigError(`mixingBuffer(): trainBatchSize must be a positive integer, got ${trainBatchSize}`);
  if (!Number.isFinite(seed)) throw new ConfigError(`mixingBuffer(): seed must be a number, got ${seed}`);
  const half = Math.floor(batchesInBuffer / 2) * storeBatchSize;

  return (source) =>
    new Observable<ActivationBatch>((subscriber) => {
      const rng = new Rng(seed);
      const incoming = new RowQueue();
      let store: ActivationBatch | null = null;

      /**
       * The half being served and the next row of it. A refill's half is not served at once
       * but at the pace rows come in (`credit`: rows received and not yet matched by rows
       * served), so each input gives about its own size in train batches: a pipeline that yields
       * to the event loop between inputs also yields between a few steps (signals, writes),
       * never only once per refill. The order of the rows served is unchanged.
       */
      let serving: { b: ActivationBatch; at: number } | null = null;
      let credit = 0;
      const serveSome = (all: boolean) => {
        while (serving && !subscriber.closed && (all || credit > 0)) {
          const { b, at } = serving;
          const n = b.acts.shape[0];
          const size = Math.min(trainBatchSize, n - at);
          serving.at += size;
          credit -= size;
          if (serving.at >= n) serving = null;
          try {
            emitOrDispose(subscriber, sliceRows(b, at, size));
          } finally {
            if (serving === null) disposeBatch(b);
          }
        }
        if (!serving) credit = Math.min(credit, 0);
      };
      const serve = (b: ActivationBatch) => {
        if (b.acts.shape[0] === 0) {
          disposeBatch(b);
          return;
        }
        serving = { b, at: 0 };
      };
      /** Mixes `fresh` into the store; returns the half to serve (everything when `all`). */
      const mix = (fresh: ActivationBatch | null, all: boolean): ActivationBatch | null => {
        const parts = [fresh, store].filter((p): p is ActivationBatch => p !== null);
        store = null;
        if (parts.length === 0) return null;
        const mixed = shuffleRows(concatBatches(parts), rng);
        if (all) return mixed;
        const n = mixed.acts.shape[0];
        const keep = Math.floor(n / 2);
        try {
          store = sliceRows(mixed, 0, keep);
          return sliceRows(mixed, keep, n - keep);
        } finally {
          disposeBatch(mixed);
        }
      };

      subscribeUpstream(subscriber, source, {
        next: (b: ActivationBatch) => {
          const rows = b.acts.shape[0];
          incoming.push(b);
          if (store === null && incoming.rows >= half) store = shuffleRows(incoming.take(half), rng);
          while (store !== null && incoming.rows >= half && !subscriber.closed) {
            // the previous half first: rows leave in the order SAELens serves them
            serveSome(true);
            const out = mix(incoming.take(half), false);
            if (out) serve(out);
          }
          if (store !== null) credit += rows;
          serveSome(false);
        },
        complete: () => {
          serveSome(true);
          const out = mix(incoming.takeAll(), true);
          if (out) serve(out);
          serveSome(true);
          if (!subscriber.closed) subscriber.complete();
        },
      }, () => {
        incoming.dispose();
        if (store) disposeBatch(store);
        store = null;
        if (serving) disposeBatch(serving.b);
        serving = null;
      });
    });
}
