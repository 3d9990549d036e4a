/**
 * SaeMatMul's forward kernel when the BLAS addon is not in use: the backend's stock
 * BatchMatMul, fed operands it handles well and correctly.
 * - wasm (`explicitTranspose`): tfjs-backend-wasm 4.22 (src/cc/batch_mat_mul_impl.cc) takes its
 *   XNNPACK path only when neither operand is transposed and both batch sizes are 1; anything
 *   else runs a scalar blocked triple loop, 10–70× slower. So transposes are materialized with
 *   the Transpose kernel (memory-bound, cheap next to the product), and a's batch dims are
 *   folded into rows when b has none.
 * - all backends: the stock kernels map output batch i to operand batch i % batchSize, which
 *   is wrong for two-sided broadcasts such as [2,1,…]·[3,…]; such an operand is tiled first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { matMulGeometry } from './blasBatchMatMul.js';

type Info = tf.TensorInfo;

export interface StockSaeMatMulKernels {
  stock: tf.KernelFunc;
  tile: tf.KernelFunc;
  /** Given: transposes are materialized before the product (wasm). */
  transpose?: tf.KernelFunc;
}

const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);

export function makeStockSaeMatMul(k: StockSaeMatMulKernels): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean } | undefined;
    let ta = attrs?.transposeA ?? false, tb = attrs?.transposeB ?? false;
    const backend = args.backend as { disposeData(dataId: tf.DataId): unknown };
    const g = matMulGeometry(a.shape, b.shape, ta, tb);
    const temps: Info[] = [];
    const keep = (t: Info): Info => (temps.push(t), t);
    const broadcastIfNeeded = (t: Info): Info => {
      const batch = t.shape.slice(0, -2);
      if (prod(batch) === 1 || prod(batch) === g.batch) return t;
      const padded = [...new Array<number>(g.outerShape.length - batch.length).fill(1), ...batch];
      const reshaped: Info = { dataId: t.dataId, shape: [...padded, ...t.shape.slice(-2)], dtype: t.dtype };
      const reps = [...g.outerShape.map((d, i) => d / padded[i]!), 1, 1];
      return keep(k.tile({ inputs: { x: reshaped }, backend: args.backend, attrs: { reps } }) as Info);
    };
    const swapLast = (t: Info): Info => {
      const r = t.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      return keep(k.transpose!({ inputs: { x: t }, backend: args.backend, attrs: { perm } }) as Info);
    };
    try {
      let A = broadcastIfNeeded(a);
      let B = broadcastIfNeeded(b);
      if (k.transpose) {
        if (ta) (A = swapLast(A)), (ta = false);
        if (tb) (B = swapLast(B)), (tb = false);
      }
      const aBatch = prod(A.shape.slice(0, -2)), bBatch = prod(B.shape.slice(0, -2));
      if (k.transpose && !ta && bBatch === 1 && aBatch > 1) {
        // Row-major [..., m, k] is [(...·m), k]: one 2-D product instead of aBatch slow ones.
        A = { dataId: A.dataId, shape: [aBatch * g.m, g.k], dtype: A.dtype };
        B = { dataId: B.dataId, shape: B.shape.slice(-2), dtype: B.dtype };
      }
      const out = k.stock({ inputs: { a: A, b: B }, backend: args.backend, attrs: { transposeA: ta, transposeB: tb } }) as Info;
      out.shape = g.outShape;
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}
