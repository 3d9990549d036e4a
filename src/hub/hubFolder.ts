/**
 * A Hub repository as a Folder, over the Hub's HTTP endpoints only (`/{repo}/resolve/{rev}/{file}`,
 * `/datasets/…` for datasets): what a page has, with no disk cache. The rules of the Node client
 * that apply hold: the endpoint (HF_ENDPOINT / `hub.endpoint`), the token sent only to the Hub's
 * own origin and never in a message (http.ts), retries with backoff, errors that say what was
 * missing or refused, and offline mode (HF_HUB_OFFLINE / `hub.offline`) fetches nothing: with no
 * cache to fall back on, every read is then a HubError.
 */
import { HubError } from '../errors.js';
import { type Folder, folderPath } from '../io/folder.js';
import { type HubConfig, toHubConfig } from './config.js';
import { type FetchContext, type HubTarget, hubFetch, toHubError } from './http.js';

export interface HubFolderOptions {
  /** Branch, tag or commit (default 'main'). */
  readonly revision?: string;
  readonly repoType?: 'model' | 'dataset';
  /** Hub settings (endpoint, token, offline, retries, fetch); the environment's where absent (Node). */
  readonly hub?: Partial<HubConfig>;
}

export function hubFolder(repo: string, opts: HubFolderOptions = {}): Folder {
  const cfg = toHubConfig(opts.hub);
  const revision = opts.revision ?? 'main';
  const type = opts.repoType ?? 'model';
  const base = `${cfg.endpoint}/${type === 'dataset' ? 'datasets/' : ''}${repo}/resolve/${encodeURIComponent(revision)}/`;
  const folder: Folder = {
    label: `hf://${type === 'dataset' ? 'datasets/' : ''}${repo}@${revision}`,
    has: async (name) => (await request(name, 'HEAD')) !== undefined,
    async bytes(name) {
      const r = await request(name, 'GET');
      if (!r) throw new HubError(`${folderPath(folder, name)}: file not found in the repo`);
      return new Uint8Array(await r.arrayBuffer());
    },
  };
  /** The response, or undefined for a missing file (404 EntryNotFound); other failures throw. */
  async function request(name: string, method: 'GET' | 'HEAD'): Promise<Response | undefined> {
    const target: HubTarget = { repo, type, path: name, revision };
    if (cfg.offline) {
      throw new HubError(`${folderPath(folder, name)}: hub offline (HF_HUB_OFFLINE): nothing is fetched, and this folder has no cache to read instead`);
    }
    const ctx: FetchContext = { retries: 0 };
    const url = base + name.split('/').map(encodeURIComponent).join('/');
    let r: Response;
    try {
      r = await hubFetch(cfg, ctx)(url, { method });
    } catch (e) {
      throw toHubError(e, ctx, target, cfg);
    }
    if (r.ok) return r;
    const code = r.headers.get('x-error-code');
    if (r.status === 404 && (code === 'EntryNotFound' || code === null)) return undefined;
    throw toHubError(new Error(`HTTP ${r.status}`), ctx, target, cfg);
  }
  return folder;
}
