import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { topActivations, TopActivationsAccumulator } from '../../src/analysis/topActivations.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

test.before(async () => {
  await setupTf();
});

// 2 sequences × 6 positions × 3 features; feature f at (b, p) = pattern below
function fixture() {
  const acts = new Float32Array(2 * 6 * 3);
  const set = (b: number, p: number, f: number, v: number) => (acts[(b * 6 + p) * 3 + f] = v);
  set(0, 1, 0, 2.0);
  set(0, 4, 0, 5.0);
  set(1, 0, 0, 3.0);
  set(1, 5, 0, 5.0); // ties with (0,4): earlier sequence first
  set(0, 2, 1, 1.0);
  // feature 2 never fires (negative values do not count)
  set(1, 3, 2, -4.0);
  const tokens = Int32Array.from({ length: 12 }, (_, i) => 100 + i);
  return { acts: tf.tensor3d(acts, [2, 6, 3]), tokens };
}

test.serial('top-k per feature with context windows', async (t) => {
  const { acts, tokens } = fixture();
  let res!: ReturnType<typeof topActivations>;
  t.is(await leakedTensors(() => { res = topActivations(acts, tokens, 3, { contextBefore: 2, contextAfter: 1 }); }), 0);
  t.is(res.length, 3);
  const f0 = res[0]!;
  t.is(f0.feature, 0);
  t.deepEqual(f0.examples.map((e) => [e.batch, e.position, e.value]), [[0, 4, 5], [1, 5, 5], [1, 0, 3]]);
  const top = f0.examples[0]!;
  t.is(top.contextStart, 2);
  t.deepEqual(top.tokens, [102, 103, 104, 105]);
  t.deepEqual(top.values, [0, 0, 5, 0]);
  const end = f0.examples[1]!; // clipped at the sequence end
  t.deepEqual(end.tokens, [109, 110, 111]);
  t.deepEqual(end.values, [0, 0, 5]);
  const start = f0.examples[2]!; // clipped at the start
  t.is(start.contextStart, 0);
  t.deepEqual(start.tokens, [106, 107]);
  t.deepEqual(res[1]!.examples.map((e) => e.value), [1]);
  t.deepEqual(res[2]!.examples, []);
  acts.dispose();
});

test.serial('accumulator across batches, feature subset, nested tokens, errors', (t) => {
  const { acts, tokens } = fixture();
  const nested = [Array.from(tokens.subarray(0, 6)), Array.from(tokens.subarray(6))];
  const acc = new TopActivationsAccumulator(3, 2, { features: [0], contextBefore: 0, contextAfter: 0 });
  acc.add(acts, nested).add(acts, tokens);
  const [f0] = acc.result();
  t.deepEqual(f0!.examples.map((e) => [e.batch, e.position, e.value, e.tokens[0]]), [[0, 4, 5, 104], [1, 5, 5, 111]]);
  const bad = tf.zeros([1, 2, 4]);
  t.throws(() => acc.add(bad, [1, 2]), { name: 'ShapeError' });
  bad.dispose();
  t.throws(() => acc.add(acts, [1, 2, 3]), { name: 'ShapeError', message: /3 tokens/ });
  t.throws(() => new TopActivationsAccumulator(3, 0), { message: /k must be/ });
  t.throws(() => new TopActivationsAccumulator(3, 1, { features: [3] }), { message: /feature 3/ });
  acts.dispose();
});
