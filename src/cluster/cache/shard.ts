/**
 * One shard of a distributed cache, computed alone: the documents are packed into store
 * batches exactly as in the single-process runner, starting at a known shard start (starts.ts:
 * the documents before it are skipped untokenized) and skipping the store batches of the
 * shards between it and this one (tokenized, no forward pass); the shard's
 * n_batches_in_buffer batches go through the model one by one, and the rows are permuted with
 * the buffer generator as the runner's i-th buffer is. Same model batches, same permutation,
 * same encoder: the same bytes as shard i of `sae-rx cache` on one machine.
 */
import { lastValueFrom, of, skip, take, tap, toArray, type Observable } from 'rxjs';
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { ShapeError } from '../../errors.js';
import type { HookedTransformer } from '../../model/HookedTransformer.js';
import type { TextTokenizer } from '../../model/tokenizer.js';
import { modelActivations } from '../../operators/modelActivations.js';
import { cacheActivationsOptions } from '../../runners/cacheActivationsRunner.js';
import { packContext } from '../../operators/packContext.js';
import { packOptionsFor } from '../../runners/languageModelRunner.js';
import { type CacheShardRows, encodePermutedCacheShard } from '../../sources/cacheShard.js';
import { type DocumentCursor, documentEnd } from '../../sources/documentCursor.js';
import { disposeBatch } from '../../stream/ownership.js';
import type { ActivationBatch } from '../../stream/ActivationBatch.js';
import type { Document } from '../../stream/Document.js';
import { cachePlan } from './plan.js';
import { permutationDraws, rngAfterDraws } from './replay.js';
import type { ShardStart } from './starts.js';

export interface ComputedShard {
  /** The safetensors bytes; empty when the dataset ended before this shard. */
  readonly bytes: Uint8Array;
  readonly tokens: number;
  readonly hooks: string[];
  /** Transcoder caches: the width of the target stored with the rows. */
  readonly dOut?: number;
  /** Set when packing reached the dataset's end: every shard from this one on is empty. */
  readonly firstEmpty?: number;
  /** Where the time went (ms): packing (tokenizing), forward passes, permuting + encoding. */
  readonly timing: { readonly packMs: number; readonly forwardMs: number; readonly encodeMs: number };
}

/**
 * Buffers one job hands the next (a worker's own, one per job running at once): the rows and
 * the file's bytes of a shard are the same size every time, and allocating them afresh per job
 * cost page faults and full GCs (encodePermutedCacheShard). computeShard grows them as needed;
 * the bytes it returns are a view of `bytes` until the next computeShard with this scratch.
 */
export interface ShardScratch {
  rows?: Float32Array;
  target?: Float32Array;
  bytes?: Uint8Array;
}

export interface ComputeShardOptions {
  /**
   * The same documents from a cursor on (datasetDocuments with `from`): a start that carries a
   * cursor opens the source there instead of skipping its documents one by one.
   */
  readonly documentsFrom?: (cursor: DocumentCursor) => Observable<Document>;
  /** Reused buffers (see ShardScratch); the returned bytes are then valid until its next use. */
  readonly scratch?: ShardScratch;
  /** A known start at or before this shard (default: shard 0 at document 0). */
  readonly from?: ShardStart;
  /** Receives the starts of the shards after `from` that packing passed, as soon as packing is done (the forward passes run meanwhile; the shard waits for it). */
  readonly publishStarts?: (starts: ShardStart[]) => Promise<void>;
}

/** `length` floats from the scratch (its buffer when large enough, else a new one kept there); only the rows written are read. */
function reusable(scratch: ShardScratch | undefined, key: 'rows' | 'target', length: number): Float32Array {
  const have = scratch?.[key];
  if (have && have.length >= length) return have.subarray(0, length);
  const fresh = new Float32Array(length);
  if (scratch) scratch[key] = fresh;
  return fresh;
}

/** Gives the event loop a turn (BullMQ renews the job's lock on a timer between forward passes). */
const yieldToTimers = () => new Promise<void>((r) => setImmediate(r));

