/**
 * Reading a cache's rows back through the Store interface (src/store), the one read loop for a
 * local folder and an object store alike: each shard's header is read once (two range reads),
 * then the rows a batch needs are range reads of `activations` and, for a transcoder cache,
 * `target`. Reads run ahead by one chunk (bounded prefetch).
 *
 * Chunks are cut where batches end, so a batch that lies inside one shard is one read (no copy).
 * `wholeShards` reads each shard's rows in one request instead (object stores: one request per
 * shard rather than per batch; at most two shards in memory).
 */
import { FileFormatError } from '../errors.js';
import { float32FromTyped, typedFromBytes } from '../io/safetensors/dtypes.js';
import { type ParsedHeader, SafetensorsIndex, parseHeaderJson, parseHeaderLength } from '../io/safetensors/header.js';
import { prefetched } from '../store/prefetch.js';
import type { Store } from '../store/Store.js';
import { CACHE_TARGET_TENSOR, CACHE_TENSOR } from './cacheShard.js';

/** A safetensors object in a store: its header, and rows of its tensors by range reads. */
class StoreSafetensors extends SafetensorsIndex {
  private constructor(private readonly store: Store, private readonly key: string, header: ParsedHeader, source: string) {
    super(header, source);
  }

  static async open(store: Store, key: string, source: string): Promise<StoreSafetensors> {
    const size = await store.size(key);
    if (size === undefined) throw new FileFormatError(`${source}: missing`);
    const n = parseHeaderLength(size >= 8 ? await store.getRange(key, 0, 8) : new Uint8Array(8), size, source);
    const header = parseHeaderJson(await store.getRange(key, 8, 8 + n), n, size - 8 - n, source);
    return new StoreSafetensors(store, key, header, source);
  }

  /** Rows [start, end) of tensor `name` along its first dimension, as float32. */
  async rows(name: string, start: number, end: number): Promise<Float32Array> {
    const i = this.info(name);
    const rowBytes = i.shape[0] ? i.byteLength / i.shape[0] : 0;
    const bytes = await this.store.getRange(this.key, i.byteOffset + start * rowBytes, i.byteOffset + end * rowBytes);
    return float32FromTyped(i.dtype, typedFromBytes(i.dtype, bytes, true));
  }
}

/** What the rows should look like (from the manifest); each shard is checked against it. */
export interface CacheLayout {
  readonly shardTokens: readonly number[];
  readonly hooks: number;
  readonly dIn: number;
  /** Transcoder caches: the target's width; undefined reads no target. */
  readonly dOut?: number;
}

export interface CacheRowsOptions {
  /** First row (of the whole cache) and end row (exclusive). */
  readonly startRow: number;
  readonly endRow: number;
  readonly batchSize: number;
  readonly wholeShards: boolean;
  /** How the store is named in errors. */
  readonly where: string;
}

/** One batch's rows: acts n × hooks × dIn and, when the layout has dOut, target n × dOut. */
export interface CacheRowsBatch {
  readonly n: number;
  readonly acts: Float32Array;
  readonly target?: Float32Array;
}

interface Chunk {
  readonly shard: number;
  readonly start: number;
  readonly end: number;
}

/** The reads covering [startRow, endRow): cut at shard ends and (unless wholeShards) at batch ends. */
function chunksOf(l: CacheLayout, o: CacheRowsOptions): Chunk[] {
  const out: Chunk[] = [];
  let shardStart = 0;
  for (let s = 0; s < l.shardTokens.length && shardStart < o.endRow; s++) {
    const shardEnd = shardStart + l.shardTokens[s]!;
    let a = Math.max(o.startRow, shardStart);
    const stop = Math.min(shardEnd, o.endRow);
    while (a < stop) {
      const nextBatchEnd = o.startRow + (Math.floor((a - o.startRow) / o.batchSize) + 1) * o.batchSize;
      const b = o.wholeShards ? stop : Math.min(stop, nextBatchEnd);
      out.push({ shard: s, start: a - shardStart, end: b - shardStart });
      a = b;
    }
    shardStart = shardEnd;
  }
  return out;
}

/**
 * The cache's rows [startRow, endRow) in batches of `batchSize` (the last may be smaller), in
 * order, from `store` (shards `0.safetensors`, `1.safetensors`, … at its root).
 */
export async function* readCacheRows(store: Store, l: CacheLayout, o: CacheRowsOptions): AsyncGenerator<CacheRowsBatch> {
  const rowLen = l.hooks * l.dIn;
  const dOut = l.dOut;
  const headers = new Map<number, Promise<StoreSafetensors>>();
  const shardOf = (s: number) => {
    let h = headers.get(s);
    if (!h) {
      for (const k of headers.keys()) if (k < s - 1) headers.delete(k);
      const key = `${s}.safetensors`;
      const source = `${o.where}/${key}`;
      h = StoreSafetensors.open(store, key, source).then((f) => {
        const shape = f.info(CACHE_TENSOR).shape;
        const [n, H, D] = shape.length === 2 ? [shape[0], 1, shape[1]] : shape;
        if (n !== l.shardTokens[s] || H !== l.hooks || D !== l.dIn)
          throw new FileFormatError(`${source}: "${CACHE_TENSOR}" is [${shape}], the manifest says [${l.shardTokens[s]}, ${l.hooks}, ${l.dIn}]`);
        if (dOut !== undefined) {
          if (!f.has(CACHE_TARGET_TENSOR)) throw new FileFormatError(`${source}: no "${CACHE_TARGET_TENSOR}" tensor, but the manifest says the cache holds a target (d_out ${dOut})`);
          const ts = f.info(CACHE_TARGET_TENSOR).shape;
          if (ts.length !== 2 || ts[0] !== n || ts[1] !== dOut)
            throw new FileFormatError(`${source}: "${CACHE_TARGET_TENSOR}" is [${ts}], the manifest says [${n}, ${dOut}]`);
        }
        return f;
      });
      headers.set(s, h);
    }
    return h;
  };
  const reads = chunksOf(l, o).map((c) => async () => {
    const f = await shardOf(c.shard);
    const acts = await f.rows(CACHE_TENSOR, c.start, c.end);
    const target = dOut !== undefined ? await f.rows(CACHE_TARGET_TENSOR, c.start, c.end) : undefined;
    return { n: c.end - c.start, acts, target };
  });

  let acts: Float32Array | undefined;
  let target: Float32Array | undefined;
  let filled = 0;
  let row = o.startRow;
  for await (const part of prefetched(reads, 1)) {
    let at = 0;
    while (at < part.n) {
      const want = Math.min(o.batchSize, o.endRow - row);
      const take = Math.min(want - filled, part.n - at);
      if (filled === 0 && at === 0 && take === part.n && take === want) {
        // the whole batch is this one read (a fresh array): no second copy
        row += take;
        yield { n: take, acts: part.acts, ...(part.target ? { target: part.target } : {}) };
        break;
      }
      acts ??= new Float32Array(want * rowLen);
      acts.set(part.acts.subarray(at * rowLen, (at + take) * rowLen), filled * rowLen);
      if (dOut !== undefined) {
        target ??= new Float32Array(want * dOut);
        target.set(part.target!.subarray(at * dOut, (at + take) * dOut), filled * dOut);
      }
      filled += take;
      at += take;
      if (filled === want) {
        row += filled;
        const out: CacheRowsBatch = { n: filled, acts, ...(target ? { target } : {}) };
        acts = undefined;
        target = undefined;
        filled = 0;
        yield out;
      }
    }
  }
}
