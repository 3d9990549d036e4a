import type { Subscriber } from 'rxjs';
import type { ActivationBatch } from './ActivationBatch.js';

/*
 * The ownership rule of DESIGN.md §3 in three helpers: a batch emitted downstream belongs to the
 * receiver, so a batch that cannot be handed on must be freed by whoever holds it. A batch's
 * tensors are `acts` and, for transcoders, `target`: they are always freed together.
 */

/** Frees a batch's tensors: `acts` and, when present, `target`. */
export function disposeBatch(b: ActivationBatch): void {
  b.acts.dispose();
  b.target?.dispose();
}

/** Emits `b`, or disposes it when the subscriber is already closed (never emit into a closed one). */
export function emitOrDispose(dest: Subscriber<ActivationBatch>, b: ActivationBatch): void {
  if (dest.closed) disposeBatch(b);
  else dest.next(b);
}

/** Frees the tensors of batches this stage owns and will not pass on. */
export function disposeAll(bs: readonly ActivationBatch[]): void {
  for (const b of bs) disposeBatch(b);
}
