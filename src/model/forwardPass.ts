/**
 * What one forward pass hands its components (norms, attention, MLP): the hook plumbing of
 * HookedTransformer.run, so a component can pass its activations through named hook points.
 */
import type * as tf from '@tensorflow/tfjs-core';

export interface ForwardPass {
  /** The hook point `name`: runs its hook (maybe replacing `x`), caches it if asked. */
  hp<T extends tf.Tensor>(name: string, x: T): T;
  /** Whether anyone caches or hooks `name` (fused kernels skip what nobody looks at). */
  looks(name: string): boolean;
  /** Whether a hook may replace `name` (fused kernels must then not skip the tfjs ops after it). */
  replaces(name: string): boolean;
  /** The causal mask `[pos, pos]`, built on first use (the fused attention kernel masks by itself). */
  mask(): tf.Tensor2D;
  /** Rotary tables for the positions of this pass (rotary models only). */
  rot: { cos: tf.Tensor2D; sin: tf.Tensor2D } | undefined;
}
