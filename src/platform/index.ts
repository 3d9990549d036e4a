/**
 * The platform this code runs on (see Platform.ts). This file re-exports the Node
 * implementation; the browser build replaces `./node.js` by `./browser.js`, so nothing above this
 * layer names either.
 */
export { platform } from './node.js';
export {
  NODE_BACKENDS, BROWSER_BACKENDS, type BackendName, type BackendLoader, type NativeAddonLoad, type Platform,
  type PlatformFiles, type PlatformPath, type RandomAccessFile,
} from './Platform.js';
