/**
 * The sparse TopK-family step (src/sae/topkSparse.ts) against a dense reference written the way
 * SAELens 6 computes it (dense pre-activations, ×‖W_dec‖, top-k mask, ReLU, ÷‖W_dec‖, dense
 * decode, AuxK over dead latents, Matryoshka prefixes) with tfjs autodiff through everything,
 * decoder norms included: losses, x̂, all four gradients, and parameters after a few Adam steps.
 * On wasm and cpu; skipped (with the reason) when the addon is not built.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setupTf } from '../helpers/tf.js';
import { blasStatus, topkKernelsAvailable } from '../../src/backend/index.js';
import { topkFamilyForward, type TopKFamilyOptions, type TopKFamilyParams } from '../../src/sae/topkSparse.js';
import { Adam } from '../../src/train/Adam.js';
import { stopGradient } from '../../src/sae/ops.js';

const HAVE = blasStatus().loaded;
const nativeTest = HAVE ? test.serial : test.serial.skip;
if (!HAVE) console.log(`sparse TopK step tests skipped: ${blasStatus().reason}`);

test.before(async () => {
  await setupTf();
});

const D_IN = 12, D_SAE = 96, BATCH = 20;

function makeParams(seed: number): Record<keyof TopKFamilyParams, tf.Tensor> {
  return tf.tidy(() => {
    // Rows of W_dec with norms in [0.5, 1.5] so that rescaling changes the selection.
    const wd = tf.randomNormal([D_SAE, D_IN], 0, 1, 'float32', seed);
    const norms = tf.randomUniform([D_SAE, 1], 0.5, 1.5, 'float32', seed + 1);
    const W_dec = tf.mul(tf.div(wd, tf.norm(wd, 2, 1, true)), norms);
    return {
      W_enc: tf.add(tf.transpose(W_dec), tf.randomNormal([D_IN, D_SAE], 0, 0.3, 'float32', seed + 2)),
      b_enc: tf.randomNormal([D_SAE], -0.1, 0.2, 'float32', seed + 3),
      W_dec,
      b_dec: tf.randomNormal([D_IN], 0, 0.3, 'float32', seed + 4),
    };
  });
}

/** A mask [rows, cols] with ones at the top `k` of each row of h (or of the whole batch). */
function topMask(h: Float32Array, rows: number, cols: number, k: number, batch: boolean): Float32Array {
  const mask = new Float32Array(rows * cols);
  if (batch) {
    const order = Array.from(h.keys()).sort((a, b) => h[b]! - h[a]!).slice(0, Math.floor(k * rows));
    for (const i of order) mask[i] = 1;
    return mask;
  }
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: cols }, (_, j) => j).sort((a, b) => h[r * cols + b]! - h[r * cols + a]!).slice(0, k);
    for (const j of idx) mask[r * cols + j] = 1;
  }
  return mask;
}

/** SAELens 6's TopK/BatchTopK/Matryoshka training loss, dense, with autodiff through the norms. */
function denseLoss(p: TopKFamilyParams, x: tf.Tensor2D, o: TopKFamilyOptions): { loss: tf.Scalar; mse: tf.Scalar; aux: tf.Scalar; saeOut: tf.Tensor2D } {
  const saeIn = o.applyBDecToInput ? tf.sub(x, p.b_dec) : x;
  const norms = tf.sqrt(tf.sum(tf.square(p.W_dec), 1));
  let h = tf.add(tf.matMul(saeIn, p.W_enc), p.b_enc) as tf.Tensor2D;
  if (o.rescaleActsByDecoderNorm) h = tf.mul(h, norms);
  const hData = h.dataSync() as Float32Array;
  // BatchTopK ranks relu(h); TopK ranks h then relus (the same kept positives).
  const ranked = o.selection === 'batchtopk' ? hData.map((v) => Math.max(v, 0)) : hData;
  const mask = tf.tensor2d(topMask(ranked, BATCH, D_SAE, o.k, o.selection === 'batchtopk'), [BATCH, D_SAE]);
  const acts = tf.mul(tf.relu(h), mask);
  const decIn = o.rescaleActsByDecoderNorm ? tf.div(acts, norms) : acts;
  const saeOut = tf.add(tf.matMul(decIn, p.W_dec), p.b_dec) as tf.Tensor2D;
  const mse = tf.mean(tf.sum(tf.square(tf.sub(saeOut, x)), -1)) as tf.Scalar;
  let aux = tf.scalar(0);
  const nDead = o.deadIdx.length;
  if (nDead > 0) {
    const kAux = Math.min(Math.floor(D_IN / 2), nDead);
    const scale = Math.min(nDead / Math.floor(D_IN / 2), 1);
    const dead = new Float32Array(D_SAE);
    for (const i of o.deadIdx) dead[i] = 1;
    const masked = hData.map((v, i) => (dead[i % D_SAE] ? v : -Infinity));
    const auxMask = tf.tensor2d(topMask(masked, BATCH, D_SAE, kAux, false), [BATCH, D_SAE]);
    const auxActs = tf.mul(h, auxMask);
    const recons = tf.matMul(o.rescaleActsByDecoderNorm ? tf.div(auxActs, norms) : auxActs, p.W_dec);
    const residual = stopGradient(tf.sub(x, saeOut));
    aux = tf.mul(tf.mean(tf.sum(tf.square(tf.sub(recons, residual)), -1)), o.auxLossCoefficient * scale) as tf.Scalar;
  }
  let loss = tf.add(mse, aux) as tf.Scalar;
  for (const w of o.matryoshkaInnerWidths ?? []) {
    const part = tf.add(tf.matMul(tf.slice(decIn, [0, 0], [BATCH, w]), tf.slice(p.W_dec, [0, 0], [w, D_IN])), p.b_dec);
    loss = tf.add(loss, tf.mean(tf.sum(tf.square(tf.sub(part, x)), -1))) as tf.Scalar;
  }
  return { loss, mse, aux, saeOut };
}

