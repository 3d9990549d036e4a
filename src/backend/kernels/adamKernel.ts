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
import { cpuView, type BlasBackendKind, type CpuBackendLike, type Info, type WasmBackendLike } from './inPlace.js';

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
  const kernelFunc: tf.KernelFunc = (args) => {
    const named = args.inputs as Record<string, Info>;
    const inputs = (['param', 'm', 'v', 'grad'] as const).map((k) => {
      const t = named[k]!;
      if (t.dtype !== 'float32') throw new ShapeError(`SaeAdamUpdate: ${k} must be float32, got ${t.dtype}`);
      return t;
    });
    const shape = inputs[0]!.shape;
    inputs.forEach((t, i) => {
      if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
        throw new ShapeError(`SaeAdamUpdate: ${['param', 'm', 'v', 'grad'][i]} has shape [${t.shape}], param has [${shape}]`);
      }
    });
    const attrs = args.attrs as unknown as SaeAdamUpdateAttrs;
    if (kind === 'wasm') {
      const backend = args.backend as WasmBackendLike;
      // allocate before taking views: allocation may grow the heap and detach older views
      const outs = [0, 1, 2].map(() => backend.makeOutput(shape, 'float32'));
      const view = (t: Info) => backend.typedArrayFromHeap(t) as Float32Array;
      run(adamFn, inputs.map(view), outs.map(view), attrs);
      return outs;
    }
    const backend = args.backend as CpuBackendLike;
    const size = shape.reduce((s, d) => s * d, 1);
    const outs = [0, 1, 2].map(() => new Float32Array(size));
    run(adamFn, inputs.map((t) => cpuView(backend, t) as Float32Array), outs, attrs);
    return outs.map((vals) => backend.makeTensorInfo(shape, 'float32', vals));
  };
  return { kernelName: SaeAdamUpdate, backendName: kind, kernelFunc };
}
