/**
 * tfjs kernels over the addon's sparse routines (native/sae_rx_blas.cc) for the wasm and cpu
 * backends: CSR construction from a dense matrix, CSR·dense, CSRᵀ·dense, the dense product
 * sampled at the CSR pattern, and a 2-D transpose. Inputs and outputs are read and written in
 * place (wasm heap views / cpu backend arrays: inPlace.ts nativeKernel). Not differentiable:
 * src/sae/sparse.ts composes them inside custom gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas.js';
import { ShapeError } from '../../errors.js';
import { nativeKernel, type BlasBackendKind, type Info, type View } from './inPlace.js';
import { SaeCsrCount, SaeCsrFill, SaeSddmm, SaeSpmm, SaeSpmmT, SaeTranspose2D } from '../kernelNames.js';

function dims2(t: Info, what: string): [number, number] {
  if (t.shape.length !== 2) throw new ShapeError(`${what} must be 2-D, got shape [${t.shape}]`);
  return [t.shape[0]!, t.shape[1]!];
}

const f32 = (v: View) => v as Float32Array;
const i32 = (v: View) => v as Int32Array;

/** The sparse kernels' configs for `backend` (registered by register.ts when the addon loads). */
export function makeSparseKernels(addon: BlasAddon, kind: BlasBackendKind): tf.KernelConfig[] {
  const k = (kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelConfig => ({ kernelName, backendName: kind, kernelFunc });
  return [
    // a [rows, cols] → rowPtr int32 [rows + 1]
    k(SaeCsrCount, nativeKernel(kind, ['a'], ([a]) => [{ shape: [a!.shape[0]! + 1], dtype: 'int32' }], ([a], [rp], [ai]) => {
      const [rows, cols] = dims2(ai!, 'csrCount: a');
      addon.csrCount(f32(a!), rows, cols, i32(rp!));
    })),
    // a, rowPtr; attrs.nnz → colIdx int32 [nnz], vals float32 [nnz]
    k(SaeCsrFill, nativeKernel(kind, ['a', 'rowPtr'], (_, at) => [
      { shape: [at['nnz'] as number], dtype: 'int32' }, { shape: [at['nnz'] as number], dtype: 'float32' },
    ], ([a, rp], [ci, vals], [ai]) => {
      const [rows, cols] = dims2(ai!, 'csrFill: a');
      addon.csrFill(f32(a!), rows, cols, i32(rp!), i32(ci!), f32(vals!));
    })),
    // rowPtr, colIdx, vals, w [k, n] → [rows, n]
    k(SaeSpmm, nativeKernel(kind, ['rowPtr', 'colIdx', 'vals', 'w'], ([rp, , , w]) => [
      { shape: [rp!.shape[0]! - 1, w!.shape[1]!], dtype: 'float32' },
    ], ([rp, ci, vals, w], [out], [rpi, , , wi]) => {
      const [kk, n] = dims2(wi!, 'spmm: w');
      addon.spmm(i32(rp!), i32(ci!), f32(vals!), rpi!.shape[0]! - 1, kk, f32(w!), n, f32(out!));
    })),
    // rowPtr, colIdx, vals, x [rows, n]; attrs.k → [k, n]
    k(SaeSpmmT, nativeKernel(kind, ['rowPtr', 'colIdx', 'vals', 'x'], ([, , , x], at) => [
      { shape: [at['k'] as number, x!.shape[1]!], dtype: 'float32' },
    ], ([rp, ci, vals, x], [out], [rpi, , , xi], at) => {
      const [rows, n] = dims2(xi!, 'spmmT: x');
      if (rows !== rpi!.shape[0]! - 1) throw new ShapeError(`spmmT: x has ${rows} rows, the CSR matrix ${rpi!.shape[0]! - 1}`);
      addon.spmmT(i32(rp!), i32(ci!), f32(vals!), rows, at['k'] as number, f32(x!), n, f32(out!));
    })),
    // rowPtr, colIdx, a [rows, n], w [k, n] → [rows, k]
    k(SaeSddmm, nativeKernel(kind, ['rowPtr', 'colIdx', 'a', 'w'], ([, , a, w]) => [
      { shape: [a!.shape[0]!, w!.shape[0]!], dtype: 'float32' },
    ], ([rp, ci, a, w], [out], [, , ai, wi]) => {
      const [rows, n] = dims2(ai!, 'sddmm: a');
      const [kk, n2] = dims2(wi!, 'sddmm: w');
      if (n !== n2) throw new ShapeError(`sddmm: a [${ai!.shape}] and w [${wi!.shape}] differ in their last dimension`);
      addon.sddmm(i32(rp!), i32(ci!), rows, kk, f32(a!), f32(w!), n, f32(out!));
    })),
    // src [rows, cols] → [cols, rows]
    k(SaeTranspose2D, nativeKernel(kind, ['x'], ([x]) => [{ shape: [x!.shape[1]!, x!.shape[0]!], dtype: 'float32' }], ([x], [out], [xi]) => {
      const [rows, cols] = dims2(xi!, 'transpose2d: x');
      addon.transpose(f32(x!), rows, cols, f32(out!));
    })),
  ];
}
