import test from 'ava';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf, leakedTensors } from '../helpers/tf.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { configFromHf } from '../../src/model/ModelConfig.js';
import { ConfigError, ShapeError } from '../../src/errors.js';

const DIR = path.resolve('test/fixtures/model/neox-tiny');
let model: HookedTransformer;

test.before(async () => {
  await setupTf();
  model = await HookedTransformer.fromFolder(DIR);
});
test.after.always(() => model?.dispose());

const toks = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
const A = [0, 5, 17, 33, 2, 90, 41, 8, 8, 63];
const B = [0, 7, 7, 21, 55, 3, 12, 80, 44, 1];

test.serial('hookNames/hookShapes describe exactly what runWithCache returns', (t) => {
  const names = model.hookNames();
  t.true(names.includes('blocks.1.attn.hook_rot_q'));
  t.false(names.includes('blocks.0.hook_resid_mid')); // parallel attention + MLP
  t.false(names.includes('hook_pos_embed')); // rotary
  const shapes = model.hookShapes(2, A.length);
  const leaked = (() => {
    const before = tf.memory().numTensors;
    const x = toks([A, B]);
    const { cache, logits } = model.runWithCache(x, { names, returnType: 'logits' });
    t.deepEqual([...cache.keys()].sort(), [...names].sort());
    for (const [k, v] of cache) t.deepEqual(v.shape, shapes[k], k);
    t.deepEqual(logits!.shape, [2, A.length, model.cfg.dVocab]);
    tf.dispose([x, logits!, ...cache.values()]);
    return tf.memory().numTensors - before;
  })();
  t.is(leaked, 0);
});

test.serial('a batch gives the same logits as its rows one by one', (t) => {
  tf.tidy(() => {
    const both = model.logits(toks([A, B]));
    const a = model.logits(toks([A]));
    const b = model.logits(toks([B]));
    const err = tf.max(tf.abs(tf.sub(both, tf.concat([a, b], 0)))).dataSync()[0]!;
    t.true(err < 1e-5, String(err));
  });
});

test.serial('stopAtLayer and a list of names stop early: later blocks never run', (t) => {
  const seen: string[] = [];
  const spy = Object.fromEntries(model.hookNames().map((n) => [n, (_: tf.Tensor, name: string) => void seen.push(name)]));
  const x = toks([A]);
  const r1 = model.runWithCache(x, { names: ['blocks.0.hook_resid_post'], stopAtLayer: 1, hooks: spy });
  t.is(r1.logits, undefined);
  t.deepEqual([...r1.cache.keys()], ['blocks.0.hook_resid_post']);
  // Only blocks.1.hook_resid_pre (block 0's output, where the pass stops) may be seen of layer 1.
  t.false(seen.some((n) => (n.startsWith('blocks.1.') && n !== 'blocks.1.hook_resid_pre') || n.startsWith('ln_final')), seen.join());
  t.true(seen.includes('blocks.0.hook_mlp_out'));
  // Without stopAtLayer, a list of names alone stops after the last block they need.
  seen.length = 0;
  const spyOnly = { 'blocks.1.hook_resid_pre': spy['blocks.1.hook_resid_pre']!, 'ln_final.hook_scale': spy['ln_final.hook_scale']! };
  const r2 = model.runWithCache(x, { names: ['blocks.0.attn.hook_pattern'] });
  t.is(r2.logits, undefined);
  const r3 = model.run(x, { names: ['blocks.0.attn.hook_z'], hooks: { 'blocks.0.hook_attn_out': spyOnly['blocks.1.hook_resid_pre'] }, returnType: 'none' });
  t.deepEqual(seen, ['blocks.0.hook_attn_out']);
  t.is(r3.output, undefined);
  tf.dispose([x, ...r1.cache.values(), ...r2.cache.values(), ...r3.cache.values()]);
  t.throws(() => model.runWithCache(x, { stopAtLayer: 9 }), { instanceOf: ConfigError });
});

