import test from 'ava';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import { setupTf } from '../helpers/tf.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { compareToReference, maxAbsDiff, referencePrompts } from './refCompare.js';

// Made by scripts/reference/model_neox.py (random weights, plain-torch HF GPTNeoX forward).
const PAR = path.resolve('test/fixtures/model/neox-tiny');
const SEQ = path.resolve('test/fixtures/model/neox-tiny-seq');
const TOL = 1e-4;
const seqs = referencePrompts;

test.before(async () => {
  await setupTf();
});

for (const [dir, label, nKeys] of [
  [PAR, 'parallel residual, one file', 2 * 16 + 4],
  [SEQ, 'sequential residual, two shards', 2 * 17 + 4],
] as const) {
  test.serial(`GPT-NeoX (${label}) without processing matches the torch reference (1e-4)`, async (t) => {
    const before = tf.memory().numTensors;
    const model = await HookedTransformer.fromFolder(dir, { processWeights: false });
    t.is(model.cfg.family, 'gpt-neox');
    t.is(model.cfg.rotaryDim, 4);
    const d = await compareToReference(model, path.join(dir, 'reference.safetensors'), 'hf', seqs(dir));
    t.log(`max abs err ${d.max.toExponential(2)} (${d.worstKey}); logits ${d.perKey.get('logits')?.toExponential(2)}`);
    t.deepEqual(d.missing, []);
    t.is(d.perKey.size, nKeys);
    t.true(d.max < TOL, `${d.worstKey}: ${d.max}`);
    model.dispose();
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`GPT-NeoX (${label}) processed: same loss, centered logits and residual stream`, async (t) => {
    const before = tf.memory().numTensors;
    const model = await HookedTransformer.fromFolder(dir);
    t.is(model.cfg.normalizationType, 'LNPre');
    const f = await SafetensorsFile.open(path.join(dir, 'reference.safetensors'));
    const toks = seqs(dir)[1]!;
    const T = toks.length;
    const tokens = tf.tensor2d([toks], undefined, 'int32');
    const names = ['blocks.1.hook_resid_pre', 'blocks.1.hook_resid_post', 'blocks.0.attn.hook_pattern', 'blocks.1.mlp.hook_post'];
    const { logits, cache } = model.runWithCache(tokens, { names, returnType: 'logits' });
    const loss = model.lossPerToken(tokens);
    const centered = async (key: string, d: number) =>
      tf.tidy(() => {
        const x = tf.tensor(refs.get(key)!, [T, d]);
        return tf.sub(x, tf.mean(x, -1, true)).dataSync() as Float32Array;
      });
    const refs = new Map<string, Float32Array>();
    for (const k of ['logits', 'loss_per_token', ...names]) refs.set(k, await f.readFloat32(`hf/1/${k}`));
    await f.close();
    const errs: Record<string, number> = {
      logits: maxAbsDiff(logits!.dataSync() as Float32Array, await centered('logits', model.cfg.dVocab)),
      loss: maxAbsDiff(loss.dataSync() as Float32Array, refs.get('loss_per_token')!),
      resid_pre: maxAbsDiff(cache.get(names[0]!)!.dataSync() as Float32Array, await centered(names[0]!, 32)),
      resid_post: maxAbsDiff(cache.get(names[1]!)!.dataSync() as Float32Array, await centered(names[1]!, 32)),
      pattern: maxAbsDiff(cache.get(names[2]!)!.dataSync() as Float32Array, refs.get(names[2]!)!),
      mlp_post: maxAbsDiff(cache.get(names[3]!)!.dataSync() as Float32Array, refs.get(names[3]!)!),
    };
    t.log(JSON.stringify(errs));
    for (const [k, v] of Object.entries(errs)) t.true(v < TOL, `${k}: ${v}`);
    tf.dispose([tokens, logits!, loss, ...cache.values()]);
    model.dispose();
    t.is(tf.memory().numTensors, before);
  });
}

test.serial('half-precision checkpoints (BF16, F16) with non-float buffers load', async (t) => {
  const { writeSafetensors } = await import('../../src/io/safetensors.js');
  const os = await import('node:os');
  const before = tf.memory().numTensors;
  const f = await SafetensorsFile.open(path.join(PAR, 'model.safetensors'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-neox-'));
  try {
    const raw: Record<string, { dtype: 'BF16' | 'F16' | 'BOOL'; shape: number[]; data: Float32Array | Uint8Array }> = {};
    for (const [i, n] of f.names().entries()) {
      raw[n] = { dtype: i % 2 ? 'BF16' : 'F16', shape: f.info(n).shape, data: await f.readFloat32(n) };
    }
    // Old GPT-NeoX checkpoints carry a boolean causal-mask buffer per layer.
    raw['gpt_neox.layers.0.attention.bias'] = { dtype: 'BOOL', shape: [1, 1, 4, 4], data: new Uint8Array(16).fill(1) };
    await f.close();
    await writeSafetensors(path.join(tmp, 'model.safetensors'), raw);
    fs.copyFileSync(path.join(PAR, 'config.json'), path.join(tmp, 'config.json'));
    const half = await HookedTransformer.fromFolder(tmp, { processWeights: false });
    const full = await HookedTransformer.fromFolder(PAR, { processWeights: false });
    const tokens = tf.tensor2d([seqs(PAR)[0]!], undefined, 'int32');
    const [a, b] = [half.logits(tokens), full.logits(tokens)];
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    t.log(`half-precision weights vs float32: max logit difference ${err.toExponential(2)}`);
    t.true(err > 0 && err < 0.5);
    tf.dispose([tokens, a, b]);
    half.dispose();
    full.dispose();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  t.is(tf.memory().numTensors, before);
});

test.serial('each processing step can be turned off and none changes the loss', async (t) => {
  const before = tf.memory().numTensors;
  const tokens = tf.tensor2d([seqs(PAR)[1]!], undefined, 'int32');
  const raw = await HookedTransformer.fromFolder(PAR, { processWeights: false });
  const rawLoss = raw.lossPerToken(tokens);
  const rawLogits = raw.logits(tokens);
  raw.dispose();
  for (const opts of [{ foldLn: false }, { centerWritingWeights: false }, { centerUnembed: false }, { foldValueBiases: false }]) {
    const m = await HookedTransformer.fromFolder(PAR, { processWeights: opts });
    t.is(m.cfg.normalizationType, opts.foldLn === false ? 'LN' : 'LNPre', JSON.stringify(opts));
    const [loss, logits] = [m.lossPerToken(tokens), m.logits(tokens)];
    const lossErr = tf.tidy(() => tf.max(tf.abs(tf.sub(loss, rawLoss))).dataSync()[0]!);
    t.true(lossErr < 1e-5, `${JSON.stringify(opts)}: loss ${lossErr}`);
    if (opts.centerUnembed === false) {
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(logits, rawLogits))).dataSync()[0]!);
      t.true(err < 1e-4, `uncentered logits ${err}`);
    }
    tf.dispose([loss, logits]);
    m.dispose();
  }
  tf.dispose([tokens, rawLoss, rawLogits]);
  t.is(tf.memory().numTensors, before);
});
