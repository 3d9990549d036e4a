/**
 * The operators' disk I/O: checkpoint folders written and read (train/checkpointWriter) and
 * SAE folders loaded (sae/saeFolder). Its own module so that the browser build can put
 * folderIo.browser.ts in its place: a page has no file system (see src/platform/Platform.ts and
 * scripts/buildBrowser.mjs).
 */
export { writeCheckpoint, readCheckpointState } from '../train/checkpointWriter.js';
export { loadSae } from '../sae/saeFolder.js';