test.serial('runWithHooks: replacing an activation splices it in; zero-ablation changes the loss', (t) => {
  const leaked = (() => {
    const before = tf.memory().numTensors;
    const xa = toks([A]);
    const xb = toks([B]);
    // The last block's resid_post decides the logits: splicing B's into A's run gives B's logits.
    const { cache } = model.runWithCache(xb, { names: ['blocks.1.hook_resid_post'] });
    const residB = cache.get('blocks.1.hook_resid_post')!;
    const spliced = model.runWithHooks(xa, { hooks: { 'blocks.1.hook_resid_post': () => residB }, returnType: 'logits' });
    const logitsB = model.logits(xb);
    t.true(tf.tidy(() => tf.max(tf.abs(tf.sub(spliced, logitsB))).dataSync()[0]!) < 1e-5);
    // A hook that returns nothing keeps the activation.
    const same = model.runWithHooks(xa, { hooks: { 'blocks.0.hook_mlp_out': () => undefined } });
    const clean = model.logits(xa);
    t.is(tf.tidy(() => tf.max(tf.abs(tf.sub(same, clean))).dataSync()[0]!), 0);
    // Zero-ablating the MLP output changes the loss; 'loss' is the mean of lossPerToken.
    const ablated = model.runWithHooks(xa, { hooks: { 'blocks.0.hook_mlp_out': (act) => tf.zerosLike(act) }, returnType: 'loss' });
    const perTok = model.lossPerToken(xa);
    const cleanLoss = model.runWithHooks(xa, { hooks: {}, returnType: 'loss' });
    t.deepEqual(ablated.shape, []);
    t.deepEqual(perTok.shape, [1, A.length - 1]);
    t.true(Math.abs(cleanLoss.dataSync()[0]! - tf.tidy(() => tf.mean(perTok).dataSync()[0]!)) < 1e-6);
    t.true(Math.abs(ablated.dataSync()[0]! - cleanLoss.dataSync()[0]!) > 1e-3);
    tf.dispose([xa, xb, residB, spliced, logitsB, same, clean, ablated, perTok, cleanLoss]);
    return tf.memory().numTensors - before;
  })();
  t.is(leaked, 0);
});

test.serial('errors name the problem and leak nothing', async (t) => {
  const x = toks([A]);
  t.is(
    await leakedTensors(() => {
      t.throws(() => model.runWithHooks(x, { hooks: { 'blocks.0.hook_nope': () => undefined } }), {
        instanceOf: ConfigError,
        message: /blocks\.0\.hook_nope/,
      });
      t.throws(() => model.runWithHooks(x, { hooks: { 'blocks.0.hook_mlp_out': () => tf.zeros([1, 2]) } }), {
        instanceOf: ShapeError,
        message: /blocks\.0\.hook_mlp_out/,
      });
      t.throws(
        () =>
          model.runWithHooks(x, {
            hooks: {
              'blocks.1.hook_resid_pre': () => {
                throw new Error('boom');
              },
            },
          }),
        { message: 'boom' },
      );
      t.throws(() => model.logits(toks([Array.from({ length: 65 }, () => 1)])), { instanceOf: ShapeError, message: /65 positions/ });
      t.throws(() => model.logits(tf.tensor2d([[1, 2]]) as tf.Tensor2D), { instanceOf: ShapeError, message: /int32/ });
    }),
    2, // the two token tensors made inline in the last two checks
  );
  x.dispose();
  t.throws(() => configFromHf({ model_type: 'bert' }), { instanceOf: ConfigError, message: /bert/ });
  t.throws(() => configFromHf({ model_type: 'gpt2' }), { instanceOf: ConfigError, message: /n_embd/ });
});

test.serial('dispose frees every weight', async (t) => {
  const before = tf.memory().numTensors;
  const m = await HookedTransformer.fromFolder(DIR, { processWeights: false });
  t.true(m.numParams > 30_000);
  m.dispose();
  t.is(tf.memory().numTensors, before);
  t.throws(() => m.logits([[1, 2]]), { instanceOf: ConfigError });
});

test('configFromHf reads the three families', (t) => {
  const g = configFromHf({ model_type: 'gpt2', n_embd: 768, n_head: 12, n_layer: 12, vocab_size: 50257, n_positions: 1024, n_inner: null });
  t.like(g, { family: 'gpt2', dHead: 64, dMlp: 3072, nKvHeads: 12, actFn: 'gelu_new', normalizationType: 'LN', positionalEmbedding: 'standard', tiedEmbeddings: true });
  const l = configFromHf({
    architectures: ['LlamaForCausalLM'], hidden_size: 64, num_attention_heads: 8, num_key_value_heads: 4, num_hidden_layers: 5,
    intermediate_size: 172, vocab_size: 512, rms_norm_eps: 1e-5, rope_theta: 10000,
  });
  t.like(l, { family: 'llama', dHead: 8, nKvHeads: 4, gatedMlp: true, normalizationType: 'RMS', rotaryDim: 8, actFn: 'silu', eps: 1e-5 });
  const n = configFromHf({
    model_type: 'gpt_neox', hidden_size: 512, num_attention_heads: 8, num_hidden_layers: 6, intermediate_size: 2048,
    vocab_size: 50304, rotary_pct: 0.25, hidden_act: 'gelu', max_position_embeddings: 2048,
  });
  t.like(n, { family: 'gpt-neox', dHead: 64, rotaryDim: 16, parallelAttnMlp: true, actFn: 'gelu', tiedEmbeddings: false });
  t.throws(() => configFromHf({ model_type: 'llama', hidden_size: 64, num_attention_heads: 8, num_hidden_layers: 1, intermediate_size: 8, vocab_size: 8, rope_scaling: { type: 'linear' } }), {
    instanceOf: ConfigError,
    message: /rope_scaling/,
  });
  t.throws(() => configFromHf({ ...{ model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 1, vocab_size: 8, n_positions: 8 }, activation_function: 'swishy' }), {
    instanceOf: ConfigError,
    message: /swishy/,
  });
});

