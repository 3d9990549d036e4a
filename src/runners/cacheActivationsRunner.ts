/**
 * SAELens v1.5.0's CacheActivationsRunner: store a model's activations on disk once, so that
 * many SAEs train from them without running the model again (DESIGN.md §6).
 *
 * The activations come from any `Observable<ActivationBatch>` (the language-model pipeline
 * `tokens → packContext → modelActivations`, a toy source, a test's `fromActivations`). They
 * are gathered into buffers of `n_batches_in_buffer × store_batch_size × context_size` rows;
 * each buffer is shuffled (SAELens's get_buffer permutes every buffer) and written as shard
 * `{i}.safetensors` with one `activations` tensor `[tokens, hooks, d_in]`. SAELens's on-disk
 * shuffle passes follow, each one a "pairwise shuffle" (two distinct shards drawn at random
 * are loaded, their rows concatenated, permuted, and split back at the same sizes):
 *   - after writing shard i, when i % shuffle_every_n_buffers == 0 and i > 0:
 *     n_shuffles_with_last_section passes among shards [i − every, i) (shard i itself is
 *     left out, as SAELens's range is exclusive), then n_shuffles_in_entire_dir among [0, i);
 *   - at the end, when there is more than one shard: n_shuffles_final passes among all.
 * `ceil(training_tokens / tokens_per_buffer)` buffers are written (the last one full, as in
 * SAELens), then the source is unsubscribed. `manifest.json` is written last.
 *
 * Writes are synchronous inside the source's `next`, so a pull source is paced by the disk.
 * Every file is written to a temporary name, fsynced and renamed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Subscriber, type Observable } from 'rxjs';
import type { CacheActivationsRunnerConfig } from '../config/cacheActivationsRunnerConfig.js';
import { ConfigError, ShapeError, StageError } from '../errors.js';
import type { HubConfig } from '../hub/config.js';
import { loadTokenizer } from '../model/tokenizer.js';
import { type ModelActivationsOptions, modelActivations } from '../operators/modelActivations.js';
import { packContext } from '../operators/packContext.js';
import type { Document } from '../stream/Document.js';
import { datasetDocuments, loadRunnerModel, packOptionsFor } from './languageModelRunner.js';
import { tempSibling } from '../io/atomicWrite.js';
import { Rng } from '../stream/rng.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import {
  CACHE_FORMAT, CACHE_MANIFEST, shardPath, type CacheManifest,
} from '../sources/cachedActivations.js';
import { type CacheShardRows, decodeCacheShard, encodeCacheShard, encodePairwiseShuffled, permuteShard } from '../sources/cacheShard.js';
import { disposeBatch } from '../stream/ownership.js';

/** The config fields the runner reads (a decoded CacheActivationsRunnerConfig has them all). */
export type CacheRunnerSettings = Pick<
  CacheActivationsRunnerConfig,
  | 'model_name' | 'hook_point' | 'hook_point_head_index' | 'dataset_path' | 'context_size' | 'new_cached_activations_path'
  | 'd_in' | 'n_batches_in_buffer' | 'training_tokens' | 'store_batch_size' | 'seed'
  | 'shuffle_every_n_buffers' | 'n_shuffles_with_last_section' | 'n_shuffles_in_entire_dir' | 'n_shuffles_final'
> & Partial<Pick<CacheActivationsRunnerConfig, 'hook_name_out' | 'hook_head_index_out' | 'd_out'>>;

