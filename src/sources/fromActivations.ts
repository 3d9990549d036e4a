import * as tf from '@tensorflow/tfjs-core';
import type { Observable } from 'rxjs';
import { ConfigError, ShapeError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { disposeBatch } from '../stream/ownership.js';
import { fromPull } from './fromPull.js';
import { platform } from '../platform/index.js';

export type ActivationData =
  | tf.Tensor2D
  | readonly tf.Tensor2D[]
  | readonly (readonly number[])[]
  | { readonly data: Float32Array; readonly dIn: number };

export interface FromActivationsOptions {
  /** Rows per emitted batch (the last one may be smaller). */
  readonly batchSize: number;
  /** Hook name put on each batch (default 'acts'). */
  readonly hook?: string;
  /**
   * Transcoders: the target activations of the same rows (same row count, any width), in any
   * form `data` accepts; each batch carries the matching rows as `target`.
   */
  readonly target?: ActivationData;
  /** Hook name of the target (default 'target'). */
  readonly targetHook?: string;
}

/**
 * A cold, pull-paced source of activation batches from data already in memory: a 2-D tensor,
 * a list of 2-D tensors (concatenated in order), an array of rows, or a flat Float32Array with
 * its `dIn`. Tensors given in are NOT disposed (the caller keeps them); each emitted batch is a
 * new tensor that belongs to the subscriber. Yields to the event loop between batches, so
 * timers, signals and pending writes get their turn during a long synchronous pipeline.
 */
export function fromActivations(data: ActivationData, opts: FromActivationsOptions): Observable<ActivationBatch> {
  const { batchSize, hook = 'acts' } = opts ?? ({} as FromActivationsOptions);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ConfigError(`fromActivations(): batchSize must be a positive integer, got ${batchSize}`);
  const { rows, dIn } = toRows(data, 'fromActivations()');
  const n = rows.length / dIn;
  const target = opts.target !== undefined ? toRows(opts.target, 'fromActivations() target') : undefined;
  if (target && target.rows.length / target.dIn !== n)
    throw new ShapeError(`fromActivations(): target has ${target.rows.length / target.dIn} rows, the activations ${n}; they must be row-aligned`);
  const targetHook = opts.targetHook ?? 'target';
  return fromPull(
    async function* () {
      for (let s = 0; s < n; s += batchSize) {
        const k = Math.min(batchSize, n - s);
        // slice: a copy, so that the tensor never aliases the caller's array
        const acts = tf.tensor2d(rows.slice(s * dIn, (s + k) * dIn), [k, dIn]);
        if (!target) yield { acts, hooks: [hook] } as ActivationBatch;
        else {
          const d = target.dIn;
          yield { acts, hooks: [hook], target: tf.tensor2d(target.rows.slice(s * d, (s + k) * d), [k, d]), targetHook } as ActivationBatch;
        }
        await platform.yieldToEventLoop();
      }
    },
    { discard: disposeBatch },
  );
}

/** Row-major float32 rows of `data` and their width (a copy of tensors; `what` names the argument in errors). */
function toRows(data: ActivationData, what: string): { rows: Float32Array; dIn: number } {
  let rows: Float32Array;
  let dIn: number;
  if (data instanceof tf.Tensor || (Array.isArray(data) && data.length > 0 && data[0] instanceof tf.Tensor)) {
    const ts = (data instanceof tf.Tensor ? [data] : data) as tf.Tensor2D[];
    for (const [i, t] of ts.entries())
      if (t.rank !== 2) throw new ShapeError(`${what}: tensor ${i} must be 2-D [n, dIn], got shape [${t.shape}]`);
    dIn = ts[0]!.shape[1];
    for (const [i, t] of ts.entries())
      if (t.shape[1] !== dIn) throw new ShapeError(`${what}: tensor ${i} has dIn ${t.shape[1]}, expected ${dIn}`);
    const parts = ts.map((t) => t.dataSync() as Float32Array);
    rows = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      rows.set(p, o);
      o += p.length;
    }
  } else if (Array.isArray(data)) {
    const arr = data as readonly (readonly number[])[];
    if (arr.length === 0) throw new ShapeError(`${what}: no rows given`);
    dIn = arr[0]!.length;
    rows = new Float32Array(arr.length * dIn);
    arr.forEach((r, i) => {
      if (r.length !== dIn) throw new ShapeError(`${what}: row ${i} has length ${r.length}, expected ${dIn}`);
      rows.set(r, i * dIn);
    });
  } else {
    const d = data as { data: Float32Array; dIn: number };
    if (!(d?.data instanceof Float32Array)) throw new ConfigError(`${what}: expected tensors, rows, or { data: Float32Array, dIn }`);
    dIn = d.dIn;
    if (!Number.isInteger(dIn) || dIn < 1 || d.data.length % dIn !== 0)
      throw new ShapeError(`${what}: data length ${d.data.length} is not a multiple of dIn ${dIn}`);
    rows = d.data;
  }
  return { rows, dIn };
}
