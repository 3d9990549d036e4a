/**
 * Hub access for sae-rx on top of `@huggingface/hub`: files land in the standard cache
 * (shared with Python), revisions are pinned to commits, offline mode resolves from the cache
 * only, transient failures are retried, and errors say what was missing or refused.
 *
 * A branch or tag is first resolved to its commit (one API call); the file is then fetched
 * for that commit, so it lands in `snapshots/<commit>/` exactly where the Python hub puts it,
 * and `refs/<revision>` is updated. A 40-hex revision already in the cache needs no network.
 */
import { downloadFileToCacheDir, listFiles } from '@huggingface/hub';
import { HubError } from '../errors.js';
import { cachedCommit, cachedFile, isCommitHash, listCachedSnapshot, writeCachedRef, type HubRepoType } from './cache.js';
import { type HubConfig, toHubConfig } from './config.js';
import { sleep } from '../io/retry.js';
import { backoff, type FetchContext, type HubTarget, hubFetch, toHubError } from './http.js';

export interface HubRepoRef {
  /** `owner/name` */
  repo: string;
  /** default `model` */
  type?: HubRepoType;
  /** branch, tag or commit (default `main`) */
  revision?: string;
}

export interface HubFileRef extends HubRepoRef {
  /** path inside the repo */
  path: string;
}

export interface HubFileEntry {
  path: string;
  type: 'file' | 'directory';
  size: number;
}

function checkRepo(repo: string, what: string): void {
  if (!/^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(repo) || repo.includes('--') || repo.includes('..')) {
    throw new HubError(`${what}: invalid repo id ${JSON.stringify(repo)} (expected "owner/name")`);
  }
}

function checkPath(p: string, repo: string): void {
  if (p === '' || p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new HubError(`repo "${repo}": invalid file path ${JSON.stringify(p)}`);
  }
}

/** Defaults filled in and the repo id checked: the target errors and cache lookups name. */
function repoTarget(ref: HubRepoRef, fn: string): HubTarget {
  checkRepo(ref.repo, fn);
  return { repo: ref.repo, type: ref.type ?? 'model', revision: ref.revision ?? 'main' };
}

/** `repoTarget` of a file, its path checked too. */
function fileTarget(ref: HubFileRef, fn: string): HubTarget & { path: string } {
  const t = repoTarget(ref, fn);
  checkPath(ref.path, ref.repo);
  return { ...t, path: ref.path };
}

/** `{endpoint}/[datasets/]{repo}/resolve/{revision}/{path}`. */
function resolveUrl(cfg: HubConfig, t: HubTarget & { path: string }): string {
  const prefix = t.type === 'model' ? '' : `${t.type}s/`;
  return `${cfg.endpoint}/${prefix}${t.repo}/resolve/${encodeURIComponent(t.revision)}/${t.path.split('/').map(encodeURIComponent).join('/')}`;
}

function apiBase(cfg: HubConfig, type: HubRepoType, repo: string): string {
  return `${cfg.endpoint}/api/${type}s/${repo}`;
}

/** Silences the client's `console.debug("Downloading …")` while a download runs. */
let quietDepth = 0;
let savedDebug: typeof console.debug | undefined;
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    savedDebug = console.debug;
    console.debug = () => {};
  }
  try {
    return await f();
  } finally {
    if (--quietDepth === 0 && savedDebug) console.debug = savedDebug;
  }
}

/**
 * The commit `revision` points at now (online), or in the cache (offline). Writes nothing.
 */
export async function resolveHubRevision(ref: HubRepoRef, hub?: Partial<HubConfig>): Promise<string> {
  return resolveCommit(toHubConfig(hub), repoTarget(ref, 'resolveHubRevision'));
}

/** `resolveHubRevision` with the target (maybe a file) that errors should name. */
async function resolveCommit(cfg: HubConfig, target: HubTarget): Promise<string> {
  const { repo, type, revision } = target;
  if (isCommitHash(revision)) return revision;
  if (cfg.offline) {
    const c = await cachedCommit(cfg, type, repo, revision);
    if (!c) throw offlineMiss(cfg, target);
    return c;
  }
  const ctx: FetchContext = { retries: 0 };
  try {
    const resp = await hubFetch(cfg, ctx)(`${apiBase(cfg, type, repo)}/revision/${encodeURIComponent(revision)}`, {
      headers: { accept: 'application/json' },
    });
    if (!resp.ok) {
      await resp.body?.cancel().catch(() => {});
      throw new Error(`HTTP ${resp.status}`);
    }
    const info = (await resp.json()) as { sha?: unknown };
    if (typeof info.sha !== 'string' || !isCommitHash(info.sha)) throw new Error(`revision info has no commit sha (got ${JSON.stringify(info.sha)})`);
    return info.sha;
  } catch (e) {
    throw toHubError(e, ctx, target, cfg);
  }
}

