/**
 * Where each shard starts in the document stream, so a shard job packs (tokenizes) only its
 * own documents instead of every document before them.
 *
 * The runner packs with `store_batch_size` (SAELens's `get_batch_tokens`): every store batch
 * begins at a fresh document, the rest of the document that completed the previous batch is
 * dropped. So shard i (store batches [i·B, (i+1)·B)) is exactly what packing the documents
 * from number D_i on gives, D_i being the count of documents read when batch i·B − 1 came
 * out. D_i depends only on the config and the dataset, but knowing it means tokenizing
 * everything before it once. Jobs share that work through the store: a job packing its shard
 * publishes the start of every shard boundary it passes (its own end included, before its
 * forward passes), and a job starts from the nearest start published at or before its shard.
 * Taken in order, job i finds D_i already published by job i − 1 and tokenizes nothing twice;
 * a job that finds none (the first jobs of several workers, or after a crash) tokenizes from
 * the nearest earlier start, which costs time, never correctness.
 *
 * With several workers, job i is usually taken while job i − 1 is still packing on another
 * worker: its start is a few hundred ms away. Packing from the earlier start then doubles the
 * tokenizing, and the workers fall into step, each repacking the other's shard, job after job
 * (measured: 2 workers spent 1.7× the packing time of 1). So a job first waits for its own start
 * (`awaitStart`), but never longer than repacking would take by its own measured pace: when the
 * start comes, the wait was shorter than the repack; when it does not (the job packing it died),
 * the job loses at most that time and packs from the earlier start as before.
 *
 * A start published twice must agree: a different value means the documents differ between
 * workers (another dataset revision), which would silently mix two streams; that is an error.
 *
 * A start also carries, when the source can seek, the cursor just after the document before it
 * (sources/documentCursor.ts): a job then opens the source there instead of reading, untokenized,
 * every document before its start, which would grow with the shard's position.
 */
import { FileFormatError } from '../../errors.js';
import { type DocumentCursor, parseDocumentCursor, sameCursor } from '../../sources/documentCursor.js';
import type { Store } from '../../store/Store.js';
import { StoreNotFoundError } from '../../store/Store.js';
import { cacheKeys } from './plan.js';

/** Shard `shard` begins at the document numbered `documents` (0-based count of documents before it). */
export interface ShardStart {
  readonly shard: number;
  readonly documents: number;
  /** Where the source resumes at that document, when it can seek. */
  readonly cursor?: DocumentCursor;
}

const PREFIX = '_work/start-';
export const startKey = (shard: number): string => `${PREFIX}${shard}.json`;

function parseStart(store: Store, key: string, bytes: Uint8Array, shard: number): ShardStart {
  let json: { documents?: unknown; cursor?: unknown } | undefined;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes)) as { documents?: unknown; cursor?: unknown };
  } catch {
    json = undefined;
  }
  const documents = json?.documents;
  if (!(Number.isInteger(documents) && (documents as number) >= 0))
    throw new FileFormatError(`${store.url}/${key}: expected {"documents": a non-negative integer} (the start of shard ${shard})`);
  const cursor = json!.cursor === undefined ? undefined : parseDocumentCursor(json!.cursor, `${store.url}/${key} (the start of shard ${shard})`);
  return { shard, documents: documents as number, ...(cursor ? { cursor } : {}) };
}

/** The published start nearest at or before shard `i` (shard 0 starts at document 0). */
export async function nearestStart(store: Store, i: number): Promise<ShardStart> {
  if (i === 0) return { shard: 0, documents: 0 };
  try {
    return parseStart(store, startKey(i), await store.get(startKey(i)), i);
  } catch (e) {
    if (!(e instanceof StoreNotFoundError)) throw e;
  }
  let best = 0;
  for (const key of await store.list(PREFIX)) {
    const m = /^_work\/start-(\d+)\.json$/.exec(key);
    const k = m ? Number(m[1]) : -1;
    if (k > best && k <= i) best = k;
  }
  if (best === 0) return { shard: 0, documents: 0 };
  return parseStart(store, startKey(best), await store.get(startKey(best)), best);
}

/**
 * The start of shard `i` once it is published, polling every `pollMs`, for at most `maxWaitMs`;
 * `from` (the nearest start found before) when it does not come in time, or as soon as the
 * dataset's end is published (the caller then finds its shard empty, or packs from `from`).
 */
export async function awaitStart(store: Store, i: number, from: ShardStart, maxWaitMs: number, pollMs = 25): Promise<ShardStart> {
  if (from.shard >= i || !(maxWaitMs > 0)) return from;
  const deadline = Date.now() + maxWaitMs;
  while (Date.now() < deadline) {
    await new Promise<void>((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
    if ((await store.size(startKey(i))) !== undefined) return nearestStart(store, i);
    if ((await store.size(cacheKeys.datasetEnd)) !== undefined) return from;
  }
  return from;
}

/**
 * Where the dataset ends, once a job has packed to it: every shard from `first_empty` on is
 * empty, so their jobs need neither wait for a start nor read anything (without it, each
 * waited for a start that never comes, then read from the last start to the end again).
 */
export async function datasetEnd(store: Store): Promise<number | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(cacheKeys.datasetEnd);
  } catch (e) {
    if (e instanceof StoreNotFoundError) return undefined;
    throw e;
  }
  let k: unknown;
  try {
    k = (JSON.parse(new TextDecoder().decode(bytes)) as { first_empty?: unknown }).first_empty;
  } catch {
    k = undefined;
  }
  if (!(Number.isInteger(k) && (k as number) >= 0)) throw new FileFormatError(`${store.url}/${cacheKeys.datasetEnd}: expected {"first_empty": a non-negative integer}`);
  return k as number;
}

/** Publishes where the dataset ends; one already there must agree (else the workers read different documents). */
export async function publishDatasetEnd(store: Store, firstEmpty: number): Promise<void> {
  const prev = await datasetEnd(store);
  if (prev === undefined) await store.put(cacheKeys.datasetEnd, JSON.stringify({ first_empty: firstEmpty }));
  else if (prev !== firstEmpty)
    throw new FileFormatError(`${store.url}/${cacheKeys.datasetEnd}: the dataset ends before shard ${prev} for another worker but before shard ${firstEmpty} here; the workers read different documents (dataset changed?)`);
}

/** Publishes starts found while packing; one already there must be equal. */
export async function publishStarts(store: Store, starts: readonly ShardStart[]): Promise<void> {
  for (const s of starts) {
    if (s.shard === 0) continue;
    const key = startKey(s.shard);
    let prev: ShardStart | undefined;
    try {
      prev = parseStart(store, key, await store.get(key), s.shard);
    } catch (e) {
      if (!(e instanceof StoreNotFoundError)) throw e;
    }
    if (prev === undefined) await store.put(key, JSON.stringify({ documents: s.documents, ...(s.cursor ? { cursor: s.cursor } : {}) }));
    else if (prev.documents !== s.documents || (prev.cursor && s.cursor && !sameCursor(prev.cursor, s.cursor)))
      throw new FileFormatError(
        `${store.url}/${key}: shard ${s.shard} starts at document ${prev.documents}${prev.cursor ? ` (${JSON.stringify(prev.cursor)})` : ''} for another worker but at ${s.documents}${s.cursor ? ` (${JSON.stringify(s.cursor)})` : ''} here; the workers read different documents (dataset changed?)`,
      );
  }
}
