import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, take, toArray, tap } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { toyModel, toyFeatures, toyHidden, trainToyModel, trainToyModelAsync, toyFeatureRecovery, DEFAULT_TOY_MODEL_CONFIG } from '../../src/sources/toyModel.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { fromActivations } from '../../src/sources/fromActivations.js';
import { Rng } from '../../src/stream/rng.js';
import { ConfigError, ShapeError } from '../../src/errors.js';

test.before(async () => {
  await setupTf();
});

test.serial('toyModel(): SAELens runner defaults, xavier-normal W, importance decay, argument checks', (t) => {
  const m = toyModel();
  t.like(m.cfg, { nFeatures: 5, nHidden: 2, featureProbability: 0.025 });
  t.is(m.W.length, 10);
  t.deepEqual(Array.from(m.bFinal), [0, 0, 0, 0, 0]);
  const big = toyModel({ nFeatures: 200, nHidden: 50, importanceDecay: 0.9 });
  const std = Math.sqrt(big.W.reduce((s, w) => s + w * w, 0) / big.W.length);
  t.true(Math.abs(std - Math.sqrt(2 / (50 * 200 + 200))) < 0.005, `std ${std}`);
  t.true(Math.abs(big.importance[2]! - 0.81) < 1e-6);
  t.deepEqual(toyModel({ seed: 3 }).W, toyModel({ seed: 3 }).W);
  t.throws(() => toyModel({ nFeatures: 4, nCorrelatedPairs: 2, nAnticorrelatedPairs: 1 }), { instanceOf: ConfigError, message: /toyModel\(\)/ });
  t.throws(() => toyModel({ featureProbability: 0 }), { instanceOf: ConfigError, message: /featureProbability.*0/ });
});

test.serial('toyFeatures(): presence rates of independent, correlated and anticorrelated features', (t) => {
  const cfg = { ...DEFAULT_TOY_MODEL_CONFIG, nFeatures: 7, nCorrelatedPairs: 1, nAnticorrelatedPairs: 1, featureProbability: 0.2 };
  const n = 20000;
  const x = toyFeatures(cfg, n, new Rng(1));
  const present = (f: number) => { let c = 0; for (let b = 0; b < n; b++) if (x[b * 7 + f]! > 0) c++; return c / n; };
  let together = 0, bothAnti = 0, eitherAnti = 0;
  for (let b = 0; b < n; b++) {
    const r = x.subarray(b * 7, b * 7 + 7);
    if ((r[0]! > 0) !== (r[1]! > 0)) together++;
    if (r[2]! > 0 && r[3]! > 0) bothAnti++;
    if (r[2]! > 0 || r[3]! > 0) eitherAnti++;
  }
  t.is(together, 0, 'correlated pairs are present together');
  t.is(bothAnti, 0, 'anticorrelated pairs never together');
  t.true(Math.abs(eitherAnti / n - 0.4) < 0.02, 'one of an anticorrelated pair with probability 2p');
  for (const f of [0, 4, 5, 6]) t.true(Math.abs(present(f) - 0.2) < 0.015, `feature ${f}: ${present(f)}`);
  t.true(x.every((v) => v >= 0 && v < 1));
});

test.serial('trainToyModel(): lowers the importance-weighted loss, leaves no tensor, input untouched', (t) => {
  const m0 = toyModel({ nFeatures: 5, nHidden: 2, featureProbability: 0.1 });
  const W0 = m0.W.slice();
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  const m = trainToyModel(m0, { steps: 400, batchSize: 256, lr: 1e-2, logEvery: 100, onLog: (_s, l) => losses.push(l) });
  t.is(tf.memory().numTensors, before);
  t.deepEqual(m0.W, W0);
  t.is(losses.length, 4);
  t.true(m.loss! < losses[0]! * 0.8, `${losses[0]} → ${m.loss}`);
  t.throws(() => trainToyModel(m0, { steps: -1 }), { instanceOf: ConfigError });
});

test.serial('trainToyModelAsync(): the same model as trainToyModel bit for bit, handing the thread back between steps; no tensor left, even when a read fails', async (t) => {
  const m0 = toyModel({ nFeatures: 5, nHidden: 2, featureProbability: 0.1 });
  const opts = { steps: 60, batchSize: 128, lr: 1e-2, logEvery: 20 };
  const syncLogs: number[] = [];
  const want = trainToyModel(m0, { ...opts, onLog: (_s, l) => syncLogs.push(l) });
  const before = tf.memory().numTensors;
  const asyncLogs: number[] = [];
  let yields = 0;
  const got = await trainToyModelAsync(m0, { ...opts, onLog: (_s, l) => asyncLogs.push(l), yieldEvery: 10, yieldTo: async () => void yields++ });
  t.is(tf.memory().numTensors, before);
  t.deepEqual(got.W, want.W);
  t.deepEqual(got.bFinal, want.bFinal);
  t.is(got.loss, want.loss);
  t.deepEqual(asyncLogs, syncLogs);
  t.is(yields, 6, 'one yield per 10 steps');
  const data = tf.Tensor.prototype.data;
  tf.Tensor.prototype.data = () => Promise.reject(new Error('read failed'));
  try {
    await t.throwsAsync(trainToyModelAsync(m0, opts), { message: 'read failed' });
  } finally {
    tf.Tensor.prototype.data = data;
  }
  t.is(tf.memory().numTensors, before, 'a failed read leaves no tensor');
  await t.throwsAsync(trainToyModelAsync(m0, { ...opts, yieldEvery: 0 }), { instanceOf: ConfigError });
});

