/**
 * `npx tsx bench/cluster.ts [--rounds N] [--cache|--sweep] [--wide] [--shards N] [--data PATH] [--saes N] [--steps N] [--v8-threads]`:
 * throughput of the distributed cache and sweep with 1 worker vs 2 workers (each its own process, one thread: `node --single-threaded`,
 * OPENBLAS/OMP threads 1; `--v8-threads` keeps V8's helper threads, as Node starts), on a
 * local redis-server and a folder store. Rounds alternate the order (1,2 then 2,1). JSON lines
 * on stdout with wall seconds, tokens/s, the speed-up and the load average before and after
 * (the machine may be shared: read the numbers with it). Before each round, `cluster/host` says
 * how much two busy processes slow each other on this host right now (hostCalibration); the
 * speed-up line gives each round's own ratio and their median. Needs redis-server and ../shared.
 *
 * Each run also prints its job timeline (`cluster/<kind>/jobs`), from the workers' "job done in
 * X ms" lines: per job kind the count and summed job time, the span from the first job's start
 * to the last job's end, the time before the first job (submission, coordinator start-up) and
 * each worker's busy time; for cache shards the summed time of each phase (pack, forward, encode,
 * put, waited for a start) and how many shards were packed twice; `steady`: shards or sweep
 * groups per second of each worker after its first job (model, tokenizer and compiled code
 * warm), summed over the workers: the rate a long run keeps. A part that does not shrink
 * with 2 workers shows there.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnCli } from '../test/cli/helpers.js';
import { startRedis } from '../test/helpers/redis.js';
import { type WorkerProcess, spawnWorker } from '../test/helpers/workers.js';
import { writeWiderModel } from './widerModel.js';

const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');
const flag = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) || dflt : dflt);
const rounds = flag('--rounds', 1);
const only = process.argv.includes('--cache') ? 'cache' : process.argv.includes('--sweep') ? 'sweep' : undefined;
// --data PATH: the cache run's documents (a file or folder; default austen.txt, ~112 shards' worth: more shards come out empty)
const DATA = process.argv.includes('--data') ? path.resolve(process.argv[process.argv.indexOf('--data') + 1]!) : TEXT;
// --wide: a GPT-2-small-width model (768 wide, 12 heads, 2 layers, seeded random weights:
// bench/widerModel.ts) in place of the 128-wide tiny one, hooked after its first block, and
// SAEs of 4 × 768 latents in the sweep. A shard is then ~1.3 s of forward passes on one core
// (~10× the tiny model's) and 25 MB, a sweep job ~10× the tiny one's: the work of a real run,
// against a real model's fixed costs (a worker's model load ~3 s, paid by each worker at once).
// For more than ~112 shards give it more text: --data ../shared/data holds ~148 shards' worth.
const WIDE = process.argv.includes('--wide');
const D_IN = WIDE ? 768 : 128;
const common = { model_name: MODEL_DIR, hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, dataset_path: DATA, context_size: 64, d_in: D_IN, store_batch_size: 8, n_batches_in_buffer: 4 };
// the cache run: shards of 16 store batches (8192 tokens, ~0.2 s of work each on one core of this
// machine). A run pays ~3 s that more workers do not shrink (coordinator start-up ~1 s, each
// worker's model and tokenizer load ~1 s, shuffle and finalize ~0.5 s); 64 shards (0.5M
// tokens, ~15 s on one worker) keep that a minor part, as it is in real runs of 100M+ tokens.
// --shards 32 --saes 4 is the workload of the earlier notes.
const SHARDS = flag('--shards', WIDE ? 32 : 64);
const CACHE_BATCHES_PER_SHARD = 16;
const TOKENS_PER_SHARD = 64 * 8 * CACHE_BATCHES_PER_SHARD;
const STEPS = flag('--steps', 150);
// the sweep: SAES configs (lr × l1 coefficient), one SAE per job; 6 as in the sweep test
const SAES = flag('--saes', 6);
if (!(SAES % 2 === 0 && SAES >= 2 && SAES <= 8)) throw new Error('--saes: an even number from 2 to 8');
const LRS = ['1e-4', '3e-4', '1e-3', '3e-3'].slice(0, SAES / 2).join(',');
const ONE_THREAD = { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
// --v8-threads: workers as Node starts them, V8's GC and compiler helper threads included (a
// worker then uses ~1.17 cores alone, and two of them steal from each other on 2 cores); by
// default each worker is one thread for real: `node --single-threaded` and one BLAS thread.
const V8_THREADS = process.argv.includes('--v8-threads');
// BENCH_WORKER_NODE_FLAGS adds node flags to the workers (e.g. "--trace-gc", "--cpu-prof --cpu-prof-dir=DIR")
const NODE_FLAGS = [...(V8_THREADS ? [] : ['--single-threaded']), ...(process.env.BENCH_WORKER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];

const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/**
 * What the host gives two busy processes at this moment: a fixed one-thread JS load (words of
 * the text counted in a Map, strings built, a float loop: the kind of work a shard job does),
 * timed alone and then as two processes at once. `pairSlowdown` 1.0 means the 2 cores are two
 * full cores now; on this VM it was seen between 1.0 and 1.4 from one minute to the next (the
 * host's other tenants), which bounds any 2-worker speed-up measured then (2 / pairSlowdown).
 */
