import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import type { ActivationBatch } from '../../stream/ActivationBatch.js';
import type { Slot } from './slots.js';

/** The 2-D input of each hook in a batch: keyed by hook index (undefined: the batch is 2-D). */
export type HookSlices = Map<number | undefined, tf.Tensor2D>;

/** The key of `s`'s input in the slices of `b`. */
export const sliceKey = (b: ActivationBatch, s: Slot): number | undefined => (b.acts.rank === 3 ? s.hookIndex : undefined);

/**
 * Fills `out` with the 2-D input of each active SAE's hook: a 2-D batch as it is, a 3-D batch
 * `[n, hooks, dIn]` sliced per hook (once per hook, shared by the SAEs that read it). Checks
 * each SAE's d_in. On a throw, the caller releases what is in `out` (`releaseSlices`).
 */
export function hookSlices(b: ActivationBatch, slots: readonly Slot[], out: HookSlices): void {
  if (b.acts.rank !== 2 && b.acts.rank !== 3) throw new ShapeError(`trainSae(): activations must be [n, dIn] or [n, hooks, dIn], got [${b.acts.shape}]`);
  for (const s of slots) {
    if (s.finished) continue;
    if (s.hookIndex === undefined && b.acts.rank === 3) {
      const i = b.hooks.indexOf(s.spec.sae.hookPoint);
      if (i < 0) throw new ShapeError(`trainSae(): SAE ${s.id} reads hook '${s.spec.sae.hookPoint}', the batch has ${b.hooks.join(', ')}`);
      s.hookIndex = i;
    }
    const key = sliceKey(b, s);
    let x = out.get(key);
    if (!x) {
      x = key === undefined ? (b.acts as tf.Tensor2D) : tf.tidy(() => tf.squeeze(tf.slice(b.acts, [0, key, 0], [-1, 1, -1]), [1]) as tf.Tensor2D);
      out.set(key, x);
    }
    if (x.shape[1] !== s.spec.sae.dIn) throw new ShapeError(`trainSae(): SAE ${s.id} has d_in ${s.spec.sae.dIn}, the batch has ${x.shape[1]}`);
  }
}

/** Frees the slices made by `hookSlices` (not the batch's own tensor). */
export function releaseSlices(b: ActivationBatch, xs: HookSlices): void {
  for (const x of xs.values()) if (x !== b.acts) x.dispose();
}
