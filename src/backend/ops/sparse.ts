/**
 * Sparse products for the SAE step (src/sae/sparse.ts). A sparse operand is a dense [rows, cols]
 * float32 tensor with few nonzeros (relu output, masked gradients); `csrFromDense` indexes its
 * nonzeros, the other ops multiply through the index in O(nnz·n). They run on the addon's
 * kernels (kernels/sparseKernels.ts) where `sparseKernelsAvailable()`, and otherwise on dense
 * tfjs products with the same results (up to float32 summation order). Not differentiable.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import { SaeCsrCount, SaeCsrFill, SaeSddmm, SaeSpmm, SaeSpmmT, SaeTranspose2D } from '../kernelNames.js';
import { hasSaeKernel } from '../register.js';
import { saeMatMul } from './saeMatMul.js';

/** The nonzeros of a dense [rows, cols] matrix, compressed by row. */
export interface Csr {
  readonly rows: number;
  readonly cols: number;
  readonly nnz: number;
  /** int32 [rows + 1] (native) */
  readonly rowPtr: tf.Tensor1D;
  /** int32 [nnz] (native) */
  readonly colIdx: tf.Tensor1D;
  /** float32 [nnz] (native) */
  readonly vals: tf.Tensor1D;
  /** The dense matrix itself: the fallback computes with it (native kernels never read it). */
  readonly dense: tf.Tensor2D;
  /** Whether the index exists (native kernels); false: only `dense` and `nnz` are meaningful. */
  readonly native: boolean;
}

/** Whether the native sparse kernels run on the current backend. */
export function sparseKernelsAvailable(): boolean {
  return hasSaeKernel(SaeSpmm);
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}) =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap);

function check2d(t: tf.Tensor, what: string): void {
  if (t.rank !== 2 || t.dtype !== 'float32') throw new ShapeError(`${what} must be a 2-D float32 tensor, got ${t.dtype} [${t.shape}]`);
}

/** Counts a's nonzeros per row (rowPtr int32 [rows + 1]) and the total; native only. */
export function csrCount(a: tf.Tensor2D): { rowPtr: tf.Tensor1D; nnz: number } {
  check2d(a, 'csrCount: a');
  const rowPtr = run(SaeCsrCount, { a }) as tf.Tensor1D;
  const nnz = (rowPtr.dataSync() as Int32Array)[a.shape[0]]!;
  return { rowPtr, nnz };
}

/**
 * The CSR index of a (rowPtr from csrCount when already counted). Without native kernels only
 * `nnz` is computed (a tfjs count) and `native` is false.
 */
export function csrFromDense(a: tf.Tensor2D, counted?: { rowPtr: tf.Tensor1D; nnz: number }): Csr {
  check2d(a, 'csrFromDense: a');
  const [rows, cols] = a.shape;
  if (!sparseKernelsAvailable()) {
    const nnz = tf.tidy(() => tf.sum(tf.cast(tf.notEqual(a, 0), 'int32')).dataSync()[0]!);
    const empty = tf.tensor1d([], 'int32');
    return { rows, cols, nnz, rowPtr: empty, colIdx: empty, vals: tf.tensor1d([], 'float32'), dense: a, native: false };
  }
  const { rowPtr, nnz } = counted ?? csrCount(a);
  const [colIdx, vals] = run(SaeCsrFill, { a, rowPtr }, { nnz }) as [tf.Tensor1D, tf.Tensor1D];
  return { rows, cols, nnz, rowPtr, colIdx, vals, dense: a, native: true };
}

/** A·w, A [rows, k] sparse, w [k, n]. */
export function csrSpmm(A: Csr, w: tf.Tensor2D): tf.Tensor2D {
  check2d(w, 'csrSpmm: w');
  if (w.shape[0] !== A.cols) throw new ShapeError(`csrSpmm: A is [${A.rows}, ${A.cols}], w is [${w.shape}]`);
  if (!A.native) return saeMatMul(A.dense, w) as tf.Tensor2D;
  return run(SaeSpmm, { rowPtr: A.rowPtr, colIdx: A.colIdx, vals: A.vals, w }) as tf.Tensor2D;
}

/** Aᵀ·x, A [rows, k] sparse, x [rows, n] → [k, n]. */
export function csrSpmmT(A: Csr, x: tf.Tensor2D): tf.Tensor2D {
  check2d(x, 'csrSpmmT: x');
  if (x.shape[0] !== A.rows) throw new ShapeError(`csrSpmmT: A is [${A.rows}, ${A.cols}], x is [${x.shape}]`);
  if (!A.native) return saeMatMul(A.dense, x, true, false) as tf.Tensor2D;
  return run(SaeSpmmT, { rowPtr: A.rowPtr, colIdx: A.colIdx, vals: A.vals, x }, { k: A.cols }) as tf.Tensor2D;
}

/** (a·wᵀ) where A is nonzero, 0 elsewhere: a [rows, n], w [k, n] → [rows, k]. */
export function csrSddmm(A: Csr, a: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  check2d(a, 'csrSddmm: a');
  check2d(w, 'csrSddmm: w');
  if (a.shape[0] !== A.rows || w.shape[0] !== A.cols || a.shape[1] !== w.shape[1]) {
    throw new ShapeError(`csrSddmm: A is [${A.rows}, ${A.cols}], a [${a.shape}], w [${w.shape}]`);
  }
  if (!A.native) {
    return tf.tidy(() => tf.where(tf.notEqual(A.dense, 0), saeMatMul(a, w, false, true), tf.zerosLike(A.dense)) as tf.Tensor2D);
  }
  return run(SaeSddmm, { rowPtr: A.rowPtr, colIdx: A.colIdx, a, w }) as tf.Tensor2D;
}

/** xᵀ for a 2-D float32 x (native tiled transpose when available). */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  check2d(x, 'transpose2d: x');
  if (!sparseKernelsAvailable()) return tf.transpose(x);
  return run(SaeTranspose2D, { x }) as tf.Tensor2D;
}

/** Frees the index (not `dense`, which belongs to the caller). */
export function disposeCsr(A: Csr): void {
  tf.dispose([A.rowPtr, A.colIdx, A.vals]);
}
