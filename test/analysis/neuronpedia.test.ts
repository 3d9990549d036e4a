import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { topActivations } from '../../src/analysis/topActivations.js';
import { cleanTokenString, logitWeights, neuronpediaExport, neuronpediaSkippedIndexes } from '../../src/analysis/neuronpedia.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

test.before(async () => {
  await setupTf();
});

const VOCAB = ['Ġthe', 'Ċ', 'cat', 'âĢĶ', 'Ġdog'];

test.serial('logitWeights: W_dec[f] @ W_U, top and bottom tokens', async (t) => {
  // d_in = 2, vocab = 5; feature 0 = e0, feature 1 = e1, feature 2 = (1, 1)
  const wDec = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
  const wU = tf.tensor2d([
    [0.5, -1, 2, 0, 1.5],
    [1, 3, -2, 0.25, -0.5],
  ]);
  let res!: ReturnType<typeof logitWeights>;
  t.is(await leakedTensors(() => { res = logitWeights(wDec, wU, [0, 2], 2, 4); }), 0);
  t.is(res.length, 2);
  t.deepEqual(res[0]!.topIds, [2, 4]);
  t.deepEqual(res[0]!.topValues, [2, 1.5]);
  t.deepEqual(res[0]!.bottomIds, [1, 3]);
  t.deepEqual(res[0]!.bottomValues, [-1, 0]);
  // feature 2: 1.5, 2, 0, 0.25, 1
  t.deepEqual(res[1]!.topIds, [1, 0]);
  t.deepEqual(res[1]!.bottomIds, [2, 3]);
  t.deepEqual(res[1]!.histogram.edges, [0, 0.5, 1, 1.5, 2]);
  t.deepEqual(res[1]!.histogram.counts, [2, 0, 1, 2]);
  t.throws(() => logitWeights(wU, wU, [0]), { name: 'ShapeError', message: /do not chain/ });
  tf.dispose([wDec, wU]);
});

test.serial('neuronpediaExport: the batch JSON of SAELens\'s Neuronpedia runner', (t) => {
  const acts = tf.tensor3d([[[0, 0], [0.12345, 0], [2, 0]]], [1, 3, 2]);
  const top = topActivations(acts, [0, 4, 3], 5, { contextBefore: 1, contextAfter: 1 });
  acts.dispose();
  const wDec = tf.tensor2d([[1, 0], [0, 1]]);
  const wU = tf.tensor2d([[0.5, -1, 2, 0, 1.5], [1, 3, -2, 0.25, -0.5]]);
  const logits = logitWeights(wDec, wU, [0, 1], 2);
  tf.dispose([wDec, wU]);
  const out = neuronpediaExport({
    modelId: 'gpt2-small',
    layer: 8,
    saeId: 'res-jb',
    features: top,
    decode: (i) => VOCAB[i]!,
    frequency: [0.25, 0],
    logits,
    activationHistograms: new Map([[0, { edges: [0, 1, 2], counts: [1, 1] }]]),
    numTokens: 3,
    nBatchesToSampleFrom: 1,
    nPromptsToSelect: 1,
  });
  t.is(out.model_id, 'gpt2-small');
  t.is(out.layer, '8');
  t.is(out.sae_id, 'res-jb');
  t.is(out.features.length, 2);
  const f0 = out.features[0]!;
  t.deepEqual(Object.keys(f0).sort(), [
    'activations', 'featureIndex', 'frac_nonzero', 'freq_hist_data_bar_heights', 'freq_hist_data_bar_values',
    'logits_hist_data_bar_heights', 'logits_hist_data_bar_values', 'neg_str', 'neg_values', 'num_tokens_for_dashboard', 'pos_str', 'pos_values',
  ]);
  t.is(f0.featureIndex, 0);
  t.is(f0.frac_nonzero, 0.25);
  t.deepEqual(f0.pos_str, ['cat', ' dog']);
  t.deepEqual(f0.neg_str, ['\n', '—']);
  t.deepEqual(f0.freq_hist_data_bar_values, [0.5, 1.5]);
  t.is(f0.activations.length, 2);
  const a0 = f0.activations[0]!;
  t.deepEqual(a0.tokens, [' dog', '—']); // window of position 2: [1, 2]
  t.deepEqual(a0.values, [0.123, 2]);
  t.is(a0.maxValue, 2);
  t.is(a0.binMin, -1);
  t.is(a0.binContains, -1);
  t.is(a0.binMax, 2);
  t.deepEqual(JSON.parse(a0.logitContributions), { pos: [{}, {}], neg: [{}, {}] });
  t.deepEqual(f0.activations[1]!.tokens, [' the', ' dog', '—']);
  t.deepEqual(out.features[1]!.activations, []);
  // round-trips through JSON
  t.deepEqual(JSON.parse(JSON.stringify(out)), out);
});

test('skipped indexes and token cleaning', (t) => {
  const { targets, skipped } = neuronpediaSkippedIndexes([-2, -5, -10, -4.9], { modelId: 'm', layer: 0, saeId: 's' });
  t.deepEqual(targets, [0, 3]);
  t.deepEqual(skipped, { model_id: 'm', layer: '0', sae_id: 's', log_sparsity: -5, skipped_indexes: [1, 2] });
  t.is(cleanTokenString('ĠhelloĊĉâĢľxâĢĿ'), ' hello\n\t“x”');
});
