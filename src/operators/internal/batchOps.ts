import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import type { ActivationBatch } from '../../stream/ActivationBatch.js';
import { disposeAll, disposeBatch } from '../../stream/ownership.js';
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
 * The fields every row operation carries over unchanged from `b` (hook names, norm factors), so
 * that a batch's row-wise parts (`acts`, `target`, tokens, positions) are the only things the
 * operations below touch.
 */
function carried(b: ActivationBatch): Omit<ActivationBatch, 'acts' | 'target' | 'tokens' | 'positions'> {
  return {
    hooks: b.hooks,
    ...(b.normScalingFactor !== undefined ? { normScalingFactor: b.normScalingFactor } : {}),
    ...(b.targetHook !== undefined ? { targetHook: b.targetHook } : {}),
    ...(b.targetNormScalingFactor !== undefined ? { targetNormScalingFactor: b.targetNormScalingFactor } : {}),
  };
}

/**
 * A transcoder batch's target must have one row per row of `acts` (a silently misaligned target
 * trains on wrong pairs); checked where batches are combined.
 */
function checkTarget(b: ActivationBatch, where: string): void {
  if (b.target !== undefined && b.target.shape[0] !== b.acts.shape[0])
    throw new ShapeError(`${where}: target has ${b.target.shape[0]} rows, acts has ${b.acts.shape[0]} (${b.targetHook ?? 'target'} must be row-aligned with ${b.hooks.join(', ')})`);
}

/**
 * Concatenates batches along rows into one new batch and disposes the inputs (also when the
 * concatenation throws, e.g. on parts of different widths). Row metadata (tokens, positions) is
 * kept only when every part has it. The norm scaling factors are the last part's (they are all
 * equal downstream of `normalizeActivations`). A transcoder target is concatenated in the same
 * order; parts with and without a target cannot be mixed.
 */
export function concatBatches(parts: readonly ActivationBatch[]): ActivationBatch {
  if (parts.length === 1) return parts[0]!;
  try {
    const last = parts[parts.length - 1]!;
    const withTarget = parts.filter((p) => p.target !== undefined).length;
    if (withTarget !== 0 && withTarget !== parts.length)
      throw new ShapeError(`concatBatches: ${withTarget} of ${parts.length} batches carry a target (${last.targetHook ?? parts.find((p) => p.targetHook)?.targetHook ?? 'target'}); a stream's batches must all carry one or none`);
    for (const p of parts) checkTarget(p, 'concatBatches');
    const acts = tf.concat(parts.map((p) => p.acts), 0);
    let target: tf.Tensor | undefined;
    try {
      target = withTarget ? tf.concat(parts.map((p) => p.target!), 0) : undefined;
    } catch (e) {
      acts.dispose();
      throw e;
    }
    return stripUndefined({
      ...carried(last),
      acts,
      target,
      tokens: concatInts(parts.map((p) => p.tokens)),
      positions: concatInts(parts.map((p) => p.positions)),
    });
  } finally {
    disposeAll(parts);
  }
}

function sliceTensorRows(t: tf.Tensor, start: number, size: number): tf.Tensor {
  return tf.slice(t, t.shape.map((_, i) => (i === 0 ? start : 0)), t.shape.map((d, i) => (i === 0 ? size : d)));
}

/** Rows `start .. start+size` of `b` as a new batch (`b` is not disposed). */
export function sliceRows(b: ActivationBatch, start: number, size: number): ActivationBatch {
  checkTarget(b, 'sliceRows');
  return stripUndefined({
    ...carried(b),
    acts: sliceTensorRows(b.acts, start, size),
    target: b.target ? sliceTensorRows(b.target, start, size) : undefined,
    tokens: b.tokens?.slice(start, start + size),
    positions: b.positions?.slice(start, start + size),
  });
}

/**
 * The rows of `b` in the order `perm`, as a new batch (`b` is not disposed). The target, when
 * there is one, is gathered with the same permutation: row i of both stays one pair.
 */
export function gatherRows(b: ActivationBatch, perm: Int32Array): ActivationBatch {
  checkTarget(b, 'gatherRows');
  const idx = tf.tensor1d(perm, 'int32');
  let acts: tf.Tensor | undefined;
  let target: tf.Tensor | undefined;
  try {
    acts = tf.gather(b.acts, idx, 0);
    target = b.target ? tf.gather(b.target, idx, 0) : undefined;
  } catch (e) {
    acts?.dispose();
    throw e;
  } finally {
    idx.dispose();
  }
  return stripUndefined({
    ...carried(b),
    acts,
    target,
    tokens: takeInts(b.tokens, perm),
    positions: takeInts(b.positions, perm),
  });
}

/** The rows of `b` in a random order drawn from `rng`, as a new batch; `b` is disposed. */
export function shuffleRows(b: ActivationBatch, rng: Rng): ActivationBatch {
  try {
    return gatherRows(b, rng.permutation(b.acts.shape[0]));
  } finally {
    disposeBatch(b);
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
      disposeBatch(b);
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
        disposeBatch(head);
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
