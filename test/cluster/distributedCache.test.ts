/**
 * Distributed caching with real parts: redis-server on a loopback port, s3rver as the store,
 * `sae-rx worker` processes, `sae-rx cache CONFIG --queue … --store s3://…` as the coordinator.
 * The shards must be byte-identical to the single-process `sae-rx cache` of the same config,
 * and training from the store-hosted cache must give the same SAE as from the local one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnCli } from '../cli/helpers.js';
import { CLUSTER_STREAM, cacheConfig, countLines, useCluster } from '../helpers/cluster.js';
import { openStore } from '../../src/store/openStore.js';

const c = useCluster({ what: 'distributed caching', prefix: 'sae-rx-dcache-', buckets: ['caches'] });
const maybe = c.maybe;

maybe('2 workers produce shards byte-identical to the single-process cache; training from the S3 cache equals training from the local one', async (t) => {
  // worker processes and a loaded shared machine: minutes, not seconds
  t.timeout(20 * 60_000);
  const tmp = c.tmp();
  const local = path.join(tmp, 'local');
  const one = await spawnCli(['--json', 'cache', cacheConfig(c, 'local.json', local, 6)], { timeoutMs: 180_000 });
  t.is(one.code, 0, one.stderr);
  const env = c.s3().env();
  const workers = [c.worker(env), c.worker(env)];
  const storeUrl = 's3://caches/run1';
  const r = await spawnCli(['--json', 'cache', cacheConfig(c, 'dist.json', path.join(tmp, 'unused'), 6), '--queue', c.redis().url, '--store', storeUrl], { env, timeoutMs: 240_000 });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /shards \d\/6/);
  const store = openStore(storeUrl, { env });
  t.teardown(() => store.close());
  const keys = await store.list('');
  t.deepEqual(keys, ['0.safetensors', '1.safetensors', '2.safetensors', '3.safetensors', '4.safetensors', '5.safetensors', 'manifest.json'], 'nothing partial or left over');
  for (let i = 0; i < 6; i++) {
    const a = fs.readFileSync(path.join(local, `${i}.safetensors`));
    const b = Buffer.from(await store.get(`${i}.safetensors`));
    t.true(a.equals(b), `shard ${i} differs`);
  }
  const mLocal = JSON.parse(fs.readFileSync(path.join(local, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const mDist = JSON.parse(new TextDecoder().decode(await store.get('manifest.json'))) as Record<string, unknown>;
  t.deepEqual(mDist, mLocal);
  // both workers took shard jobs, and each shard was computed exactly once
  for (let i = 0; i < 6; i++) t.is(countLines(workers, new RegExp(`committed shard ${i} `)), 1, `shard ${i} commits`);
  t.true(workers.every((w) => /committed shard/.test(w.output())), 'both workers computed shards');

  // training from the store-hosted cache gives the same SAE as from the local copy
  const trainCfg = (cache: string, out: string) =>
    c.writeJson(`train-${path.basename(out)}.json`, {
      ...CLUSTER_STREAM, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 64, training_tokens: 20 * 64,
      lr_warm_up_steps: 0, l1_coefficient: 1e-2, log_to_wandb: false, checkpoint_path: out,
    });
  const a = await spawnCli(['--json', '--no-progress', 'train', trainCfg(local, path.join(tmp, 'tl')), '--out', path.join(tmp, 'tl')], { env, timeoutMs: 120_000 });
  t.is(a.code, 0, a.stderr);
  const b = await spawnCli(['--json', '--no-progress', 'train', trainCfg(storeUrl, path.join(tmp, 'ts')), '--out', path.join(tmp, 'ts')], { env, timeoutMs: 120_000 });
  t.is(b.code, 0, b.stderr);
  const weights = (dir: string) => {
    const sae = fs.readdirSync(dir).find((d) => fs.existsSync(path.join(dir, d, `final_${20 * 64}`)))!;
    return fs.readFileSync(path.join(dir, sae, `final_${20 * 64}`, 'sae_weights.safetensors'));
  };
  t.true(weights(path.join(tmp, 'tl')).equals(weights(path.join(tmp, 'ts'))), 'the SAE trained from S3 equals the one trained from the local cache');
});

maybe('a transcoder cache (input and target hooks) through 2 workers and S3: shards byte-identical to the single-process cache; a transcoder trained from S3 equals one trained from the local copy', async (t) => {
  t.timeout(20 * 60_000);
  const tmp = c.tmp();
  const env = c.s3().env();
  // the first test's workers are still on the queue; start them if this test runs alone
  while (c.workers.length < 2) c.worker(env);
  const target = { hook_name_out: 'blocks.1.hook_mlp_out' };
  const cfg = (name: string, out: string) => c.writeJson(name, { ...JSON.parse(fs.readFileSync(cacheConfig(c, `${name}.base`, out, 4), 'utf8')), ...target });
  const local = path.join(tmp, 'tc-local');
  const one = await spawnCli(['--json', 'cache', cfg('tc-local.json', local)], { timeoutMs: 180_000 });
  t.is(one.code, 0, one.stderr);
  const storeUrl = 's3://caches/transcoder';
  const r = await spawnCli(['--json', 'cache', cfg('tc-dist.json', path.join(tmp, 'unused')), '--queue', c.redis().url, '--store', storeUrl], { env, timeoutMs: 240_000 });
  t.is(r.code, 0, r.stderr);
  const store = openStore(storeUrl, { env });
  t.teardown(() => store.close());
  for (let i = 0; i < 4; i++) t.true(fs.readFileSync(path.join(local, `${i}.safetensors`)).equals(Buffer.from(await store.get(`${i}.safetensors`))), `shard ${i} differs`);
  const mDist = JSON.parse(new TextDecoder().decode(await store.get('manifest.json'))) as Record<string, unknown>;
  t.deepEqual(mDist, JSON.parse(fs.readFileSync(path.join(local, 'manifest.json'), 'utf8')));
  t.is(mDist['hook_name_out'], target.hook_name_out);
  t.is(mDist['d_out'], 128);

  const trainCfg = (cache: string, out: string) =>
    c.writeJson(`tc-train-${path.basename(out)}.json`, {
      ...CLUSTER_STREAM, ...target, architecture: 'topk_transcoder', k: 8, d_out: 128, apply_b_dec_to_input: false,
      use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 64, training_tokens: 12 * 64,
      lr_warm_up_steps: 0, log_to_wandb: false, checkpoint_path: out,
    });
  const weights = async (cache: string, out: string) => {
    const run = await spawnCli(['--json', '--no-progress', 'train', trainCfg(cache, out), '--out', out], { env, timeoutMs: 120_000 });
    t.is(run.code, 0, run.stderr);
    const sae = fs.readdirSync(out).find((d) => fs.existsSync(path.join(out, d, `final_${12 * 64}`)))!;
    const dir = path.join(out, sae, `final_${12 * 64}`);
    t.is((JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8')) as { architecture: string }).architecture, 'topk_transcoder');
    return fs.readFileSync(path.join(dir, 'sae_weights.safetensors'));
  };
  const a = await weights(local, path.join(tmp, 'tc-tl'));
  const b = await weights(storeUrl, path.join(tmp, 'tc-ts'));
  t.true(a.equals(b), 'the transcoder trained from S3 equals the one trained from the local cache');
});
