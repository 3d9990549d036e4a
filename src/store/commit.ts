/**
 * Several objects that belong together (a checkpoint folder, an SAE folder, a finished run's
 * files) are committed as one: the objects are written first, then `<prefix>/_COMMITTED`
 * listing them with their sizes. Readers trust only a prefix whose marker exists and whose
 * objects have the listed sizes; a writer that dies before the marker leaves objects nobody
 * reads, which the next writer of the same prefix overwrites. In a folder store each object is
 * also renamed into place whole, so the marker is the last of several atomic steps.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { type Store, StoreNotFoundError, joinKey } from './Store.js';

export const COMMIT_MARKER = '_COMMITTED';

interface Marker {
  files: Record<string, number>;
  committedAt: string;
}

/** Writes `files` (relative name → bytes) under `prefix`, then the commit marker. */
export async function writeCommitted(store: Store, prefix: string, files: ReadonlyMap<string, Uint8Array | string> | Record<string, Uint8Array | string>): Promise<void> {
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  const sizes: Record<string, number> = {};
  for (const [name, data] of entries) {
    await store.put(joinKey(prefix, name), data);
    sizes[name] = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  }
  const marker: Marker = { files: sizes, committedAt: new Date().toISOString() };
  await store.put(joinKey(prefix, COMMIT_MARKER), JSON.stringify(marker, null, 2) + '\n');
}

/** The committed files of `prefix` (name → size), or undefined when it is not committed. */
export async function committedFiles(store: Store, prefix: string): Promise<Record<string, number> | undefined> {
  let text: string;
  try {
    text = new TextDecoder().decode(await store.get(joinKey(prefix, COMMIT_MARKER)));
  } catch (e) {
    if (e instanceof StoreNotFoundError) return undefined;
    throw e;
  }
  let m: Marker;
  try {
    m = JSON.parse(text) as Marker;
  } catch {
    return undefined; // a marker is written whole; an unreadable one is not ours
  }
  return m.files;
}

/** Whether `prefix` is committed. */
export async function isCommitted(store: Store, prefix: string): Promise<boolean> {
  return (await committedFiles(store, prefix)) !== undefined;
}

/** Every file under a local folder, as relative `/` names (hidden temporary files skipped). */
async function localFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    if (ent.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...(await localFiles(dir, r)));
    else if (ent.isFile()) out.push(r);
  }
  return out;
}

/** Uploads a local folder as a committed prefix. */
export async function uploadDir(store: Store, localDir: string, prefix: string): Promise<void> {
  const files = new Map<string, Uint8Array>();
  for (const f of await localFiles(localDir)) files.set(f, new Uint8Array(await fsp.readFile(path.join(localDir, ...f.split('/')))));
  await writeCommitted(store, prefix, files);
}

/** Downloads a committed prefix into a local folder; false (nothing written) when it is not committed. */
export async function downloadDir(store: Store, prefix: string, localDir: string): Promise<boolean> {
  const files = await committedFiles(store, prefix);
  if (!files) return false;
  for (const name of Object.keys(files)) {
    const p = path.join(localDir, ...name.split('/'));
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, await store.get(joinKey(prefix, name)));
  }
  return true;
}
