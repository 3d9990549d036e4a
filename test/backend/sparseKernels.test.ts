/**
 * The addon's sparse kernels (native/sae_rx_blas.cc) through their tfjs kernels on wasm and
 * cpu: CSR construction, products against dense tfjs ones, and the addon refusing indices that
 * would address memory outside its arrays. Skips (with a message) when the addon is not built.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setupTf } from '../helpers/tf.js';
import { blasStatus, csrFromDense, csrSddmm, csrSpmm, csrSpmmT, disposeCsr, sparseKernelsAvailable, transpose2d } from '../../src/backend/index.js';
import { blasAddon } from '../../src/backend/blas.js';

const HAVE = blasStatus().loaded;
const nativeTest = HAVE ? test.serial : test.serial.skip;
if (!HAVE) console.log(`sparse kernel tests skipped: ${blasStatus().reason}`);

test.before(async () => {
  await setupTf();
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

for (const backend of ['wasm', 'cpu'] as const) {
  nativeTest(`${backend}: CSR index and sparse products match dense tfjs`, async (t) => {
    const prev = tf.getBackend();
    await tf.setBackend(backend);
    try {
      t.true(sparseKernelsAvailable());
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const rows = 70, k = 300, n = 67; // n not a multiple of 8: vector tails
        const h = tf.randomNormal([rows, k], 0, 1, 'float32', 5);
        const a = tf.relu(tf.sub(h, 1.5)) as tf.Tensor2D; // ~7 % nonzero
        const w = tf.randomNormal([k, n], 0, 1, 'float32', 6) as tf.Tensor2D;
        const x = tf.randomNormal([rows, n], 0, 1, 'float32', 7) as tf.Tensor2D;
        const A = csrFromDense(a);
        t.true(A.native);
        t.is(A.nnz, tf.sum(tf.cast(tf.greater(a, 0), 'int32')).dataSync()[0]!);
        const rp = A.rowPtr.dataSync(), ci = A.colIdx.dataSync(), v = A.vals.dataSync(), ad = a.dataSync();
        let okIdx = rp[0] === 0 && rp[rows] === A.nnz;
        for (let r = 0; r < rows; r++) {
          for (let q = rp[r]!; q < rp[r + 1]!; q++) okIdx &&= ad[r * k + ci[q]!] === v[q] && (q === rp[r] || ci[q]! > ci[q - 1]!);
        }
        t.true(okIdx, 'rowPtr/colIdx/vals index exactly the nonzeros, columns ascending');
        t.true(maxAbsDiff(csrSpmm(A, w), tf.matMul(a, w)) < 1e-4, 'spmm');
        t.true(maxAbsDiff(csrSpmmT(A, x), tf.matMul(a, x, true, false)) < 1e-4, 'spmmT');
        const sd = tf.mul(tf.matMul(x, w, false, true), tf.cast(tf.greater(a, 0), 'float32'));
        t.true(maxAbsDiff(csrSddmm(A, x, w), sd) < 1e-4, 'sddmm');
        t.is(maxAbsDiff(transpose2d(w), tf.transpose(w)), 0, 'transpose');
        disposeCsr(A);
      });
      t.is(tf.memory().numTensors, before, 'no tensors leaked');
    } finally {
      await tf.setBackend(prev);
    }
  });
}

nativeTest('the addon refuses CSR indices outside its arrays', (t) => {
  const addon = blasAddon()!;
  const w = new Float32Array(4 * 3), out = new Float32Array(2 * 3), vals = new Float32Array([1, 2]);
  t.throws(() => addon.spmm(new Int32Array([0, 1, 2]), new Int32Array([0, 4]), vals, 2, 4, w, 3, out), { message: /colIdx\[1\] = 4 is outside \[0, 4\)/ });
  t.throws(() => addon.spmm(new Int32Array([0, 2, 1]), new Int32Array([0, 1]), vals, 2, 4, w, 3, out), { message: /non-decreasing/ });
  t.throws(() => addon.spmm(new Int32Array([0, 1, 3]), new Int32Array([0, 1]), vals, 2, 4, w, 3, out), { message: /shorter/ });
  t.throws(() => addon.spmmT(new Int32Array([0, 1, 2]), new Int32Array([0, 1]), vals, 2, 4, w, 3, out), { message: /too small/ });
  t.throws(() => addon.csrCount(new Float32Array(5), 2, 3, new Int32Array(3)), { message: /smaller than rows \* cols/ });
});
