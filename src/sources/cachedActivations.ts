/**
 * Cached activations on disk (DESIGN.md §6): a folder of `{i}.safetensors` shards, each holding
 * one `activations` tensor `[tokens, hooks, d_in]` (SAELens v1.5's layout, so either side reads
 * the other's shards), plus `manifest.json` saying what they are (model, hooks, dataset,
 * context size, dtype, d_in, tokens per shard). The manifest is written last: a folder without
 * one is an unfinished cache (or a SAELens cache, read by scanning the shards' headers).
 *
 * `cachedActivations` reads the shards back, in order, as ActivationBatches of `batchSize` rows,
 * pull-paced (`fromPull`): one positioned read of the rows a batch needs at a time.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Observable, defer, from, mergeMap, type OperatorFunction } from 'rxjs';
import { ConfigError, FileFormatError } from '../errors.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { isStoreUrl, openStore } from '../store/openStore.js';
import type { Store } from '../store/Store.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { disposeBatch, emitOrDispose } from '../stream/ownership.js';
import { CACHE_TENSOR } from './cacheShard.js';
import { readCacheRows } from './cacheShardReader.js';
import { fromPull } from './fromPull.js';
import { CACHE_FORMAT, CACHE_MANIFEST } from './cacheFormat.js';

export { CACHE_FORMAT, CACHE_MANIFEST, CACHE_TENSOR };

/** `manifest.json` of an activation cache (snake_case, like SAELens's config names). */
export interface CacheManifest {
  format: typeof CACHE_FORMAT;
  version: 1;
  model_name: string | null;
  /** The middle axis of every shard, in order. */
  hook_points: string[];
  hook_point_head_index: number | null;
  dataset_path: string | null;
  context_size: number | null;
  d_in: number;
  dtype: 'float32';
  n_shards: number;
  /** Rows (token positions) in each shard, in shard order. */
  shard_tokens: number[];
  total_tokens: number;
  /**
   * Transcoder caches: the hook stored as each shard's `target` `[tokens, d_out]` (SAELens 6's
   * `hook_name_out`), its head and width. Absent for an SAE cache.
   */
  hook_name_out?: string;
  hook_head_index_out?: number | null;
  d_out?: number;
  /** How the rows were shuffled while caching (informational). */
  shuffle?: Record<string, number | boolean>;
  created_by?: string;
}

/** Path of shard `i`. */
export function shardPath(dir: string, i: number): string {
  return path.join(dir, `${i}.safetensors`);
}

/**
 * Reads `manifest.json`; without one (a SAELens cache), builds one from the shards' headers
 * (`0.safetensors`, `1.safetensors`, … while they exist), with the model/dataset fields unknown.
 */
