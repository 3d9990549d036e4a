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

/**
 * The target a transcoder slot trains towards: the batch's `target` [n, d_out] (the same rows as
 * `acts`, read from the output hook), checked against the transcoder's d_out and output hook.
 * Undefined for an SAE slot (its target is its input). Owned by the batch.
 */
export function targetOf(b: ActivationBatch, s: Slot): tf.Tensor2D | undefined {
  const cfg = s.spec.sae;
  if (cfg.dOut === undefined) return undefined;
  const t = b.target;
  if (!t) throw new ShapeError(`trainSae(): transcoder ${s.id} reconstructs '${cfg.hookPointOut ?? 'its output hook'}', but the batch has no target (read the output hook with the input: modelActivations' targetHook)`);
  if (t.rank !== 2) throw new ShapeError(`trainSae(): transcoder ${s.id}: the batch's target must be [n, d_out], got [${t.shape}]`);
  if (cfg.hookPointOut !== undefined && b.targetHook !== undefined && b.targetHook !== cfg.hookPointOut) {
    throw new ShapeError(`trainSae(): transcoder ${s.id} reconstructs '${cfg.hookPointOut}', the batch's target is '${b.targetHook}'`);
  }
  if (t.shape[1] !== cfg.dOut) throw new ShapeError(`trainSae(): transcoder ${s.id} has d_out ${cfg.dOut}, the batch's target has ${t.shape[1]}`);
  if (t.shape[0] !== b.acts.shape[0]) throw new ShapeError(`trainSae(): the batch's target has ${t.shape[0]} rows, its acts ${b.acts.shape[0]}`);
  return t as tf.Tensor2D;
}
