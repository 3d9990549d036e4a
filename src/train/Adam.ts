/**
 * Adam as torch.optim.Adam (single-tensor path, no weight decay, eps 1e-8), with per-parameter
 * step counts (a parameter without a gradient in a step, e.g. frozen during fine-tuning, keeps
 * its state and step untouched) and state that exports to / restores from plain Float32Arrays.
 *
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
 *   p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
 */
import * as tf from '@tensorflow/tfjs-core';
import { SaeAdamUpdate, type SaeAdamUpdateAttrs } from '../backend/kernelNames.js';

export interface AdamParamState {
  /** torch's per-parameter `step`. */
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export interface AdamState {
  beta1: number;
  beta2: number;
  eps: number;
  params: Record<string, AdamParamState>;
}

interface Slot {
  step: number;
  m: tf.Tensor;
  v: tf.Tensor;
}

export class Adam {
  private readonly slots = new Map<string, Slot>();

  constructor(
    readonly beta1: number,
    readonly beta2: number,
    readonly eps = 1e-8,
  ) {}

  /** Applies one update of `param` with `grad` at learning rate lr. Does not dispose grad. */
  update(name: string, param: tf.Variable, grad: tf.Tensor, lr: number): void {
    let slot = this.slots.get(name);
    if (!slot) {
      // kept: update() may run inside a caller's tidy, the moments must outlive it
      slot = { step: 0, m: tf.keep(tf.zerosLike(param)), v: tf.keep(tf.zerosLike(param)) };
      this.slots.set(name, slot);
    }
    slot.step += 1;
    const t = slot.step;
    const { beta1, beta2, eps } = this;
    const s = slot;
    if (tf.getKernel(SaeAdamUpdate, tf.getBackend()) && param.dtype === 'float32' && grad.dtype === 'float32') {
      // One fused pass (src/backend/kernels/adamKernel.ts), bit-identical to the ops below.
      const attrs: SaeAdamUpdateAttrs = { beta1, beta2, eps, lr, step: t };
      const [p2, m2, v2] = tf.engine().runKernel(SaeAdamUpdate, { param, m: s.m, v: s.v, grad }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      param.assign(p2!);
      p2!.dispose();
      s.m.dispose();
      s.v.dispose();
      s.m = tf.keep(m2!);
      s.v = tf.keep(v2!);
      return;
    }
    const [m, v] = tf.tidy(() => {
      const m = tf.add(tf.mul(s.m, beta1), tf.mul(grad, 1 - beta1));
      const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.mul(grad, grad), 1 - beta2));
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      const stepSize = lr / bc1;
      const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps);
      param.assign(tf.add(param, tf.mul(tf.div(m, denom), -stepSize)));
      return [tf.keep(m), tf.keep(v)];
    });
    s.m.dispose();
    s.v.dispose();
    s.m = m;
    s.v = v;
  }

  state(): AdamState {
    const params: Record<string, AdamParamState> = {};
    for (const [name, s] of this.slots) {
      params[name] = { step: s.step, m: s.m.dataSync() as Float32Array, v: s.v.dataSync() as Float32Array };
    }
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, params };
  }

  /** Restores moments; shapes come from the parameters they belong to. */
  load(state: AdamState, shapes: Record<string, number[]>): void {
    this.dispose();
    for (const [name, p] of Object.entries(state.params)) {
      const shape = shapes[name];
      if (!shape) continue;
      this.slots.set(name, { step: p.step, m: tf.tensor(p.m, shape), v: tf.tensor(p.v, shape) });
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }
}