test.serial('toyFeatureRecovery(): the true directions as decoder rows give cosine 1', (t) => {
  const m = toyModel({ nFeatures: 6, nHidden: 3 });
  const F = 6, H = 3;
  const wDec = new Float32Array(F * H);
  for (let f = 0; f < F; f++) for (let j = 0; j < H; j++) wDec[f * H + j] = m.W[j * F + f]! * 2;
  const r = toyFeatureRecovery(m, wDec);
  t.is(r.recovered, 6);
  t.true(Math.abs(r.meanMaxCosine - 1) < 1e-6);
  t.throws(() => toyFeatureRecovery(m, new Float32Array(4)), { instanceOf: ShapeError });
});

test.serial('toyActivations(): h = W x batches, seeded, pulled one at a time, no leak on early stop', async (t) => {
  const m = toyModel({ nFeatures: 8, nHidden: 3, featureProbability: 0.3 });
  const before = tf.memory().numTensors;
  const bs = await firstValueFrom(toyActivations(m, { batchSize: 16, seed: 4, batches: 3 }).pipe(toArray()));
  t.deepEqual(bs.map((b) => b.acts.shape), [[16, 3], [16, 3], [16, 3]]);
  t.deepEqual(bs[0]!.hooks, ['hook_hidden']);
  const expected = toyHidden(m, toyFeatures(m.cfg, 16, new Rng(4)));
  t.deepEqual(Array.from(bs[0]!.acts.dataSync()), Array.from(expected));
  bs.forEach((b) => b.acts.dispose());
  t.is(tf.memory().numTensors, before);
  let seen = 0;
  await firstValueFrom(toyActivations(m, { batchSize: 16, seed: 4 }).pipe(tap((b) => { seen++; b.acts.dispose(); }), take(5), toArray()));
  t.is(seen, 5);
  await new Promise((r) => setTimeout(r, 10));
  t.is(tf.memory().numTensors, before, 'the batch made after unsubscribe is discarded');
  t.throws(() => toyActivations(m, { batchSize: 0, seed: 1 }), { instanceOf: ConfigError, message: /toyActivations\(\).*batchSize/ });
});

test.serial('fromActivations(): tensors, row arrays and Float32Array+dIn; batches of batchSize, inputs kept', async (t) => {
  const before = tf.memory().numTensors;
  const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const y = tf.tensor2d([[7, 8]]);
  const rows = async (o: ReturnType<typeof fromActivations>) => {
    const bs = await firstValueFrom(o.pipe(toArray()));
    const out = bs.map((b) => Array.from(b.acts.dataSync()));
    bs.forEach((b) => b.acts.dispose());
    return out;
  };
  t.deepEqual(await rows(fromActivations([x, y], { batchSize: 3 })), [[1, 2, 3, 4, 5, 6], [7, 8]]);
  t.deepEqual(await rows(fromActivations(x, { batchSize: 2 })), [[1, 2, 3, 4], [5, 6]]);
  t.deepEqual(await rows(fromActivations([[1, 2], [3, 4]], { batchSize: 5 })), [[1, 2, 3, 4]]);
  t.deepEqual(await rows(fromActivations({ data: new Float32Array([1, 2, 3, 4, 5, 6]), dIn: 3 }, { batchSize: 1 })), [[1, 2, 3], [4, 5, 6]]);
  t.false(x.isDisposed);
  x.dispose();
  y.dispose();
  t.is(tf.memory().numTensors, before);
  t.throws(() => fromActivations([[1, 2], [3]], { batchSize: 1 }), { instanceOf: ShapeError, message: /row 1 has length 1, expected 2/ });
  t.throws(() => fromActivations({ data: new Float32Array(5), dIn: 2 }, { batchSize: 1 }), { instanceOf: ShapeError, message: /5.*dIn 2/ });
  t.throws(() => fromActivations([[1]], { batchSize: 0 }), { instanceOf: ConfigError, message: /fromActivations\(\).*batchSize/ });
});