const CALIBRATION = `
const text = require('fs').readFileSync(${JSON.stringify(TEXT)}, 'utf8').slice(0, 400000);
const t0 = Date.now();
let acc = 0;
for (let r = 0; r < 15; r++) {
  const m = new Map();
  for (const w of text.split(/\\s+/)) m.set(w, (m.get(w) ?? 0) + 1);
  const parts = []; for (const [w, n] of m) if (n > 2) parts.push(w + ':' + n);
  acc += parts.join(',').length;
  const a = new Float32Array(1 << 18); for (let k = 0; k < 40; k++) for (let i = 0; i < a.length; i++) a[i] = a[i] * 0.5 + i;
  acc += a[7];
}
console.log(JSON.stringify({ wallMs: Date.now() - t0, acc }));
`;
async function calibrationRun(): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--single-threaded', '-e', CALIBRATION], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve((JSON.parse(out) as { wallMs: number }).wallMs) : reject(new Error(`calibration exited ${code}`))));
  });
}
async function hostCalibration(): Promise<{ aloneMs: number; pairMs: number[]; pairSlowdown: number }> {
  const aloneMs = await calibrationRun();
  const pairMs = await Promise.all([calibrationRun(), calibrationRun()]);
  return { aloneMs, pairMs, pairSlowdown: (pairMs[0]! + pairMs[1]!) / 2 / aloneMs };
}

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
  // steady state: each worker's rate over its main-kind jobs (shards, sweep groups) after its
  // first one (model and tokenizer loaded, code compiled), summed over the workers
  const main = jobs.filter((j) => j.kind === 'cache-shard' || j.kind === 'sweep-group');
  let jobsPerSecond = 0;
  let later = 0;
  ws.forEach((_, k) => {
    const mine = main.filter((j) => j.worker === k).sort((a, b) => a.start - b.start);
    if (mine.length < 2) return;
    later += mine.length - 1;
    jobsPerSecond += (mine.length - 1) / ((mine[mine.length - 1]!.end - mine[0]!.end) / 1000);
  });
  const steady = later > 0 ? { jobsAfterFirst: later, jobsPerSecond } : undefined;
  return { steady, shardPhasesMs, repackedShards, beforeFirstJobMs: Math.min(...jobs.map((j) => j.start)), lastJobEndMs: Math.max(...jobs.map((j) => j.end)), busyMs, kinds };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-bench-cluster-'));
  const redis = await startRedis();
  const all: WorkerProcess[] = [];
  try {
    if (WIDE) {
      common.model_name = path.join(tmp, 'gpt2-768-random');
      await writeWiderModel(common.model_name, MODEL_DIR, { width: 768, heads: 12, layers: 2, nCtx: 256 });
    }
    // a local cache for the sweeps to train from
    const cache = path.join(tmp, 'sweep-cache');
    fs.writeFileSync(path.join(tmp, 'c.json'), JSON.stringify({ ...common, training_tokens: STEPS * 256, new_cached_activations_path: cache, n_shuffles_with_last_section: 0, n_shuffles_in_entire_dir: 0, n_shuffles_final: 0 }));
    const c = await spawnCli(['cache', path.join(tmp, 'c.json')], { timeoutMs: 600_000, env: ONE_THREAD });
    if (c.code !== 0) throw new Error(c.stderr);
    fs.writeFileSync(path.join(tmp, 't.json'), JSON.stringify({
      ...common, use_cached_activations: true, cached_activations_path: cache, expansion_factor: WIDE ? 4 : 8, train_batch_size: 256, training_tokens: STEPS * 256,
      lr_warm_up_steps: 0, log_to_wandb: false, checkpoint_path: path.join(tmp, 'unused'),
    }));
    let run = 0;
    // first job start → last job end of each run: the part that more workers should shrink
    const spans: Record<'cache' | 'sweep', Array<{ workers: number; jobSpanSeconds: number; steadyRate: number }>> = { cache: [], sweep: [] };
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
        r = await spawnCli(['train', path.join(tmp, 't.json'), '--lr', LRS, '--l1-coefficient', '1e-2,3e-2', '--queue', redis.url, '--store', path.join(tmp, `sweep-${run}`), '--saes-per-job', '1'], { timeoutMs: 600_000 });
      }
      const seconds = (Date.now() - t0) / 1000;
      run++;
      if (r.code !== 0) throw new Error(r.stderr);
      for (const w of ws) await w.stop();
      // BENCH_WORKER_LOGS=prefix: each worker's output kept as prefix-<n>w-<k>.log (the commit lines, GC traces)
      if (process.env.BENCH_WORKER_LOGS) ws.forEach((w, k) => fs.writeFileSync(`${process.env.BENCH_WORKER_LOGS}-${nWorkers}w-${k}.log`, w.output()));
      const timeline = jobTimeline(ws, t0);
      // the run's shards or SAEs are not needed again (a wide cache run leaves ~0.8 GB)
      fs.rmSync(path.join(tmp, kind === 'cache' ? `dist-${run - 1}` : `sweep-${run - 1}`), { recursive: true, force: true });
      console.log(JSON.stringify({ bench: `cluster/${kind}/jobs`, workers: nWorkers, workerNodeFlags: NODE_FLAGS, ...timeline }));
      spans[kind].push({ workers: nWorkers, jobSpanSeconds: (timeline.lastJobEndMs - timeline.beforeFirstJobMs) / 1000, steadyRate: timeline.steady?.jobsPerSecond ?? NaN });
      const tokens = kind === 'cache' ? SHARDS * TOKENS_PER_SHARD : SAES * STEPS * 256;
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
      const hostSlowdowns: number[] = [];
      for (let k = 0; k < rounds; k++) {
        const host = await hostCalibration();
        hostSlowdowns.push(host.pairSlowdown);
        console.log(JSON.stringify({ bench: 'cluster/host', round: k, ...host, loadavg: load() }));
        if (k % 2 === 0) {
          t1.push(await once(kind, 1));
          t2.push(await once(kind, 2));
        } else {
          t2.push(await once(kind, 2));
          t1.push(await once(kind, 1));
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const steadyRate = (n: number) => mean(spans[kind].filter((x) => x.workers === n).map((x) => x.steadyRate));
      const span = (n: number) => mean(spans[kind].filter((x) => x.workers === n).map((x) => x.jobSpanSeconds));
      // each round's 1- and 2-worker runs are minutes apart at most: their ratio is the least
      // exposed to the host's drift; the median of those ratios is the headline
      const paired = t1.map((x, k) => x / t2[k]!);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      console.log(JSON.stringify({
        bench: `cluster/${kind}/speedup`, rounds, oneWorkerSeconds: t1, twoWorkerSeconds: t2, speedup: mean(t1) / mean(t2),
        pairedSpeedups: paired, medianPairedSpeedup: median(paired), jobSpanSpeedup: span(1) / span(2),
        // jobs per second once every worker is warm (see jobTimeline): the throughput of a long run
        steadyStateSpeedup: steadyRate(2) / steadyRate(1),
        hostPairSlowdowns: hostSlowdowns, loadavg: load(),
      }));
    }
  } finally {
    for (const w of all) await w.kill9();
    await redis.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
