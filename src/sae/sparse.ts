/**
 * The sparsity-aware SAE step. Feature activations f = act(h_pre) are sparse (a trained SAE
 * fires L0 ≲ 100 of d_sae thousands of features per token), so of the six products of a
 * training step only the encoder forward needs to be dense:
 *
 *   decoder forward   x̂ = f·W_dec          CSR(f)·W_dec                     (csrSpmm)
 *   feature gradient  df = dx̂·W_decᵀ       only where f ≠ 0                  (csrSddmm)
 *   decoder gradient  dW_dec = fᵀ·dx̂       CSR(f)ᵀ·dx̂                       (csrSpmmT)
 *   input gradient    dsae_in = dh·W_encᵀ  CSR(dh)·W_encᵀ                    (csrSpmm)
 *   encoder gradient  dW_enc = sae_inᵀ·dh  (CSR(dh)ᵀ·sae_in)ᵀ                (csrSpmmT)
 *
 * Why df is needed only where f ≠ 0: f = act(h) with act ∈ {relu, tanh∘relu}, so f = 0 exactly
 * where h ≤ 0, and there act'(h) = 0: whatever df holds at those entries is multiplied by 0 on
 * its way to h_pre (and a scaling factor's gradient Σ df·f gets 0 from them too). So the
 * parameter gradients are the dense path's, up to float32 summation order. dh = ∂loss/∂h_pre is
 * zero where act' is, except on the columns of dead features under ghost grads (exp(h_pre)):
 * the CSR index then simply holds those columns too.
 *
 * Modes (LossOptions.sparseStep, else setSparseStep / SAE_RX_SPARSE_STEP, default 'auto'):
 * 'never' the dense products; 'always' the sparse ones; 'auto' decides per product by the
 * measured density of the operand (nnz / (rows·cols) ≤ AUTO_MAX_DENSITY → sparse). Without the
 * native kernels 'auto' is dense and 'always' runs the same custom gradients on dense tfjs
 * products (ops/sparse.ts fallback), which tests use to check the wiring anywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import {
  csrCount, csrFromDense, csrSddmm, csrSpmm, csrSpmmT, disposeCsr, saeMatMul, sparseKernelsAvailable, transpose2d,
  type Csr,
} from '../backend/index.js';
import { colSum, mm, saeMatMulImpl } from './ops.js';
import { platform } from '../platform/index.js';

export type SparseStepMode = 'auto' | 'always' | 'never';

/**
 * 'auto' takes the sparse path when at most this fraction of the operand is nonzero. The sparse
 * kernels do O(nnz·d_in) work at ~5–15 GFLOP/s against OpenBLAS's ~100 for the dense
 * O(rows·d_sae·d_in); measured break-even on this machine sits near 5–10 %.
 */
export const AUTO_MAX_DENSITY = 0.05;

function parseMode(v: string | undefined, what: string): SparseStepMode | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'always' || v === 'never') return v;
  throw new ConfigError(`${what}: '${v}' is not one of auto, always, never`);
}

let defaultMode: SparseStepMode | undefined;

/** The mode used when LossOptions.sparseStep is not given. */
export function sparseStepMode(): SparseStepMode {
  defaultMode ??= parseMode(platform.env('SAE_RX_SPARSE_STEP'), 'SAE_RX_SPARSE_STEP') ?? 'auto';
  return defaultMode;
}

/** Sets the default sparse-step mode; returns the previous one. */
export function setSparseStep(mode: SparseStepMode): SparseStepMode {
  const prev = sparseStepMode();
  defaultMode = parseMode(mode, 'sparseStep')!;
  return prev;
}

type Arg = tf.Tensor | tf.GradSaveFunc;

/**
 * The CSR index of `a` for the sparse path, or null when the dense path should run ('auto' and
 * `a` too dense, or no native kernels under 'auto').
 */
function indexFor(a: tf.Tensor2D, mode: SparseStepMode): Csr | null {
  const limit = AUTO_MAX_DENSITY * a.shape[0] * a.shape[1];
  if (sparseKernelsAvailable()) {
    const counted = csrCount(a);
    if (mode === 'auto' && counted.nnz > limit) {
      counted.rowPtr.dispose();
      return null;
    }
    return csrFromDense(a, counted);
  }
  return mode === 'always' ? csrFromDense(a) : null;
}

/**
 * f·w for the activations f [batch, d_sae] (zero exactly where act' is zero, see above) and the
 * decoder w [d_sae, d_in]; the gradient for f is returned only at f's nonzeros.
 */
