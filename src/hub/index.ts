/** Hugging Face Hub access: settings from the environment, the shared cache, downloads. */
export { hubConfig, hubToken, redactSecret, toHubConfig, type HubConfig } from './config.js';
export { cachedCommit, cachedFile, isCommitHash, listCachedSnapshot, repoCacheFolder, type CachedEntry, type HubRepoType } from './cache.js';
export {
  downloadHubFile,
  hubFileExists,
  listHubFiles,
  openHubFileRange,
  type HubRangeFile,
  resolveHubRevision,
  type HubFileEntry,
  type HubFileRef,
  type HubRepoRef,
} from './download.js';
