import type * as tf from '@tensorflow/tfjs-core';

/**
 * What flows between activation sources, operators and `trainSae` (DESIGN.md §2).
 *
 * `acts` has shape `[n, dIn]` (one hook) or `[n, nHooks, dIn]` (several hooks, in the order of
 * `hooks`). The tensor belongs to whoever received the batch: dispose it or pass it on.
 */
export interface ActivationBatch {
  readonly acts: tf.Tensor;
  /** Hook names of the middle axis (or the one hook of a 2-D batch). */
  readonly hooks: readonly string[];
  /** Token id of each row, when the source knows it (analysis); length n. */
  readonly tokens?: Int32Array;
  /** Position in its context of each row, when known; length n. */
  readonly positions?: Int32Array;
  /**
   * Norm scaling factor already applied to `acts` by `normalizeActivations`
   * (`√d_in / mean‖x‖`). `trainSae` folds it into the saved SAE so that the saved SAE works on
   * raw activations.
   */
  readonly normScalingFactor?: number;
  /**
   * Transcoders: the target activations [n, d_out] of the same rows (another hook of the same
   * forward pass, e.g. `blocks.L.hook_mlp_out`), aligned row by row with `acts` through every
   * operator. Absent for SAEs (the target is the input). Owned with `acts`: whoever disposes
   * `acts` disposes `target`.
   */
  readonly target?: tf.Tensor;
  /** The hook `target` was read from (SAELens `hook_name_out`). */
  readonly targetHook?: string;
  /** Norm scaling factor applied to `target` (its own, folded into the saved transcoder's decoder). */
  readonly targetNormScalingFactor?: number;
}
