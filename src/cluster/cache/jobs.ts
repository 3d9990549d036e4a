/**
 * The jobs of a distributed cache run, as a BullMQ flow under one parent:
 *
 *   cache-finalize  (promote the shards, write manifest.json, remove _work/)
 *     └─ cache-shuffle  (SAELens's pairwise passes, resumable)
 *          └─ cache-shard × n  (one shard each, any order, any worker)
 *
 * Every job is idempotent: a shard already in the store is never computed again, the shuffle
 * continues from its last committed pass, finalize skips what it already did. Job ids are
 * derived from the run, so submitting the same run again adds nothing that exists.
 */
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { FileFormatError } from '../../errors.js';
import { CACHE_FORMAT, CACHE_TENSOR, type CacheManifest } from '../../sources/cachedActivations.js';
import { CACHE_TARGET_TENSOR } from '../../sources/cacheShard.js';
import type { Store } from '../../store/Store.js';
import { cacheKeys, cachePlan } from './plan.js';
import type { ComputeShardOptions, ComputedShard } from './shard.js';
import { awaitStart, datasetEnd, nearestStart, publishDatasetEnd, publishStarts } from './starts.js';
import { countPasses, finalVersions, runShufflePass, runShufflePasses, shufflePasses } from './shuffle.js';

/** The rows of a shard object, from its safetensors header (two ranged reads). */
export async function shardRows(store: Store, key: string): Promise<number> {
  return (await shardShapes(store, key)).rows;
}

