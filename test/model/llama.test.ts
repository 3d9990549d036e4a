import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { compareToReference, referencePrompts } from './refCompare.js';

const DIR = path.resolve('../shared/models/stories260k');
const HAVE = fs.existsSync(path.join(DIR, 'model.safetensors'));
const REF = path.join(DIR, 'reference.safetensors');
const TOL = 1e-4;
const seqs = (): number[][] => referencePrompts(DIR);

test.before(async () => {
  await setupTf();
});

const t0 = HAVE ? test.serial : test.skip;
if (!HAVE) console.log(`skipping stories260k tests: ${DIR} is absent`);

t0('stories260k (Llama, GQA, RoPE) without processing matches its references (1e-4)', async (t) => {
  const before = tf.memory().numTensors;
  const model = await HookedTransformer.fromFolder(DIR, { processWeights: false });
  t.is(model.cfg.family, 'llama');
  t.is(model.cfg.nKvHeads, 4);
  const d = await compareToReference(model, REF, 'hf', seqs());
  t.log(`max abs err ${d.max.toExponential(2)} (${d.worstKey}); logits ${d.perKey.get('logits')?.toExponential(2)}; loss ${d.perKey.get('loss_per_token')?.toExponential(2)}`);
  t.deepEqual(d.missing, []);
  t.is(d.perKey.size, 5 * 17 + 4);
  t.true(d.max < TOL, `${d.worstKey}: ${d.max}`);
  model.dispose();
  t.is(tf.memory().numTensors, before);
});

t0('stories260k with processing (RMS folded, unembed centered) keeps hooks and centers logits', async (t) => {
  const before = tf.memory().numTensors;
  const model = await HookedTransformer.fromFolder(DIR);
  t.is(model.cfg.normalizationType, 'RMSPre');
  const d = await compareToReference(model, REF, 'hf', seqs(), { logitsKey: 'centered_logits' });
  t.log(`hooks max abs err ${d.max.toExponential(2)} (${d.worstKey})`);
  t.deepEqual(d.missing, ['logits', 'logits', 'logits']); // compared below, centered
  t.true(d.max < TOL, `${d.worstKey}: ${d.max}`);
  const s = seqs()[0]!;
  const f = await SafetensorsFile.open(REF);
  const hf = tf.tensor(await f.readFloat32('hf/0/logits'), [1, s.length, model.cfg.dVocab]);
  await f.close();
  const tokens = tf.tensor2d([s], undefined, 'int32');
  const ours = model.logits(tokens);
  const err = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, tf.sub(hf, tf.mean(hf, -1, true))))).dataSync()[0]!);
  t.log(`logits vs centered reference logits: ${err.toExponential(2)}`);
  t.true(err < TOL);
  tf.dispose([hf, tokens, ours]);
  model.dispose();
  t.is(tf.memory().numTensors, before);
});

t0('stories260k greedy decoding reproduces expected_greedy.txt', async (t) => {
  const line = fs.readFileSync(path.join(DIR, 'expected_greedy.txt'), 'utf8').split('\n').find((l) => l.startsWith('tokens:'))!;
  const expected = line.slice('tokens:'.length).trim().split(/\s+/).map(Number);
  t.is(expected.length, 257);
  const model = await HookedTransformer.fromFolder(DIR);
  const before = tf.memory().numTensors;
  const got = model.generateGreedy([1], 256);
  t.is(tf.memory().numTensors, before);
  model.dispose();
  const firstDiff = got.findIndex((x, i) => x !== expected[i]);
  t.is(firstDiff, -1, `first difference at ${firstDiff}`);
  t.deepEqual(got, expected);
});
