/**
 * The activation cache for transcoders: `sae-rx cache` with `hook_name_out` writes each shard's
 * `target` next to its `activations`, the manifest records both hooks and d_out, the pairwise
 * shuffles keep the pairs, and `cachedActivations` reads them back as batches with `target`.
 */
import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, map, take, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { tempDir } from '../helpers/tempDir.js';
import { cacheActivationsRunner, runCacheActivations, type CacheRunnerSettings } from '../../src/runners/cacheActivationsRunner.js';
import { decodeCacheActivationsRunnerConfig } from '../../src/config/cacheActivationsRunnerConfig.js';
import { cachedActivations, readCacheManifest, shardPath } from '../../src/sources/cachedActivations.js';
import { fromActivations } from '../../src/sources/fromActivations.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { localDocuments } from '../../src/sources/localDocuments.js';
import { packContext } from '../../src/operators/packContext.js';
import { modelActivations } from '../../src/operators/modelActivations.js';
import { disposeBatch } from '../../src/stream/ownership.js';
import type { ActivationBatch } from '../../src/stream/ActivationBatch.js';
import { ConfigError, FileFormatError } from '../../src/errors.js';

test.before(async () => {
  await setupTf();
});
const tmp = (t: ExecutionContext) => tempDir(t, 'tc-cache-');

// rows: acts [id, 2id, −id] (d_in 3), target f(id) = [id + 0.5, id²] (d_out 2)
const f = (id: number) => [id + 0.5, id * id];
const N = 384;
const ids = Array.from({ length: N }, (_, i) => i);
const source = () => fromActivations(ids.map((i) => [i, 2 * i, -i]), { batchSize: 20, hook: 'in', target: ids.map(f), targetHook: 'out' });

const settings = (dir: string, over: Partial<CacheRunnerSettings> = {}): CacheRunnerSettings => ({
  model_name: 'synthetic', hook_point: 'in', hook_point_head_index: null, dataset_path: 'ids', context_size: 8,
  new_cached_activations_path: dir, d_in: 3, n_batches_in_buffer: 2, store_batch_size: 4, training_tokens: N, seed: 42,
  shuffle_every_n_buffers: 2, n_shuffles_with_last_section: 2, n_shuffles_in_entire_dir: 2, n_shuffles_final: 7,
  hook_name_out: 'out', hook_head_index_out: null, ...over,
});

/** Every row of every batch: its id (from acts) and whether its target is f(id); disposes. */
function pairsOf(bs: ActivationBatch[], t: ExecutionContext): number[] {
  const seen: number[] = [];
  for (const b of bs) {
    t.is(b.targetHook, 'out');
    const x = b.acts.arraySync() as number[][];
    const y = b.target!.arraySync() as number[][];
    x.forEach((r, i) => {
      const id = r[0]!;
      t.deepEqual(y[i], f(id), `row of id ${id}: target [${y[i]}]`);
      seen.push(id);
    });
    disposeBatch(b);
  }
  return seen;
}

test.serial('cache runner: shards hold activations and target, shuffled together; manifest records both hooks and d_out; read back aligned', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const before = tf.memory().numTensors;
  const s = await cacheActivationsRunner(settings(dir), { source: source() });
  t.is(tf.memory().numTensors, before);
  t.true(s.shufflePasses > 0, 'pairwise shuffles ran');
  const m = await readCacheManifest(dir);
  t.like(m, { hook_points: ['in'], hook_name_out: 'out', hook_head_index_out: null, d_in: 3, d_out: 2, n_shards: 6, total_tokens: N });
  const st = decodeSafetensors(new Uint8Array(fs.readFileSync(shardPath(dir, 0))));
  t.deepEqual(st.info('activations').shape, [64, 1, 3]);
  t.deepEqual(st.info('target').shape, [64, 2]);

  const got = await firstValueFrom(cachedActivations({ path: dir, batchSize: 50, expect: { hookPoints: 'in', hookPointOut: 'out', dOut: 2 } }).pipe(toArray()));
  t.deepEqual(got.map((b) => b.acts.shape[0]), [50, 50, 50, 50, 50, 50, 50, 34], 'batches across shard ends');
  const seen = pairsOf(got, t);
  t.deepEqual([...seen].sort((a, b) => a - b), ids, 'every row once');
  t.notDeepEqual(seen, ids, 'shuffled');
  // resume: startRow seeks, the target comes with it
  const rest = await firstValueFrom(cachedActivations({ path: dir, batchSize: 50, startRow: 100, trainingTokens: 200 }).pipe(toArray()));
  t.deepEqual(pairsOf(rest, t), seen.slice(100, 200));
  t.is(tf.memory().numTensors, before);
});