/** A stored shard's rows and, for a transcoder cache, its target's width (from its header). */
async function shardShapes(store: Store, key: string): Promise<{ rows: number; dOut?: number }> {
  const len = Number(new DataView((await store.getRange(key, 0, 8)).buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(await store.getRange(key, 8, 8 + len))) as Record<string, { shape?: number[] }>;
  const shape = header[CACHE_TENSOR]?.shape;
  if (!shape) throw new FileFormatError(`${store.url}/${key}: no "${CACHE_TENSOR}" tensor`);
  const t = header[CACHE_TARGET_TENSOR]?.shape;
  return { rows: shape[0]!, ...(t ? { dOut: t[1]! } : {}) };
}

export interface ShardOutcome {
  readonly shard: number;
  readonly computed: boolean;
  readonly tokens: number;
}

/**
 * Shard i: skipped when the store has it (or its empty marker), else computed from the nearest
 * published start (starts.ts) and put (one atomic object: the shard is committed when it
 * appears). The log line of the commit says where the job's time went.
 */
export async function runShardJob(
  store: Store,
  i: number,
  compute: (o: ComputeShardOptions) => Promise<ComputedShard>,
  log: (line: string) => void,
  o: {
    /**
     * How long this worker takes to pack one shard (ms; undefined before its first): a job
     * whose start is not published yet waits for it up to as long as repacking the shards
     * before it would take (starts.ts says why).
     */
    readonly packMsPerShard?: number;
    /** Receives this job's measured packing pace (ms per shard packed). */
    readonly onPackPace?: (msPerShard: number) => void;
  } = {},
): Promise<ShardOutcome> {
  if ((await store.size(cacheKeys.shard(i))) !== undefined) {
    log(`shard ${i} already committed; not computed again`);
    return { shard: i, computed: false, tokens: await shardRows(store, cacheKeys.shard(i)) };
  }
  if ((await store.size(cacheKeys.empty(i))) !== undefined) return { shard: i, computed: false, tokens: 0 };
  // past the dataset's end (another job packed to it): empty, nothing to read
  const pastEnd = async () => {
    const firstEmpty = await datasetEnd(store);
    if (firstEmpty === undefined || i < firstEmpty) return false;
    await store.put(cacheKeys.empty(i), '');
    log(`shard ${i} is empty: the dataset ends before shard ${firstEmpty}`);
    return true;
  };
  if (await pastEnd()) return { shard: i, computed: false, tokens: 0 };
  let from = await nearestStart(store, i);
  if (from.shard < i && o.packMsPerShard !== undefined) {
    const w0 = Date.now();
    const before = from.shard;
    // polled at a quarter of the packing pace (2–25 ms): with a fast pace the start comes within
    // milliseconds, and a fixed 25 ms poll made each waiting job lose half of that on average
    const pollMs = Math.min(25, Math.max(2, o.packMsPerShard / 4));
    from = await awaitStart(store, i, from, o.packMsPerShard * (i - from.shard), pollMs);
    if (from.shard > before) log(`waited ${Date.now() - w0} ms for shard ${i}'s start (repacking from shard ${before} would take ~${Math.round(o.packMsPerShard * (i - before))} ms)`);
    else if (await pastEnd()) return { shard: i, computed: false, tokens: 0 };
  }
  log(`computing shard ${i}` + (from.shard < i ? ` (packing from shard ${from.shard}'s start)` : ''));
  const s = await compute({ from, publishStarts: (starts) => publishStarts(store, starts) });
  o.onPackPace?.(s.timing.packMs / (i - from.shard + 1));
  if (s.firstEmpty !== undefined) await publishDatasetEnd(store, s.firstEmpty);
  if (s.tokens === 0) {
    await store.put(cacheKeys.empty(i), '');
    log(`shard ${i} is empty: the dataset ended before it`);
    return { shard: i, computed: true, tokens: 0 };
  }
  // a duplicate delivery (the job retaken while this worker was slow, not dead) may have committed it meanwhile
  if ((await store.size(cacheKeys.shard(i))) !== undefined) {
    log(`shard ${i} was committed by another worker meanwhile; this copy is discarded`);
    return { shard: i, computed: true, tokens: s.tokens };
  }
  const t0 = Date.now();
  await store.put(cacheKeys.shard(i), s.bytes);
  const { packMs, forwardMs, encodeMs } = s.timing;
  log(`committed shard ${i} (${s.tokens} tokens; pack ${packMs} ms from shard ${from.shard}, forward ${forwardMs} ms, encode ${encodeMs} ms, put ${Date.now() - t0} ms)`);
  return { shard: i, computed: true, tokens: s.tokens };
}

/**
 * The shards the run has: those before the first empty one (the dataset's end), with their rows,
 * read from each shard's first version or, after a finalize that died midway, its promoted file
 * (the shuffle passes keep every shard's size).
 */
async function presentShards(store: Store, nShards: number): Promise<number[]> {
  const tokens: number[] = [];
  let ended = false;
  for (let i = 0; i < nShards; i++) {
    if ((await store.size(cacheKeys.empty(i))) !== undefined) {
      ended = true;
      continue;
    }
    if (ended) throw new FileFormatError(`${store.url}: shard ${i} has activations but an earlier shard is empty`);
    const key = (await store.size(cacheKeys.shard(i))) !== undefined ? cacheKeys.shard(i) : (await store.size(cacheKeys.final(i))) !== undefined ? cacheKeys.final(i) : undefined;
    if (key === undefined) throw new FileFormatError(`${store.url}: shard ${i} is neither in _work/ nor promoted`);
    tokens.push(await shardRows(store, key));
  }
  return tokens;
}

/**
 * The shuffle passes, wave by wave (shuffle.ts); `runWave` hands a wave's passes out as jobs.
 * `waiting`: the job is parked until they are done, and runs again then.
 */
export async function runShuffleJob(
  store: Store,
  cfg: CacheActivationsRunnerConfig,
  o: { onPass?: (done: number, total: number) => void; yieldEvery?: () => Promise<void>; runWave?: (passes: number[], shardTokens: readonly number[]) => Promise<'waiting' | 'done'> } = {},
): Promise<{ passes: number; waiting: boolean }> {
  if ((await store.size(cacheKeys.manifest)) !== undefined) return { passes: 0, waiting: false };
  const tokens = await presentShards(store, cachePlan(cfg).nShards);
  return runShufflePasses(store, cfg, tokens, o);
}

/**
 * One shuffle pass, as a job of its own (a wave's passes run at once on several workers);
 * `shardTokens` (the shard sizes, handed over by the shuffle job) spares reading every shard's
 * header again for each pass.
 */
export async function runShufflePassJob(store: Store, cfg: CacheActivationsRunnerConfig, k: number, shardTokens?: readonly number[]): Promise<{ ran: boolean }> {
  if ((await store.size(cacheKeys.manifest)) !== undefined) return { ran: false };
  const passes = shufflePasses(cfg, shardTokens ?? (await presentShards(store, cachePlan(cfg).nShards)));
  if (!(Number.isInteger(k) && k >= 0 && k < passes.length)) throw new FileFormatError(`${store.url}: shuffle pass ${k} is not one of this run's ${passes.length} passes`);
  return { ran: await runShufflePass(store, cfg, passes, k) };
}

/** Moves every shard's last version to `{i}.safetensors`, writes manifest.json, removes `_work/`. */
export async function runFinalizeJob(store: Store, cfg: CacheActivationsRunnerConfig): Promise<CacheManifest> {
  const existing = await store.size(cacheKeys.manifest);
  if (existing !== undefined) return JSON.parse(new TextDecoder().decode(await store.get(cacheKeys.manifest))) as CacheManifest;
  const plan = cachePlan(cfg);
  // every shard's size (the passes keep them) and last version, promoted to {i}.safetensors
  // unless a finalize that died midway already did
  const shardTokens = await presentShards(store, plan.nShards);
  const last = finalVersions(cfg, shardTokens);
  for (let i = 0; i < shardTokens.length; i++) {
    if ((await store.size(last[i]!)) !== undefined) await store.move(last[i]!, cacheKeys.final(i));
    else if ((await store.size(cacheKeys.final(i))) === undefined) throw new FileFormatError(`${store.url}: shard ${i} is neither in _work/ (${last[i]}) nor promoted`);
  }
  if (shardTokens.length === 0) throw new FileFormatError(`${store.url}: the activation source gave no activations; nothing was cached`);
  // a transcoder cache: the target's width as the shards hold it
  const dOut = cfg.hook_name_out != null ? (await shardShapes(store, cacheKeys.final(0))).dOut : undefined;
  if (cfg.hook_name_out != null && dOut === undefined) throw new FileFormatError(`${store.url}: hook_name_out is ${cfg.hook_name_out} but shard 0 holds no "${CACHE_TARGET_TENSOR}"`);
  const manifest: CacheManifest = {
    format: CACHE_FORMAT,
    version: 1,
    model_name: cfg.model_name,
    hook_points: [cfg.hook_point],
    hook_point_head_index: cfg.hook_point_head_index,
    dataset_path: cfg.dataset_path,
    context_size: cfg.context_size,
    d_in: cfg.d_in,
    ...(dOut !== undefined ? { hook_name_out: cfg.hook_name_out!, hook_head_index_out: cfg.hook_head_index_out ?? null, d_out: dOut } : {}),
    dtype: 'float32',
    n_shards: shardTokens.length,
    shard_tokens: shardTokens,
    total_tokens: shardTokens.reduce((a, b) => a + b, 0),
    shuffle: {
      within_buffer: true,
      seed: cfg.seed,
      shuffle_every_n_buffers: cfg.shuffle_every_n_buffers,
      n_shuffles_with_last_section: cfg.n_shuffles_with_last_section,
      n_shuffles_in_entire_dir: cfg.n_shuffles_in_entire_dir,
      n_shuffles_final: cfg.n_shuffles_final,
      pairwise_passes: countPasses(cfg, shardTokens),
    },
    created_by: 'sae-rx cacheActivationsRunner',
  };
  // the manifest is the cache's commit marker: readers ignore a folder without one
  await store.put(cacheKeys.manifest, JSON.stringify(manifest, null, 2) + '\n');
  await store.delete(await store.list(cacheKeys.work));
  return manifest;
}