function offlineMiss(cfg: HubConfig, t: { repo: string; type: HubRepoType; revision: string; path?: string }): HubError {
  const what = t.path !== undefined ? `file "${t.path}" of ${t.type} repo "${t.repo}"` : `${t.type} repo "${t.repo}"`;
  return new HubError(
    `${what} at revision "${t.revision}" is not in the hub cache ${cfg.cacheDir} and offline mode is on ` +
      `(HF_HUB_OFFLINE): download it once online, or point HF_HUB_CACHE/HF_HOME at a cache that has it`,
  );
}

/**
 * A local path to the file (a snapshot path inside the hub cache), downloading it if needed.
 * Offline: from the cache only, else a HubError saying it is missing.
 */
export async function downloadHubFile(ref: HubFileRef, hub?: Partial<HubConfig>): Promise<string> {
  const cfg = toHubConfig(hub);
  const target = fileTarget(ref, 'downloadHubFile');
  const { type, revision } = target;
  if (cfg.offline) {
    const p = await cachedFile(cfg, target);
    if (!p) throw offlineMiss(cfg, target);
    return p;
  }
  // a pinned commit already in the cache needs no network (as in Python)
  if (isCommitHash(revision)) {
    const p = await cachedFile(cfg, target);
    if (p) return p;
  }
  let commit: string;
  try {
    commit = await resolveCommit(cfg, target);
  } catch (e) {
    // hub unreachable: fall back to what the cache has, as the Python hub does
    if (e instanceof HubError && /unreachable/.test(e.message)) {
      const p = await cachedFile(cfg, target);
      if (p) {
        cfg.warn?.(`hub unreachable, using the cached ${type} "${ref.repo}" file "${ref.path}" (revision "${revision}")`);
        return p;
      }
    }
    throw e;
  }
  const key = [cfg.cacheDir, type, ref.repo, commit, ref.path].join('\0');
  let pending = inFlight.get(key);
  if (!pending) {
    pending = fetchToCache(cfg, { ...target, revision: commit }).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  let local: string;
  try {
    local = await pending;
  } catch (e) {
    // name the revision the caller asked for, not the commit it resolved to
    throw e instanceof HubError ? new HubError(e.message.split(`"${commit}"`).join(`"${revision}"`), { cause: e.cause }) : e;
  }
  await writeCachedRef(cfg, type, ref.repo, revision, commit);
  return local;
}

/**
 * Downloads in flight in this process, by cache/repo/commit/path: a second request for the
 * same file waits for the first instead of writing the same `.incomplete` blob concurrently.
 */
const inFlight = new Map<string, Promise<string>>();

/** One file at a pinned commit into the cache, retrying a body cut mid-stream. */
async function fetchToCache(cfg: HubConfig, target: HubTarget & { path: string }): Promise<string> {
  const ctx: FetchContext = { retries: 0 };
  for (let attempt = 0; ; attempt++) {
    try {
      return await quietly(() =>
        downloadFileToCacheDir({
          repo: { type: target.type, name: target.repo },
          path: target.path,
          revision: target.revision,
          hubUrl: cfg.endpoint,
          cacheDir: cfg.cacheDir,
          fetch: hubFetch(cfg, ctx),
        }),
      );
    } catch (e) {
      // a body cut mid-stream is not seen by the fetch wrapper: retry the whole download
      const transient = ctx.lastFailure === undefined && /terminated|ECONNRESET|socket|aborted|fetch failed/i.test(String((e as Error)?.message ?? e));
      if (transient && attempt < cfg.maxRetries) {
        ctx.retries++;
        await sleep(backoff(cfg, attempt));
        continue;
      }
      throw toHubError(e, ctx, target, cfg);
    }
  }
}

/**
 * Files of a repo (recursively by default), optionally under `path`. Offline: the cached
 * snapshot's files (which may be fewer than the repo has).
 */
export async function listHubFiles(
  ref: HubRepoRef & { path?: string; recursive?: boolean },
  hub?: Partial<HubConfig>,
): Promise<HubFileEntry[]> {
  const cfg = toHubConfig(hub);
  const recursive = ref.recursive ?? true;
  const { type, revision } = repoTarget(ref, 'listHubFiles');
  if (ref.path !== undefined) checkPath(ref.path, ref.repo);
  const target = { repo: ref.repo, type, revision, ...(ref.path !== undefined ? { path: ref.path } : {}) };
  const cached = () => listCachedSnapshot(cfg, { type, repo: ref.repo, revision, recursive, ...(ref.path ? { path: ref.path } : {}) });
  if (cfg.offline) {
    const snap = await cached();
    if (!snap) throw offlineMiss(cfg, target);
    return snap.entries;
  }
  const ctx: FetchContext = { retries: 0 };
  const out: HubFileEntry[] = [];
  try {
    for await (const e of listFiles({
      repo: { type, name: ref.repo },
      // the client puts the revision into the URL as is; `refs/convert/parquet` needs escaping
      revision: encodeURIComponent(revision),
      recursive,
      hubUrl: cfg.endpoint,
      fetch: hubFetch(cfg, ctx),
      ...(ref.path ? { path: ref.path } : {}),
    })) {
      out.push({ path: e.path, type: e.type === 'directory' ? 'directory' : 'file', size: e.size });
    }
  } catch (e) {
    if (ctx.unreachable) {
      const snap = await cached();
      if (snap) {
        cfg.warn?.(`hub unreachable, listing the cached snapshot of ${type} "${ref.repo}" (revision "${revision}")`);
        return snap.entries;
      }
    }
    throw toHubError(e, ctx, target, cfg);
  }
  return out;
}

/** Whether the file exists in the repo (offline: in the cache). Missing repos are errors. */
export async function hubFileExists(ref: HubFileRef, hub?: Partial<HubConfig>): Promise<boolean> {
  const cfg = toHubConfig(hub);
  const target = fileTarget(ref, 'hubFileExists');
  if (cfg.offline) return (await cachedFile(cfg, target)) !== undefined;
  const ctx: FetchContext = { retries: 0 };
  const url = resolveUrl(cfg, target);
  try {
    const resp = await hubFetch(cfg, ctx)(url, { method: 'HEAD', redirect: 'manual' });
    if (resp.ok || (resp.status >= 300 && resp.status < 400)) return true;
    if (resp.status === 404 && ctx.lastFailure?.errorCode === 'EntryNotFound') return false;
    throw new Error(`HTTP ${resp.status}`);
  } catch (e) {
    throw toHubError(e, ctx, target, cfg);
  }
}


/** Random access to a hub file over HTTP range requests (hyparquet's AsyncBuffer shape). */
export interface HubRangeFile {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

/**
 * Opens a hub file for range reads without downloading it (streaming). Each `slice` is one
 * authenticated, retried GET with a Range header. Not available offline.
 */
export async function openHubFileRange(ref: HubFileRef, hub?: Partial<HubConfig>): Promise<HubRangeFile> {
  const cfg = toHubConfig(hub);
  const target = fileTarget(ref, 'openHubFileRange');
  const { type } = target;
  if (cfg.offline) {
    throw new HubError(`file "${ref.path}" of ${type} repo "${ref.repo}": streaming needs the network but offline mode is on (HF_HUB_OFFLINE); download it instead`);
  }
  const url = resolveUrl(cfg, target);
  const get = async (range: string): Promise<Response> => {
    const ctx: FetchContext = { retries: 0 };
    try {
      const resp = await hubFetch(cfg, ctx)(url, { headers: { range } });
      if (!resp.ok) {
        await resp.body?.cancel().catch(() => {});
        throw new Error(`HTTP ${resp.status}`);
      }
      return resp;
    } catch (e) {
      throw toHubError(e, ctx, target, cfg);
    }
  };
  const probe = await get('bytes=0-0');
  await probe.arrayBuffer();
  const total = Number(probe.headers.get('content-range')?.split('/').pop());
  if (!Number.isSafeInteger(total)) {
    throw new HubError(`file "${ref.path}" of ${type} repo "${ref.repo}": the hub did not answer a range request with the file size (Content-Range)`);
  }
  return {
    byteLength: total,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? total, total);
      if (stop <= start) return new ArrayBuffer(0);
      const resp = await get(`bytes=${start}-${stop - 1}`);
      const buf = await resp.arrayBuffer();
      // a server that ignores Range answers 200 with the whole file
      const out = resp.status === 200 && buf.byteLength === total ? buf.slice(start, stop) : buf;
      if (out.byteLength !== stop - start) {
        throw new HubError(`file "${ref.path}" of ${type} repo "${ref.repo}": asked bytes ${start}-${stop - 1}, got ${out.byteLength} bytes`);
      }
      return out;
    },
  };
}
