/**
 * The TopK-family step's native kernels (native/topk_kernels.cc) as tfjs kernels for the wasm
 * and cpu backends, reading inputs and writing outputs in place (inPlace.ts). Not
 * differentiable: src/sae/topkSparse.ts composes them inside custom gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas.js';
import { ShapeError } from '../../errors.js';
import { nativeKernel, type BlasBackendKind, type Info, type View } from './inPlace.js';
import { SaeSddmmCsr, SaeTopKSelect, type SaeTopKSelectAttrs } from '../kernelNames.js';

function dims2(t: Info, what: string): [number, number] {
  if (t.shape.length !== 2) throw new ShapeError(`${what} must be 2-D, got shape [${t.shape}]`);
  return [t.shape[0]!, t.shape[1]!];
}

const f32 = (v: View) => v as Float32Array;
const i32 = (v: View) => v as Int32Array;

/** The kernels' configs for `kind`, or [] when the addon predates them. */
export function makeTopkKernels(addon: BlasAddon, kind: BlasBackendKind): tf.KernelConfig[] {
  const select = addon.topkSelect?.bind(addon);
  const sddmm = addon.sddmmCsr?.bind(addon);
  if (!select || !sddmm) return [];
  const k = (kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelConfig => ({ kernelName, backendName: kind, kernelFunc });
  return [
    // x [rows, dIn], wEnc [dIn, dSae], bEnc [dSae], scale [dSae] or [0], dead int32 [numDead]
    // → rowPtr int32 [rows+1], colIdx int32 [cap], vals [cap], auxCol int32 [rows·kAux], auxVal [rows·kAux]
    k(SaeTopKSelect, nativeKernel(kind, ['x', 'wEnc', 'bEnc', 'scale', 'dead'], ([x, w, b, s, d], at) => {
      const a = at as unknown as SaeTopKSelectAttrs;
      const [rows, dIn] = dims2(x!, 'topkSelect: x');
      const [dIn2, dSae] = dims2(w!, 'topkSelect: wEnc');
      if (dIn !== dIn2) throw new ShapeError(`topkSelect: x [${x!.shape}] and wEnc [${w!.shape}] differ in d_in`);
      if (b!.shape.length !== 1 || b!.shape[0] !== dSae) throw new ShapeError(`topkSelect: bEnc must be [${dSae}], got [${b!.shape}]`);
      if (s!.shape.length !== 1 || (s!.shape[0] !== dSae && s!.shape[0] !== 0)) throw new ShapeError(`topkSelect: scale must be [${dSae}] or [0], got [${s!.shape}]`);
      if (d!.dtype !== 'int32') throw new ShapeError(`topkSelect: dead must be int32, got ${d!.dtype}`);
      return [
        { shape: [rows + 1], dtype: 'int32' }, { shape: [a.cap], dtype: 'int32' }, { shape: [a.cap], dtype: 'float32' },
        { shape: [rows * a.kAux], dtype: 'int32' }, { shape: [rows * a.kAux], dtype: 'float32' },
      ];
    }, ([x, w, b, s, d], [rp, ci, v, ac, av], [xi, wi], at) => {
      const a = at as unknown as SaeTopKSelectAttrs;
      select(f32(x!), f32(w!), f32(b!), f32(s!), xi!.shape[0]!, xi!.shape[1]!, wi!.shape[1]!, a.k, a.total, i32(d!), a.kAux,
        i32(rp!), i32(ci!), f32(v!), i32(ac!), f32(av!));
    })),
    // rowPtr, colIdx [cap], a [rows, n], w [k, n] → [cap]
    k(SaeSddmmCsr, nativeKernel(kind, ['rowPtr', 'colIdx', 'a', 'w'], ([rp, ci, a, w]) => {
      const [rows, n] = dims2(a!, 'sddmmCsr: a');
      const [, n2] = dims2(w!, 'sddmmCsr: w');
      if (n !== n2) throw new ShapeError(`sddmmCsr: a [${a!.shape}] and w [${w!.shape}] differ in their last dimension`);
      if (rp!.shape[0] !== rows + 1) throw new ShapeError(`sddmmCsr: a has ${rows} rows, rowPtr ${rp!.shape[0]! - 1}`);
      return [{ shape: [ci!.shape[0]!], dtype: 'float32' }];
    }, ([rp, ci, a, w], [out], [, , ai, wi]) => {
      sddmm(i32(rp!), i32(ci!), ai!.shape[0]!, wi!.shape[0]!, f32(a!), f32(w!), ai!.shape[1]!, f32(out!));
    })),
  ];
}
