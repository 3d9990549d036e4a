import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';

test('selectBackend picks a working backend once and says why better ones were skipped', async (t) => {
  const lines: string[] = [];
  const choice = await selectBackend({ log: (l) => lines.push(l) });
  t.is(tf.getBackend(), choice.tfBackend);
  t.true(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(choice.name));
  const again = await selectBackend();
  t.is(again, choice);
  const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]);
  t.is(y, 11);
});
