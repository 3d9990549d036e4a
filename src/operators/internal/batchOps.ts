import * as tf from '@tensorflow/tfjs-core';
import type { ActivationBatch } from '../../stream/ActivationBatch.js';
import { disposeAll } from '../../stream/ownership.js';
import type { Rng } from '../../stream/rng.js';

function concatInts(parts: (Int32Array | undefined)[]): Int32Array | undefined {
  if (parts.some((p) => p === undefined)) return undefined;
  const n = parts.reduce((s, p) => s + p!.length, 0);
  const out = new Int32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p!, o);
    o += p!.length;
  }
  return out;
}

function takeInts(a: Int32Array | undefined, idx: Int32Array): Int32Array | undefined {
  if (!a) return undefined;
  const out = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = a[idx[i]!]!;
  return out;
}

/**
 * Concatenates batches along rows into one new batch and disposes the inputs (also when the
 * concatenation throws, e.g. on parts of different widths). Row metadata (tokens, positions) is
 * kept only when every part has it. The norm scaling factor is the last part's (they are all
 * equal downstream of `normalizeActivations`).
 */
export function concatBatches(parts: readonly ActivationBatch[]): ActivationBatch {
  if (parts.length === 1) return parts[0]!;
  try {
    const last = parts[parts.length - 1]!;
    return stripUndefined({
      acts: tf.concat(parts.map((p) => p.acts), 0),
      hooks: last.hooks,
      tokens: concatInts(parts.map((p) => p.tokens)),
      positions: concatInts(parts.map((p) => p.positions)),
      normScalingFactor: last.normScalingFactor,
    });
  } finally {
    disposeAll(parts);
  }
}

/** Rows `start .. start+size` of `b` as a new batch (`b` is not disposed). */
export function sliceRows(b: ActivationBatch, start: number, size: number): ActivationBatch {
  const begin = b.acts.shape.map((_, i) => (i === 0 ? start : 0));
  const sz = b.acts.shape.map((d, i) => (i === 0 ? size : d));
  return stripUndefined({
    acts: tf.slice(b.acts, begin, sz),
    hooks: b.hooks,
    tokens: b.tokens?.slice(start, start + size),
    positions: b.positions?.slice(start, start + size),
    normScalingFactor: b.normScalingFactor,
  });
}

/** The rows of `b` in the order `perm`, as a new batch (`b` is not disposed). */
export function gatherRows(b: ActivationBatch, perm: Int32Array): ActivationBatch {
  const acts = tf.tidy(() => tf.gather(b.acts, tf.tensor1d(perm, 'int32'), 0));
  return stripUndefined({
    acts,
    hooks: b.hooks,
    tokens: takeInts(b.tokens, perm),
    positions: takeInts(b.positions, perm),
    normScalingFactor: b.normScalingFactor,
  });
}

/** The rows of `b` in a random order drawn from `rng`, as a new batch; `b` is disposed. */
export function shuffleRows(b: ActivationBatch, rng: Rng): ActivationBatch {
  try {
    return gatherRows(b, rng.permutation(b.acts.shape[0]));
  } finally {
    b.acts.dispose();
  }
}

/** Leaves optional fields out rather than `undefined`, so batches compare and print cleanly. */
function stripUndefined(b: ActivationBatch): ActivationBatch {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) if (v !== undefined) o[k] = v;
  return o as unknown as ActivationBatch;
}

/**
 * A queue of batches with a row count, from which exact row counts are taken. Owns its
 * batches; `dispose()` frees them.
 */
export class RowQueue {
  private parts: ActivationBatch[] = [];
  rows = 0;
  push(b: ActivationBatch): void {
    if (b.acts.shape[0] === 0) {
      b.acts.dispose();
      return;
    }
    this.parts.push(b);
    this.rows += b.acts.shape[0];
  }
  /** Removes exactly `n` rows (n ≤ rows) from the front, as one batch. */
  take(n: number): ActivationBatch {
    const taken: ActivationBatch[] = [];
    let got = 0;
    while (got < n) {
      const head = this.parts[0]!;
      const r = head.acts.shape[0];
      if (got + r <= n) {
        taken.push(head);
        this.parts.shift();
        got += r;
      } else {
        const k = n - got;
        taken.push(sliceRows(head, 0, k));
        this.parts[0] = sliceRows(head, k, r - k);
        head.acts.dispose();
        got += k;
      }
    }
    this.rows -= n;
    return concatBatches(taken);
  }
  /** Removes everything (null when empty). */
  takeAll(): ActivationBatch | null {
    return this.rows > 0 ? this.take(this.rows) : null;
  }
  dispose(): void {
    disposeAll(this.parts);
    this.parts = [];
    this.rows = 0;
  }
}
