/**
 * Failure is normal: workers killed with SIGKILL mid-computation, during the shard upload and
 * right after the commit; Redis killed and restarted mid-run; the object store answering 503s
 * and dropping connections for a while (a fault-injecting proxy in front of s3rver). The run
 * completes with shards byte-identical to the single-process cache, no committed shard is
 * computed again (computations are counted, and none starts after its shard's commit), nothing
 * partial is left in the store.
 *
 * The store outage lasts SAE_RX_FAULT_OUTAGE_S seconds (half 503s, half dropped connections):
 * 10 by default, to keep the suite short; the 30 s with SAE_RX_FAULT_OUTAGE_S=30. The
 * retry window (SAE_RX_STORE_RETRY_WINDOW_MS) is what rides it out either way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnCli } from '../cli/helpers.js';
import { cacheConfig, countLines, useCluster } from '../helpers/cluster.js';
import { openStore } from '../../src/store/openStore.js';

const OUTAGE_S = Number(process.env['SAE_RX_FAULT_OUTAGE_S'] ?? 10);
const c = useCluster({ what: 'distributed caching fault', prefix: 'sae-rx-dfaults-', buckets: ['caches'], proxy: true });
const SHARDS = 8;

c.maybe(`kill -9 mid-shard, during the shard upload and after the commit; a Redis restart; ${OUTAGE_S} s of S3 errors: same shards, none recomputed, nothing partial`, async (t) => {
  // worker processes and a loaded shared machine: minutes, not seconds
  t.timeout(15 * 60_000);
  const tmp = c.tmp();
  const proxy = c.proxy();
  const local = path.join(tmp, 'local');
  const one = await spawnCli(['cache', cacheConfig(c, 'local.json', local, SHARDS)], { timeoutMs: 180_000 });
  t.is(one.code, 0, one.stderr);
  // the window outlasts the outage; the idle timeout turns a request that is never answered into a retry
  const env = { ...c.s3().env(proxy.endpoint), SAE_RX_STORE_RETRY_WINDOW_MS: String(OUTAGE_S * 1000 + 60_000) };
  const storeUrl = 's3://caches/faults';
  const coordinator = spawnCli(['cache', cacheConfig(c, 'dist.json', path.join(tmp, 'unused'), SHARDS), '--queue', c.redis().url, '--store', storeUrl], {
    env,
    timeoutMs: 600_000,
  }).catch((e: { stdout?: string; stderr?: string }) => ({ code: -1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\n(the coordinator timed out)` }));

  // 1. killed while computing its first shard
  const a = c.worker(env);
  const aShard = Number(/computing shard (\d+)/.exec(await a.waitFor(/computing shard \d+/))![1]);
  await a.kill9();

  // 2. killed while its shard upload is in flight (the proxy holds the PUT; the object never appears)
  let heldKey: string | undefined;
  const held = new Promise<void>((resolve) => {
    proxy.onRequest = (method, url) => {
      const m = /\/_work\/shard-(\d+)\.safetensors/.exec(url);
      if (method === 'PUT' && m && heldKey === undefined) {
        heldKey = `_work/shard-${m[1]}.safetensors`;
        resolve();
        return 'hold';
      }
      return 'pass';
    };
  });
  const b = c.worker(env);
  await held;
  await b.kill9();
  proxy.onRequest = undefined;
  const store = openStore(storeUrl, { env: c.s3().env() });
  t.teardown(() => store.close());
  t.is(await store.size(heldKey!), undefined, 'a shard whose upload was cut is not in the store');

  // 3. killed right after committing a shard (before the queue heard the job finished)
  const cw = c.worker(env);
  const cShard = Number(/committed shard (\d+)/.exec(await cw.waitFor(/committed shard \d+/))![1]);
  await cw.kill9();

  // 4. two workers finish the run through a Redis restart and, at the same time, a store outage
  const d = c.worker(env);
  const e = c.worker(env);
  await d.waitFor(/committed shard \d+|already committed/);
  const half = (OUTAGE_S * 1000) / 2;
  await Promise.all([c.redis().restart(1500), proxy.outage('503', half).then(() => proxy.outage('reset', half))]);
  const r = await coordinator;
  const workers = c.workers;
  t.is(r.code, 0, r.stderr + '\n--- workers:\n' + workers.map((w) => w.output()).join('\n---\n'));
  t.true(proxy.faults > 0);
  t.true(countLines([d, e], /store: .* failed/) > 0, 'the outage reached the workers, not only the coordinator');

  const keys = await store.list('');
  t.deepEqual(keys, [...Array.from({ length: SHARDS }, (_, i) => `${i}.safetensors`), 'manifest.json'].sort(), 'nothing partial or left over');
  for (let i = 0; i < SHARDS; i++) t.true(fs.readFileSync(path.join(local, `${i}.safetensors`)).equals(Buffer.from(await store.get(`${i}.safetensors`))), `shard ${i} differs`);

  // No shard is computed once it is committed. A job whose lock lapsed while Redis restarted is
  // delivered again; when both copies finish during the outage, neither sees the other's upload
  // (each is held up retrying), and both put the shard: the same bytes (checked above), each put
  // atomic. Such a second commit must come from a computation that began before the first one.
  const lines = workers.flatMap((w) => w.timedLines());
  let extraCommits = 0;
  for (let i = 0; i < SHARDS; i++) {
    const commits = lines.filter((l) => new RegExp(`committed shard ${i} `).test(l.line)).map((l) => l.at);
    t.true(commits.length >= 1, `shard ${i} committed`);
    const first = Math.min(...commits);
    const late = lines.filter((l) => new RegExp(`computing shard ${i}\\b`).test(l.line) && l.at > first);
    t.deepEqual(late.map((l) => l.line), [], `shard ${i} computed again after its commit`);
    extraCommits += commits.length - 1;
  }
  // computations: one per shard, plus the two that were killed before committing, plus any
  // duplicate delivery of a slow (not dead) worker: discarded when it finds the shard committed,
  // else one of the concurrent commits above
  const discarded = countLines(workers, /committed by another worker meanwhile/);
  t.is(countLines(workers, /computing shard \d+/), SHARDS + 2 + discarded + extraCommits);
  // the shard committed by the worker killed right after was not computed again
  t.is(countLines([d, e], new RegExp(`computing shard ${cShard}\\b`)), 0, `shard ${cShard} (committed just before its worker was killed) is not computed again`);
  const stalls = r.stderr.split('\n').filter((l) => /still waiting/.test(l));
  t.log(
    `killed: mid-compute of shard ${aShard}, mid-upload of ${heldKey}, after committing shard ${cShard}; store faults answered: ${proxy.faults}; ` +
      `worker store retries logged: ${countLines(workers, /store: .* failed/)}; discarded duplicates: ${discarded}; concurrent duplicate commits: ${extraCommits}; coordinator stalls: ${stalls.length ? stalls.join(' | ') : 'none'}`,
  );
});
