import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, map, range, take, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { cacheActivationsRunner, cacheDiskBytes, runCacheActivations, type CacheRunnerSettings } from '../../src/runners/cacheActivationsRunner.js';
import { decodeCacheActivationsRunnerConfig } from '../../src/config/cacheActivationsRunnerConfig.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { localDocuments } from '../../src/sources/localDocuments.js';
import { packContext } from '../../src/operators/packContext.js';
import { modelActivations } from '../../src/operators/modelActivations.js';
import { cachedActivations, readCacheManifest, shardPath } from '../../src/sources/cachedActivations.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { toyModel } from '../../src/sources/toyModel.js';
import { fromActivations } from '../../src/sources/fromActivations.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import type { SaeSnapshot } from '../../src/sae/Sae.js';
import { ConfigError } from '../../src/errors.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import { spec } from '../operators/trainSaeHelpers.js';
import { tempDir } from '../helpers/tempDir.js';

test.before(async () => {
  await setupTf();
});

const model = toyModel({ nFeatures: 8, nHidden: 4, featureProbability: 0.1 });
const toy = (batches?: number, seed = 3) => toyActivations(model, { batchSize: 32, seed, batches });
const tmp = (t: ExecutionContext) => tempDir(t, 'cache-runner-');

const settings = (dir: string, over: Partial<CacheRunnerSettings> = {}): CacheRunnerSettings => ({
  model_name: 'toy',
  hook_point: 'hook_hidden',
  hook_point_head_index: null,
  dataset_path: 'toy-data',
  context_size: 8,
  new_cached_activations_path: dir,
  d_in: 4,
  n_batches_in_buffer: 2,
  store_batch_size: 4,
  training_tokens: 384,
  seed: 42,
  shuffle_every_n_buffers: 2,
  n_shuffles_with_last_section: 2,
  n_shuffles_in_entire_dir: 2,
  n_shuffles_final: 5,
  ...over,
});

async function allRows(src: ReturnType<typeof toy>): Promise<Float32Array[]> {
  const bs = await firstValueFrom(src.pipe(toArray()));
  const out = bs.map((b) => b.acts.dataSync() as Float32Array);
  bs.forEach((b) => b.acts.dispose());
  return out;
}
const rowKeys = (parts: Float32Array[], d: number) => {
  const keys: string[] = [];
  for (const p of parts) for (let i = 0; i < p.length; i += d) keys.push(Array.from(p.subarray(i, i + d)).join(','));
  return keys.sort();
};

test.serial('cache runner: shards of [tokens, hooks, d_in], manifest, SAELens shuffles keep the multiset of rows', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const before = tf.memory().numTensors;
  const lines: string[] = [];
  const s = await cacheActivationsRunner(settings(dir), { source: toy(), log: (l) => lines.push(l) });
  t.is(tf.memory().numTensors, before, 'no tensors leaked');
  // 384 tokens / (2·4·8 = 64 per buffer) = 6 shards of 64
  t.is(s.shards, 6);
  t.is(s.tokens, 384);
  t.is(s.bytes, fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0));
  t.true(s.bytes >= cacheDiskBytes(settings(dir)));
  t.true(s.tokensPerSecond > 0 && s.writeMBPerSecond > 0);
  // passes: after shard 2: 2 + 2; after shard 4: 2 + 2; final 5
  t.is(s.shufflePasses, 13);
  t.deepEqual(fs.readdirSync(dir).sort(), ['0.safetensors', '1.safetensors', '2.safetensors', '3.safetensors', '4.safetensors', '5.safetensors', 'manifest.json']);
  const m = await readCacheManifest(dir);
  t.like(m, { model_name: 'toy', hook_points: ['hook_hidden'], dataset_path: 'toy-data', context_size: 8, d_in: 4, dtype: 'float32', n_shards: 6, total_tokens: 384 });
  t.deepEqual(m.shard_tokens, [64, 64, 64, 64, 64, 64]);
  const st = decodeSafetensors(new Uint8Array(fs.readFileSync(shardPath(dir, 0))));
  t.deepEqual(st.names(), ['activations']);
  t.deepEqual(st.info('activations').shape, [64, 1, 4]);
  t.is(st.info('activations').dtype, 'F32');
  // the same rows, in another order
  const onDisk: Float32Array[] = [];
  for (let i = 0; i < 6; i++) onDisk.push(decodeSafetensors(new Uint8Array(fs.readFileSync(shardPath(dir, i)))).float32('activations'));
  const live = await allRows(toy(12));
  t.deepEqual(rowKeys(onDisk, 4), rowKeys(live, 4));
  t.notDeepEqual(Array.from(onDisk[0]!.subarray(0, 8)), Array.from(live[0]!.subarray(0, 8)), 'shuffled');
  t.true(lines.some((l) => /tokens\/s/.test(l)));
  // a folder that is not empty is refused
  await t.throwsAsync(cacheActivationsRunner(settings(dir), { source: toy() }), { instanceOf: ConfigError, message: /not empty/ });
});