export interface CacheActivationsRunnerOptions {
  /**
   * The activations to cache, in stream order (rows of `[n, d_in]` or `[n, hooks, d_in]` batches);
   * for a transcoder cache (`hook_name_out` set) each batch carries its `target` rows too.
   */
  readonly source: Observable<ActivationBatch>;
  /** Permute each buffer before writing it, as SAELens does. Default true. */
  readonly shuffleWithinBuffer?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface CacheActivationsSummary {
  readonly path: string;
  readonly shards: number;
  readonly tokens: number;
  /** Bytes of the shards on disk. */
  readonly bytes: number;
  /** Whole run: source, writes and shuffles (s). */
  readonly seconds: number;
  /** Time spent encoding and writing the first copy of each shard (s). */
  readonly writeSeconds: number;
  /** Time spent in the pairwise shuffle passes (s). */
  readonly shuffleSeconds: number;
  readonly shufflePasses: number;
  /** tokens / seconds (end to end). */
  readonly tokensPerSecond: number;
  /** Shard bytes / writeSeconds, in MB (1e6 bytes) per second. */
  readonly writeMBPerSecond: number;
  readonly manifest: CacheManifest;
}

/** The disk space the cache will take (bytes), as SAELens's runner prints it. */
export function cacheDiskBytes(cfg: Pick<CacheRunnerSettings, 'training_tokens' | 'd_in' | 'n_batches_in_buffer' | 'store_batch_size' | 'context_size'>, hooks = 1): number {
  const perBuffer = cfg.n_batches_in_buffer * cfg.store_batch_size * cfg.context_size;
  return Math.ceil(cfg.training_tokens / perBuffer) * perBuffer * hooks * cfg.d_in * 4;
}

function writeFileAtomicSync(target: string, bytes: Uint8Array): void {
  const tmp = tempSibling(target);
  const fd = fs.openSync(tmp, 'wx');
  try {
    let off = 0;
    while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    // A failed rename (a folder in the way, a full or read-only disk) must not leave the
    // temporary copy beside the target.
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function writeShard(file: string, shard: CacheShardRows): number {
  const bytes = encodeCacheShard(shard);
  writeFileAtomicSync(file, bytes);
  return bytes.byteLength;
}

function readShard(file: string): CacheShardRows {
  return decodeCacheShard(new Uint8Array(fs.readFileSync(file)), file);
}

/**
 * Runs the cache: reads `opts.source` until `ceil(training_tokens / tokens_per_buffer)` buffers
 * are on disk (or the source ends: the last shard is then short and a line is logged), shuffles
 * as SAELens, writes the manifest, and resolves with sizes and speeds. Refuses a folder that
 * exists and is not empty (as SAELens).
 */
export async function cacheActivationsRunner(cfg: CacheRunnerSettings, opts: CacheActivationsRunnerOptions): Promise<CacheActivationsSummary> {
  const dir = cfg.new_cached_activations_path;
  const log = opts.log ?? (() => {});
  const shuffleWithin = opts.shuffleWithinBuffer ?? true;
  for (const k of ['d_in', 'n_batches_in_buffer', 'store_batch_size', 'context_size', 'training_tokens', 'shuffle_every_n_buffers'] as const) {
    if (!(Number.isInteger(cfg[k]) && cfg[k] > 0)) throw new ConfigError(`cache runner: ${k} must be a positive integer, got ${cfg[k]}`);
  }
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0)
    throw new ConfigError(`cache runner: new_cached_activations_path ${dir} is not empty; delete it or choose another path (nothing was overwritten)`);
  fs.mkdirSync(dir, { recursive: true });

  const tokensPerBuffer = cfg.n_batches_in_buffer * cfg.store_batch_size * cfg.context_size;
  const nBuffers = Math.ceil(cfg.training_tokens / tokensPerBuffer);
  const dIn = cfg.d_in;
  log(`caching ${nBuffers * tokensPerBuffer} tokens (training_tokens ${cfg.training_tokens}) in ${nBuffers} shards of ${tokensPerBuffer} → ${dir}; ` +
    `disk ≈ ${(cacheDiskBytes(cfg) / 1e9).toFixed(3)} GB per hook`);

  const bufRng = new Rng(cfg.seed);
  const pairRng = new Rng(cfg.seed + 1);
  const shardTokens: number[] = [];
  /** Rows in the shards written so far (the sum of shardTokens). */
  let written = 0;
  let hooks: string[] | undefined;
  let buffer: Float32Array | undefined;
  /** Transcoder caches: the target rows of `buffer`'s rows, and their width. */
  const targetHook = cfg.hook_name_out ?? undefined;
  let targetBuffer: Float32Array | undefined;
  let dOut: number | undefined;
  let filled = 0;
  let bytes = 0;
  let writeMs = 0;
  let shuffleMs = 0;
  let passes = 0;
  const t0 = performance.now();

  const randInt = (lo: number, hi: number) => lo + Math.floor(pairRng.next() * (hi - lo));
  const shufflePair = (lo: number, hi: number) => {
    if (!(lo < hi - 1)) return; // SAELens asserts; with fewer than two shards there is nothing to mix
    const t = performance.now();
    const i = randInt(lo, hi);
    let j = randInt(lo, hi);
    while (j === i) j = randInt(lo, hi);
    const a = readShard(shardPath(dir, i));
    const b = readShard(shardPath(dir, j));
    const [ba, bb] = encodePairwiseShuffled(a, b, pairRng.permutation(a.n + b.n), dir);
    writeFileAtomicSync(shardPath(dir, i), ba);
    writeFileAtomicSync(shardPath(dir, j), bb);
    passes++;
    shuffleMs += performance.now() - t;
  };

  const flush = () => {
    if (!buffer || filled === 0) return;
    const H = hooks!.length;
    const rowLen = H * dIn;
    let shard: CacheShardRows = {
      n: filled, hooks: H, dIn, acts: buffer.subarray(0, filled * rowLen),
      ...(targetBuffer ? { target: { dOut: dOut!, rows: targetBuffer.subarray(0, filled * dOut!) } } : {}),
    };
    if (shuffleWithin) shard = permuteShard(shard, bufRng.permutation(filled));
    const i = shardTokens.length;
    const t = performance.now();
    bytes += writeShard(shardPath(dir, i), shard);
    writeMs += performance.now() - t;
    shardTokens.push(filled);
    written += filled;
    filled = 0;
    const sec = (performance.now() - t0) / 1000;
    log(`shard ${i + 1}/${nBuffers}: ${written} tokens, ${(bytes / 1e6).toFixed(1)} MB, ` +
      `${(bytes / 1e6 / (writeMs / 1000)).toFixed(1)} MB/s written, ${(written / sec).toFixed(0)} tokens/s`);
    if (i % cfg.shuffle_every_n_buffers === 0 && i > 0) {
      for (let k = 0; k < cfg.n_shuffles_with_last_section; k++) shufflePair(i - cfg.shuffle_every_n_buffers, i);
      for (let k = 0; k < cfg.n_shuffles_in_entire_dir; k++) shufflePair(0, i);
    }
  };

  await new Promise<void>((resolve, reject) => {
    let done = false;
    const stop = (e?: unknown) => {
      if (done) return;
      done = true;
      sub.unsubscribe();
      if (e) reject(e instanceof ConfigError || e instanceof ShapeError ? e : new StageError('cacheActivationsRunner', e));
      else resolve();
    };
    // A Subscriber made before subscribing: `stop` (all shards written) then reaches even a
    // synchronous source while it is still emitting, so the model stops at once.
    const sub = new Subscriber<ActivationBatch>({
      next: (b: ActivationBatch) => {
        if (done) {
          disposeBatch(b);
          return;
        }
        try {
          const a = b.acts;
          const H = a.rank === 3 ? a.shape[1]! : 1;
          if ((a.rank !== 2 && a.rank !== 3) || a.shape[a.rank - 1] !== dIn)
            throw new ShapeError(`cache runner: activations must be [n, ${dIn}] or [n, hooks, ${dIn}] (d_in ${dIn}), got [${a.shape}]`);
          if (!hooks) {
            hooks = [...b.hooks];
            if (hooks.length !== H) throw new ShapeError(`cache runner: batch names ${hooks.length} hooks (${hooks.join(', ')}) for ${H} activation columns`);
            buffer = new Float32Array(tokensPerBuffer * H * dIn);
            if (targetHook !== undefined) {
              if (!b.target || b.target.rank !== 2)
                throw new ShapeError(`cache runner: hook_name_out is ${targetHook}, but the batches carry no [n, d_out] target (read it with modelActivations' targetHook)`);
              dOut = b.target.shape[1]!;
              if (cfg.d_out != null && cfg.d_out !== dOut) throw new ConfigError(`d_out: the config says ${cfg.d_out}, the model's ${targetHook} is ${dOut} wide`);
              targetBuffer = new Float32Array(tokensPerBuffer * dOut);
            }
          } else if (hooks.length !== H || b.hooks.some((h, i) => h !== hooks![i])) {
            throw new ShapeError(`cache runner: a batch has hooks ${b.hooks.join(', ')}, earlier ones had ${hooks.join(', ')}`);
          }
          const data = a.dataSync() as Float32Array;
          const rowLen = H * dIn;
          const n = a.shape[0]!;
          if (targetBuffer && (b.target?.shape[0] !== n || b.target.shape[1] !== dOut))
            throw new ShapeError(`cache runner: a batch's target is [${b.target?.shape ?? 'none'}], expected [${n}, ${dOut}] (${targetHook})`);
          const tdata = targetBuffer ? (b.target!.dataSync() as Float32Array) : undefined;
          let r = 0;
          while (r < n && shardTokens.length < nBuffers) {
            const take = Math.min(n - r, tokensPerBuffer - filled);
            buffer!.set(data.subarray(r * rowLen, (r + take) * rowLen), filled * rowLen);
            if (tdata) targetBuffer!.set(tdata.subarray(r * dOut!, (r + take) * dOut!), filled * dOut!);
            filled += take;
            r += take;
            if (filled === tokensPerBuffer) flush();
          }
        } catch (e) {
          disposeBatch(b);
          stop(e);
          return;
        }
        disposeBatch(b);
        if (shardTokens.length >= nBuffers) stop();
      },
      error: (e: unknown) => stop(e),
      complete: () => {
        try {
          if (filled > 0) log(`the source ended after ${written + filled} tokens; the last shard holds ${filled} of ${tokensPerBuffer}`);
          flush();
          stop();
        } catch (e) {
          stop(e);
        }
      },
    });
    opts.source.subscribe(sub);
  });

  if (shardTokens.length === 0) throw new ConfigError(`cache runner: the activation source gave no activations; nothing was cached in ${dir}`);
  if (shardTokens.length > 1) for (let k = 0; k < cfg.n_shuffles_final; k++) shufflePair(0, shardTokens.length);

  const total = written;
  const manifest: CacheManifest = {
    format: CACHE_FORMAT,
    version: 1,
    model_name: cfg.model_name,
    hook_points: hooks!,
    hook_point_head_index: cfg.hook_point_head_index,
    dataset_path: cfg.dataset_path,
    context_size: cfg.context_size,
    d_in: dIn,
    ...(targetHook !== undefined ? { hook_name_out: targetHook, hook_head_index_out: cfg.hook_head_index_out ?? null, d_out: dOut! } : {}),
    dtype: 'float32',
    n_shards: shardTokens.length,
    shard_tokens: shardTokens,
    total_tokens: total,
    shuffle: {
      within_buffer: shuffleWithin,
      seed: cfg.seed,
      shuffle_every_n_buffers: cfg.shuffle_every_n_buffers,
      n_shuffles_with_last_section: cfg.n_shuffles_with_last_section,
      n_shuffles_in_entire_dir: cfg.n_shuffles_in_entire_dir,
      n_shuffles_final: cfg.n_shuffles_final,
      pairwise_passes: passes,
    },
    created_by: 'sae-rx cacheActivationsRunner',
  };
  const manifestFile = path.join(dir, CACHE_MANIFEST);
  try {
    writeFileAtomicSync(manifestFile, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  } catch (e) {
    // Without its manifest the cache cannot be read: the run has failed (issue 11, item 2).
    throw new StageError(`cacheActivationsRunner: writing the cache manifest ${manifestFile}`, e);
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary: CacheActivationsSummary = {
    path: dir,
    shards: shardTokens.length,
    tokens: total,
    bytes,
    seconds,
    writeSeconds: writeMs / 1000,
    shuffleSeconds: shuffleMs / 1000,
    shufflePasses: passes,
    tokensPerSecond: total / seconds,
    writeMBPerSecond: bytes / 1e6 / Math.max(writeMs / 1000, 1e-9),
    manifest,
  };
  log(`cached ${total} tokens in ${summary.shards} shards (${(bytes / 1e6).toFixed(1)} MB) in ${seconds.toFixed(2)} s: ` +
    `${summary.tokensPerSecond.toFixed(0)} tokens/s, writes ${summary.writeMBPerSecond.toFixed(1)} MB/s, ${passes} shuffle passes ${summary.shuffleSeconds.toFixed(2)} s`);
  return summary;
}

/** modelActivations' options for a cache config: its hook and head, and a transcoder cache's target hook. */
export function cacheActivationsOptions(cfg: CacheActivationsRunnerConfig): ModelActivationsOptions {
  return {
    hooks: [cfg.hook_point],
    headIndex: cfg.hook_point_head_index,
    withTokens: false,
    ...(cfg.hook_name_out != null ? { targetHook: cfg.hook_name_out, targetHeadIndex: cfg.hook_head_index_out ?? null } : {}),
  };
}

export interface RunCacheActivationsOptions {
  /** Hub settings (default: from the environment). */
  readonly hub?: Partial<HubConfig>;
  /** Documents instead of `dataset_path` (tests, custom sources). */
  readonly documents?: Observable<Document>;
  readonly shuffleWithinBuffer?: boolean;
  readonly log?: (line: string) => void;
}

/**
 * The whole SAELens cache run from a decoded config: loads `model_name` (a local folder or a
 * hub repo), streams `dataset_path` (local file/folder or hub dataset) through
 * packContext → modelActivations (the config's hook and head) and caches the activations.
 * The model is freed at the end.
 */
export async function runCacheActivations(cfg: CacheActivationsRunnerConfig, opts: RunCacheActivationsOptions = {}): Promise<CacheActivationsSummary> {
  if (cfg.model_class_name !== 'HookedTransformer') throw new ConfigError(`model_class_name: ${cfg.model_class_name} is not supported (HookedTransformer only)`);
  // activations only: no unembedding to load (most of a tied model's load time)
  const { dir, model } = await loadRunnerModel(cfg.model_name, opts.hub, { unembed: false });
  try {
    if (cfg.context_size > model.cfg.nCtx) throw new ConfigError(`context_size ${cfg.context_size} exceeds the model's n_ctx ${model.cfg.nCtx} (${cfg.model_name})`);
    const tokenizer = loadTokenizer(dir);
    const documents = opts.documents ?? datasetDocuments(cfg, opts.hub);
    const source = documents.pipe(
      packContext(packOptionsFor(cfg, model, tokenizer)),
      modelActivations(model, cacheActivationsOptions(cfg)),
    );
    return await cacheActivationsRunner(cfg, { source, ...(opts.log ? { log: opts.log } : {}), ...(opts.shuffleWithinBuffer !== undefined ? { shuffleWithinBuffer: opts.shuffleWithinBuffer } : {}) });
  } finally {
    model.dispose();
  }
}