test.serial('cachedActivations: an SAE run reads no target; a transcoder run on a cache without one, or of another hook, is a ConfigError', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  await cacheActivationsRunner(settings(dir, { n_shuffles_final: 0 }), { source: source() });
  const before = tf.memory().numTensors;
  const sae = await firstValueFrom(cachedActivations({ path: dir, batchSize: 64, expect: { hookPoints: 'in', hookPointOut: null } }).pipe(take(1), toArray()));
  t.is(sae[0]!.target, undefined, 'no target read for an SAE');
  sae.forEach(disposeBatch);
  const e = await t.throwsAsync(firstValueFrom(cachedActivations({ path: dir, batchSize: 64, expect: { hookPointOut: 'other' } })), { instanceOf: ConfigError });
  t.regex(e!.message, /hook_name_out is "out" on disk, the training config expects "other"/);
  const plain = path.join(tmp(t), 'plain');
  await cacheActivationsRunner(settings(plain, { hook_name_out: undefined }), { source: fromActivations(ids.map((i) => [i, 2 * i, -i]), { batchSize: 20 }) });
  t.false('hook_name_out' in (await readCacheManifest(plain)));
  const e2 = await t.throwsAsync(firstValueFrom(cachedActivations({ path: plain, batchSize: 64, expect: { hookPointOut: 'out' } })), { instanceOf: ConfigError });
  t.regex(e2!.message, /holds no target hook \(hook_name_out\)/);
  // a shard whose target went missing is named
  fs.writeFileSync(shardPath(dir, 1), fs.readFileSync(shardPath(plain, 1)));
  const e3 = await t.throwsAsync(firstValueFrom(cachedActivations({ path: dir, batchSize: 64 }).pipe(map(disposeBatch), toArray())), { instanceOf: FileFormatError });
  t.regex(e3!.message, /1\.safetensors: no "target" tensor/);
  t.is(tf.memory().numTensors, before);
});

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const HAVE_LM = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors')) && fs.existsSync(TEXT);
if (!HAVE_LM) console.log(`skipping the tiny GPT-2 transcoder cache test: ${MODEL_DIR} or ${TEXT} is absent`);
(HAVE_LM ? test.serial : test.skip)('runCacheActivations (tiny GPT-2): ln2.hook_normalized → hook_mlp_out pairs in the cache are the forward pass\'s pairs', async (t) => {
  const dir = path.join(tmp(t), 'cache');
  const cfg = decodeCacheActivationsRunnerConfig({
    model_name: MODEL_DIR, hook_point: 'blocks.1.ln2.hook_normalized', hook_name_out: 'blocks.1.hook_mlp_out', dataset_path: TEXT,
    context_size: 32, d_in: 128, store_batch_size: 4, n_batches_in_buffer: 4, training_tokens: 1024, new_cached_activations_path: dir,
    n_shuffles_final: 3,
  });
  const before = tf.memory().numTensors;
  const s = await runCacheActivations(cfg);
  t.is(tf.memory().numTensors, before);
  t.like(s.manifest, { hook_points: ['blocks.1.ln2.hook_normalized'], hook_name_out: 'blocks.1.hook_mlp_out', d_in: 128, d_out: 128, n_shards: 2 });
  // the same tokens through the model directly: the set of (input row, target row) pairs is the same
  const model = await HookedTransformer.fromFolder(MODEL_DIR, { modelName: 'tiny-gpt2-sotu' });
  const tokenizer = loadTokenizer(MODEL_DIR);
  const direct = await firstValueFrom(localDocuments(TEXT).pipe(
    packContext({ contextSize: 32, prependBos: true, tokenizer, bosToken: tokenizer.bosTokenId!, storeBatchSize: 4, maxDocumentTokens: model.cfg.nCtx }),
    modelActivations(model, { hooks: ['blocks.1.ln2.hook_normalized'], targetHook: 'blocks.1.hook_mlp_out', withTokens: false }),
    take(8), toArray(),
  ));
  model.dispose();
  const key = (x: Float32Array, y: Float32Array, i: number) => `${Array.from(x.subarray(i * 128, i * 128 + 4)).join()}|${Array.from(y.subarray(i * 128, i * 128 + 4)).join()}`;
  const pairs = (bs: ActivationBatch[]) => {
    const out: string[] = [];
    for (const b of bs) {
      const x = b.acts.dataSync() as Float32Array;
      const y = b.target!.dataSync() as Float32Array;
      for (let i = 0; i < b.acts.shape[0]; i++) out.push(key(x, y, i));
      disposeBatch(b);
    }
    return out.sort();
  };
  const want = pairs(direct);
  const got = pairs(await firstValueFrom(cachedActivations({ path: dir, batchSize: 100, expect: { hookPoints: 'blocks.1.ln2.hook_normalized', hookPointOut: 'blocks.1.hook_mlp_out', dOut: 128 } }).pipe(toArray())));
  t.is(got.length, 1024);
  t.deepEqual(got, want, 'the same pairs, only shuffled');
  t.is(tf.memory().numTensors, before);
});
