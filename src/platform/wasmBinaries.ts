/**
 * Where a page's tfjs wasm backend fetches its binaries (tfjs-backend-wasm*.wasm). tfjs on its
 * own looks beside the page, which works only when the page sits in the bundle's folder; the
 * browser build (scripts/buildBrowser.mjs) copies them beside the bundle, so by default sae-rx
 * points tfjs there: the folder of the script this module was bundled into. A page that hosts
 * them elsewhere says where before selectBackend().
 */
import { BackendError } from '../errors.js';

let chosenUrl: string | undefined;

/** The folder (ending in '/') or the file map tfjs's setWasmPaths takes; relative URLs resolve against the page. */
export function setWasmBinariesUrl(url: string): void {
  const what = 'setWasmBinariesUrl: url (a folder that holds tfjs-backend-wasm*.wasm)';
  if (typeof url !== 'string' || url === '') throw new BackendError(`${what} is empty`);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    chosenUrl = new URL(url.endsWith('/') ? url : `${url}/`, base).href;
  } catch {
    // a relative URL outside a page (no location to resolve it against), or not a URL at all
    throw new BackendError(`${what}: ${JSON.stringify(url)} is not a URL${base === undefined ? ' (outside a page, give an absolute one)' : ''}`);
  }
}

/** The folder the wasm backend's binaries are fetched from: the one set, else the bundle's own folder. */
export function wasmBinariesUrl(): string {
  return chosenUrl ?? new URL('./', import.meta.url).href;
}
