/**
 * SaeReluGrad: dx = y > 0 ? dy : 0 from the relu's output y, one native pass (the addon's
 * `reluGrad`) for the wasm and cpu backends. tfjs's own Relu gradient is step(x) → cast →
 * multiply: three [batch, d_sae] allocations and passes where this is one (ops/reluTrain.ts).
 * Exact: each output is dy or 0, as the stock gradient's dy·1 or dy·0 (but −0 where dy < 0 and
 * y ≤ 0, which is +0 here: the same value to any sum).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas.js';
import { ShapeError } from '../../errors.js';
import { SaeReluGrad } from '../kernelNames.js';
import { nativeKernel, type BlasBackendKind } from './inPlace.js';

export function makeReluGradKernel(addon: BlasAddon, kind: BlasBackendKind): tf.KernelConfig {
  const reluGrad = addon.reluGrad.bind(addon);
  const kernelFunc = nativeKernel(kind, ['dy', 'y'], ([dy, y]) => {
    if (dy!.dtype !== 'float32' || y!.dtype !== 'float32') throw new ShapeError(`SaeReluGrad: dy and y must be float32, got ${dy!.dtype} and ${y!.dtype}`);
    if (!tf.util.arraysEqual(dy!.shape, y!.shape)) {
      throw new ShapeError(`SaeReluGrad: dy has shape [${dy!.shape}], y has [${y!.shape}]`);
    }
    return [{ shape: y!.shape, dtype: 'float32' }];
  }, (ins, outs) => reluGrad(ins[0] as Float32Array, ins[1] as Float32Array, outs[0] as Float32Array));
  return { kernelName: SaeReluGrad, backendName: kind, kernelFunc };
}