export async function computeShard(
  cfg: CacheActivationsRunnerConfig,
  i: number,
  model: HookedTransformer,
  tokenizer: TextTokenizer,
  documents: Observable<Document>,
  o: ComputeShardOptions = {},
): Promise<ComputedShard> {
  const plan = cachePlan(cfg);
  const B = plan.batchesPerShard;
  const from = o.from ?? { shard: 0, documents: 0 };
  if (from.shard > i) throw new RangeError(`cache shard ${i}: a start after it (shard ${from.shard}) was given`);
  const t0 = Date.now();
  let docs = 0;
  let emitted = 0;
  let lastEnd: DocumentCursor | undefined;
  const starts: ShardStart[] = [];
  // from a cursor the source seeks; else the documents before the start are read and dropped
  const source = from.cursor && o.documentsFrom ? o.documentsFrom(from.cursor) : documents.pipe(skip(from.documents));
  const tokenBatches = await lastValueFrom(
    source.pipe(
      packContext({ ...packOptionsFor(cfg, model, tokenizer), onDocument: (n, doc) => ((docs = n), (lastEnd = documentEnd(doc))) }),
      // batch k·B − 1 came out: shard from.shard + k starts at the next document (the source resumes after the last one read)
      tap(() => ++emitted % B === 0 && starts.push({ shard: from.shard + emitted / B, documents: from.documents + docs, ...(lastEnd ? { cursor: lastEnd } : {}) })),
      skip((i - from.shard) * B),
      take(B),
      toArray(),
    ),
  );
  // published while the forward passes run (the other workers need the starts now, and the
  // store's write, fsync included, need not hold this job up), awaited before the shard is
  // returned: a start that disagrees with another worker's still fails the job
  const published = o.publishStarts?.(starts);
  published?.catch(() => {}); // handled below; not an unhandled rejection meanwhile
  // fewer batches than up to this shard's end: the dataset ended, in shard from.shard + ⌊emitted / B⌋
  const firstEmpty = emitted < (i - from.shard + 1) * B ? from.shard + Math.ceil(emitted / B) : undefined;
  const ended = firstEmpty !== undefined ? { firstEmpty } : {};
  const t1 = Date.now();
  const dIn = cfg.d_in;
  let rows: Float32Array | undefined;
  let hooks: string[] | undefined;
  // transcoder caches (hook_name_out): the target rows, as the single-process runner keeps them
  let target: { dOut: number; rows: Float32Array } | undefined;
  let filled = 0;
  for (const tb of tokenBatches) {
    await yieldToTimers();
    const batches = await lastValueFrom(of(tb).pipe(modelActivations(model, cacheActivationsOptions(cfg)), toArray()));
    for (const b of batches as ActivationBatch[]) {
      try {
        const a = b.acts;
        const H = a.rank === 3 ? a.shape[1]! : 1;
        if ((a.rank !== 2 && a.rank !== 3) || a.shape[a.rank - 1] !== dIn)
          throw new ShapeError(`cache shard ${i}: activations must be [n, ${dIn}] or [n, hooks, ${dIn}] (d_in ${dIn}), got [${a.shape}]`);
        hooks ??= [...b.hooks];
        rows ??= reusable(o.scratch, 'rows', plan.tokensPerShard * H * dIn);
        const n = Math.min(a.shape[0]!, plan.tokensPerShard - filled);
        rows.set((a.dataSync() as Float32Array).subarray(0, n * H * dIn), filled * H * dIn);
        if (b.target) {
          const dOut = b.target.shape[1]!;
          target ??= { dOut, rows: reusable(o.scratch, 'target', plan.tokensPerShard * dOut) };
          target.rows.set((b.target.dataSync() as Float32Array).subarray(0, n * dOut), filled * dOut);
        }
        filled += n;
      } finally {
        disposeBatch(b);
      }
    }
  }
  await published;
  const t2 = Date.now();
  if (!rows || filled === 0) return { bytes: new Uint8Array(0), tokens: 0, hooks: [cfg.hook_point], ...ended, timing: { packMs: t1 - t0, forwardMs: t2 - t1, encodeMs: 0 } };
  const H = hooks!.length;
  const rowLen = H * dIn;
  // the buffer generator after the permutations of the i full buffers before this one
  const rng = rngAfterDraws(cfg.seed, i * permutationDraws(plan.tokensPerShard));
  const shard: CacheShardRows = {
    n: filled, hooks: H, dIn, acts: rows.subarray(0, filled * rowLen),
    ...(target ? { target: { dOut: target.dOut, rows: target.rows.subarray(0, filled * target.dOut) } } : {}),
  };
  const bytes = encodePermutedCacheShard(shard, rng.permutation(filled), o.scratch?.bytes);
  if (o.scratch && bytes.buffer !== o.scratch.bytes?.buffer) o.scratch.bytes = bytes; // it grew
  return { bytes, tokens: filled, hooks: hooks!, ...(target ? { dOut: target.dOut } : {}), ...ended, timing: { packMs: t1 - t0, forwardMs: t2 - t1, encodeMs: Date.now() - t2 } };
}
