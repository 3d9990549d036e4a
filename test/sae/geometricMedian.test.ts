import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { geometricMedian } from '../../src/sae/geometricMedian.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { compare, readFixture } from './fixtures.js';

test.before(async () => {
  await setupTf();
});

const fx = readFixture('geometric_median.json');

test('geometric median (Weiszfeld, 100 iterations) matches the PyTorch reference', (t) => {
  const before = tf.memory().numTensors;
  const pts = tf.tensor2d(fx.points, [fx.n, fx.d]);
  const { median, iterations } = geometricMedian(pts, { maxIter: 100 });
  const r = compare(median.dataSync(), fx.median, 1e-5);
  t.true(r.ok, JSON.stringify(r));
  // both stop once the float32 objective stops changing; the exact iteration can differ by rounding
  t.true(iterations >= 1 && iterations <= 100);
  tf.dispose([pts, median]);
  t.is(tf.memory().numTensors, before);
});

test('Sae.initBDec: geometric_median, mean, zeros', (t) => {
  const pts = tf.tensor2d(fx.points, [fx.n, fx.d]);
  for (const [method, want] of [['geometric_median', fx.median], ['mean', fx.mean], ['zeros', new Array(fx.d).fill(0)]] as const) {
    const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn: fx.d, dSae: 32, bDecInitMethod: method }, { seed: 1 });
    const before = tf.memory().numTensors;
    sae.initBDec(pts);
    t.is(tf.memory().numTensors, before, `${method}: no leak`);
    const r = compare(sae.b_dec.dataSync(), want, 1e-5, 1e-6);
    t.true(r.ok, `${method}: ${JSON.stringify(r)}`);
    sae.dispose();
  }
  pts.dispose();
});