test.serial('resid_pre at the stop layer needs no block of that layer; cached hook outputs belong to the caller', async (t) => {
  const x = toks([A]);
  let r!: ReturnType<HookedTransformer['runWithCache']>;
  let full!: ReturnType<HookedTransformer['runWithCache']>;
  // The same kernels run for block 0's output under either name: block 1 never runs.
  const p1 = await tf.profile(() => void (r = model.runWithCache(x, { names: ['blocks.1.hook_resid_pre'] })));
  const p0 = await tf.profile(() => void (full = model.runWithCache(x, { names: ['blocks.0.hook_resid_post'] })));
  t.is(p1.kernels.length, p0.kernels.length);
  t.is(tf.tidy(() => tf.max(tf.abs(tf.sub(r.cache.get('blocks.1.hook_resid_pre')!, full.cache.get('blocks.0.hook_resid_post')!))).dataSync()[0]!), 0);
  // A tensor returned by a hook and cached is a clone: disposing the cache leaves it alive.
  const mine = tf.zeros([1, A.length, 32]);
  const h = model.runWithCache(x, { names: ['blocks.0.hook_mlp_out'], hooks: { 'blocks.0.hook_mlp_out': () => mine } });
  tf.dispose([...h.cache.values()]);
  t.false(mine.isDisposed);
  t.throws(() => model.runWithCache(x, { names: ['blocks.0.hook_mlp_outt'] }), { instanceOf: ConfigError, message: /hook_mlp_outt/ });
  tf.dispose([x, mine, ...r.cache.values(), ...full.cache.values()]);
});

test.serial('the fused attention (nobody looks at scores or pattern) gives the hooked path\'s hook_z and logits', (t) => {
  const x = toks([A, B]);
  const fused = model.runWithCache(x, { names: ['blocks.1.attn.hook_z'], returnType: 'logits' });
  const hooked = model.runWithCache(x, { names: ['blocks.1.attn.hook_z', 'blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_attn_scores'], returnType: 'logits' });
  const err = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
  const ez = err(fused.cache.get('blocks.1.attn.hook_z')!, hooked.cache.get('blocks.1.attn.hook_z')!);
  const el = err(fused.logits!, hooked.logits!);
  t.true(ez < 1e-5, `hook_z differs by ${ez}`);
  t.true(el < 1e-4, `logits differ by ${el}`);
  tf.dispose([x, fused.logits!, hooked.logits!, ...fused.cache.values(), ...hooked.cache.values()]);
});

test.serial('a hook on hook_scale runs the unfused norm; caching it does not: same activations either way', (t) => {
  const x = toks([A, B]);
  const names = ['blocks.1.ln1.hook_scale', 'blocks.1.ln1.hook_normalized', 'blocks.1.hook_resid_post'];
  const fused = model.runWithCache(x, { names });
  const hooks = Object.fromEntries(names.slice(0, 1).map((n) => [n, (a: tf.Tensor) => a]));
  const unfused = model.runWithCache(x, { names, hooks });
  for (const n of names) {
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(fused.cache.get(n)!, unfused.cache.get(n)!))).dataSync()[0]!);
    t.true(err < 1e-5, `${n} differs by ${err}`);
  }
  // A hook that doubles the scale halves the normalized activation.
  const doubled = model.runWithCache(x, { names: ['blocks.1.ln1.hook_normalized'], hooks: { 'blocks.1.ln1.hook_scale': (a: tf.Tensor) => tf.mul(a, 2) } });
  const ratio = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.mul(doubled.cache.get('blocks.1.ln1.hook_normalized')!, 2), fused.cache.get('blocks.1.ln1.hook_normalized')!))).dataSync()[0]!);
  t.true(ratio < 1e-5, String(ratio));
  tf.dispose([x, ...fused.cache.values(), ...unfused.cache.values(), ...doubled.cache.values()]);
});

test.serial('unembed: false (an untied GPT-NeoX): the hooks as with the unembedding, logits and losses a ConfigError', async (t) => {
  const before = tf.memory().numTensors;
  const lean = await HookedTransformer.fromFolder(DIR, { unembed: false });
  try {
    const names = model.hookNames();
    const x = toks([A]);
    const a = model.runWithCache(x, { names, returnType: 'none' });
    const b = lean.runWithCache(x, { names, returnType: 'none' });
    for (const [k, v] of a.cache) t.deepEqual(b.cache.get(k)!.dataSync(), v.dataSync(), k);
    t.throws(() => lean.run(x, { returnType: 'lossPerToken' }), { instanceOf: ConfigError, message: /without its unembedding/ });
    tf.dispose([x, ...a.cache.values(), ...b.cache.values()]);
  } finally {
    lean.dispose();
  }
  t.is(tf.memory().numTensors, before);
});
