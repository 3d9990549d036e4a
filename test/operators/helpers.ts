import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, from, toArray, type Observable } from 'rxjs';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';

/** Batches whose rows are [id, id·2] with consecutive ids, sizes as given. */
export function idBatches(sizes: number[], start = 0): ActivationBatch[] {
  let id = start;
  return sizes.map((n) => {
    const v: number[] = [];
    for (let i = 0; i < n; i++, id++) v.push(id, id * 2);
    return { acts: tf.tensor2d(v, [n, 2]), hooks: ['h'] };
  });
}

/** Lazily made batches (so that unused ones are never created). */
export function idSource(sizes: number[]): Observable<ActivationBatch> {
  return from((function* () {
    let start = 0;
    for (const n of sizes) {
      yield idBatches([n], start)[0]!;
      start += n;
    }
  })());
}

/** Collects the rows' ids of each emitted batch and disposes the batches. */
export async function collectIds(o: Observable<ActivationBatch>): Promise<number[][]> {
  const bs = await firstValueFrom(o.pipe(toArray()));
  return bs.map((b) => {
    const col = tf.slice(b.acts, [0, 0], [-1, 1]);
    const ids = Array.from(col.dataSync());
    col.dispose();
    b.acts.dispose();
    return ids;
  });
}
