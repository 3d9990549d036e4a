/**
 * loadSession: an SAE by release name from a loopback hub, whose cfg.json names a model that the
 * same hub serves (the tiny GPT-2) and whose release overrides dataset_path with a local text;
 * the activation source follows the SAE's config (hook, context size, BOS).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, take, toArray } from 'rxjs';
import { hubConfig } from '../../src/hub/config.js';
import { loadSession } from '../../src/runners/sessionLoader.js';
import { parseRegistry } from '../../src/sae/pretrained/registry.js';
import { FakeHub } from '../helpers/fakeHub.js';
import { setupTf } from '../helpers/tf.js';
import { TINY_GPT2_DIR } from '../helpers/tinyGpt2.js';

const HAVE = existsSync(path.join(TINY_GPT2_DIR, 'model.safetensors'));
const AUSTEN = path.resolve('../shared/data/austen.txt');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-session-'));
let hub: FakeHub;

test.before(async () => {
  await setupTf();
  if (!HAVE) return;
  const repo = path.join(tmp, 'saes');
  mkdirSync(repo);
  for (const [name, ctx] of [['layer1', 32], ['layer1-ctx16', 16]] as const) {
    cpSync('test/fixtures/analysis/sae', path.join(repo, name), { recursive: true });
    const cfgPath = path.join(repo, name, 'cfg.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, model_name: 'someone/tiny-gpt2', context_size: ctx }));
  }
  hub = await FakeHub.start({ 'models/someone/tiny-saes': repo, 'models/someone/tiny-gpt2': TINY_GPT2_DIR });
});
test.after.always(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const registry = () =>
  parseRegistry(
    [
      'tiny-saes:',
      '  repo_id: someone/tiny-saes',
      '  model: someone/tiny-gpt2',
      '  config_overrides:',
      `    dataset_path: ${JSON.stringify(AUSTEN)}`,
      '  saes:',
      '  - {id: blocks.1.hook_resid_pre, path: layer1}',
      '  - {id: ctx16, path: layer1-ctx16}',
    ].join('\n'),
    'test',
  );

const t2 = HAVE ? test.serial : test.skip;

t2('loadSession: SAE by release name, the model its config names (hub), activations at its hook from the dataset it names', async (t) => {
  const hubOpts = hubConfig({}, { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_CACHE: path.join(tmp, 'hf', 'hub') });
  const before = tf.memory().numTensors;
  const s = await loadSession({ release: 'tiny-saes', saeId: 'blocks.1.hook_resid_pre' }, { registry: registry(), hub: hubOpts, storeBatchSize: 2 });
  try {
    t.true(s.modelDir.includes('models--someone--tiny-gpt2'));
    t.like(s.settings, { modelName: 'someone/tiny-gpt2', hooks: ['blocks.1.hook_resid_pre'], contextSize: 32, prependBos: true, datasetPath: AUSTEN, storeBatchSize: 2 });
    const [tb] = await firstValueFrom(s.tokens().pipe(take(1), toArray()));
    t.is(tb!.n, 2);
    t.is(tb!.contextSize, 32);
    t.is(tb!.tokens[0], 50256);
    t.is(tb!.tokens[32], 50256);
    const batches = await firstValueFrom(s.activations().pipe(take(2), toArray()));
    t.deepEqual(batches[0]!.acts.shape, [64, 128]);
    t.deepEqual(Array.from(batches[0]!.tokens!.slice(0, 32)), Array.from(tb!.tokens.slice(0, 32)));
    // the rows are the model's activations at the hook for those tokens
    const want = tf.tidy(() => {
      const r = s.model.run([Array.from(tb!.tokens.slice(0, 32))], { names: ['blocks.1.hook_resid_pre'], returnType: 'none' });
      return tf.keep(r.cache.get('blocks.1.hook_resid_pre')!.reshape([32, 128]));
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(batches[0]!.acts.slice([0, 0], [32, 128]), want))).dataSync()[0]!);
    t.true(diff < 1e-4, `max diff ${diff}`);
    const l0 = tf.tidy(() => tf.mean(tf.sum(tf.cast(tf.greater(s.saes[0]!.sae.encode(batches[0]!.acts as tf.Tensor2D), 0), 'float32'), 1)).dataSync()[0]!);
    t.true(l0 > 1 && l0 < 64, `L0 ${l0}`);
    tf.dispose([want, ...batches.map((b) => b.acts)]);
    t.is(s.saes[0]!.cfgDict['dataset_path'], AUSTEN);
  } finally {
    s.dispose();
  }
  t.is(tf.memory().numTensors, before);

  // two SAEs whose configs disagree on the context: a clear error, nothing left loaded
  await t.throwsAsync(
    loadSession([{ release: 'tiny-saes', saeId: 'blocks.1.hook_resid_pre' }, { release: 'tiny-saes', saeId: 'ctx16' }], { registry: registry(), hub: hubOpts }),
    { message: /the SAEs disagree on context_size \(32 vs 16\)/ },
  );
  t.is(tf.memory().numTensors, before);
  // a local SAE folder whose config names a model that is not there: the model_name error
  await t.throwsAsync(loadSession({ folder: 'test/fixtures/analysis/sae' }, { hub: hubOpts }), { message: /model_name: "tiny-gpt2-sotu" is neither a local model folder nor a hub repo id/ });
  t.is(tf.memory().numTensors, before);
});
