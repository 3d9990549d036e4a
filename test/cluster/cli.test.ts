import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runMain } from '../cli/helpers.js';
import { tempDir } from '../helpers/tempDir.js';
import { describeQueue, parseQueueUrl } from '../../src/cluster/connection.js';
import { sweepGroups } from '../../src/cluster/sweep/plan.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { runnerSingles } from '../../src/runners/runnerSingles.js';

test('worker, cache and train: queue flags are checked before anything runs', async (t) => {
  const dir = tempDir(t);
  const cfg = path.join(dir, 'c.json');
  fs.writeFileSync(cfg, JSON.stringify({ model_name: 'x/y', hook_point: 'blocks.0.hook_resid_pre', hook_point_layer: 0, d_in: 8, new_cached_activations_path: path.join(dir, 'out') }));
  const tcfg = path.join(dir, 't.json');
  fs.writeFileSync(tcfg, JSON.stringify({ model_name: 'x/y', hook_point: 'blocks.0.hook_resid_pre', hook_point_layer: 0, d_in: 8, log_to_wandb: false, checkpoint_path: path.join(dir, 'out') }));
  let r = await runMain(['worker']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--queue redis:\/\/HOST:PORT/);
  r = await runMain(['cache', cfg, '--store', path.join(dir, 's')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /--store is for distributed caching/);
  r = await runMain(['train', tcfg, '--saes-per-job', '2']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--store and --saes-per-job are for distributed sweeps/);
  r = await runMain(['train', tcfg, '--queue', 'redis://127.0.0.1:1']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--queue needs --store/);
  t.false(fs.existsSync(path.join(dir, 'out')));
});

test('queue URLs: redis:// only; the password never printed', (t) => {
  t.throws(() => parseQueueUrl('http://x:6379'), { message: /not a Redis URL/ });
  t.is(describeQueue('redis://user:s3cret@host:6380/2'), 'redis://host:6380/2');
});

test('sweep groups: SAEs of one hook point together, N per job', (t) => {
  const cfg = decodeRunnerConfig({ model_name: 'a/b', hook_point: 'blocks.0.hook_resid_pre', hook_point_layer: 0, d_in: 8, lr: [1e-4, 3e-4, 1e-3], l1_coefficient: [1, 2], log_to_wandb: false });
  const singles = runnerSingles(cfg);
  t.is(sweepGroups(singles).length, 1);
  const g = sweepGroups(singles, 4);
  t.deepEqual(g.map((x) => x.length), [4, 2]);
  t.deepEqual(g.flat(), singles.map((s) => s.sae_id));
  t.throws(() => sweepGroups(singles, 0), { message: /saes-per-job/ });
});
