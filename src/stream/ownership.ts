import type { Subscriber } from 'rxjs';
import type { ActivationBatch } from './ActivationBatch.js';

/*
 * The ownership rule of DESIGN.md §3 in two helpers: a batch emitted downstream belongs to the
 * receiver, so a batch that cannot be handed on must be freed by whoever holds it.
 */

/** Emits `b`, or disposes it when the subscriber is already closed (never emit into a closed one). */
export function emitOrDispose(dest: Subscriber<ActivationBatch>, b: ActivationBatch): void {
  if (dest.closed) b.acts.dispose();
  else dest.next(b);
}

/** Frees the tensors of batches this stage owns and will not pass on. */
export function disposeAll(bs: readonly ActivationBatch[]): void {
  for (const b of bs) b.acts.dispose();
}