export function sparseDecodeMm(f: tf.Tensor2D, w: tf.Tensor2D, mode: SparseStepMode = sparseStepMode()): tf.Tensor2D {
  if (mode === 'never') return mm(f, w);
  const A = indexFor(f, mode);
  if (!A) return mm(f, w);
  const op = tf.customGrad((...args: Arg[]) => {
    const [fIn, wIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const idx: Csr = { ...A, dense: fIn };
    // The native kernels need only the index: saving f too would copy [batch, d_sae] (the
    // wasm Identity kernel copies) for nothing. The fallback computes with f itself.
    save(A.native ? [A.rowPtr, A.colIdx, A.vals, wIn] : [A.rowPtr, A.colIdx, A.vals, wIn, fIn]);
    return {
      value: csrSpmm(idx, wIn),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [rowPtr, colIdx, vals, ws, fs] = saved as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D | undefined];
        const S: Csr = { rows: A.rows, cols: A.cols, nnz: A.nnz, rowPtr, colIdx, vals, dense: fs ?? A.dense, native: A.native };
        const d = dy as tf.Tensor2D;
        return [csrSddmm(S, d, ws), csrSpmmT(S, d)];
      },
    };
  });
  try {
    return op(f, w) as tf.Tensor2D;
  } finally {
    disposeCsr(A);
  }
}

/**
 * The encoder's gradients from dh = d [batch, d_sae] (saved input xs, weights ws): dw = xsᵀ·dh
 * and db = Σ_batch dh (colSum), plus dx = dh·wsᵀ when `withInput`; through dh's CSR index when
 * indexFor says so, else dense.
 */
function encoderGrads(
  xs: tf.Tensor2D, ws: tf.Tensor2D, d: tf.Tensor2D, mode: SparseStepMode, withInput: boolean,
): { dx: tf.Tensor2D | null; dw: tf.Tensor2D; db: tf.Tensor1D } {
  const db = colSum(d);
  const A = mode === 'never' ? null : indexFor(d, mode);
  if (!A) return { dx: withInput ? saeMatMul(d, ws, false, true) : null, dw: saeMatMul(xs, d, true, false), db };
  try {
    // w's columns are the rows the sparse product gathers: transpose once (d_in·d_sae
    // copies, small next to the dense product it replaces).
    const dx = withInput ? csrSpmm(A, transpose2d(ws)) : null;
    return { dx, dw: transpose2d(csrSpmmT(A, xs)), db };
  } finally {
    disposeCsr(A);
  }
}

/**
 * x·w + b for the encoder (x [batch, d_in], w [d_in, d_sae], b [d_sae]): a dense forward, and
 * a backward that indexes the (sparse) pre-activation gradient dh and multiplies through it;
 * db = Σ_batch dh as a product (colSum), not an axis-0 reduction.
 */
export function sparseGradEncode(
  x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, mode: SparseStepMode = sparseStepMode(),
): tf.Tensor2D {
  // Dense products too go through the custom gradient below when mm is the default saeMatMul:
  // its bias gradient is a column sum as a product (colSum), where tfjs's Add gradient sums
  // over axis 0 (wasm transposes [batch, d_sae] first: ~0.35 s at 4096 × 12288).
  if (mode === 'never' && saeMatMulImpl() !== 'saeMatMul') return tf.add(mm(x, w), b) as tf.Tensor2D;
  const op = tf.customGrad((...args: Arg[]) => {
    const [xIn, wIn, bIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: tf.add(saeMatMul(xIn, wIn), bIn) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const { dx, dw, db } = encoderGrads(xs, ws, dy as tf.Tensor2D, mode, true);
        return [dx!, dw, db];
      },
    };
  });
  return op(x, w, b) as tf.Tensor2D;
}

/**
 * (x − bDec)·w + b for the encoder when x needs no gradient (the training batch): the same
 * forward as sparseGradEncode(x − bDec, …), but bDec's gradient is −(Σ_batch dh)·wᵀ, one
 * [1, d_sae]·[d_sae, d_in] product, where the chain through x − bDec computes the whole
 * [batch, d_in] input gradient dh·wᵀ (a full-size product) only to sum its rows.
 */
export function encodeConstantInput(
  x: tf.Tensor2D, bDec: tf.Tensor1D, w: tf.Tensor2D, b: tf.Tensor1D, mode: SparseStepMode = sparseStepMode(),
  /** x − bDec when the caller has it already (saves recomputing it; must be exactly that). */
  saeInGiven?: tf.Tensor2D,
): tf.Tensor2D {
  const op = tf.customGrad((...args: Arg[]) => {
    const [bDecIn, wIn, bIn, save] = args as [tf.Tensor1D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const saeIn = saeInGiven ?? (tf.sub(x, bDecIn) as tf.Tensor2D);
    save([saeIn, wIn]);
    return {
      value: tf.add(saeMatMul(saeIn, wIn), bIn) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const { dw, db } = encoderGrads(xs, ws, dy as tf.Tensor2D, mode, false);
        const dbDec = tf.neg(tf.reshape(saeMatMul(tf.reshape(db, [1, db.shape[0]]), ws, false, true), [ws.shape[0]]));
        return [dbDec, dw, db];
      },
    };
  });
  return op(bDec, w, b) as tf.Tensor2D;
}
