/**
 * Differentiable building blocks of the SAE with hand-written gradients.
 *
 * - `mm`: the SAE's matMul. tfjs's own matMul gradient calls matMul with transposeA/transposeB,
 *   which on the wasm backend falls back to a naive kernel (DESIGN.md §4: 10–40× slower). By
 *   default `mm` is the backend's `saeMatMul` (OpenBLAS when built, else explicit transposes
 *   into the fast wasm kernel, forward and backward); 'customGrad' is a tf.customGrad whose
 *   backward transposes explicitly then runs plain matMul; 'tfjs' is plain tf.matMul with its
 *   stock gradient. The last two exist for bench/trainStep.ts to measure the difference.
 * - `stopGradient`: tfjs-core has none; SAELens's `.detach()` calls map onto it.
 * - `lpNorm`: ‖·‖_p over the last axis with torch's subgradient (0 where the norm is 0), where
 *   tfjs's sqrt/pow gradients would give NaN for an all-zero row of feature activations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { saeMatMul } from '../backend/index.js';

type Arg = tf.Tensor | tf.GradSaveFunc;

export type SaeMatMulImpl = 'saeMatMul' | 'customGrad' | 'tfjs';
let impl: SaeMatMulImpl = 'saeMatMul';

/** Chooses the matMul the SAE's forward/backward use (benchmarks); returns the previous one. */
export function setSaeMatMulImpl(next: SaeMatMulImpl): SaeMatMulImpl {
  const prev = impl;
  impl = next;
  return prev;
}

/** The matMul implementation `mm` uses now. */
export function saeMatMulImpl(): SaeMatMulImpl {
  return impl;
}

/** a @ b for 2-D tensors, with a gradient free of transposed-matMul slow paths (see above). */
export function mm(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (impl === 'saeMatMul') return saeMatMul(a, b) as tf.Tensor2D;
  if (impl === 'tfjs') return tf.matMul(a, b);
  return mmCustomGrad(a, b);
}

function mmCustomGrad(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: Arg[]) => {
    const [x, y, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, y]);
    return {
      value: tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        const d = dy as tf.Tensor2D;
        return [tf.matMul(d, tf.transpose(ys)), tf.matMul(tf.transpose(xs), d)];
      },
    };
  });
  return f(a, b) as tf.Tensor2D;
}

/**
 * Column sums of a 2-D tensor as a [1, rows]·[rows, cols] product: tfjs-backend-wasm reduces
 * over axis 0 by transposing first (~150 ms for a [4096, 4096] batch of activations), the
 * product takes a few ms on BLAS. Sums of 0/1 entries (firing counts) stay exact below 2^24.
 */
export function colSum(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.reshape(saeMatMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]]) as tf.Tensor1D);
}

/** Identity forward, zero gradient (torch's `.detach()`). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Arg[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}

/**
 * ‖x‖_p over the last axis of a 2-D tensor, as torch's `x.norm(p=p, dim=-1)`.
 * p = 1: Σ|x| (gradient sign(x), 0 at 0); p = 2 and others: (Σ|x|^p)^(1/p) with gradient
 * x·|x|^(p−2) / ‖x‖^(p−1), taken as 0 on rows whose norm is 0 (torch's convention).
 */
export function lpNorm(x: tf.Tensor2D, p: number): tf.Tensor1D {
  if (p === 1) {
    const f = tf.customGrad((...args: Arg[]) => {
      const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([a]);
      return {
        value: tf.sum(tf.abs(a), -1),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.mul(tf.expandDims(dy, -1), tf.sign(saved[0]!)),
      };
    });
    return f(x) as tf.Tensor1D;
  }
  const f = tf.customGrad((...args: Arg[]) => {
    const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const norm =
      p === 2 ? tf.sqrt(tf.sum(tf.square(a), -1)) : tf.pow(tf.sum(tf.pow(tf.abs(a), p), -1), 1 / p);
    save([a, norm]);
    return {
      value: tf.clone(norm),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, n] = saved as [tf.Tensor2D, tf.Tensor1D];
        const safeN = tf.where(tf.greater(n, 0), n, tf.onesLike(n));
        const scale = tf.where(tf.greater(n, 0), tf.div(dy, tf.pow(safeN, p - 1)), tf.zerosLike(n));
        const g =
          p === 2 ? xs : tf.mul(tf.sign(xs), tf.pow(tf.abs(xs), p - 1));
        return tf.mul(g, tf.expandDims(scale, -1));
      },
    };
  });
  return f(x) as tf.Tensor1D;
}

/** Row L2 norms of a 2-D tensor (no zero rows expected: decoder rows). */
export function rowNorms(x: tf.Tensor2D): tf.Tensor1D {
  return tf.sqrt(tf.sum(tf.square(x), 1)) as tf.Tensor1D;
}

/**
 * x[idx, :] for distinct row indices, with a gradient that scatters back with ScatterNd
 * (tfjs's own gather gradient needs UnsortedSegmentSum, which the wasm backend lacks).
 */
export function gatherRows(x: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((...args: Arg[]) => {
    const [a, i, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([i]);
    const shape = a.shape;
    return {
      value: tf.gather(a, i, 0),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const iSaved = saved[0]!;
        return [tf.scatterND(tf.expandDims(iSaved, 1), dy, shape), tf.zerosLike(iSaved)];
      },
    };
  });
  return f(x, idx) as tf.Tensor2D;
}

/** x[:, idx] for distinct column indices (see gatherRows). */
export function gatherCols(x: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor2D {
  return tf.transpose(gatherRows(tf.transpose(x), idx));
}
