import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { featureDensity, FeatureDensityAccumulator, logDensityHistogram } from '../../src/analysis/featureDensity.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

test.before(async () => {
  await setupTf();
});

test.serial('featureDensity counts firings over batches, SAELens log10(freq + 1e-10)', async (t) => {
  // 4 features over 5 tokens in two batches: f0 fires 5×, f1 2×, f2 never, f3 once (3-D batch)
  const a = tf.tensor2d([
    [1, 0.5, 0, 0],
    [2, 0, 0, 0],
    [0.1, 0, -1, 0],
  ]);
  const b = tf.tensor3d([[[3, 0.2, 0, 0], [1, 0, 0, 7]]]);
  let d!: ReturnType<typeof featureDensity>;
  const leaked = await leakedTensors(() => {
    d = featureDensity([a, b]);
  });
  t.is(leaked, 0);
  t.is(d.nTokens, 5);
  t.deepEqual(Array.from(d.counts), [5, 2, 0, 1]);
  t.deepEqual(Array.from(d.frequency), [1, 0.4, 0, 0.2].map(Math.fround));
  const want = [1, 0.4, 0, 0.2].map((f) => Math.fround(Math.log10(f + 1e-10)));
  Array.from(d.logDensity).forEach((v, i) => t.true(Math.abs(v - want[i]!) < 1e-6, `logDensity[${i}] = ${v}, want ${want[i]}`));
  t.is(d.logDensity[2], -10);
  t.is(d.neverFired, 1);
  t.is(d.below1e5, 1);
  t.is(d.histogram.counts.reduce((x, y) => x + y, 0), 4);
  t.is(d.histogram.counts[0], 1); // the dead feature in the first bin
  t.is(d.histogram.counts[49], 1); // frequency 1 → log 0 → last bin
  // tensors stay the caller's
  t.false(a.isDisposed);
  tf.dispose([a, b]);
});

test.serial('threshold, accumulator and errors', (t) => {
  const x = tf.tensor2d([[0.5, 2], [1.5, 0.9]]);
  const acc = new FeatureDensityAccumulator(2, 1);
  acc.add(x).add(x);
  const r = acc.result({ bins: 4, range: [-2, 0] });
  t.is(acc.nTokens, 4);
  t.deepEqual(Array.from(r.counts), [2, 2]);
  t.deepEqual(r.histogram.edges, [-2, -1.5, -1, -0.5, 0]);
  const bad = tf.zeros([2, 3]);
  t.throws(() => acc.add(bad), { name: 'ShapeError', message: /d_sae=2/ });
  bad.dispose();
  t.throws(() => featureDensity([]), { message: /no batches/ });
  t.deepEqual(logDensityHistogram([-Infinity, -3, -0.5, 5, NaN], { bins: 2, range: [-2, 0] }).counts, [2, 2]);
  x.dispose();
  tf.disposeVariables();
});
