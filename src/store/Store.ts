/**
 * Where shards, manifests, checkpoints, SAEs, records and reports live (DESIGN.md §1): a
 * local or shared folder, or an S3 bucket prefix. Keys are `/`-separated relative paths.
 *
 * Every `put` is atomic in the store's own terms: a reader sees the whole object or none
 * (folder: temporary name + fsync + rename; S3: an object appears whole when its PUT or
 * multipart upload completes). Several objects that belong together are written with
 * `writeCommitted` (commit.ts): the objects, then a commit marker, which readers check first.
 */
import { SaeRxError } from '../errors.js';

/** A store request failed (after the retries, for transient errors). */
export class StoreError extends SaeRxError {}

/** The key is not in the store. */
export class StoreNotFoundError extends StoreError {}

export interface Store {
  /** The store as a user names it (`/data/run` or `s3://bucket/prefix`); never holds credentials. */
  readonly url: string;
  /** Writes `data` under `key` atomically, replacing any previous object. */
  put(key: string, data: Uint8Array | string): Promise<void>;
  /** The whole object (StoreNotFoundError when absent). */
  get(key: string): Promise<Uint8Array>;
  /** Bytes [start, end) of the object. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** The object's size in bytes, undefined when absent. */
  size(key: string): Promise<number | undefined>;
  /** Every key under `prefix` (`a/b/` lists `a/b/...`; '' lists all), sorted; hidden temporary files are not keys. */
  list(prefix: string): Promise<string[]>;
  /** Removes the objects (absent ones are fine). */
  delete(keys: readonly string[]): Promise<void>;
  /** Moves an object to another key (folder: rename; S3: server-side copy, then delete). */
  move(from: string, to: string): Promise<void>;
  /** The local path of a key when the store is a folder (fast paths), else undefined. */
  localPath?(key: string): string;
  /** Frees connections. */
  close(): Promise<void>;
}

/** Joins key parts with `/`, dropping empty parts and duplicate slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/** Throws a StoreError for a key that could escape the store (`..`, absolute). */
export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === ''))
    throw new StoreError(`store key ${JSON.stringify(key)} is not a relative path without '..' or empty parts`);
  return key;
}
