import * as tf from '@tensorflow/tfjs-core';
import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { disposeAll, disposeBatch, emitOrDispose } from '../stream/ownership.js';

export type NormalizeMethod = 'expected_average_only_in' | 'none';

export interface NormalizeOptions {
  /**
   * Rows used to estimate the factor (default 65536). They are held until the estimate is
   * made, then emitted scaled; SAELens v1.5 estimates on its first buffer.
   */
  readonly estimationTokens?: number;
  /** A factor known in advance (e.g. when resuming): no estimation, nothing is held. */
  readonly factor?: number;
  /**
   * Transcoders: the target's factor known in advance. With `factor` given and a target on the
   * batches, this is required (a target scaled by a guess would train a wrong decoder).
   */
  readonly targetFactor?: number;
  /** Called once with the factor, when known. */
  readonly onFactor?: (factor: number) => void;
  /** Transcoders: called once with the target's factor, when known. */
  readonly onTargetFactor?: (factor: number) => void;
}

/**
 * SAELens v1.5's `normalize_activations`: with `'expected_average_only_in'` every activation
 * is multiplied by `s = √d_in / mean‖x‖` (the mean L2 norm of rows over the first
 * `estimationTokens` rows, over all hooks together as SAELens does), so that the mean squared
 * norm of the input is about d_in. The factor rides on each batch as `normScalingFactor`;
 * `trainSae` folds it into the saved SAE so the saved SAE works on raw activations.
 * `'none'` passes batches through untouched.
 *
 * Transcoder batches (with a `target`) get a second factor for the target, estimated the same
 * way on the same rows: `s_out = √d_out / mean‖y‖` (each side its own, as the input and output
 * hooks of a transcoder differ in scale). It rides on each batch as `targetNormScalingFactor`
 * and is folded into the saved transcoder's decoder.
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
  if (opts.targetFactor !== undefined && !(Number.isFinite(opts.targetFactor) && opts.targetFactor > 0))
    throw new ConfigError(`normalizeActivations(): targetFactor must be a positive number, got ${opts.targetFactor}`);
  if (opts.targetFactor !== undefined && opts.factor === undefined)
    throw new ConfigError('normalizeActivations(): targetFactor given without factor; give both (a resumed transcoder knows both) or neither');
  return (source) => {
    if (method === 'none') return source;
    return new Observable<ActivationBatch>((subscriber) => {
      let factor: number | undefined = opts.factor;
      let targetFactor: number | undefined = opts.targetFactor;
      let held: ActivationBatch[] = [];
      let heldRows = 0;
      // Running sums of row norms, so the estimate never concatenates the held batches.
      let normSum = 0;
      let normCount = 0;
      let targetNormSum = 0;
      let targetNormCount = 0;
      let sawTarget: boolean | undefined;

      const scaled = (b: ActivationBatch): ActivationBatch => {
        const f = factor!;
        if (b.target !== undefined && targetFactor === undefined) {
          disposeBatch(b);
          throw new ConfigError(`normalizeActivations(): the batches carry a target (${b.targetHook ?? 'target'}) but only the input's factor was given; give targetFactor too`);
        }
        try {
          const acts = tf.tidy(() => tf.mul(b.acts, tf.scalar(f)));
          if (b.target === undefined) return { ...b, acts, normScalingFactor: f };
          const tf_ = targetFactor!;
          const target = tf.tidy(() => tf.mul(b.target!, tf.scalar(tf_)));
          return { ...b, acts, target, normScalingFactor: f, targetNormScalingFactor: tf_ };
        } finally {
          disposeBatch(b);
        }
      };
      const meanNormOf = (sum: number, count: number, what: string) => {
        const m = sum / Math.max(1, count);
        if (!(m > 0)) throw new ConfigError(`normalizeActivations(): mean ${what} norm is ${m}; cannot scale`);
        return m;
      };
      const settle = () => {
        const dIn = held[0]?.acts.shape[held[0].acts.shape.length - 1] ?? 1;
        factor = Math.sqrt(dIn) / meanNormOf(normSum, normCount, 'activation');
        const t0 = held[0]?.target;
        if (t0 !== undefined) {
          targetFactor = Math.sqrt(t0.shape[t0.shape.length - 1]!) / meanNormOf(targetNormSum, targetNormCount, `target (${held[0]!.targetHook ?? 'target'})`);
          opts.onTargetFactor?.(targetFactor);
        }
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
      if (targetFactor !== undefined) opts.onTargetFactor?.(targetFactor);
      const rowNormSum = (t: tf.Tensor, take: number) =>
        tf.tidy(() => tf.sum(tf.sqrt(tf.sum(tf.square(tf.slice(t, 0, take)), -1))).dataSync()[0]!);

      subscribeUpstream(subscriber, source, {
        next: (b: ActivationBatch) => {
          if (factor !== undefined) {
            emitOrDispose(subscriber, scaled(b));
            return;
          }
          held.push(b);
          const hasTarget = b.target !== undefined;
          if (sawTarget !== undefined && sawTarget !== hasTarget)
            throw new ConfigError(`normalizeActivations(): some batches carry a target (${b.targetHook ?? held.find((h) => h.targetHook)?.targetHook ?? 'target'}) and some do not; a stream's batches must all carry one or none`);
          sawTarget = hasTarget;
          const rows = b.acts.shape[0];
          const take = Math.min(rows, estimationTokens - heldRows);
          heldRows += rows;
          if (take > 0) {
            normSum += rowNormSum(b.acts, take);
            normCount += b.acts.shape.slice(0, -1).reduce((p, d, i) => p * (i === 0 ? take : d), 1);
            if (b.target !== undefined) {
              targetNormSum += rowNormSum(b.target, take);
              targetNormCount += b.target.shape.slice(0, -1).reduce((p, d, i) => p * (i === 0 ? take : d), 1);
            }
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
