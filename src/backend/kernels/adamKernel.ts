/**
 * SaeAdamUpdate: one fused Adam step (src/train/Adam.ts) for the wasm and cpu backends, one
 * native loop (the addon's `adam`) over param, m, v and grad instead of ~13 tfjs elementwise
 * passes, each allocating a tensor of the parameter's size ([d_sae, d_in] for the SAE weights).
 *
 * Bit-identical to Adam.ts's tfjs op sequence: the scalars are the float32 scalars tfjs would
 * make (rounded from the same float64 expressions) and the addon does the same float32
 * operations in the same order. Outputs are new tensors (param', m', v'); inputs are only read.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas.js';
import { ShapeError } from '../../errors.js';
import { SaeAdamUpdate, type SaeAdamUpdateAttrs } from '../kernelNames.js';
import { nativeKernel, type BlasBackendKind } from './inPlace.js';

type AdamFn = NonNullable<BlasAddon['adam']>;

function run(adam: AdamFn, ins: Float32Array[], outs: Float32Array[], a: SaeAdamUpdateAttrs): void {
  adam(
    ins[0]!, ins[1]!, ins[2]!, ins[3]!, outs[0]!, outs[1]!, outs[2]!,
    a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2,
    Math.sqrt(1 - a.beta2 ** a.step), a.eps, -(a.lr / (1 - a.beta1 ** a.step)),
  );
}

/** The kernel for `kind`, or null when the addon has no `adam` (built before it). */
export function makeAdamKernel(addon: BlasAddon, kind: BlasBackendKind): tf.KernelConfig | null {
  const adamFn = addon.adam?.bind(addon);
  if (!adamFn) return null;
  const names = ['param', 'm', 'v', 'grad'];
  const kernelFunc = nativeKernel(kind, names, (inputs) => {
    inputs.forEach((t, i) => {
      if (t.dtype !== 'float32') throw new ShapeError(`SaeAdamUpdate: ${names[i]} must be float32, got ${t.dtype}`);
    });
    const shape = inputs[0]!.shape;
    inputs.forEach((t, i) => {
      if (!tf.util.arraysEqual(t.shape, shape)) {
        throw new ShapeError(`SaeAdamUpdate: ${names[i]} has shape [${t.shape}], param has [${shape}]`);
      }
    });
    return [0, 1, 2].map(() => ({ shape, dtype: 'float32' as const }));
  }, (ins, outs, _, attrs) => run(adamFn, ins as Float32Array[], outs as Float32Array[], attrs as unknown as SaeAdamUpdateAttrs));
  return { kernelName: SaeAdamUpdate, backendName: kind, kernelFunc };
}
