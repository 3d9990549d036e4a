import * as tf from '@tensorflow/tfjs-core';
import type { ActivationBatch } from '../../stream/ActivationBatch.js';
import { disposeAll } from '../../stream/ownership.js';
import { type HookSlices, hookSlices, releaseSlices, sliceKey, targetOf } from './hookSlices.js';
import type { Slot } from './slots.js';

/**
 * The first `batches` batches of a subscription, held until b_dec is initialised from their
 * rows (geometric median / mean, as SAELens's store does), then trained on in order. Owns the
 * batches it holds until `drain` hands them on; `dispose` frees what is left.
 */
export class BDecInitBuffer {
  private queue: ActivationBatch[] = [];
  /** b_dec initialised (or not needed: every SAE resumes): batches go straight to training. */
  done = false;

  constructor(private readonly batches: number) {}

  /** Holds `b`; true when enough batches are held to initialise. */
  add(b: ActivationBatch): boolean {
    this.queue.push(b);
    return this.queue.length >= this.batches;
  }

  /**
   * Initialises b_dec of every fresh SAE from the held rows, then hands each held batch to
   * `train` in order while `more()` holds (the rest is freed).
   */
  drain(slots: readonly Slot[], train: (b: ActivationBatch) => void, more: () => boolean): void {
    this.done = true;
    const queue = this.queue;
    this.queue = [];
    try {
      if (queue.length > 0) {
        const first = queue[0]!;
        const targets = queue.flatMap((q) => (q.target ? [q.target] : []));
        const sample: ActivationBatch = {
          ...first,
          acts: queue.length === 1 ? first.acts : tf.concat(queue.map((q) => q.acts), 0),
          // the held batches' targets, concatenated (when each has one)
          ...(targets.length === queue.length ? { target: queue.length === 1 ? first.target! : tf.concat(targets, 0) } : {}),
        };
        const xs: HookSlices = new Map();
        try {
          hookSlices(sample, slots, xs);
          // b_dec lives in the output space: a transcoder's comes from its target's rows
          for (const s of slots) if (!s.resumed && !s.finished) s.sae!.initBDec(targetOf(sample, s) ?? xs.get(sliceKey(sample, s))!);
        } finally {
          releaseSlices(sample, xs);
          if (queue.length > 1) {
            sample.acts.dispose();
            sample.target?.dispose();
          }
        }
      }
      while (queue.length > 0 && more()) train(queue.shift()!);
    } finally {
      disposeAll(queue);
    }
  }

  dispose(): void {
    disposeAll(this.queue);
    this.queue = [];
  }
}
