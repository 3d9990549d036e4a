/**
 * A store from what a user types: `s3://bucket/prefix` is an S3 store (credentials and
 * endpoint from the AWS environment), anything else a folder (relative to `cwd`).
 */
import * as path from 'node:path';
import { FolderStore } from './folderStore.js';
import type { RetryOptions } from './retry.js';
import { S3Store, type S3StoreOptions } from './s3Store.js';
import { type Store, StoreError } from './Store.js';

export interface OpenStoreOptions {
  readonly cwd?: string;
  readonly retry?: RetryOptions;
  readonly env?: NodeJS.ProcessEnv;
  readonly s3?: Omit<S3StoreOptions, 'retry' | 'env'>;
}

/** Whether a path names an object store rather than a folder. */
export function isStoreUrl(p: string): boolean {
  return /^s3:\/\//.test(p);
}

/** Retry settings from the environment: SAE_RX_STORE_RETRY_WINDOW_MS (how long an outage is ridden out). */
export function retryFromEnv(env: NodeJS.ProcessEnv = process.env): RetryOptions {
  const w = env['SAE_RX_STORE_RETRY_WINDOW_MS'];
  return w !== undefined && Number.isFinite(Number(w)) && Number(w) >= 0 ? { windowMs: Number(w) } : {};
}

export function openStore(where: string, o: OpenStoreOptions = {}): Store {
  const retry = o.retry ?? retryFromEnv(o.env);
  if (isStoreUrl(where)) return new S3Store(where, { ...(o.s3 ?? {}), retry, ...(o.env ? { env: o.env } : {}) });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(where)) throw new StoreError(`store: ${where}: only folders and s3:// URLs are stores`);
  return new FolderStore(path.resolve(o.cwd ?? process.cwd(), where), retry);
}
