import * as tf from '@tensorflow/tfjs-core';
import type { Observable } from 'rxjs';
import { ConfigError, ShapeError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { fromPull } from './fromPull.js';

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
  let rows: Float32Array;
  let dIn: number;
  if (data instanceof tf.Tensor || (Array.isArray(data) && data.length > 0 && data[0] instanceof tf.Tensor)) {
    const ts = (data instanceof tf.Tensor ? [data] : data) as tf.Tensor2D[];
    for (const [i, t] of ts.entries())
      if (t.rank !== 2) throw new ShapeError(`fromActivations(): tensor ${i} must be 2-D [n, dIn], got shape [${t.shape}]`);
    dIn = ts[0]!.shape[1];
    for (const [i, t] of ts.entries())
      if (t.shape[1] !== dIn) throw new ShapeError(`fromActivations(): tensor ${i} has dIn ${t.shape[1]}, expected ${dIn}`);
    const parts = ts.map((t) => t.dataSync() as Float32Array);
    rows = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      rows.set(p, o);
      o += p.length;
    }
  } else if (Array.isArray(data)) {
    const arr = data as readonly (readonly number[])[];
    if (arr.length === 0) throw new ShapeError('fromActivations(): no rows given');
    dIn = arr[0]!.length;
    rows = new Float32Array(arr.length * dIn);
    arr.forEach((r, i) => {
      if (r.length !== dIn) throw new ShapeError(`fromActivations(): row ${i} has length ${r.length}, expected ${dIn}`);
      rows.set(r, i * dIn);
    });
  } else {
    const d = data as { data: Float32Array; dIn: number };
    if (!(d?.data instanceof Float32Array)) throw new ConfigError('fromActivations(): expected tensors, rows, or { data: Float32Array, dIn }');
    dIn = d.dIn;
    if (!Number.isInteger(dIn) || dIn < 1 || d.data.length % dIn !== 0)
      throw new ShapeError(`fromActivations(): data length ${d.data.length} is not a multiple of dIn ${dIn}`);
    rows = d.data;
  }
  const n = rows.length / dIn;
  return fromPull(
    async function* () {
      for (let s = 0; s < n; s += batchSize) {
        const k = Math.min(batchSize, n - s);
        // slice: a copy, so that the tensor never aliases the caller's array
        yield { acts: tf.tensor2d(rows.slice(s * dIn, (s + k) * dIn), [k, dIn]), hooks: [hook] } as ActivationBatch;
        await new Promise<void>((r) => setImmediate(r));
      }
    },
    { discard: (b) => b.acts.dispose() },
  );
}
