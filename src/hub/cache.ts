/**
 * The standard Hugging Face cache layout, shared with the Python hub:
 *
 *   <cacheDir>/models--owner--name/
 *     blobs/<etag>                     file contents, named by git oid or LFS sha256
 *     snapshots/<commit>/<path>        symlinks to the blobs, one folder per commit
 *     refs/<revision>                  the commit a branch/tag pointed to when last resolved
 *
 * Offline resolution goes revision → refs/<revision> → snapshots/<commit>/<path>.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomicWrite.js';
import type { HubConfig } from './config.js';

export type HubRepoType = 'model' | 'dataset';

const COMMIT_RE = /^[0-9a-f]{40}$/;

export function isCommitHash(revision: string): boolean {
  return COMMIT_RE.test(revision);
}

/** `<cacheDir>/{models|datasets}--owner--name`. */
export function repoCacheFolder(cacheDir: string, type: HubRepoType, repo: string): string {
  return path.join(cacheDir, [`${type}s`, ...repo.split('/')].join('--'));
}

/** The commit `revision` resolves to in the cache (a hash is itself), or undefined. */
export async function cachedCommit(cfg: HubConfig, type: HubRepoType, repo: string, revision: string): Promise<string | undefined> {
  if (isCommitHash(revision)) return revision;
  try {
    const sha = (await fsp.readFile(path.join(repoCacheFolder(cfg.cacheDir, type, repo), 'refs', revision), 'utf8')).trim();
    return isCommitHash(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

/** Records that `revision` points at `commit` (as the Python hub does after a download). */
export async function writeCachedRef(cfg: HubConfig, type: HubRepoType, repo: string, revision: string, commit: string): Promise<void> {
  if (isCommitHash(revision)) return;
  const file = path.join(repoCacheFolder(cfg.cacheDir, type, repo), 'refs', revision);
  try {
    if ((await fsp.readFile(file, 'utf8')).trim() === commit) return;
  } catch {
    /* no ref yet */
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, commit);
}

/** The snapshot path of a cached file (following its symlink must work), or undefined. */
export async function cachedFile(
  cfg: HubConfig,
  t: { type: HubRepoType; repo: string; path: string; revision: string },
): Promise<string | undefined> {
  const commit = await cachedCommit(cfg, t.type, t.repo, t.revision);
  if (!commit) return undefined;
  const p = path.join(repoCacheFolder(cfg.cacheDir, t.type, t.repo), 'snapshots', commit, ...t.path.split('/'));
  return existsSync(p) ? p : undefined; // existsSync follows the symlink: a dangling one is a miss
}

export interface CachedEntry {
  path: string;
  type: 'file' | 'directory';
  size: number;
}

/** Files (and folders) of a cached snapshot under `dir`, like the hub's tree listing. */
export async function listCachedSnapshot(
  cfg: HubConfig,
  t: { type: HubRepoType; repo: string; revision: string; path?: string; recursive?: boolean },
): Promise<{ commit: string; entries: CachedEntry[] } | undefined> {
  const commit = await cachedCommit(cfg, t.type, t.repo, t.revision);
  if (!commit) return undefined;
  const root = path.join(repoCacheFolder(cfg.cacheDir, t.type, t.repo), 'snapshots', commit);
  const start = t.path ? path.join(root, ...t.path.split('/')) : root;
  if (!existsSync(start)) return undefined;
  const entries: CachedEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    const ents = await fsp.readdir(dir, { withFileTypes: true });
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of ents) {
      const abs = path.join(dir, ent.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      let st;
      try {
        st = await fsp.stat(abs); // follows the snapshot symlink to the blob
      } catch {
        continue; // dangling link: the blob was deleted
      }
      if (st.isDirectory()) {
        entries.push({ path: rel, type: 'directory', size: 0 });
        if (t.recursive) await walk(abs);
      } else {
        entries.push({ path: rel, type: 'file', size: st.size });
      }
    }
  };
  await walk(start);
  return { commit, entries };
}
