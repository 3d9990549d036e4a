export { type Store, StoreError, StoreNotFoundError, joinKey, checkKey } from './Store.js';
export { FolderStore } from './folderStore.js';
export { S3Store, type S3StoreOptions, parseS3Url } from './s3Store.js';
export { type RetryOptions, isTransient, withRetry } from './retry.js';
export { COMMIT_MARKER, committedFiles, downloadDir, isCommitted, uploadDir, writeCommitted } from './commit.js';
export { type OpenStoreOptions, isStoreUrl, openStore, retryFromEnv } from './openStore.js';
export { prefetched } from './prefetch.js';
