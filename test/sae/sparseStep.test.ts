/**
 * The sparsity-aware SAE step (src/sae/sparse.ts, src/backend/ops/sparse.ts): the sparse
 * products against dense ones (native kernels and the tfjs fallback), every loss term and
 * gradient of every reference case in 'always' vs 'never' mode and against PyTorch, and the
 * SaeTrainer golden trajectories (200 steps; 20 with ghost grads) replayed with sparseStep
 * 'always'.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import {
  csrFromDense, csrSddmm, csrSpmm, csrSpmmT, disposeCsr, sparseKernelsAvailable, transpose2d, type Csr,
} from '../../src/backend/index.js';
import { saeLosses } from '../../src/sae/losses.js';
import { Sae, type SaeParams } from '../../src/sae/Sae.js';
import { setSparseStep, sparseStepMode, type SparseStepMode } from '../../src/sae/sparse.js';
import { SaeTrainer, type StepMetrics } from '../../src/train/SaeTrainer.js';
import { SyntheticActs } from '../train/syntheticData.js';
import { compare, readFixture, saeCfgFrom, saeFromRun, trainerCfgFrom } from './fixtures.js';

test.before(async () => {
  await setupTf();
});

function check(t: any, got: tf.Tensor | ArrayLike<number>, want: tf.Tensor | ArrayLike<number>, rtol: number, atol: number, label: string) {
  const g = got instanceof tf.Tensor ? got.dataSync() : got;
  const w = want instanceof tf.Tensor ? Array.from(want.dataSync()) : Array.from(want);
  const r = compare(g, w, rtol, atol);
  t.true(r.ok, `${label}: ${r.nBad} off (worst ${r.worst.toExponential(2)}) e.g. ${JSON.stringify(r.bad)}`);
}

test('sparse products equal dense ones (native kernels and the dense fallback)', (t) => {
  t.log(`native sparse kernels: ${sparseKernelsAvailable()}`);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    // ~10 % density, a few empty rows, negative values (gradients are signed)
    const rows = 37, k = 53, n = 29;
    const raw = tf.randomNormal([rows, k], 0, 1, 'float32', 11);
    const mask = tf.greater(tf.randomUniform([rows, k], 0, 1, 'float32', 12), 0.9);
    const rowMask = tf.expandDims(tf.cast(tf.greater(tf.range(0, rows), 3), 'bool'), 1);
    const a = tf.where(tf.logicalAnd(mask, rowMask), raw, tf.zerosLike(raw)) as tf.Tensor2D;
    const w = tf.randomNormal([k, n], 0, 1, 'float32', 13) as tf.Tensor2D;
    const x = tf.randomNormal([rows, n], 0, 1, 'float32', 14) as tf.Tensor2D;
    const nz = tf.sum(tf.cast(tf.notEqual(a, 0), 'int32')).dataSync()[0]!;
    const native = csrFromDense(a);
    t.is(native.nnz, nz);
    const fallback: Csr = { ...native, native: false };
    for (const [label, A] of [['native', native], ['fallback', fallback]] as const) {
      check(t, csrSpmm(A, w), tf.matMul(a, w), 1e-5, 1e-5, `${label} spmm`);
      check(t, csrSpmmT(A, x), tf.matMul(tf.transpose(a), x), 1e-5, 1e-5, `${label} spmmT`);
      const sd = tf.where(tf.notEqual(a, 0), tf.matMul(x, tf.transpose(w)), tf.zerosLike(a));
      check(t, csrSddmm(A, x, w), sd, 1e-5, 1e-5, `${label} sddmm`);
    }
    t.deepEqual(Array.from(transpose2d(w).dataSync()), Array.from(tf.transpose(w).dataSync()));
    // all zeros: an empty index
    const z = csrFromDense(tf.zeros([4, 5]) as tf.Tensor2D);
    t.is(z.nnz, 0);
    check(t, csrSpmm(z, tf.ones([5, 3]) as tf.Tensor2D), tf.zeros([4, 3]), 0, 0, 'empty spmm');
    disposeCsr(native);
    disposeCsr(z);
  });
  t.is(tf.memory().numTensors, before, 'no tensors leaked');
});

test('setSparseStep validates and returns the previous mode', (t) => {
  const prev = setSparseStep('never');
  t.is(sparseStepMode(), 'never');
  t.is(setSparseStep(prev), 'never');
  t.throws(() => setSparseStep('sometimes' as SparseStepMode), { message: /sparseStep: 'sometimes'/ });
});

const fx = readFixture('forward_cases.json');
const order = ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'scalingFactor'] as const;

function paramsOf(name: string): SaeParams {
  const p = fx.params[name];
  return {
    W_enc: tf.tensor2d(p.W_enc, [fx.d_in, fx.d_sae]),
    b_enc: tf.tensor1d(p.b_enc),
    W_dec: tf.tensor2d(p.W_dec, [fx.d_sae, fx.d_in]),
    b_dec: tf.tensor1d(p.b_dec),
    scalingFactor: tf.tensor1d(p.scaling_factor),
  };
}

for (const c of fx.cases) {
  test(`sparse and dense steps give the same losses and gradients: ${c.name}`, (t) => {
    const cfg = saeCfgFrom(c.cfg, fx.d_in, fx.d_sae);
    const p = paramsOf(c.params);
    const x = tf.tensor2d(fx.x, [fx.batch, fx.d_in]);
    const deadIdx = Int32Array.from(c.dead as number[]);
    const before = tf.memory().numTensors;
    const run = (mode: SparseStepMode) =>
      tf.tidy(() => {
        const opts = { l1Coefficient: c.l1_coefficient, training: true, deadIdx, useGhostGrads: cfg.useGhostGrads, sparseStep: mode };
        const r = saeLosses(cfg, p, x, opts);
        const terms = [r.mse, r.l1, r.ghost, r.loss].map((s) => s.dataSync()[0]!);
        const out = r.saeOut.dataSync();
        const g = tf.grads((...ts: tf.Tensor[]) => {
          const q: SaeParams = { W_enc: ts[0] as tf.Tensor2D, b_enc: ts[1] as tf.Tensor1D, W_dec: ts[2] as tf.Tensor2D, b_dec: ts[3] as tf.Tensor1D, scalingFactor: ts[4] as tf.Tensor1D };
          return saeLosses(cfg, q, x, opts).loss;
        });
        return { terms, out, grads: g(order.map((k) => p[k]!)).map((gi) => gi.dataSync()) };
      });
    const dense = run('never');
    const sparse = run('always');
    const e = c.expected;
    ['mse', 'l1', 'ghost', 'loss'].forEach((k, i) => {
      const s = sparse.terms[i]!, d = dense.terms[i]!;
      t.true(Math.abs(s - d) <= 1e-5 * Math.abs(d) + 1e-9, `${k}: sparse ${s} dense ${d}`);
      t.true(Math.abs(s - e[k]) <= 1e-5 * Math.abs(e[k]) + 1e-9, `${k}: sparse ${s} torch ${e[k]}`);
    });
    check(t, sparse.out, dense.out, 1e-5, 1e-6, 'sae_out');
    const names = ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'scaling_factor'];
    sparse.grads.forEach((g, i) => {
      check(t, g, dense.grads[i]!, 1e-4, 1e-5, `grad ${names[i]} vs dense`);
      check(t, g, e.grads[names[i]!], 1e-4, 1e-5, `grad ${names[i]} vs torch`);
    });
    t.is(tf.memory().numTensors - before, 0, 'no tensors leaked');
    tf.dispose([x, ...(Object.values(p) as tf.Tensor[])]);
  });
}

// --- the SaeTrainer golden trajectories with sparseStep 'always' ---

const tfx = readFixture('train.json');
const D_IN = 16;
const D_SAE = 64;

const PARAMS = [['W_enc', 'W_enc'], ['b_enc', 'b_enc'], ['W_dec', 'W_dec'], ['b_dec', 'b_dec'], ['scalingFactor', 'scaling_factor']] as const;

function checkParams(t: any, sae: Sae, want: any, rtol: number, atol: number, label: string) {
  const snap = sae.snapshot();
  for (const [ours, theirs] of PARAMS) check(t, snap[ours], want[theirs], rtol, atol, `${label} ${theirs}`);
}

const close = (a: number, b: number, rtol: number, atol = 1e-7) => Math.abs(a - b) <= rtol * Math.abs(b) + atol;

function checkMetrics(t: any, got: StepMetrics, want: any, rtol: number, l0Tol: number) {
  const k = want.step;
  t.is(got.deadFeatures, want.dead, `step ${k} dead features`);
  t.true(close(got.losses.mse, want.mse, rtol), `step ${k} mse ${got.losses.mse} vs ${want.mse}`);
  t.true(close(got.losses.l1, want.l1, rtol), `step ${k} l1 ${got.losses.l1} vs ${want.l1}`);
  t.true(close(got.losses.ghost, want.ghost, rtol, 1e-6), `step ${k} ghost ${got.losses.ghost} vs ${want.ghost}`);
  t.true(close(got.losses.total, want.total, rtol), `step ${k} total ${got.losses.total} vs ${want.total}`);
  t.true(close(got.l0, want.l0, 0, l0Tol), `step ${k} l0 ${got.l0} vs ${want.l0}`);
}

for (const [key, chunk] of [['one_step', false], ['trajectory', false], ['ghost', false], ['trajectory', true], ['ghost', true]] as const) {
  // chunk: the batch of 32 runs as row chunks of 10, 10, 10 and 2 (SaeTrainerOptions.maxChunkElements)
  test(`SaeTrainer golden run '${key}' matches PyTorch with sparseStep 'always'${chunk ? ' in row chunks' : ''}`, (t) => {
    const run = tfx[key];
    const ghost = key === 'ghost';
    // The same tolerances as test/train/SaeTrainer.test.ts (ghost grads amplify rounding).
    const rtol = key === 'one_step' ? 1e-5 : 1e-4;
    const atol = ghost ? 1e-4 : key === 'one_step' ? 1e-6 : 1e-5;
    const snaps = new Map<number, any>((run.snapshots ?? []).map((s: any) => [s.after_step, s.params]));
    const before = tf.memory().numTensors;
    const sae = saeFromRun(run, D_IN, D_SAE);
    const tr = new SaeTrainer(sae, trainerCfgFrom(run.trainer), { sparseStep: 'always', ...(chunk ? { maxChunkElements: 10 * D_SAE + 5 } : {}) });
    const data = new SyntheticActs(run.data_seed);
    const steps = run.steps ?? 1;
    for (let k = 0; k < steps; k++) {
      const x = tf.tensor2d(data.batch(run.trainer.train_batch_size), [run.trainer.train_batch_size, D_IN]);
      const m = tr.step(x);
      x.dispose();
      checkMetrics(t, m, run.metrics[k], rtol, ghost ? 2 / 32 + 1e-9 : 1e-9);
      const want = snaps.get(k);
      if (want) checkParams(t, sae, want, 1e-4, atol, `after step ${k}`);
    }
    checkParams(t, sae, run.final, rtol, atol, 'final');
    if (!ghost && run.steps_since_fired) t.deepEqual(Array.from(tr.state().stepsSinceFired), run.steps_since_fired);
    tr.dispose();
    sae.dispose();
    t.is(tf.memory().numTensors, before, 'no tensors left after dispose');
  });
}
