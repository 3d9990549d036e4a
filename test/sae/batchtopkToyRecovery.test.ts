/**
 * A BatchTopK SAE (SAELens 6 defaults: rescale_acts_by_decoder_norm, AuxK, decoder init norm
 * 0.1) finds the true features of Anthropic's toy model of superposition (10 features in 5
 * dims, probability 0.05): ≥ 9/10 decoder rows within cosine 0.9 of a true direction, and the
 * JumpReLU it saves as (threshold = the EMA of the smallest kept activation) keeps them sparse.
 * Settings, tuned once here and stated: k 1 (the true features average 0.5 per row), d_sae 20,
 * Adam lr 3e-3 (β 0.9/0.999), batch 1024, 600 steps; toy model 1500 steps at lr 1e-2.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { toyRecovery } from './toyRecovery.js';

test.before(async () => {
  await setupTf();
});

test('a BatchTopK SAE recovers >= 9/10 toy-model features', (t) => {
  const before = tf.memory().numTensors;
  const r = toyRecovery('batchtopk', { k: 1 });
  const thr = r.state['topk_threshold']!;
  t.log(`${r.summary}, threshold ${thr.toFixed(4)}`);
  t.true(r.recovered >= 9, `recovered ${r.recovered}/10`);
  t.true(Math.abs(r.last.l0 - 1) < 1e-9, 'BatchTopK keeps k·batch activations');
  t.true(thr > 0, 'the threshold EMA moved');
  t.is(tf.memory().numTensors, before);
});