test.serial('cache runner: training from the cache (no shuffles) gives the same SAE, bit for bit, as the live stream', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const noShuffle = settings(dir, { n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0, training_tokens: 12 * 32 });
  await cacheActivationsRunner(noShuffle, { source: toy(), shuffleWithinBuffer: false });
  const before = tf.memory().numTensors;
  const finals: SaeSnapshot[] = [];
  const keep = async (_d: string, snap: SaeSnapshot) => void finals.push(snap);
  const opts = { warn: () => {}, handleSignals: false, checkpointPath: tmp(t), writeSaeFolder: keep };
  await firstValueFrom(toy().pipe(trainSae(spec(), opts), toArray()));
  await firstValueFrom(
    cachedActivations({ path: dir, batchSize: 32, trainingTokens: 12 * 32, expect: { modelName: 'toy', hookPoints: 'hook_hidden', dIn: 4, contextSize: 8 } }).pipe(trainSae(spec(), opts), toArray()),
  );
  t.is(tf.memory().numTensors, before);
  t.is(finals.length, 2);
  for (const k of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) t.deepEqual(finals[1]![k], finals[0]![k], `${k} equal`);
});

test.serial('cache runner: a short source leaves a short last shard; 3-D batches keep their hooks; bad widths are errors', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const rows = Array.from({ length: 100 }, (_, i) => [i, i + 0.5, -i, 1, 2, 3]);
  // two hooks of d_in 3
  const src = fromActivations(rows, { batchSize: 30 });
  const three = src.pipe(
    map((b): ActivationBatch => {
      const a = tf.reshape(b.acts, [-1, 2, 3]);
      b.acts.dispose();
      return { acts: a, hooks: ['h0', 'h1'] };
    }),
  );
  const s = await cacheActivationsRunner(settings(dir, { d_in: 3, training_tokens: 1000, n_shuffles_final: 0 }), { source: three, shuffleWithinBuffer: false });
  t.is(s.tokens, 100);
  t.deepEqual(s.manifest.shard_tokens, [64, 36]);
  t.deepEqual(s.manifest.hook_points, ['h0', 'h1']);
  const bs = await firstValueFrom(cachedActivations({ path: dir, batchSize: 50 }).pipe(toArray()));
  t.deepEqual(bs.map((b) => b.acts.shape), [[50, 2, 3], [50, 2, 3]]);
  t.deepEqual(Array.from(bs[1]!.acts.dataSync().subarray(0, 6)), [50, 50.5, -50, 1, 2, 3]);
  bs.forEach((b) => b.acts.dispose());
  const d2 = path.join(tmp(t), 'cache');
  await t.throwsAsync(cacheActivationsRunner(settings(d2, { d_in: 5 }), { source: toy(2) }), { message: /\[n, 5\].*got \[32,4\]/ });
});

test.serial('cache runner: a synchronous source stops as soon as the last shard is full (nothing computed after)', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const before = tf.memory().numTensors;
  let made = 0;
  // 10 000 batches of 32 rows offered synchronously; the cache needs 384 rows (12 batches)
  const src = range(0, 10_000).pipe(
    map((i): ActivationBatch => {
      made++;
      return { acts: tf.fill([32, 4], i), hooks: ['hook_hidden'] };
    }),
  );
  const s = await cacheActivationsRunner(settings(dir, { n_shuffles_final: 0 }), { source: src, shuffleWithinBuffer: false, log: () => {} });
  t.is(s.tokens, 384);
  t.is(made, 12, `the source made ${made} batches`);
  t.is(tf.memory().numTensors, before);
});

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const HAVE_LM = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors')) && fs.existsSync(TEXT);
if (!HAVE_LM) console.log(`skipping the language-model cache test: ${MODEL_DIR} or ${TEXT} is absent`);
(HAVE_LM ? test.serial : test.skip)('runCacheActivations: tiny GPT-2 on local text; the cache holds the pipeline\'s activations in order', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const cfg = decodeCacheActivationsRunnerConfig({
    model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', dataset_path: TEXT, context_size: 32, d_in: 128,
    store_batch_size: 4, n_batches_in_buffer: 4, training_tokens: 1024, new_cached_activations_path: dir,
    n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0,
  });
  const before = tf.memory().numTensors;
  const s = await runCacheActivations(cfg, { shuffleWithinBuffer: false });
  t.is(tf.memory().numTensors, before);
  t.like(s.manifest, { model_name: MODEL_DIR, hook_points: ['blocks.1.hook_resid_pre'], dataset_path: TEXT, context_size: 32, d_in: 128, n_shards: 2, total_tokens: 1024 });
  // the same pipeline run directly
  const model = await HookedTransformer.fromFolder(MODEL_DIR, { modelName: 'tiny-gpt2-sotu' });
  const tokenizer = loadTokenizer(MODEL_DIR);
  const direct = await firstValueFrom(
    localDocuments(TEXT).pipe(
      packContext({ contextSize: 32, prependBos: true, tokenizer, bosToken: tokenizer.bosTokenId!, storeBatchSize: 4, maxDocumentTokens: model.cfg.nCtx }),
      modelActivations(model, { hooks: ['blocks.1.hook_resid_pre'], withTokens: false }),
      take(8),
      toArray(),
    ),
  );
  const want = direct.map((b) => b.acts.dataSync() as Float32Array);
  direct.forEach((b) => b.acts.dispose());
  model.dispose();
  const got = await firstValueFrom(cachedActivations({ path: dir, batchSize: 128, expect: { hookPoints: 'blocks.1.hook_resid_pre', dIn: 128, contextSize: 32 } }).pipe(toArray()));
  t.is(got.length, 8);
  got.forEach((b, i) => {
    t.deepEqual(b.acts.dataSync(), want[i]!, `batch ${i}`);
    b.acts.dispose();
  });
  t.log(`tiny GPT-2 cache: ${s.tokensPerSecond.toFixed(0)} tokens/s end to end, writes ${s.writeMBPerSecond.toFixed(1)} MB/s`);
});
