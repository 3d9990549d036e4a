/**
 * Wrappers of the TopK-family step's native kernels (kernels/topkKernels.ts) and of the sparse
 * products it reuses (kernels/sparseKernels.ts), on an index whose values are a separate tensor:
 * `CsrIndex` (rowPtr, colIdx) with `cap` ≥ nnz stored entries (the tail is zero and ignored).
 * Native only (`topkKernelsAvailable()`); not differentiable (src/sae/topkSparse.ts adds the
 * gradients).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import { SaeSddmmCsr, SaeSpmm, SaeSpmmT, SaeTopKSelect, type SaeTopKSelectAttrs } from '../kernelNames.js';
import { hasSaeKernel } from '../register.js';

/** The sparsity pattern of a [rows, cols] matrix, compressed by row; values live beside it. */
export interface CsrIndex {
  readonly rows: number;
  readonly cols: number;
  /** Stored entries (rowPtr[rows]); colIdx and the values have `cap` ≥ nnz entries. */
  readonly nnz: number;
  /** int32 [rows + 1] */
  readonly rowPtr: tf.Tensor1D;
  /** int32 [cap], sorted within each row; zero past nnz */
  readonly colIdx: tf.Tensor1D;
}

/** What topkSelect keeps: the active latents and, when asked, AuxK's dead candidates. */
export interface TopKSelection {
  readonly index: CsrIndex;
  /** x·W_enc + b_enc at the index's entries, float32 [cap] (zero past nnz). */
  readonly pre: tf.Tensor1D;
  /** kAux entries per row (null when kAux = 0). */
  readonly aux: { readonly index: CsrIndex; readonly pre: tf.Tensor1D } | null;
}

export interface TopKSelectOptions {
  /** TopK: latents per row. BatchTopK: the mean per row (the batch keeps floor(k·rows)). */
  k: number;
  /** BatchTopK: one selection over the whole batch. */
  batch?: boolean;
  /** Scores are pre·scale (the decoder row norms under rescale_acts_by_decoder_norm); null = pre. */
  scale: tf.Tensor1D | null;
  /** Dead latents, candidates of AuxK. */
  dead?: Int32Array;
  /** AuxK's latents per row among `dead` (≤ dead.length); 0 = none. */
  kAux?: number;
}

/** Whether the TopK-family kernels run on the current backend. */
export function topkKernelsAvailable(): boolean {
  return hasSaeKernel(SaeTopKSelect) && hasSaeKernel(SaeSpmm);
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}) =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap);

/**
 * The latents a TopK (per row) or BatchTopK (per batch) activation keeps for the encoder input
 * x [rows, dIn] (x − b_dec when b_dec applies), with their pre-activations; entries whose score
 * is not positive are left out (the ReLU after the selection makes them zero). BatchTopK first
 * takes 4·k candidates per row and rescans rows that may hold more.
 */
export function topkSelect(x: tf.Tensor2D, wEnc: tf.Tensor2D, bEnc: tf.Tensor1D, o: TopKSelectOptions): TopKSelection {
  const [rows, dIn] = x.shape;
  const dSae = wEnc.shape[1];
  if (wEnc.shape[0] !== dIn) throw new ShapeError(`topkSelect: x is [${x.shape}], wEnc [${wEnc.shape}]`);
  if (!(o.k > 0)) throw new ShapeError(`topkSelect: k must be > 0, got ${o.k}`);
  const kAux = o.kAux ?? 0;
  const dead = o.dead ?? new Int32Array(0);
  if (!(Number.isInteger(kAux) && kAux >= 0 && kAux <= dead.length)) {
    throw new ShapeError(`topkSelect: kAux ${kAux} must be an integer in [0, ${dead.length}] (the dead latents)`);
  }
  let attrs: SaeTopKSelectAttrs;
  if (o.batch) {
    const total = Math.floor(o.k * rows);
    attrs = { k: Math.min(dSae, Math.max(4 * Math.ceil(o.k), 64)), total: Math.max(total, 0), kAux, cap: Math.max(total, 1) };
    if (total === 0) throw new ShapeError(`topkSelect: BatchTopK keeps floor(k·rows) = 0 latents (k ${o.k}, ${rows} rows)`);
  } else {
    if (!Number.isInteger(o.k)) throw new ShapeError(`topkSelect: TopK's k must be an integer, got ${o.k}`);
    const k = Math.min(o.k, dSae);
    attrs = { k, total: 0, kAux, cap: Math.max(1, rows * k) };
  }
  const [rowPtr, colIdx, pre, auxCol, auxPre] = tf.tidy(() => {
    const scale = o.scale ?? tf.zeros([0]);
    const deadT = tf.tensor1d(dead, 'int32');
    return run(SaeTopKSelect, { x, wEnc, bEnc, scale, dead: deadT }, attrs as unknown as Record<string, number>) as tf.Tensor1D[];
  }) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
  const nnz = (rowPtr.dataSync() as Int32Array)[rows]!;
  const index: CsrIndex = { rows, cols: dSae, nnz, rowPtr, colIdx };
  if (kAux === 0) {
    tf.dispose([auxCol, auxPre]);
    return { index, pre, aux: null };
  }
  const auxPtr = tf.tensor1d(Int32Array.from({ length: rows + 1 }, (_, r) => r * kAux), 'int32');
  return { index, pre, aux: { index: { rows, cols: dSae, nnz: rows * kAux, rowPtr: auxPtr, colIdx: auxCol }, pre: auxPre } };
}

/** Frees a selection's tensors. */
export function disposeSelection(s: TopKSelection): void {
  tf.dispose([s.index.rowPtr, s.index.colIdx, s.pre]);
  if (s.aux) tf.dispose([s.aux.index.rowPtr, s.aux.index.colIdx, s.aux.pre]);
}

/** A·w for A = (ix, vals) [rows, cols], w [cols, n] → [rows, n]: per row the sum of its entries' rows of w. */
export function csrGatherSum(ix: CsrIndex, vals: tf.Tensor1D, w: tf.Tensor2D): tf.Tensor2D {
  if (w.shape[0] !== ix.cols) throw new ShapeError(`csrGatherSum: the index has ${ix.cols} columns, w is [${w.shape}]`);
  return run(SaeSpmm, { rowPtr: ix.rowPtr, colIdx: ix.colIdx, vals, w }) as tf.Tensor2D;
}

/** Aᵀ·x for A = (ix, vals) [rows, cols], x [rows, n] → [cols, n] (rows of A's unused columns are 0). */
export function csrScatterT(ix: CsrIndex, vals: tf.Tensor1D, x: tf.Tensor2D): tf.Tensor2D {
  if (x.shape[0] !== ix.rows) throw new ShapeError(`csrScatterT: the index has ${ix.rows} rows, x is [${x.shape}]`);
  return run(SaeSpmmT, { rowPtr: ix.rowPtr, colIdx: ix.colIdx, vals, x }, { k: ix.cols }) as tf.Tensor2D;
}

/** ⟨a[r], w[col]⟩ at each stored entry (r, col) of ix: a [rows, n], w [cols, n] → [cap]. */
export function csrSampledDot(ix: CsrIndex, a: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor1D {
  if (a.shape[0] !== ix.rows || w.shape[0] !== ix.cols || a.shape[1] !== w.shape[1]) {
    throw new ShapeError(`csrSampledDot: the index is [${ix.rows}, ${ix.cols}], a [${a.shape}], w [${w.shape}]`);
  }
  return run(SaeSddmmCsr, { rowPtr: ix.rowPtr, colIdx: ix.colIdx, a, w }) as tf.Tensor1D;
}
