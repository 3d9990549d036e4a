/**
 * Distributed caching with real parts: redis-server on a loopback port, s3rver as the store,
 * `sae-rx worker` processes, `sae-rx cache CONFIG --queue … --store s3://…` as the coordinator.
 * The shards must be byte-identical to the single-process `sae-rx cache` of the same config,
 * and training from the store-hosted cache must give the same SAE as from the local one.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnCli } from '../cli/helpers.js';
import { type TestRedis, redisUnavailable, startRedis } from '../helpers/redis.js';
import { type TestS3, startS3 } from '../helpers/s3.js';
import { type WorkerProcess, spawnWorker } from '../helpers/workers.js';
import { openStore } from '../../src/store/openStore.js';

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const NO_REDIS = redisUnavailable();
const HAVE_MODEL = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors')) && fs.existsSync(TEXT);
const SKIP = NO_REDIS ?? (HAVE_MODEL ? undefined : `${MODEL_DIR} or ${TEXT} is absent`);
if (SKIP) console.log(`skipping distributed caching tests: ${SKIP}`);
const maybe = SKIP ? test.skip : test.serial;

let tmp: string;
let redis: TestRedis;
let s3: TestS3;
const workers: WorkerProcess[] = [];
test.before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-dcache-'));
  if (SKIP) return;
  redis = await startRedis();
  s3 = await startS3(['caches']);
});
test.after.always(async () => {
  for (const w of workers) await w.kill9();
  await redis?.close();
  await s3?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** 6 shards of 256 tokens, shuffle passes on: tiny GPT-2, layer 1 residual, Austen. */
function writeConfig(name: string, out: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(
    file,
    JSON.stringify({
      model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: TEXT, context_size: 32, d_in: 128,
      store_batch_size: 4, n_batches_in_buffer: 2, training_tokens: 6 * 256, new_cached_activations_path: out,
      shuffle_every_n_buffers: 2, n_shuffles_with_last_section: 1, n_shuffles_in_entire_dir: 1, n_shuffles_final: 3,
    }),
  );
  return file;
}

maybe('2 workers produce shards byte-identical to the single-process cache; training from the S3 cache equals training from the local one', async (t) => {
  // worker processes and a loaded shared machine: minutes, not seconds
  t.timeout(20 * 60_000);
  const local = path.join(tmp, 'local');
  const one = await spawnCli(['--json', 'cache', writeConfig('local.json', local)], { timeoutMs: 180_000 });
  t.is(one.code, 0, one.stderr);
  const env = s3.env();
  for (let k = 0; k < 2; k++) workers.push(spawnWorker(redis.url, env));
  const storeUrl = 's3://caches/run1';
  const r = await spawnCli(['--json', 'cache', writeConfig('dist.json', path.join(tmp, 'unused')), '--queue', redis.url, '--store', storeUrl], { env, timeoutMs: 240_000 });
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
  const logs = workers.map((w) => w.output()).join('\n');
  for (let i = 0; i < 6; i++) t.is(logs.split('\n').filter((l) => l.includes(`committed shard ${i} `)).length, 1, `shard ${i} commits`);
  t.true(workers.every((w) => /committed shard/.test(w.output())), 'both workers computed shards');

  // training from the store-hosted cache gives the same SAE as from the local copy
  const trainCfg = (cache: string, out: string) => {
    const f = path.join(tmp, `train-${path.basename(out)}.json`);
    fs.writeFileSync(f, JSON.stringify({
      model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: TEXT, context_size: 32, d_in: 128, store_batch_size: 4,
      n_batches_in_buffer: 2, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 64, training_tokens: 20 * 64,
      lr_warm_up_steps: 0, l1_coefficient: 1e-2, log_to_wandb: false, checkpoint_path: out,
    }));
    return f;
  };
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
