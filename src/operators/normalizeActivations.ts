import * as tf from '@tensorflow/tfjs-core';
import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { disposeAll, emitOrDispose } from '../stream/ownership.js';

export type NormalizeMethod = 'expected_average_only_in' | 'none';

export interface NormalizeOptions {
  /**
   * Rows used to estimate the factor (default 65536). They are held until the estimate is
   * made, then emitted scaled; SAELens v1.5 estimates on its first buffer.
   */
  readonly estimationTokens?: number;
  /** A factor known in advance (e.g. when resuming): no estimation, nothing is held. */
  readonly factor?: number;
  /** Called once with the factor, when known. */
  readonly onFactor?: (factor: number) => void;
}

/**
 * SAELens v1.5's `normalize_activations`: with `'expected_average_only_in'` every activation
 * is multiplied by `s = √d_in / mean‖x‖` (the mean L2 norm of rows over the first
 * `estimationTokens` rows, over all hooks together as SAELens does), so that the mean squared
 * norm of the input is about d_in. The factor rides on each batch as `normScalingFactor`;
 * `trainSae` folds it into the saved SAE so the saved SAE works on raw activations.
 * `'none'` passes batches through untouched.
 *
 * Owns its inputs; each output belongs to the subscriber. The batches held for estimation are
 * disposed on error and unsubscribe; on complete before `estimationTokens` rows were seen, the
 * estimate uses what arrived.
 */
export function normalizeActivations(
  method: NormalizeMethod,
  opts: NormalizeOptions = {},
): OperatorFunction<ActivationBatch, ActivationBatch> {
  if (method !== 'expected_average_only_in' && method !== 'none')
    throw new ConfigError(`normalizeActivations(): method must be 'expected_average_only_in' or 'none', got ${String(method)}`);
  const estimationTokens = opts.estimationTokens ?? 65536;
  if (!Number.isInteger(estimationTokens) || estimationTokens < 1)
    throw new ConfigError(`normalizeActivations(): estimationTokens must be a positive integer, got ${estimationTokens}`);
  if (opts.factor !== undefined && !(Number.isFinite(opts.factor) && opts.factor > 0))
    throw new ConfigError(`normalizeActivations(): factor must be a positive number, got ${opts.factor}`);
  return (source) => {
    if (method === 'none') return source;
    return new Observable<ActivationBatch>((subscriber) => {
      let factor: number | undefined = opts.factor;
      let held: ActivationBatch[] = [];
      let heldRows = 0;
      // Running sum of row norms, so the estimate never concatenates the held batches.
      let normSum = 0;
      let normCount = 0;

      const scaled = (b: ActivationBatch): ActivationBatch => {
        const f = factor!;
        try {
          return { ...b, acts: tf.tidy(() => tf.mul(b.acts, tf.scalar(f))), normScalingFactor: f };
        } finally {
          b.acts.dispose();
        }
      };
      const settle = () => {
        const dIn = held[0]?.acts.shape[held[0].acts.shape.length - 1] ?? 1;
        const meanNorm = normSum / Math.max(1, normCount);
        if (!(meanNorm > 0)) throw new ConfigError(`normalizeActivations(): mean activation norm is ${meanNorm}; cannot scale`);
        factor = Math.sqrt(dIn) / meanNorm;
        opts.onFactor?.(factor);
        const out = held;
        held = [];
        heldRows = 0;
        for (let i = 0; i < out.length; i++) {
          if (subscriber.closed) {
            disposeAll(out.slice(i));
            return;
          }
          emitOrDispose(subscriber, scaled(out[i]!));
        }
      };
      if (factor !== undefined) opts.onFactor?.(factor);

      subscribeUpstream(subscriber, source, {
        next: (b: ActivationBatch) => {
          if (factor !== undefined) {
            emitOrDispose(subscriber, scaled(b));
            return;
          }
          held.push(b);
          const rows = b.acts.shape[0];
          const take = Math.min(rows, estimationTokens - heldRows);
          heldRows += rows;
          if (take > 0) {
            const s = tf.tidy(() => {
              const x = tf.slice(b.acts, 0, take);
              return tf.sum(tf.sqrt(tf.sum(tf.square(x), -1))).dataSync()[0]!;
            });
            normSum += s;
            normCount += b.acts.shape.slice(0, -1).reduce((p, d, i) => p * (i === 0 ? take : d), 1);
          }
          if (heldRows >= estimationTokens) settle();
        },
        complete: () => {
          if (held.length > 0) settle();
          subscriber.complete();
        },
      }, () => {
        disposeAll(held);
        held = [];
      });
    });
  };
}
