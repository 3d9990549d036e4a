import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { saeVisFeatureData } from '../../src/analysis/saeVisFeatureData.js';
import {
  OUT_OF_RANGE_TOKEN, cleanTokenString, logitWeights, neuronpediaExport, neuronpediaSkippedIndexes, npRound3,
  type NeuronpediaActivation, type NeuronpediaBatch, type NeuronpediaFeature,
} from '../../src/analysis/neuronpedia.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

test.before(async () => {
  await setupTf();
});

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

interface Reference {
  inputs: { N: number; L: number; D: number; V: number; features: number[]; tokens: number[]; model_acts: number[]; resid_post: number[]; W_U: number[]; feat_acts: number[]; W_dec_rows: number[]; vocab: string[] };
  batch: NeuronpediaBatch;
  groups: Array<{ intervals: Array<{ binMin: number; binMax: number; binContains: number; eligible: number[]; n: number }>; rowEntries: Array<Omit<NeuronpediaActivation, 'binMin' | 'binMax' | 'binContains'>> }>;
}

const REF = JSON.parse(readFileSync(new URL('../fixtures/neuronpedia/reference.json', import.meta.url), 'utf8')) as Reference;

/** Numbers equal up to one unit of the runner's 3-decimal rounding (float32 sums in another order). */
function close(t: ExecutionContext, a: unknown, b: unknown, where: string): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Math.abs(a - b) > 1.0001e-3) t.fail(`${where}: ${a} vs ${b}`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return void t.fail(`${where}: length ${a.length} vs ${b.length}`);
    a.forEach((x, i) => close(t, x, b[i], `${where}[${i}]`));
    return;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    t.deepEqual(Object.keys(a), Object.keys(b), `${where}: keys (and their order)`);
    for (const k of Object.keys(a)) close(t, (a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${where}.${k}`);
    return;
  }
  if (a !== b) t.fail(`${where}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

/** An activation object with its logitContributions string parsed (so its numbers compare with the tolerance). */
const parsed = (a: object) => ({ ...a, logitContributions: JSON.parse((a as NeuronpediaActivation).logitContributions) as unknown });

test.serial('neuronpediaExport: the batch file of SAELens v1.5\'s Neuronpedia runner, field by field', async (t) => {
  const I = REF.inputs;
  const F = I.features.length;
  const wU = tf.tensor2d(I.W_U, [I.D, I.V]);
  let batch!: NeuronpediaBatch;
  t.is(
    await leakedTensors(() => {
      const data = saeVisFeatureData({
        tokens: Int32Array.from(I.tokens),
        nSeq: I.N,
        seqLen: I.L,
        features: I.features,
        featureActs: Float32Array.from(I.feat_acts),
        modelActs: Float32Array.from(I.model_acts),
        residPost: Float32Array.from(I.resid_post),
        featureOutDir: Float32Array.from(I.W_dec_rows),
        featureResidDir: Float32Array.from(I.W_dec_rows),
        wU,
      }, { seed: 3 });
      batch = neuronpediaExport({ modelId: 'tiny-model', layer: 2, saeId: 'res-test', features: data, vocab: I.vocab, dVocab: I.V, nBatchesToSampleFrom: 3, nPromptsToSelect: 7 });
    }),
    0,
  );
  wU.dispose();
  const ref = REF.batch;
  t.deepEqual(Object.keys(batch), Object.keys(ref));
  for (const k of ['model_id', 'layer', 'sae_id', 'n_batches_to_sample_from', 'n_prompts_to_select'] as const) t.is(batch[k], ref[k]);
  t.is(batch.features.length, F);
  // the file is plain JSON: what is written reads back unchanged
  t.deepEqual(JSON.parse(JSON.stringify(batch)), batch);
  for (const [fi, ours] of batch.features.entries()) {
    const want = ref.features[fi]!;
    const where = `feature ${want.featureIndex}`;
    t.deepEqual(Object.keys(ours), Object.keys(want), `${where}: keys in the runner's order`);
    for (const k of Object.keys(want) as Array<keyof NeuronpediaFeature>) {
      if (k === 'activations') continue;
      if (k.endsWith('_str') || k.endsWith('_indices') || k === 'featureIndex' || k.endsWith('_heights')) t.deepEqual(ours[k], want[k], `${where}.${k}`);
      else close(t, ours[k], want[k], `${where}.${k}`);
    }
    // top group: the same 20 sequences in the same order
    const nTop = want.activations.length;
    t.is(nTop, 20);
    close(t, ours.activations.slice(0, nTop).map(parsed), want.activations.map(parsed), `${where} top activations`);
    // interval groups: bins as the runner parses them; examples drawn from the right rows, each the runner's object for its row
    const groups = REF.groups[fi]!;
    let at = nTop;
    for (const [gi, g] of groups.intervals.entries()) {
      const mine = ours.activations.slice(at, at + g.n);
      at += g.n;
      t.is(mine.length, g.n, `${where} interval ${gi}: ${g.n} examples`);
      const rows = new Set(g.eligible.map((p) => Math.floor(p / I.L)));
      for (const a of mine) {
        t.deepEqual([a.binMin, a.binMax, a.binContains], [g.binMin, g.binMax, g.binContains], `${where} interval ${gi} bins`);
        const row = groups.rowEntries.findIndex((e) => JSON.stringify(e.tokens) === JSON.stringify(a.tokens) && JSON.stringify(e.values) === JSON.stringify(a.values));
        t.true(rows.has(row), `${where} interval ${gi}: example from row ${row}, eligible rows ${[...rows]}`);
        const { binMin: _a, binMax: _b, binContains: _c, ...rest } = a;
        close(t, parsed(rest), parsed(groups.rowEntries[row]!), `${where} interval ${gi} row ${row}`);
      }
    }
    t.is(ours.activations.length, at, `${where}: nothing beyond the top and interval groups`);
  }
  // strings: the runner's replacements, escaping left to the consumer, padding past the vocabulary
  const strs = batch.features.flatMap((f) => [...f.pos_str, ...f.neg_str, ...f.activations.flatMap((a) => a.tokens)]);
  t.true(strs.includes(OUT_OF_RANGE_TOKEN), 'ids past the vocabulary read <|outofrange|>');
  t.false(strs.some((s) => /Ġ|Ċ|âĢ/.test(s)));
});

test('npRound3: numpy rounding (half to even on the scaled value)', (t) => {
  t.deepEqual([0.0025, -0.0025, 0.0035, 1.23456, -1.23456, 2.5e-4].map(npRound3), [0.002, -0.002, 0.004, 1.235, -1.235, 0]);
});

test('skipped indexes and token cleaning', (t) => {
  const { targets, skipped } = neuronpediaSkippedIndexes([-2, -5, -10, -4.9], { modelId: 'm', layer: 0, saeId: 's' });
  t.deepEqual(targets, [0, 3]);
  t.deepEqual(skipped, { model_id: 'm', layer: '0', sae_id: 's', log_sparsity: -5, skipped_indexes: [1, 2] });
  t.is(cleanTokenString('ĠhelloĊĉâĢľxâĢĿ'), ' hello\n\t“x”');
});
