/**
 * `npx tsx bench/cluster.ts [--rounds N] [--v8-threads]`: throughput of the distributed cache and
 * sweep with 1 worker vs 2 workers (each its own process, one thread: `node --single-threaded`,
 * OPENBLAS/OMP threads 1; `--v8-threads` keeps V8's helper threads, as Node starts), on a
 * local redis-server and a folder store. Rounds alternate the order (1,2 then 2,1). JSON lines
 * on stdout with wall seconds, tokens/s, the speed-up and the load average before and after
 * (the machine may be shared: read the numbers with it). Needs redis-server and ../shared.
 *
 * Each run also prints its job timeline (`cluster/<kind>/jobs`), from the workers' "job done in
 * X ms" lines: per job kind the count and summed job time, the span from the first job's start
 * to the last job's end, the time before the first job (submission, coordinator start-up) and
 * each worker's busy time; for cache shards the summed time of each phase (pack, forward, encode,
 * put, waited for a start) and how many shards were packed twice. A part that does not shrink
 * with 2 workers shows there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnCli } from '../test/cli/helpers.js';
import { startRedis } from '../test/helpers/redis.js';
import { type WorkerProcess, spawnWorker } from '../test/helpers/workers.js';

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const flag = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) || dflt : dflt);
const rounds = flag('--rounds', 1);
const only = process.argv.includes('--cache') ? 'cache' : process.argv.includes('--sweep') ? 'sweep' : undefined;
const common = { model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: TEXT, context_size: 64, d_in: 128, store_batch_size: 8, n_batches_in_buffer: 4 };
// the cache run: shards of 16 store batches (8192 tokens, ~1 s of work each on one quiet core), so
// that the serial parts (coordinator start-up, model load, shuffle, finalize: ~5–7 s) stay small
const SHARDS = flag('--shards', 32);
const CACHE_BATCHES_PER_SHARD = 16;
const TOKENS_PER_SHARD = 64 * 8 * CACHE_BATCHES_PER_SHARD;
const STEPS = flag('--steps', 150);
const ONE_THREAD = { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
// --v8-threads: workers as Node starts them, V8's GC and compiler helper threads included (a
// worker then uses ~1.17 cores alone, and two of them steal from each other on 2 cores); by
// default each worker is one thread for real: `node --single-threaded` and one BLAS thread.
const V8_THREADS = process.argv.includes('--v8-threads');
const NODE_FLAGS = V8_THREADS ? [] : ['--single-threaded'];

const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/** Per job kind: count, summed ms; the jobs' span; idle time before the first job; busy ms per worker. */
function jobTimeline(ws: readonly WorkerProcess[], t0: number) {
  const jobs: Array<{ kind: string; worker: number; start: number; end: number; cpu: number }> = [];
  ws.forEach((w, k) => {
    for (const { at, line } of w.timedLines()) {
      const m = /\] (\S+) \S+: job done in (\d+) ms \(CPU (\d+) ms\)/.exec(line);
      if (m) jobs.push({ kind: m[1]!, worker: k, start: at - Number(m[2]) - t0, end: at - t0, cpu: Number(m[3]) });
    }
  });
  const kinds: Record<string, { jobs: number; ms: number; cpuMs: number; firstStartMs: number; lastEndMs: number }> = {};
  for (const j of jobs) {
    const e = (kinds[j.kind] ??= { jobs: 0, ms: 0, cpuMs: 0, firstStartMs: Infinity, lastEndMs: 0 });
    e.jobs++;
    e.ms += j.end - j.start;
    e.cpuMs += j.cpu;
    e.firstStartMs = Math.min(e.firstStartMs, j.start);
    e.lastEndMs = Math.max(e.lastEndMs, j.end);
  }
  const busyMs = ws.map((_, k) => jobs.filter((j) => j.worker === k).reduce((a, j) => a + j.end - j.start, 0));
  // cache shards: summed time per phase of the commit lines, and the shards packed twice (a job
  // that packed from an earlier shard's start repacked the shards in between)
  const shardPhasesMs: Record<string, number> = {};
  let repackedShards = 0;
  for (const w of ws)
    for (const { line } of w.timedLines()) {
      for (const m of line.matchAll(/(pack|forward|encode|put|waited) (\d+) ms/g)) shardPhasesMs[m[1]!] = (shardPhasesMs[m[1]!] ?? 0) + Number(m[2]);
      const c = /committed shard (\d+) .* from shard (\d+),/.exec(line);
      if (c) repackedShards += Number(c[1]) - Number(c[2]);
    }
  return { shardPhasesMs, repackedShards, beforeFirstJobMs: Math.min(...jobs.map((j) => j.start)), lastJobEndMs: Math.max(...jobs.map((j) => j.end)), busyMs, kinds };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-bench-cluster-'));
  const redis = await startRedis();
  const all: WorkerProcess[] = [];
  try {
    // a local cache for the sweeps to train from
    const cache = path.join(tmp, 'sweep-cache');
    fs.writeFileSync(path.join(tmp, 'c.json'), JSON.stringify({ ...common, training_tokens: STEPS * 256, new_cached_activations_path: cache, n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0 }));
    const c = await spawnCli(['cache', path.join(tmp, 'c.json')], { timeoutMs: 600_000, env: ONE_THREAD });
    if (c.code !== 0) throw new Error(c.stderr);
    fs.writeFileSync(path.join(tmp, 't.json'), JSON.stringify({
      ...common, use_cached_activations: true, cached_activations_path: cache, expansion_factor: 8, train_batch_size: 256, training_tokens: STEPS * 256,
      lr_warm_up_steps: 0, log_to_wandb: false, checkpoint_path: path.join(tmp, 'unused'),
    }));
    let run = 0;
    // first job start → last job end of each run: the part that more workers should shrink
    const spans: Record<'cache' | 'sweep', Array<{ workers: number; jobSpanSeconds: number }>> = { cache: [], sweep: [] };
    const once = async (kind: 'cache' | 'sweep', nWorkers: number) => {
      const ws = Array.from({ length: nWorkers }, () => spawnWorker(redis.url, ONE_THREAD, ['--lock-seconds', '60'], NODE_FLAGS));
      all.push(...ws);
      await Promise.all(ws.map((w) => w.waitFor(/worker .* on redis/)));
      const before = load();
      const t0 = Date.now();
      let r;
      if (kind === 'cache') {
        fs.writeFileSync(path.join(tmp, `d${run}.json`), JSON.stringify({ ...common, n_batches_in_buffer: CACHE_BATCHES_PER_SHARD, training_tokens: SHARDS * TOKENS_PER_SHARD, new_cached_activations_path: path.join(tmp, `dist-${run}`), n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 4 }));
        r = await spawnCli(['cache', path.join(tmp, `d${run}.json`), '--queue', redis.url], { timeoutMs: 600_000 });
      } else {
        r = await spawnCli(['train', path.join(tmp, 't.json'), '--lr', '1e-4,3e-4', '--l1-coefficient', '1e-2,3e-2', '--queue', redis.url, '--store', path.join(tmp, `sweep-${run}`), '--saes-per-job', '1'], { timeoutMs: 600_000 });
      }
      const seconds = (Date.now() - t0) / 1000;
      run++;
      if (r.code !== 0) throw new Error(r.stderr);
      for (const w of ws) await w.stop();
      const timeline = jobTimeline(ws, t0);
      console.log(JSON.stringify({ bench: `cluster/${kind}/jobs`, workers: nWorkers, workerNodeFlags: NODE_FLAGS, ...timeline }));
      spans[kind].push({ workers: nWorkers, jobSpanSeconds: (timeline.lastJobEndMs - timeline.beforeFirstJobMs) / 1000 });
      const tokens = kind === 'cache' ? SHARDS * TOKENS_PER_SHARD : 4 * STEPS * 256;
      const line = { bench: `cluster/${kind}`, workers: nWorkers, workerNodeFlags: NODE_FLAGS, seconds, tokensPerSecond: tokens / seconds, loadavgBefore: before, loadavgAfter: load(), cores: os.cpus().length };
      console.log(JSON.stringify(line));
      return seconds;
    };
    for (const kind of ['cache', 'sweep'] as const) {
      if (only && kind !== only) continue;
      const t1: number[] = [];
      const t2: number[] = [];
      // --workers N: only that count (a timeline without the comparison)
      if (process.argv.includes('--workers')) {
        for (let k = 0; k < rounds; k++) await once(kind, flag('--workers', 2));
        continue;
      }
      for (let k = 0; k < rounds; k++) {
        if (k % 2 === 0) {
          t1.push(await once(kind, 1));
          t2.push(await once(kind, 2));
        } else {
          t2.push(await once(kind, 2));
          t1.push(await once(kind, 1));
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const span = (n: number) => mean(spans[kind].filter((x) => x.workers === n).map((x) => x.jobSpanSeconds));
      console.log(JSON.stringify({
        bench: `cluster/${kind}/speedup`, rounds, oneWorkerSeconds: t1, twoWorkerSeconds: t2, speedup: mean(t1) / mean(t2),
        jobSpanSpeedup: span(1) / span(2), loadavg: load(),
      }));
    }
  } finally {
    for (const w of all) await w.kill9();
    await redis.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