export async function readCacheManifest(dir: string): Promise<CacheManifest> {
  const mPath = path.join(dir, CACHE_MANIFEST);
  let text: string | undefined;
  try {
    text = await fsp.readFile(mPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FileFormatError(`${mPath}: cannot read (${(e as Error).message})`, { cause: e });
  }
  if (text !== undefined) {
    let m: CacheManifest;
    try {
      m = JSON.parse(text) as CacheManifest;
    } catch (e) {
      throw new FileFormatError(`${mPath}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (m.format !== CACHE_FORMAT) throw new FileFormatError(`${mPath}: format is ${JSON.stringify(m.format)}, expected "${CACHE_FORMAT}"`);
    if (!Array.isArray(m.shard_tokens) || m.shard_tokens.length !== m.n_shards)
      throw new FileFormatError(`${mPath}: shard_tokens lists ${m.shard_tokens?.length} shards, n_shards is ${m.n_shards}`);
    return m;
  }
  // A SAELens cache: no manifest, shards numbered from 0.
  const shardTokens: number[] = [];
  let hooks = 0;
  let dIn = 0;
  for (let i = 0; ; i++) {
    const p = shardPath(dir, i);
    try {
      await fsp.access(p);
    } catch {
      break;
    }
    const f = await SafetensorsFile.open(p);
    try {
      const shape = shapeOfShard(f, p);
      shardTokens.push(shape[0]);
      hooks = shape[1];
      dIn = shape[2];
    } finally {
      await f.close();
    }
  }
  if (shardTokens.length === 0) throw new FileFormatError(`${dir}: not an activation cache (no ${CACHE_MANIFEST} and no 0.safetensors)`);
  return {
    format: CACHE_FORMAT,
    version: 1,
    model_name: null,
    hook_points: Array.from({ length: hooks }, (_, i) => `hook_${i}`),
    hook_point_head_index: null,
    dataset_path: null,
    context_size: null,
    d_in: dIn,
    dtype: 'float32',
    n_shards: shardTokens.length,
    shard_tokens: shardTokens,
    total_tokens: shardTokens.reduce((a, b) => a + b, 0),
  };
}

function shapeOfShard(f: SafetensorsFile, p: string): [number, number, number] {
  if (!f.has(CACHE_TENSOR)) throw new FileFormatError(`${p}: no "${CACHE_TENSOR}" tensor (has ${f.names().join(', ')})`);
  const { shape } = f.info(CACHE_TENSOR);
  if (shape.length === 2) return [shape[0]!, 1, shape[1]!];
  if (shape.length !== 3) throw new FileFormatError(`${p}: "${CACHE_TENSOR}" has shape [${shape}], expected [tokens, hooks, d_in]`);
  return shape as [number, number, number];
}

/** What the training run expects of the cache; each given field must match the manifest. */
export interface CacheExpectation {
  readonly modelName?: string;
  /** One hook, or the hooks in order. */
  readonly hookPoints?: string | readonly string[];
  readonly hookPointHeadIndex?: number | null;
  readonly dIn?: number;
  readonly contextSize?: number;
  readonly datasetPath?: string;
  /**
   * Transcoders: the target hook the run trains towards (the cache must hold it, as
   * `hook_name_out`); null: an SAE run, which reads no target (a transcoder cache serves its
   * input side to an SAE too).
   */
  readonly hookPointOut?: string | null;
  readonly dOut?: number;
}

/** Throws a ConfigError naming the first field where the manifest and the expectation differ. */
export function checkCacheManifest(m: CacheManifest, expect: CacheExpectation, where: string): void {
  const bad = (field: string, onDisk: unknown, want: unknown) => {
    throw new ConfigError(
      `cached activations at ${where}: ${field} is ${JSON.stringify(onDisk)} on disk, the training config expects ${JSON.stringify(want)}`,
    );
  };
  // A SAELens cache has no manifest: only what the shards' shapes tell can be checked.
  if (expect.dIn !== undefined && m.d_in !== expect.dIn) bad('d_in', m.d_in, expect.dIn);
  if (expect.modelName !== undefined && m.model_name !== null && m.model_name !== expect.modelName) bad('model_name', m.model_name, expect.modelName);
  if (expect.contextSize !== undefined && m.context_size !== null && m.context_size !== expect.contextSize)
    bad('context_size', m.context_size, expect.contextSize);
  if (expect.datasetPath !== undefined && m.dataset_path !== null && m.dataset_path !== expect.datasetPath)
    bad('dataset_path', m.dataset_path, expect.datasetPath);
  if (expect.hookPointHeadIndex !== undefined && m.model_name !== null && (m.hook_point_head_index ?? null) !== expect.hookPointHeadIndex)
    bad('hook_point_head_index', m.hook_point_head_index, expect.hookPointHeadIndex);
  if (expect.hookPointOut !== undefined && expect.hookPointOut !== null) {
    if (m.hook_name_out === undefined)
      throw new ConfigError(`cached activations at ${where}: the cache holds no target hook (hook_name_out), the training config's transcoder reconstructs ${JSON.stringify(expect.hookPointOut)}; cache it with hook_name_out: ${expect.hookPointOut}`);
    if (m.hook_name_out !== expect.hookPointOut) bad('hook_name_out', m.hook_name_out, expect.hookPointOut);
    if (expect.dOut !== undefined && m.d_out !== expect.dOut) bad('d_out', m.d_out, expect.dOut);
  }
  if (expect.hookPoints !== undefined) {
    const want = typeof expect.hookPoints === 'string' ? [expect.hookPoints] : [...expect.hookPoints];
    if (m.model_name === null) {
      if (want.length !== m.hook_points.length) bad('number of hook points', m.hook_points.length, want.length);
    } else if (want.length !== m.hook_points.length || want.some((h, i) => h !== m.hook_points[i])) {
      bad(want.length === 1 ? 'hook_point' : 'hook_points', m.hook_points.length === 1 ? m.hook_points[0] : m.hook_points, want.length === 1 ? want[0] : want);
    }
  }
}

/** A place in the cache: shard index and row offset inside it. */
export interface CachePosition {
  readonly shard: number;
  readonly offset: number;
}

/** The shard and offset of row `rows` of the whole cache (rows already consumed). */
export function cachePosition(m: CacheManifest, rows: number): CachePosition {
  if (!Number.isInteger(rows) || rows < 0) throw new ConfigError(`cachePosition(): rows must be an integer ≥ 0, got ${rows}`);
  let left = rows;
  for (let s = 0; s < m.n_shards; s++) {
    const n = m.shard_tokens[s]!;
    if (left < n) return { shard: s, offset: left };
    left -= n;
  }
  if (left === 0) return { shard: m.n_shards, offset: 0 };
  throw new ConfigError(`cachePosition(): row ${rows} is past the end of the cache (${m.total_tokens} rows)`);
}

export interface CachedActivationsOptions {
  /** The cache folder. */
  readonly path: string;
  /** Rows per emitted batch (the last may be smaller). */
  readonly batchSize: number;
  /** Checked against the manifest before anything is read (mismatch: ConfigError naming the field). */
  readonly expect?: CacheExpectation;
  /**
   * Rows to serve in all (SAELens total_training_tokens); fewer on disk is an error. Counted from
   * the start of the cache, so a resumed run gives the same value as the first run.
   */
  readonly trainingTokens?: number;
  /** Rows to skip first (a resumed run: batches consumed × batch size); seeks, reads nothing before. */
  readonly startRow?: number;
}

/**
 * A cold, pull-paced source of the cache's rows, shard after shard, as ActivationBatches:
 * `[n, d_in]` for a one-hook cache, `[n, hooks, d_in]` otherwise, `hooks` from the manifest;
 * a transcoder cache's batches also carry `target` `[n, d_out]` (`targetHook` the manifest's
 * `hook_name_out`). A folder and an `s3://` store are read by the same loop (cacheShardReader.ts):
 * a folder by positioned reads of each batch's rows, a store by one request per shard with
 * the next shard in flight, each request retried through store outages.
 * Errors (ConfigError) when the manifest does not match `expect` or holds fewer rows than
 * `trainingTokens`. Each batch belongs to the subscriber.
 */
export function cachedActivations(opts: CachedActivationsOptions): Observable<ActivationBatch> {
  const { path: where, batchSize, expect = {}, trainingTokens, startRow = 0 } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`cachedActivations(): batchSize must be a positive integer, got ${batchSize}`);
  if (trainingTokens !== undefined && !(Number.isInteger(trainingTokens) && trainingTokens >= 0))
    throw new ConfigError(`cachedActivations(): trainingTokens must be an integer ≥ 0, got ${trainingTokens}`);
  if (!Number.isInteger(startRow) || startRow < 0) throw new ConfigError(`cachedActivations(): startRow must be an integer ≥ 0, got ${startRow}`);
  const remote = isStoreUrl(where);
  return defer(() => {
    const store = openStore(where);
    return from(remote ? readStoreCacheManifest(store) : readCacheManifest(where)).pipe(
      mergeMap((m) => {
        checkCacheManifest(m, expect, where);
        if (trainingTokens !== undefined && m.total_tokens < trainingTokens)
          throw new ConfigError(`cached activations at ${where}: only ${m.total_tokens} tokens ${remote ? 'in the store' : 'on disk'} (${m.n_shards} shards), training_tokens is ${trainingTokens}`);
        const end = trainingTokens ?? m.total_tokens;
        const H = m.hook_points.length;
        const D = m.d_in;
        // an SAE run (expect.hookPointOut null) on a transcoder cache reads no target
        const dOut = m.hook_name_out !== undefined && expect.hookPointOut !== null ? m.d_out : undefined;
        const rows = readCacheRows(store, { shardTokens: m.shard_tokens, hooks: H, dIn: D, ...(dOut !== undefined ? { dOut } : {}) }, {
          startRow: Math.min(startRow, end), endRow: end, batchSize, wholeShards: remote, where,
        });
        return fromPull(
          async function* () {
            try {
              for await (const r of rows) {
                const acts = H === 1 ? tf.tensor2d(r.acts, [r.n, D]) : tf.tensor3d(r.acts, [r.n, H, D]);
                yield (r.target !== undefined
                  ? { acts, hooks: [...m.hook_points], target: tf.tensor2d(r.target, [r.n, dOut!]), targetHook: m.hook_name_out! }
                  : { acts, hooks: [...m.hook_points] }) as ActivationBatch;
              }
            } finally {
              await rows.return(undefined);
              await store.close();
            }
          },
          { discard: disposeBatch },
        );
      }),
    );
  });
}

/** A cache's manifest in an object store (`s3://…`); only a finished cache has one. */
export async function readStoreCacheManifest(store: Store): Promise<CacheManifest> {
  let text: string;
  try {
    text = new TextDecoder().decode(await store.get(CACHE_MANIFEST));
  } catch (e) {
    throw new FileFormatError(`${store.url}: not a finished activation cache (${(e as Error).message})`, { cause: e });
  }
  const m = JSON.parse(text) as CacheManifest;
  if (m.format !== CACHE_FORMAT) throw new FileFormatError(`${store.url}/${CACHE_MANIFEST}: format is ${JSON.stringify(m.format)}, expected "${CACHE_FORMAT}"`);
  return m;
}

/**
 * Drops the first `n` batches (disposing them) and passes the rest on: resuming a run on a
 * deterministic live source by re-generating what the checkpoint already trained on
 * (`training_state.json`'s `data.batchesConsumed`). Synchronous, so pacing is kept.
 */
export function skipBatches(n: number): OperatorFunction<ActivationBatch, ActivationBatch> {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`skipBatches(): n must be an integer ≥ 0, got ${n}`);
  return (source) =>
    new Observable<ActivationBatch>((subscriber) => {
      let seen = 0;
      subscribeUpstream(subscriber, source, {
        next: (b: ActivationBatch) => {
          if (seen < n) {
            seen++;
            disposeBatch(b);
            return;
          }
          emitOrDispose(subscriber, b);
        },
      });
    });
}
