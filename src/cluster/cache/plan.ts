/**
 * How a cache run splits into jobs: shard i holds the activations of store batches
 * [i·n_batches_in_buffer, (i+1)·n_batches_in_buffer) of the packed token stream — the rows the
 * single-process cache runner puts in its i-th buffer — so each shard is computable alone.
 * The store keys of the run's work in progress and of the finished cache.
 */
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { ConfigError } from '../../errors.js';
import { CACHE_MANIFEST } from '../../sources/cacheFormat.js';

export interface CachePlan {
  readonly nShards: number;
  /** Rows per full shard (n_batches_in_buffer × store_batch_size × context_size). */
  readonly tokensPerShard: number;
  /** Store batches (model forward passes) per shard. */
  readonly batchesPerShard: number;
}

export function cachePlan(cfg: Pick<CacheActivationsRunnerConfig, 'n_batches_in_buffer' | 'store_batch_size' | 'context_size' | 'training_tokens' | 'd_in' | 'shuffle_every_n_buffers'>): CachePlan {
  for (const k of ['d_in', 'n_batches_in_buffer', 'store_batch_size', 'context_size', 'training_tokens', 'shuffle_every_n_buffers'] as const) {
    if (!(Number.isInteger(cfg[k]) && cfg[k] > 0)) throw new ConfigError(`distributed cache: ${k} must be a positive integer, got ${cfg[k]}`);
  }
  const tokensPerShard = cfg.n_batches_in_buffer * cfg.store_batch_size * cfg.context_size;
  return { nShards: Math.ceil(cfg.training_tokens / tokensPerShard), tokensPerShard, batchesPerShard: cfg.n_batches_in_buffer };
}

/** Keys in the cache's store: work in progress lives under `_work/`, removed when the manifest is written. */
export const cacheKeys = {
  work: '_work/',
  config: '_work/config.json',
  shard: (i: number) => `_work/shard-${i}.safetensors`,
  /** Shard i came out empty: the dataset ended before it. */
  empty: (i: number) => `_work/shard-${i}.empty`,
  /** {"first_empty": k}: the dataset ends before shard k (every shard from k on is empty). */
  datasetEnd: '_work/dataset-end.json',
  /** Shard i's version written by shuffle pass `op`. */
  shuffled: (op: number, i: number) => `_work/op-${op}-${i}.safetensors`,
  /** Shuffle pass `op` is done (its two outputs are in the store). */
  passDone: (op: number) => `_work/pass-${op}.done`,
  passDonePrefix: '_work/pass-',
  final: (i: number) => `${i}.safetensors`,
  manifest: CACHE_MANIFEST,
} as const;

export const CACHE_JOB = { shard: 'cache-shard', shuffle: 'cache-shuffle', pass: 'cache-shuffle-pass', finalize: 'cache-finalize' } as const;

export interface CacheJobData {
  /** The run's id (job ids and progress derive from it). */
  readonly runId: string;
  /** Where the cache goes: a folder or s3:// URL every worker can reach. */
  readonly store: string;
  /** The encoded runner config (snake_case, as in the file). */
  readonly config: Record<string, unknown>;
  readonly shard?: number;
  /** A shuffle pass job: the pass's index in the run's pass list, and the shard sizes that list follows from. */
  readonly pass?: number;
  readonly shardTokens?: readonly number[];
}
