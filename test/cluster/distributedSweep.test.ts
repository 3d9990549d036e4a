/**
 * A sweep of 6 SAEs as jobs (2 SAEs per job) across 2 `sae-rx worker` processes, one killed
 * with SIGKILL after its job committed a checkpoint: the job is taken by the other worker,
 * resumes from that checkpoint, and all 6 final SAEs equal those of an uninterrupted
 * single-process `sae-rx train` of the same sweep.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnCli } from '../cli/helpers.js';
import { CLUSTER_STREAM, useCluster } from '../helpers/cluster.js';
import { openStore } from '../../src/store/openStore.js';

const c = useCluster({ what: 'distributed sweep', prefix: 'sae-rx-dsweep-', buckets: ['runs'] });
const maybe = c.maybe;

const STEPS = 48;
const SWEEP = ['--lr', '1e-4,3e-4,1e-3', '--l1-coefficient', '1e-2,3e-2'];

maybe('6 SAEs as jobs on 2 workers, one killed after a checkpoint: all 6 equal an uninterrupted run', async (t) => {
  // worker processes and a loaded shared machine: minutes, not seconds
  t.timeout(20 * 60_000);
  const tmp = c.tmp();
  const cache = path.join(tmp, 'cache');
  const cacheCfg = c.writeJson('cache.json', { ...CLUSTER_STREAM, training_tokens: STEPS * 64, new_cached_activations_path: cache, n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0 });
  const cached = await spawnCli(['cache', cacheCfg], { timeoutMs: 180_000 });
  t.is(cached.code, 0, cached.stderr);
  const cfg = c.writeJson('train.json', {
    ...CLUSTER_STREAM, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 2, train_batch_size: 64, training_tokens: STEPS * 64,
    lr_warm_up_steps: 0, n_checkpoints: 3, log_to_wandb: false, checkpoint_path: path.join(tmp, 'unused'),
  });
  const local = path.join(tmp, 'local');
  const ref = await spawnCli(['--json', '--no-progress', 'train', cfg, ...SWEEP, '--out', local], { timeoutMs: 240_000 });
  // the reference must exist before anything is compared: its own error, not a missing file later
  if (ref.code !== 0) return t.fail(`the uninterrupted reference run failed (exit ${ref.code}):\n${ref.stderr}`);

  // A worker killed with -9 cannot remove its job folder: the workers' temp dir is the test's own.
  const workerTmp = path.join(tmp, 'worker-tmp');
  fs.mkdirSync(workerTmp);
  const env = { ...c.s3().env(), TMPDIR: workerTmp };
  const a = c.worker(env);
  const b = c.worker(env);
  const storeUrl = 's3://runs/sweep1';
  const coordinator = spawnCli(['train', cfg, ...SWEEP, '--queue', c.redis().url, '--store', storeUrl, '--saes-per-job', '2'], { env, timeoutMs: 400_000 });
  // kill whichever worker commits a checkpoint first, right after it did
  const first = await Promise.race([a, b].map((w) => w.waitFor(/checkpoint at \d+ tokens committed/, 200_000).then(() => w)));
  await first.kill9();
  const r = await coordinator;
  const survivor = first === a ? b : a;
  t.is(r.code, 0, r.stderr + '\n--- workers:\n' + c.workers.map((w) => w.output()).join('\n---\n'));
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
