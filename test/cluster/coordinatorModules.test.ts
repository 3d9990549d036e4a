/**
 * The distributed coordinators decode the config, add the run's flow and poll: none of that
 * needs tfjs, whose load (with the architecture registry and the runner, ~1.7 s on one quiet
 * core) would be serial time before any worker starts. Checked the way a user runs them (the
 * CLI's main, a real Redis), in a child process so that this process's own modules do not count.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from '../cli/helpers.js';
import { redisUnavailable, startRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/tempDir.js';

const CHILD = path.join(REPO, 'test', 'cluster', 'coordinatorModules.child.ts');
const skip = redisUnavailable();

function runChild(args: string[]): Promise<{ tfjs: number; commonJsModules: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, timeout: 90_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { tfjs: number; commonJsModules: number });
    });
  });
}

(skip ? test.skip : test)(`the sweep and cache coordinators load no tfjs${skip ? ` (${skip})` : ''}`, async (t) => {
  const dir = tempDir(t);
  const redis = await startRedis();
  t.teardown(() => redis.close());
  const common = { model_name: 'owner/model', hook_point: 'blocks.0.hook_resid_pre', hook_point_layer: 0, d_in: 8, dataset_path: 'owner/data', context_size: 16 };
  // a TopK sweep: its architecture fields must decode without the registry
  fs.writeFileSync(path.join(dir, 't.json'), JSON.stringify({ ...common, architecture: 'topk', k: 4, log_to_wandb: false, checkpoint_path: path.join(dir, 'ckpt') }));
  fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ ...common, training_tokens: 4096, new_cached_activations_path: path.join(dir, 'cache') }));
  const sweep = ['train', path.join(dir, 't.json'), '--lr', '1e-4,3e-4', '--queue', redis.url, '--store', path.join(dir, 'sweep')];
  const s = await runChild(sweep);
  t.is(s.tfjs, 0, 'the sweep coordinator loaded tfjs');
  const c = await runChild(['cache', path.join(dir, 'c.json'), '--queue', redis.url, '--queue-name', 'cache-check']);
  t.is(c.tfjs, 0, 'the cache coordinator loaded tfjs');
  // the check sees tfjs when it is loaded
  const control = await runChild(['--control', ...sweep.slice(0, -2), '--store', path.join(dir, 'sweep2'), '--queue-name', 'control']);
  t.true(control.tfjs > 0);
});
