/**
 * `sae-rx worker`: takes jobs from the queue (any number of workers, on any number of machines)
 * and runs them: cache shards, shuffle passes and finalization, sweep groups. Each job names
 * its store, so a worker needs only the queue URL (and the store's credentials in its
 * environment). Jobs are idempotent (see cache/jobs.ts, sweep/jobs.ts): a job whose worker died
 * is taken again by another one once its lock expires (BullMQ's stalled-job check), and
 * finishes without redoing what was committed.
 */
import { type Job, Queue, WaitingChildrenError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import * as os from 'node:os';
import { decodeRunnerConfig } from '../config/runnerConfig.js';
import { ConfigError } from '../errors.js';
import type { HubConfig } from '../hub/config.js';
import type { HookedTransformer } from '../model/HookedTransformer.js';
import { type TextTokenizer, loadTokenizer } from '../model/tokenizer.js';
import { datasetDocuments, loadRunnerModel } from '../runners/languageModelRunner.js';
import { openStore, retryFromEnv } from '../store/openStore.js';
import type { Store } from '../store/Store.js';
import { runFinalizeJob, runShardJob, runShuffleJob, runShufflePassJob } from './cache/jobs.js';
import { CACHE_JOB, type CacheJobData } from './cache/plan.js';
import { type ShardScratch, computeShard } from './cache/shard.js';
import { DEFAULT_QUEUE_NAME, describeQueue, redisConnection, runJobOptions } from './connection.js';
import { runSweepFinalizeJob, runSweepGroupJob } from './sweep/jobs.js';
import { SWEEP_JOB, type SweepJobData } from './sweep/plan.js';

export interface WorkerOptions {
  readonly queue: string;
  readonly queueName?: string;
  /** Jobs at once in this process (default 1: one job per core is the usual layout). */
  readonly concurrency?: number;
  /** How long a job's lock lasts without renewal (ms, default 60 000): a dead worker's job is retaken after about this long. */
  readonly lockMs?: number;
  /** How often workers look for stalled jobs (ms, default lockMs / 2). */
  readonly stalledIntervalMs?: number;
  /** Name in logs and in the coordinator's "workers seen" (default host:pid). */
  readonly name?: string;
  readonly hub?: Partial<HubConfig>;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

export interface RunningWorker {
  readonly name: string;
  /** Stops taking jobs, waits for the running ones, frees the model and connections. */
  close(): Promise<void>;
}

/** A model kept between jobs of the same model (loading it per shard would dominate small shards). */
interface LoadedModel {
  readonly name: string;
  readonly model: HookedTransformer;
  readonly tokenizer: TextTokenizer;
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const name = o.name ?? `${os.hostname()}:${process.pid}`;
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const lockMs = o.lockMs ?? 60_000;
  let redisDown = false;
  const conn: Redis = redisConnection(o.queue, {
    onError: (e) => {
      if (!redisDown) log(`worker ${name}: queue ${describeQueue(o.queue)} unreachable (${e.message}); reconnecting`);
      redisDown = true;
    },
  });
  conn.on('ready', () => {
    if (redisDown) log(`worker ${name}: queue reachable again`);
    redisDown = false;
  });
  const stores = new Map<string, Store>();
  const storeOf = (url: string) => {
    let s = stores.get(url);
    if (!s) {
      const retry = retryFromEnv(o.env);
      // an outage is said when it starts and every tenth retry, not once per request
      const onRetry = (what: string, attempt: number, delayMs: number, e: unknown) => {
        if (attempt === 1 || attempt % 10 === 0) log(`worker ${name}: store: ${what} failed (${(e as Error).message}); retry ${attempt} in ${Math.round(delayMs)} ms`);
      };
      stores.set(url, (s = openStore(url, { retry: { ...retry, onRetry }, ...(o.env ? { env: o.env } : {}) })));
    }
    return s;
  };
  let loaded: LoadedModel | undefined;
  // this worker's packing pace (ms per shard), from its last shard job: bounds the wait for a start
  let packMsPerShard: number | undefined;
  // shard buffers handed from job to job (one per job running at once): see ShardScratch
  const scratches: ShardScratch[] = [];
  const modelFor = async (modelName: string): Promise<LoadedModel> => {
    if (loaded?.name === modelName) return loaded;
    loaded?.model.dispose();
    loaded = undefined;
    // shard jobs need activations only: no unembedding to load (most of a tied model's load)
    const { dir, model } = await loadRunnerModel(modelName, o.hub, { unembed: false });
    loaded = { name: modelName, model, tokenizer: loadTokenizer(dir) };
    return loaded;
  };

  // for handing out a shuffle wave's passes as child jobs (sharing the worker's connection)
  let queue: Queue | undefined;
  const queueOf = (queueName: string) => (queue ??= new Queue(queueName, { connection: conn }));

  const process_ = async (job: Job, token?: string): Promise<unknown> => {
    const tag = `[${name}] ${job.name} ${job.id}`;
    const jlog = (l: string) => log(`${tag}: ${l}`);
    const t0 = Date.now();
    const c0 = process.cpuUsage();
    const r = await runJob(job, jlog, token);
    // the job's wall and CPU time: bench/cluster.ts sums these per kind to find the serial part,
    // and wall well above CPU says the job waited (store I/O, the queue) rather than computed
    const c = process.cpuUsage(c0);
    jlog(`job done in ${Date.now() - t0} ms (CPU ${Math.round((c.user + c.system) / 1000)} ms)`);
    return r;
  };

  const runJob = async (job: Job, jlog: (line: string) => void, token: string | undefined): Promise<unknown> => {
    switch (job.name) {
      case CACHE_JOB.shard: {
        const d = job.data as CacheJobData;
        const cfg = decodeRunnerConfig(d.config, 'cache_activations');
        // the shard's bytes are a view of the scratch until runShardJob has put them
        const scratch = scratches.pop() ?? {};
        try {
          const r = await runShardJob(storeOf(d.store), d.shard!, async (co) => {
            const m = await modelFor(cfg.model_name);
            return computeShard(cfg, d.shard!, m.model, m.tokenizer, datasetDocuments(cfg, o.hub), {
              ...co,
              scratch,
              documentsFrom: (cursor) => datasetDocuments(cfg, o.hub, cursor),
            });
          }, jlog, { ...(packMsPerShard !== undefined ? { packMsPerShard } : {}), onPackPace: (ms) => (packMsPerShard = ms) });
          return { ...r, worker: name };
        } finally {
          scratches.push(scratch);
        }
      }
      case CACHE_JOB.shuffle: {
        const d = job.data as CacheJobData;
        const cfg = decodeRunnerConfig(d.config, 'cache_activations');
        const r = await runShuffleJob(storeOf(d.store), cfg, {
          onPass: (done, total) => void job.updateProgress({ done, total }).catch(() => {}),
          yieldEvery: () => new Promise((res) => setImmediate(res)),
          // a wave's passes as child jobs (any worker takes them); this job is parked meanwhile
          // (BullMQ's moveToWaitingChildren) and runs again when they are done
          runWave: async (passes, shardTokens) => {
            if (token === undefined) return 'done';
            const q = queueOf(job.queueName);
            for (const k of passes)
              await q.add(CACHE_JOB.pass, { ...d, pass: k, shardTokens }, { ...runJobOptions(job.opts.attempts), jobId: `${d.runId}-pass-${k}`, parent: { id: job.id!, queue: job.queueQualifiedName } });
            const waiting = await job.moveToWaitingChildren(token);
            if (waiting) jlog(`shuffle: ${passes.length} passes handed out as jobs (${passes[0]}…${passes[passes.length - 1]}); waiting for them`);
            return waiting ? 'waiting' : 'done';
          },
        });
        if (r.waiting) throw new WaitingChildrenError();
        jlog(`shuffle passes done (${r.passes})`);
        return { ...r, worker: name };
      }
      case CACHE_JOB.pass: {
        const d = job.data as CacheJobData;
        const cfg = decodeRunnerConfig(d.config, 'cache_activations');
        const r = await runShufflePassJob(storeOf(d.store), cfg, d.pass!, d.shardTokens);
        jlog(r.ran ? `shuffle pass ${d.pass} done` : `shuffle pass ${d.pass} was done already`);
        return { ...r, worker: name };
      }
      case CACHE_JOB.finalize: {
        const d = job.data as CacheJobData;
        const cfg = decodeRunnerConfig(d.config, 'cache_activations');
        const m = await runFinalizeJob(storeOf(d.store), cfg);
        jlog(`manifest.json written: ${m.n_shards} shards, ${m.total_tokens} tokens`);
        return { shards: m.n_shards, tokens: m.total_tokens, worker: name };
      }
      case SWEEP_JOB.group: {
        const d = job.data as SweepJobData;
        const r = await runSweepGroupJob(d, {
          store: storeOf(d.store),
          log: jlog,
          onStep: (step) => void job.updateProgress({ step }).catch(() => {}),
          ...(o.hub ? { hub: o.hub } : {}),
        });
        return { ...r, worker: name };
      }
      case SWEEP_JOB.finalize: {
        const d = job.data as SweepJobData;
        const r = await runSweepFinalizeJob(d, storeOf(d.store));
        jlog(`sweep finished: ${r.saes} SAEs in ${d.store}`);
        return { ...r, worker: name };
      }
      default:
        throw new ConfigError(`worker: unknown job kind ${JSON.stringify(job.name)} (a newer sae-rx submitted it?)`);
    }
  };

  const worker = new Worker(o.queueName ?? DEFAULT_QUEUE_NAME, process_, {
    connection: conn,
    concurrency: o.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: o.stalledIntervalMs ?? Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: 10,
    name,
    autorun: true,
  });
  worker.on('error', (e) => {
    if (!redisDown) log(`worker ${name}: ${e.message}`);
  });
  worker.on('failed', (job, e) => log(`[${name}] ${job?.name} ${job?.id} failed (attempt ${job?.attemptsMade}): ${e.message}`));
  await worker.waitUntilReady();
  log(`worker ${name} on ${describeQueue(o.queue)} (queue "${o.queueName ?? DEFAULT_QUEUE_NAME}", ${o.concurrency ?? 1} at a time, lock ${lockMs / 1000} s)`);
  return {
    name,
    close: async () => {
      await worker.close();
      await queue?.close().catch(() => {});
      loaded?.model.dispose();
      loaded = undefined;
      for (const s of stores.values()) await s.close();
      conn.disconnect();
    },
  };
}
