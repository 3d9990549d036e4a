/**
 * `sae-rx cache CONFIG --queue redis://… [--store …]`: the coordinator. It adds the run's flow
 * (cache-shard jobs under cache-shuffle under cache-finalize), then watches: shards done out of
 * the total (counted in the store, the source of truth), tokens/s, workers seen, until
 * manifest.json is there. The coordinator holds no state a worker needs: it may stop and be
 * started again (the flow's job ids are the run's, so nothing is added twice); if the queue
 * lost the run (a Redis restarted without persistence), the flow is added again and the
 * committed shards are skipped.
 */
import { FlowProducer, Job, Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import { ConfigError, StageError } from '../../errors.js';
import type { Store } from '../../store/Store.js';
import { StoreNotFoundError } from '../../store/Store.js';
import { DEFAULT_QUEUE_NAME, redisConnection } from '../connection.js';
import { CACHE_JOB, type CacheJobData } from './jobs.js';
import { cacheKeys, cachePlan } from './plan.js';
import type { CacheManifest } from '../../sources/cachedActivations.js';

export interface CacheProgress {
  readonly shardsDone: number;
  readonly shards: number;
  readonly tokensPerSecond: number;
  readonly workersSeen: number;
  readonly phase: 'shards' | 'shuffle' | 'finalize' | 'done';
}

export interface SubmitCacheOptions {
  readonly queue: string;
  readonly queueName?: string;
  readonly store: Store;
  /** Job attempts on errors (default 5, exponential backoff from 2 s). */
  readonly attempts?: number;
  readonly pollMs?: number;
  readonly onProgress?: (p: CacheProgress) => void;
  readonly log?: (line: string) => void;
}

/** A stable id of the run: the store and the config (so a resubmission is the same run). */
export function cacheRunId(store: Store, config: Record<string, unknown>): string {
  return 'cache-' + createHash('sha256').update(store.url + '\n' + JSON.stringify(config)).digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function submitCache(cfg: CacheActivationsRunnerConfig, o: SubmitCacheOptions): Promise<CacheManifest> {
  const store = o.store;
  const log = o.log ?? (() => {});
  const plan = cachePlan(cfg);
  const config = encodeRunnerConfig(cfg);
  // the config the run was started with; a different config in the same store is refused
  const text = JSON.stringify(config);
  if ((await store.size(cacheKeys.manifest)) !== undefined)
    throw new ConfigError(`distributed cache: ${store.url} already holds a finished cache (manifest.json); choose another store path (nothing was overwritten)`);
  try {
    const prev = new TextDecoder().decode(await store.get(cacheKeys.config));
    if (prev !== text) throw new ConfigError(`distributed cache: ${store.url} holds an unfinished run of another config (_work/config.json); choose another store path or delete it`);
    log(`continuing the unfinished run in ${store.url}`);
  } catch (e) {
    if (!(e instanceof StoreNotFoundError)) throw e;
    const unexpected = (await store.list('')).filter((k) => !k.startsWith(cacheKeys.work));
    if (unexpected.length > 0) throw new ConfigError(`distributed cache: ${store.url} is not empty (${unexpected[0]}, …); choose another store path (nothing was overwritten)`);
    await store.put(cacheKeys.config, text);
  }
  const runId = cacheRunId(store, config);
  const data = (extra: Partial<CacheJobData> = {}): CacheJobData => ({ runId, store: store.url, config, ...extra });
  const attempts = o.attempts ?? 5;
  const opts = { attempts, backoff: { type: 'exponential', delay: 2000 }, failParentOnFailure: true, removeOnComplete: false };
  const conn = redisConnection(o.queue);
  const name = o.queueName ?? DEFAULT_QUEUE_NAME;
  const flow = new FlowProducer({ connection: conn });
  const queue = new Queue(name, { connection: conn });
  const finalizeId = `${runId}-finalize`;
  const addFlow = () =>
    flow.add({
      name: CACHE_JOB.finalize,
      queueName: name,
      data: data(),
      opts: { ...opts, jobId: finalizeId },
      children: [
        {
          name: CACHE_JOB.shuffle,
          queueName: name,
          data: data(),
          opts: { ...opts, jobId: `${runId}-shuffle` },
          children: Array.from({ length: plan.nShards }, (_, i) => ({
            name: CACHE_JOB.shard,
            queueName: name,
            data: data({ shard: i }),
            opts: { ...opts, jobId: `${runId}-shard-${i}` },
          })),
        },
      ],
    });
  try {
    await addFlow();
    log(`submitted ${plan.nShards} shard jobs (${plan.tokensPerShard} tokens each) + shuffle + finalize as run ${runId} to queue "${name}"`);
    const t0 = Date.now();
    const workers = new Set<string>();
    let phase: CacheProgress['phase'] = 'shards';
    let startDone: number | undefined;
    for (;;) {
      try {
        if ((await store.size(cacheKeys.manifest)) !== undefined) {
          o.onProgress?.({ shardsDone: plan.nShards, shards: plan.nShards, tokensPerSecond: 0, workersSeen: workers.size, phase: 'done' });
          return JSON.parse(new TextDecoder().decode(await store.get(cacheKeys.manifest))) as CacheManifest;
        }
        const keys = new Set(await store.list(cacheKeys.work));
        let done = 0;
        for (let i = 0; i < plan.nShards; i++) if (keys.has(cacheKeys.shard(i)) || keys.has(cacheKeys.empty(i))) done++;
        startDone ??= done;
        for (const w of await queue.getWorkers()) workers.add(String(w['name'] ?? w['id']));
        const fin = await Job.fromId(queue, finalizeId);
        if (!fin) {
          // the queue lost the run (Redis restarted empty): add it again; committed work is skipped
          log('the queue has no job of this run any more (Redis restarted without persistence?); submitting it again');
          await addFlow();
          continue;
        }
        const state = await fin.getState();
        if (state === 'failed') throw new StageError('distributed cache', new Error(fin.failedReason || 'the finalize job failed'));
        const shuffle = await Job.fromId(queue, `${runId}-shuffle`);
        const sState = shuffle ? await shuffle.getState() : undefined;
        if (sState === 'failed') throw new StageError('distributed cache (shuffle job)', new Error(shuffle?.failedReason || 'failed'));
        phase = done < plan.nShards ? 'shards' : sState === 'completed' ? 'finalize' : 'shuffle';
        const sec = (Date.now() - t0) / 1000;
        o.onProgress?.({ shardsDone: done, shards: plan.nShards, tokensPerSecond: sec > 0 ? ((done - startDone) * plan.tokensPerShard) / sec : 0, workersSeen: workers.size, phase });
      } catch (e) {
        if (e instanceof StageError || e instanceof ConfigError) throw e;
        // the queue or the store is unreachable for now: keep watching, the workers ride it out too
        log(`progress: ${(e as Error).message}; retrying`);
      }
      await sleep(o.pollMs ?? 500);
    }
  } finally {
    await queue.close().catch(() => {});
    await flow.close().catch(() => {});
    conn.disconnect();
  }
}
