/**
 * `sae-rx cache CONFIG --queue redis://… [--store …]`: the coordinator. It adds the run's flow
 * (cache-shard jobs under cache-shuffle under cache-finalize), then watches: shards done out of
 * the total (counted in the store, the source of truth), tokens/s, workers seen, until
 * manifest.json is there. The coordinator holds no state a worker needs: it may stop and be
 * started again (the flow's job ids are the run's, so nothing is added twice); if the queue
 * lost the run (a Redis restarted without persistence), the flow is added again and the
 * committed shards are skipped.
 */
import { Job } from 'bullmq';
import { createHash } from 'node:crypto';
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import { ConfigError, StageError } from '../../errors.js';
import type { Store } from '../../store/Store.js';
import { StoreNotFoundError } from '../../store/Store.js';
import { runJobOptions } from '../connection.js';
import { watchRun } from '../watchRun.js';
import { CACHE_JOB, type CacheJobData, cacheKeys, cachePlan } from './plan.js';
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
  const opts = runJobOptions(o.attempts);
  const t0 = Date.now();
  let startDone: number | undefined;
  let seen = 0;
  return watchRun({
    what: 'distributed cache',
    queue: o.queue,
    ...(o.queueName ? { queueName: o.queueName } : {}),
    finalizeId: `${runId}-finalize`,
    flow: (queueName) => ({
      name: CACHE_JOB.finalize,
      queueName,
      data: data(),
      opts: { ...opts, jobId: `${runId}-finalize` },
      children: [
        {
          name: CACHE_JOB.shuffle,
          queueName,
          data: data(),
          opts: { ...opts, jobId: `${runId}-shuffle` },
          children: Array.from({ length: plan.nShards }, (_, i) => ({
            name: CACHE_JOB.shard,
            queueName,
            data: data({ shard: i }),
            opts: { ...opts, jobId: `${runId}-shard-${i}` },
          })),
        },
      ],
    }),
    submitted: (queueName) => `submitted ${plan.nShards} shard jobs (${plan.tokensPerShard} tokens each) + shuffle + finalize as run ${runId} to queue "${queueName}"`,
    finished: async () => {
      if ((await store.size(cacheKeys.manifest)) === undefined) return undefined;
      o.onProgress?.({ shardsDone: plan.nShards, shards: plan.nShards, tokensPerSecond: 0, workersSeen: seen, phase: 'done' });
      return JSON.parse(new TextDecoder().decode(await store.get(cacheKeys.manifest))) as CacheManifest;
    },
    poll: async ({ queue, workersSeen, step }) => {
      seen = workersSeen;
      step('the store (listing the shards)');
      const keys = new Set(await store.list(cacheKeys.work));
      let done = 0;
      for (let i = 0; i < plan.nShards; i++) if (keys.has(cacheKeys.shard(i)) || keys.has(cacheKeys.empty(i))) done++;
      startDone ??= done;
      step('the queue (the shuffle job)');
      const shuffle = await Job.fromId(queue, `${runId}-shuffle`);
      const sState = shuffle ? await shuffle.getState() : undefined;
      if (sState === 'failed') throw new StageError('distributed cache (shuffle job)', new Error(shuffle?.failedReason || 'failed'));
      const phase = done < plan.nShards ? 'shards' : sState === 'completed' ? 'finalize' : 'shuffle';
      const sec = (Date.now() - t0) / 1000;
      o.onProgress?.({ shardsDone: done, shards: plan.nShards, tokensPerSecond: sec > 0 ? ((done - startDone) * plan.tokensPerShard) / sec : 0, workersSeen, phase });
    },
    log,
    ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
  });
}