function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]!));
}

const CASES: Array<[string, Partial<TopKFamilyOptions>]> = [
  ['topk', { selection: 'topk', k: 5 }],
  ['topk no rescale, no b_dec input', { selection: 'topk', k: 5, rescaleActsByDecoderNorm: false, applyBDecToInput: false }],
  ['topk + AuxK', { selection: 'topk', k: 5, deadIdx: Int32Array.from([3, 7, 11, 20, 21, 40, 41, 42, 60, 95]) }],
  ['topk + AuxK, few dead', { selection: 'topk', k: 4, deadIdx: Int32Array.from([2, 50, 90]) }],
  ['batchtopk', { selection: 'batchtopk', k: 4.5 }],
  ['batchtopk + AuxK', { selection: 'batchtopk', k: 3, deadIdx: Int32Array.from([1, 5, 9, 13, 17, 33, 64]) }],
  ['matryoshka batchtopk', { selection: 'batchtopk', k: 4, matryoshkaInnerWidths: [8, 32], deadIdx: Int32Array.from([70, 71, 72]) }],
];

const options = (o: Partial<TopKFamilyOptions>): TopKFamilyOptions => ({
  k: 5, selection: 'topk', rescaleActsByDecoderNorm: true, applyBDecToInput: true, deadIdx: new Int32Array(0), auxLossCoefficient: 1, ...o,
});

for (const backend of ['wasm', 'cpu'] as const) {
  for (const [name, partial] of CASES) {
    nativeTest(`${backend}: ${name}: sparse forward and gradients match dense autodiff`, async (t) => {
      const prev = tf.getBackend();
      await tf.setBackend(backend);
      try {
        t.true(topkKernelsAvailable());
        const o = options(partial);
        const p = makeParams(11);
        const x = tf.randomNormal([BATCH, D_IN], 0, 1, 'float32', 12) as tf.Tensor2D;
        const names = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
        const before = tf.memory().numTensors;
        const grad = (f: (q: TopKFamilyParams) => tf.Scalar) => tf.grads((...ts: tf.Tensor[]) => f({ W_enc: ts[0], b_enc: ts[1], W_dec: ts[2], b_dec: ts[3] } as TopKFamilyParams))(names.map((n) => p[n]));
        const sparseOut = tf.tidy(() => {
          const f = topkFamilyForward(p as unknown as TopKFamilyParams, x, o);
          return [f.loss, f.mse, f.auxiliaryReconstruction, f.saeOut];
        });
        const denseOut = tf.tidy(() => {
          const f = denseLoss(p as unknown as TopKFamilyParams, x, o);
          return [f.loss, f.mse, f.aux, f.saeOut];
        });
        const gs = grad((q) => topkFamilyForward(q, x, o).loss);
        const gd = grad((q) => denseLoss(q, x, o).loss);
        for (let i = 0; i < 4; i++) t.true(maxRel(sparseOut[i]!, denseOut[i]!) < 1e-5, `${['loss', 'mse', 'aux', 'saeOut'][i]}: ${maxRel(sparseOut[i]!, denseOut[i]!)}`);
        if (o.deadIdx.length > 0) t.true(sparseOut[2]!.dataSync()[0]! > 0, 'AuxK term is active');
        for (let i = 0; i < 4; i++) t.true(maxRel(gs[i]!, gd[i]!) < 1e-4, `d${names[i]}: ${maxRel(gs[i]!, gd[i]!)}`);
        tf.dispose([...sparseOut, ...denseOut, ...gs, ...gd]);
        t.is(tf.memory().numTensors, before, 'no tensor leaks');
        tf.dispose([x, ...Object.values(p)]);
      } finally {
        await tf.setBackend(prev);
      }
    });
  }

  nativeTest(`${backend}: three Adam steps agree (topk + AuxK, batchtopk)`, async (t) => {
    const prev = tf.getBackend();
    await tf.setBackend(backend);
    try {
      for (const partial of [CASES[2]![1], CASES[6]![1]]) {
        const o = options(partial);
        const init = makeParams(21);
        const run = (sparse: boolean) => {
          const vars = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(v, true, `${k}_${sparse}_${Math.random()}`)])) as Record<string, tf.Variable>;
          const adam = new Adam(0.9, 0.999);
          for (let s = 0; s < 3; s++) {
            const x = tf.randomNormal([BATCH, D_IN], 0, 1, 'float32', 30 + s) as tf.Tensor2D;
            const { value, grads } = tf.variableGrads(() => (sparse ? topkFamilyForward(vars as unknown as TopKFamilyParams, x, o).loss : denseLoss(vars as unknown as TopKFamilyParams, x, o).loss), Object.values(vars));
            for (const [k, v] of Object.entries(vars)) adam.update(k, v, grads[v.name]!, 1e-3);
            tf.dispose([x, value, ...Object.values(grads)]);
          }
          adam.dispose();
          return vars;
        };
        const before = tf.memory().numTensors;
        const a = run(true), b = run(false);
        for (const k of Object.keys(a)) t.true(maxRel(a[k]!, b[k]!) < 1e-5, `${k} after 3 steps: ${maxRel(a[k]!, b[k]!)}`);
        tf.dispose([...Object.values(a), ...Object.values(b)]);
        t.is(tf.memory().numTensors, before, 'no tensor leaks');
        tf.dispose(Object.values(init));
      }
    } finally {
      await tf.setBackend(prev);
    }
  });
}
