/**
 * Where a page's tfjs wasm backend fetches its binaries (tfjs-backend-wasm*.wasm). tfjs on its
 * own looks beside the page, which works only when the page sits in the bundle's folder; the
 * browser build (scripts/buildBrowser.mjs) copies them beside the bundle, so by default sae-rx
 * points tfjs there: the folder of the script this module was bundled into. A page that hosts
 * them elsewhere says where before selectBackend().
 */
let chosenUrl: string | undefined;

/** The folder (ending in '/') or the file map tfjs's setWasmPaths takes; relative URLs resolve against the page. */
export function setWasmBinariesUrl(url: string): void {
  if (url === '') throw new Error('setWasmBinariesUrl: empty url (a folder ending in / that holds tfjs-backend-wasm*.wasm)');
  const base = (globalThis as { location?: { href: string } }).location?.href;
  chosenUrl = new URL(url.endsWith('/') ? url : `${url}/`, base).href;
}

/** The folder the wasm backend's binaries are fetched from: the one set, else the bundle's own folder. */
export function wasmBinariesUrl(): string {
  return chosenUrl ?? new URL('./', import.meta.url).href;
}
