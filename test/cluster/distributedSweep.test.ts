/**
 * A sweep of 6 SAEs as jobs (2 SAEs per job) across 2 `sae-rx worker` processes, one killed
 * with SIGKILL after its job committed a checkpoint: the job is taken by the other worker,
 * resumes from that checkpoint, and all 6 final SAEs equal those of an uninterrupted
 * single-process `sae-rx train` of the same sweep.
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
if (SKIP) console.log(`skipping distributed sweep tests: ${SKIP}`);
const maybe = SKIP ? test.skip : test.serial;

let tmp: string;
let redis: TestRedis;
let s3: TestS3;
const workers: WorkerProcess[] = [];
test.before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-dsweep-'));
  if (SKIP) return;
  redis = await startRedis();
  s3 = await startS3(['runs']);
});
test.after.always(async () => {
  for (const w of workers) await w.kill9();
  await redis?.close();
  await s3?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const common = { model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: TEXT, context_size: 32, d_in: 128, store_batch_size: 4, n_batches_in_buffer: 2 };
const STEPS = 48;
const SWEEP = ['--lr', '1e-4,3e-4,1e-3', '--l1-coefficient', '1e-2,3e-2'];

maybe('6 SAEs as jobs on 2 workers, one killed after a checkpoint: all 6 equal an uninterrupted run', async (t) => {
  // worker processes and a loaded shared machine: minutes, not seconds
  t.timeout(20 * 60_000);
  const cache = path.join(tmp, 'cache');
  fs.writeFileSync(path.join(tmp, 'cache.json'), JSON.stringify({ ...common, training_tokens: STEPS * 64, new_cached_activations_path: cache, n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0 }));
  const c = await spawnCli(['cache', path.join(tmp, 'cache.json')], { timeoutMs: 180_000 });
  t.is(c.code, 0, c.stderr);
  const cfg = path.join(tmp, 'train.json');
  fs.writeFileSync(cfg, JSON.stringify({
    ...common, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 64, training_tokens: STEPS * 64,
    lr_warm_up_steps: 0, n_checkpoints: 3, log_to_wandb: false, checkpoint_path: path.join(tmp, 'unused'),
  }));
  const local = path.join(tmp, 'local');
  const ref = await spawnCli(['--json', '--no-progress', 'train', cfg, ...SWEEP, '--out', local], { timeoutMs: 240_000 });
  t.is(ref.code, 0, ref.stderr);

  // A worker killed with -9 cannot remove its job folder: the workers' temp dir is the test's own.
  const workerTmp = path.join(tmp, 'worker-tmp');
  fs.mkdirSync(workerTmp);
  const env = { ...s3.env(), TMPDIR: workerTmp };
  const a = spawnWorker(redis.url, env);
  const b = spawnWorker(redis.url, env);
  workers.push(a, b);
  const storeUrl = 's3://runs/sweep1';
  const coordinator = spawnCli(['train', cfg, ...SWEEP, '--queue', redis.url, '--store', storeUrl, '--saes-per-job', '2'], { env, timeoutMs: 400_000 });
  // kill whichever worker commits a checkpoint first, right after it did
  const first = await Promise.race([a, b].map((w) => w.waitFor(/checkpoint at \d+ tokens committed/, 200_000).then(() => w)));
  await first.kill9();
  const r = await coordinator;
  const survivor = first === a ? b : a;
  t.is(r.code, 0, r.stderr + '\n--- workers:\n' + workers.map((w) => w.output()).join('\n---\n'));
  t.regex(survivor.output(), /resuming group \d+ from its checkpoint at \d+ tokens/);
  t.regex(r.stderr, /jobs \d\/3 done/);

  const store = openStore(storeUrl, { env });
  t.teardown(() => store.close());
  const summary = JSON.parse(new TextDecoder().decode(await store.get('sweep.json'))) as { saes: Array<{ saeId: string; path: string }> };
  t.is(summary.saes.length, 6);
  for (const s of summary.saes) {
    const key = s.path.slice(storeUrl.length + 1);
    const mine = Buffer.from(await store.get(`${key}/sae_weights.safetensors`));
    const theirs = fs.readFileSync(path.join(local, s.saeId, path.basename(key), 'sae_weights.safetensors'));
    t.true(mine.equals(theirs), `${s.saeId} differs from the uninterrupted run`);
  }
  const records = new TextDecoder().decode(await store.get('records.jsonl')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; saeId: string; step?: number });
  for (const s of summary.saes) t.is(records.filter((x) => x.type === 'step' && x.saeId === s.saeId).length, STEPS, `${s.saeId}: one record per step`);
  t.true((await store.list('jobs/')).some((k) => k.endsWith('result/report.html')));
});
