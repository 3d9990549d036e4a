/**
 * A computation that needs tensor values on the host part-way (a training step's losses, a log
 * line's loss), written once as a generator: it yields the tensors it needs read and is resumed
 * with their values, or with the read's error thrown in (so it can free what it holds). Two
 * drivers run it: `readSync` (dataSync, the Node backends) and `readAsync` (data(), which
 * webgpu in a page answers without stalling on a canvas round trip).
 */
import type * as tf from '@tensorflow/tfjs-core';

export type HostReading<R> = Generator<tf.Tensor[], R, Float32Array[]>;

export function readSync<R>(run: HostReading<R>): R {
  let r = run.next();
  while (!r.done) {
    let values: Float32Array[];
    try {
      values = r.value.map((t) => t.dataSync() as Float32Array);
    } catch (e) {
      r = run.throw(e);
      continue;
    }
    r = run.next(values);
  }
  return r.value;
}

/** `afterRead` runs after each read (with the count so far) before the computation resumes: a place to yield to the event loop. */
export async function readAsync<R>(run: HostReading<R>, afterRead?: (reads: number) => Promise<void> | void): Promise<R> {
  let r = run.next();
  let reads = 0;
  while (!r.done) {
    let values: Float32Array[];
    try {
      values = (await Promise.all(r.value.map((t) => t.data()))) as Float32Array[];
      await afterRead?.(++reads);
    } catch (e) {
      r = run.throw(e);
      continue;
    }
    r = run.next(values);
  }
  return r.value;
}
