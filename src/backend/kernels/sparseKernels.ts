/**
 * tfjs kernels over the addon's sparse routines (native/sae_rx_blas.cc) for the wasm and cpu
 * backends: CSR construction from a dense matrix, CSR·dense, CSRᵀ·dense, the dense product
 * sampled at the CSR pattern, and a 2-D transpose. Inputs and outputs are read and written in
 * place (wasm heap views / cpu backend arrays: inPlace.ts nativeKernel); shapes are checked
 * before the outputs are allocated. Not differentiable:
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
    k(SaeCsrCount, nativeKernel(kind, ['a'], ([a]) => [{ shape: [dims2(a!, 'csrCount: a')[0] + 1], dtype: 'int32' }], ([a], [rp], [ai]) => {
      addon.csrCount(f32(a!), ai!.shape[0]!, ai!.shape[1]!, i32(rp!));
    })),
    // a, rowPtr; attrs.nnz → colIdx int32 [nnz], vals float32 [nnz]
    k(SaeCsrFill, nativeKernel(kind, ['a', 'rowPtr'], ([a], at) => {
      dims2(a!, 'csrFill: a');
      return [{ shape: [at['nnz'] as number], dtype: 'int32' }, { shape: [at['nnz'] as number], dtype: 'float32' }];
    }, ([a, rp], [ci, vals], [ai]) => {
      addon.csrFill(f32(a!), ai!.shape[0]!, ai!.shape[1]!, i32(rp!), i32(ci!), f32(vals!));
    })),
    // rowPtr, colIdx, vals, w [k, n] → [rows, n]
    k(SaeSpmm, nativeKernel(kind, ['rowPtr', 'colIdx', 'vals', 'w'], ([rp, , , w]) => [
      { shape: [rp!.shape[0]! - 1, dims2(w!, 'spmm: w')[1]], dtype: 'float32' },
    ], ([rp, ci, vals, w], [out], [rpi, , , wi]) => {
      addon.spmm(i32(rp!), i32(ci!), f32(vals!), rpi!.shape[0]! - 1, wi!.shape[0]!, f32(w!), wi!.shape[1]!, f32(out!));
    })),
    // rowPtr, colIdx, vals, x [rows, n]; attrs.k → [k, n]
    k(SaeSpmmT, nativeKernel(kind, ['rowPtr', 'colIdx', 'vals', 'x'], ([rp, , , x], at) => {
      const [rows, n] = dims2(x!, 'spmmT: x');
      if (rows !== rp!.shape[0]! - 1) throw new ShapeError(`spmmT: x has ${rows} rows, the CSR matrix ${rp!.shape[0]! - 1}`);
      return [{ shape: [at['k'] as number, n], dtype: 'float32' }];
    }, ([rp, ci, vals, x], [out], [, , , xi], at) => {
      addon.spmmT(i32(rp!), i32(ci!), f32(vals!), xi!.shape[0]!, at['k'] as number, f32(x!), xi!.shape[1]!, f32(out!));
    })),
    // rowPtr, colIdx, a [rows, n], w [k, n] → [rows, k]
    k(SaeSddmm, nativeKernel(kind, ['rowPtr', 'colIdx', 'a', 'w'], ([, , a, w]) => {
      const [rows, n] = dims2(a!, 'sddmm: a');
      const [kk, n2] = dims2(w!, 'sddmm: w');
      if (n !== n2) throw new ShapeError(`sddmm: a [${a!.shape}] and w [${w!.shape}] differ in their last dimension`);
      return [{ shape: [rows, kk], dtype: 'float32' }];
    }, ([rp, ci, a, w], [out], [, , ai, wi]) => {
      addon.sddmm(i32(rp!), i32(ci!), ai!.shape[0]!, wi!.shape[0]!, f32(a!), f32(w!), ai!.shape[1]!, f32(out!));
    })),
    // src [rows, cols] → [cols, rows]
    k(SaeTranspose2D, nativeKernel(kind, ['x'], ([x]) => {
      const [rows, cols] = dims2(x!, 'transpose2d: x');
      return [{ shape: [cols, rows], dtype: 'float32' }];
    }, ([x], [out], [xi]) => {
      addon.transpose(f32(x!), xi!.shape[0]!, xi!.shape[1]!, f32(out!));
    })),
  ];
}
