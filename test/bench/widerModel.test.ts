/**
 * bench/widerModel.ts, the random-weight GPT-2 folder of `bench/cluster.ts --wide`: the folder it
 * writes loads as a GPT-2 of the asked shape with the real tokenizer, runs to its hooks with
 * finite activations of that width, and is the same bytes for the same seed (so both sides of a
 * bench compare the same model). Small shapes here; the bench writes 768 wide.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeWiderModel } from '../../bench/widerModel.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { HAVE_TINY_GPT2, TINY_GPT2_DIR } from '../helpers/tinyGpt2.js';
import { tempDir } from '../helpers/tempDir.js';
import { setupTf } from '../helpers/tf.js';
import { titled } from '../helpers/skip.js';

const skip = HAVE_TINY_GPT2 ? undefined : `${TINY_GPT2_DIR} is absent (its tokenizer is the wider model's)`;
test.before(async () => void (await setupTf()));

(skip ? test.skip : test)(titled('writeWiderModel writes a GPT-2 folder of the asked shape that loads and runs, the same bytes for the same seed', skip), async (t) => {
  const dir = tempDir(t);
  const shape = { width: 96, heads: 4, layers: 2, nCtx: 32 };
  await writeWiderModel(path.join(dir, 'a'), TINY_GPT2_DIR, shape, 3);
  await writeWiderModel(path.join(dir, 'b'), TINY_GPT2_DIR, shape, 3);
  await writeWiderModel(path.join(dir, 'c'), TINY_GPT2_DIR, shape, 4);
  const bytes = (d: string) => fs.readFileSync(path.join(dir, d, 'model.safetensors'));
  t.true(bytes('a').equals(bytes('b')), 'the same seed gives the same weights');
  t.false(bytes('a').equals(bytes('c')), 'another seed gives other weights');

  const before = tf.memory().numTensors;
  const model = await HookedTransformer.fromFolder(path.join(dir, 'a'));
  try {
    t.like(model.cfg, { dModel: 96, nHeads: 4, nLayers: 2, nCtx: 32, dVocab: 50257 });
    const tokenizer = loadTokenizer(path.join(dir, 'a'));
    const tokens = tokenizer.encode('It is a truth universally acknowledged');
    const r = model.runWithCache([tokens], { names: ['blocks.1.hook_resid_pre'] });
    const act = r.cache.get('blocks.1.hook_resid_pre')!;
    t.deepEqual(act.shape, [1, tokens.length, 96]);
    const values = act.dataSync();
    t.true(values.every(Number.isFinite));
    // random weights of std 0.02 still move the residual stream: not all zeros
    t.true(values.some((v) => Math.abs(v) > 1e-3));
    tf.dispose([...r.cache.values()]);
  } finally {
    model.dispose();
  }
  t.is(tf.memory().numTensors, before, 'no tensor left behind');
});
