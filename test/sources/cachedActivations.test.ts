import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import {
  cachePosition, cachedActivations, readCacheManifest, shardPath, skipBatches, type CacheManifest,
} from '../../src/sources/cachedActivations.js';
import { fromActivations } from '../../src/sources/fromActivations.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { ConfigError, FileFormatError } from '../../src/errors.js';
import { tempDir } from '../helpers/tempDir.js';

test.before(async () => {
  await setupTf();
});

const tmp = (t: ExecutionContext) => tempDir(t, 'cached-acts-');

/** A cache of `sizes` shards, row r = [r, r + 0.25] (d_in 2, one hook), with or without manifest. */
async function makeCache(t: ExecutionContext, sizes: number[], manifest = true): Promise<string> {
  const dir = tmp(t);
  let r = 0;
  for (const [i, n] of sizes.entries()) {
    const data = new Float32Array(n * 2);
    for (let k = 0; k < n; k++, r++) data.set([r, r + 0.25], k * 2);
    await writeSafetensors(shardPath(dir, i), { activations: { dtype: 'F32', shape: [n, 1, 2], data } });
  }
  if (manifest) {
    const m: CacheManifest = {
      format: 'sae-rx-activation-cache', version: 1, model_name: 'gpt2', hook_points: ['blocks.0.hook_resid_pre'],
      hook_point_head_index: null, dataset_path: 'ds', context_size: 8, d_in: 2, dtype: 'float32',
      n_shards: sizes.length, shard_tokens: sizes, total_tokens: sizes.reduce((a, b) => a + b, 0),
    };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  }
  return dir;
}
const firstCol = async (o: ReturnType<typeof cachedActivations>) => {
  const bs = await firstValueFrom(o.pipe(toArray()));
  const out = bs.map((b) => {
    const v = b.acts.dataSync();
    return Array.from({ length: b.acts.shape[0] }, (_, i) => v[i * 2]!);
  });
  bs.forEach((b) => b.acts.dispose());
  return out;
};

test.serial('cachedActivations: batches cross shard boundaries in order; startRow seeks; trainingTokens bounds', async (t) => {
  const dir = await makeCache(t, [10, 10, 5]);
  const before = tf.memory().numTensors;
  t.deepEqual(await firstCol(cachedActivations({ path: dir, batchSize: 8 })), [
    [0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15], [16, 17, 18, 19, 20, 21, 22, 23], [24],
  ]);
  t.deepEqual(await firstCol(cachedActivations({ path: dir, batchSize: 8, startRow: 12, trainingTokens: 22 })), [[12, 13, 14, 15, 16, 17, 18, 19], [20, 21]]);
  t.deepEqual(await firstCol(cachedActivations({ path: dir, batchSize: 4, startRow: 25 })), []);
  const one = await firstValueFrom(cachedActivations({ path: dir, batchSize: 3 }));
  t.deepEqual(one.acts.shape, [3, 2]);
  t.deepEqual(one.hooks, ['blocks.0.hook_resid_pre']);
  one.acts.dispose();
  // unsubscribing early frees everything (take(1) closes the shard file too)
  const two = await lastValueFrom(cachedActivations({ path: dir, batchSize: 3 }).pipe(take(2), toArray()));
  two.forEach((b) => b.acts.dispose());
  t.is(tf.memory().numTensors, before);
  t.deepEqual(cachePosition(await readCacheManifest(dir), 12), { shard: 1, offset: 2 });
  t.deepEqual(cachePosition(await readCacheManifest(dir), 25), { shard: 3, offset: 0 });
  t.throws(() => cachePosition({ n_shards: 1, shard_tokens: [3], total_tokens: 3 } as CacheManifest, 4), { instanceOf: ConfigError });
});

test.serial('cachedActivations: manifest mismatches and too few tokens are ConfigErrors naming the field', async (t) => {
  const dir = await makeCache(t, [10, 6]);
  const run = (o: Parameters<typeof cachedActivations>[0]) => lastValueFrom(cachedActivations(o).pipe(toArray()));
  const cases: Array<[Parameters<typeof cachedActivations>[0]['expect'], RegExp]> = [
    [{ modelName: 'pythia' }, /model_name is "gpt2" on disk, the training config expects "pythia"/],
    [{ hookPoints: 'blocks.1.hook_resid_pre' }, /hook_point is "blocks.0.hook_resid_pre" on disk.*"blocks.1.hook_resid_pre"/],
    [{ dIn: 3 }, /d_in is 2 on disk.*expects 3/],
    [{ contextSize: 128 }, /context_size is 8 on disk.*128/],
    [{ datasetPath: 'other' }, /dataset_path/],
  ];
  for (const [expect, re] of cases) await t.throwsAsync(run({ path: dir, batchSize: 4, expect }), { instanceOf: ConfigError, message: re });
  await t.throwsAsync(run({ path: dir, batchSize: 4, trainingTokens: 17 }), { instanceOf: ConfigError, message: /only 16 tokens on disk \(2 shards\), training_tokens is 17/ });
  // all matching: fine
  const all = await run({ path: dir, batchSize: 16, trainingTokens: 16, expect: { modelName: 'gpt2', hookPoints: ['blocks.0.hook_resid_pre'], dIn: 2, contextSize: 8 } });
  t.is(all.length, 1);
  all.forEach((b) => b.acts.dispose());
  await t.throwsAsync(run({ path: tmp(t), batchSize: 4 }), { instanceOf: FileFormatError, message: /not an activation cache/ });
});

test.serial('cachedActivations: a SAELens cache (no manifest) is read from the shard headers', async (t) => {
  const dir = await makeCache(t, [4, 4], false);
  const m = await readCacheManifest(dir);
  t.like(m, { n_shards: 2, total_tokens: 8, d_in: 2, model_name: null });
  t.deepEqual(await firstCol(cachedActivations({ path: dir, batchSize: 5, expect: { dIn: 2, modelName: 'anything' } })), [[0, 1, 2, 3, 4], [5, 6, 7]]);
  await t.throwsAsync(lastValueFrom(cachedActivations({ path: dir, batchSize: 5, expect: { dIn: 4 } })), { message: /d_in is 2 on disk/ });
});

test.serial('skipBatches: drops and disposes the first n batches', async (t) => {
  const before = tf.memory().numTensors;
  const rows = Array.from({ length: 10 }, (_, i) => [i]);
  const bs = await firstValueFrom(fromActivations(rows, { batchSize: 3 }).pipe(skipBatches(2), toArray()));
  t.deepEqual(bs.map((b) => Array.from(b.acts.dataSync())), [[6, 7, 8], [9]]);
  bs.forEach((b) => b.acts.dispose());
  t.is(tf.memory().numTensors, before);
});
