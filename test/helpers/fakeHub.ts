/**
 * A loopback Hugging Face Hub for tests: serves fixture repos from local folders with the
 * endpoints the `@huggingface/hub` client and sae-rx use, so no test touches the network.
 *
 *   GET  /api/{models|datasets}/{owner}/{name}/revision/{rev}
 *   GET  /api/{type}s/{owner}/{name}/tree/{rev}[/{path}]?recursive=&expand=   (Link pagination)
 *   POST /api/{type}s/{owner}/{name}/paths-info/{rev}                         ({paths, expand})
 *   GET|HEAD /[datasets/]{owner}/{name}/{resolve|raw}/{rev}/{path}            (Range, ETag)
 *
 * Errors carry `X-Error-Code` like the real hub: RepoNotFound, RevisionNotFound,
 * EntryNotFound, GatedRepo. Repos may require a token; failures can be injected; every
 * request is logged.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface FakeRepoSpec {
  /** folder served as revision `main` */
  dir?: string;
  /** other revisions (branches/tags, e.g. `refs/convert/parquet`) → folder */
  revisions?: Record<string, string>;
  /** a token the repo requires (private/gated repo) */
  token?: string;
  /** with `token`: answer as a gated repo (X-Error-Code: GatedRepo) */
  gated?: boolean;
}

export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
  authorization?: string;
  range?: string;
}

interface FakeFile {
  rel: string;
  abs: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

interface FakeRevision {
  sha: string;
  files: Map<string, FakeFile>;
}

interface FakeRepo {
  type: 'model' | 'dataset';
  name: string;
  spec: FakeRepoSpec;
  revisions: Map<string, FakeRevision>;
}

type Failure = { status: number } | { reset: true };

const LFS_EXT = /\.(safetensors|parquet|bin|pt|arrow|h5|onnx)$/;

function listDir(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const abs = path.join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile() || e.isSymbolicLink()) out.push(path.relative(root, abs).split(path.sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

function gitBlobSha1(content: Buffer | string): string {
  const b = typeof content === 'string' ? Buffer.from(content) : content;
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function loadRevision(key: string, rev: string, dir: string): FakeRevision {
  const files = new Map<string, FakeFile>();
  for (const rel of listDir(dir)) {
    const abs = path.join(dir, rel);
    const size = statSync(abs).size;
    if (LFS_EXT.test(rel) || size > 10_000_000) {
      const content = readFileSync(abs);
      const sha256 = createHash('sha256').update(content).digest('hex');
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
      files.set(rel, { rel, abs, size, oid: gitBlobSha1(pointer), lfs: { oid: sha256, size, pointerSize: pointer.length } });
    } else {
      files.set(rel, { rel, abs, size, oid: gitBlobSha1(readFileSync(abs)) });
    }
  }
  const h = createHash('sha1').update(`${key}@${rev}`);
  for (const f of files.values()) h.update(`${f.rel}:${f.oid}\n`);
  return { sha: h.digest('hex'), files };
}

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  private readonly repos = new Map<string, FakeRepo>();
  private readonly failures: Array<{ match: RegExp; failure: Failure; left: number }> = [];
  private server: http.Server | undefined;
  /** entries per page for tree listings (to exercise Link pagination); 0 = no paging */
  pageSize = 0;
  url = '';

  /** `repos`: `{ 'models/owner/name': dir | spec, 'datasets/owner/name': ... }` */
  constructor(repos: Record<string, string | FakeRepoSpec>) {
    for (const [key, v] of Object.entries(repos)) {
      const m = /^(models|datasets)\/([^/]+\/[^/]+)$/.exec(key);
      if (!m) throw new Error(`fakeHub: repo key ${key} must be models/owner/name or datasets/owner/name`);
      const spec: FakeRepoSpec = typeof v === 'string' ? { dir: v } : v;
      const revisions = new Map<string, FakeRevision>();
      const dirs: Record<string, string> = { ...(spec.dir ? { main: spec.dir } : {}), ...spec.revisions };
      for (const [rev, dir] of Object.entries(dirs)) revisions.set(rev, loadRevision(key, rev, dir));
      this.repos.set(key, { type: m[1] === 'models' ? 'model' : 'dataset', name: m[2]!, spec, revisions });
    }
  }

  static async start(repos: Record<string, string | FakeRepoSpec>): Promise<FakeHub> {
    const hub = new FakeHub(repos);
    await hub.listen();
    return hub;
  }

  /** The commit sha a revision of a repo has (`key` like `models/owner/name`). */
  commit(key: string, rev = 'main'): string {
    const r = this.repos.get(key)?.revisions.get(rev);
    if (!r) throw new Error(`fakeHub: no ${key}@${rev}`);
    return r.sha;
  }

  /** The next `times` requests whose URL matches `match` fail (HTTP status, or a reset connection). */
  failNext(times: number, failure: Failure, match: RegExp = /./): void {
    this.failures.push({ match, failure, left: times });
  }

  /** Forget the request log. */
  clearLog(): void {
    this.requests.length = 0;
  }

  private async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(e));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private log(req: http.IncomingMessage, status: number): void {
    this.requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '',
      status,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.range ? { range: req.headers.range } : {}),
    });
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.log(req, status);
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private error(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string): void {
    this.send(req, res, status, { error: message }, { 'x-error-code': code, 'x-error-message': message });
  }

  /** Auth check for a repo; returns false (and answers) when refused. */
  private authorize(req: http.IncomingMessage, res: http.ServerResponse, repo: FakeRepo): boolean {
    const need = repo.spec.token;
    if (!need) return true;
    const got = req.headers.authorization;
    if (got === `Bearer ${need}`) return true;
    const kind = repo.type === 'model' ? 'model' : 'dataset';
    if (!got) {
      if (repo.spec.gated) this.error(req, res, 401, 'GatedRepo', `Access to ${kind} ${repo.name} is restricted. You must be authenticated to access it.`);
      else this.error(req, res, 401, 'RepoNotFound', 'Repository not found');
    } else {
      this.error(req, res, 403, repo.spec.gated ? 'GatedRepo' : 'Forbidden', `Access to ${kind} ${repo.name} is restricted and you are not in the authorized list.`);
    }
    return false;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    for (const f of this.failures) {
      if (f.left > 0 && f.match.test(u.pathname)) {
        f.left--;
        if ('reset' in f.failure) {
          this.log(req, 0);
          req.socket.destroy();
          return;
        }
        this.send(req, res, f.failure.status, 'injected failure');
        return;
      }
    }
    const parts = u.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    if (parts[0] === 'api' && (parts[1] === 'models' || parts[1] === 'datasets')) {
      return this.api(req, res, parts[1], parts.slice(2), u);
    }
    const typeKey = parts[0] === 'datasets' ? 'datasets' : 'models';
    const rest = parts[0] === 'datasets' ? parts.slice(1) : parts;
    // {owner}/{name}/{resolve|raw}/{rev}/{path...}; rev may be url-encoded with slashes
    if (rest.length >= 5 && (rest[2] === 'resolve' || rest[2] === 'raw')) {
      const repo = this.repos.get(`${typeKey}/${rest[0]}/${rest[1]}`);
      if (!repo) return this.error(req, res, 404, 'RepoNotFound', 'Repository not found');
      if (!this.authorize(req, res, repo)) return;
      const rev = this.findRevision(repo, rest[3]!);
      if (!rev) return this.error(req, res, 404, 'RevisionNotFound', `Invalid rev id: ${rest[3]}`);
      return this.resolve(req, res, rev, rest.slice(4).join('/'));
    }
    this.send(req, res, 404, 'not found');
  }

  private findRevision(repo: FakeRepo, rev: string): FakeRevision | undefined {
    const direct = repo.revisions.get(rev);
    if (direct) return direct;
    for (const r of repo.revisions.values()) if (r.sha === rev) return r;
    return undefined;
  }

  private async api(req: http.IncomingMessage, res: http.ServerResponse, typeKey: string, parts: string[], u: URL): Promise<void> {
    // parts: owner, name, op, rev, ...path
    if (parts.length < 4) return this.send(req, res, 404, 'not found');
    const repo = this.repos.get(`${typeKey}/${parts[0]}/${parts[1]}`);
    if (!repo) return this.error(req, res, 404, 'RepoNotFound', 'Repository not found');
    if (!this.authorize(req, res, repo)) return;
    const op = parts[2];
    const rev = this.findRevision(repo, parts[3]!);
    if (!rev) return this.error(req, res, 404, 'RevisionNotFound', `Invalid rev id: ${parts[3]}`);
    const lastCommit = { id: rev.sha, title: 'fixture', date: '2024-01-01T00:00:00.000Z' };
    const entry = (f: FakeFile, expand: boolean) => ({
      type: 'file', oid: f.oid, size: f.size, path: f.rel,
      ...(f.lfs ? { lfs: f.lfs } : {}),
      ...(expand ? { lastCommit, securityFileStatus: { status: 'safe' } } : {}),
    });
    const dirsOf = (files: Iterable<string>) => {
      const dirs = new Set<string>();
      for (const f of files) {
        const segs = f.split('/');
        for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
      }
      return dirs;
    };
    if (op === 'revision' && req.method === 'GET') {
      return this.send(req, res, 200, {
        id: `${parts[0]}/${parts[1]}`,
        sha: rev.sha,
        siblings: [...rev.files.keys()].map((rfilename) => ({ rfilename })),
      });
    }
    if (op === 'tree' && req.method === 'GET') {
      const base = parts.slice(4).join('/');
      const recursive = u.searchParams.get('recursive') === 'true';
      const expand = u.searchParams.get('expand') === 'true';
      const dirs = dirsOf(rev.files.keys());
      if (base && !dirs.has(base)) return this.error(req, res, 404, 'EntryNotFound', `${base} does not exist on "${parts[3]}"`);
      const prefix = base ? `${base}/` : '';
      const under = (p: string) => p.startsWith(prefix) && (recursive || !p.slice(prefix.length).includes('/'));
      const items: unknown[] = [];
      for (const d of [...dirs].sort()) if (under(d)) items.push({ type: 'directory', oid: gitBlobSha1(d), size: 0, path: d });
      for (const f of rev.files.values()) if (under(f.rel)) items.push(entry(f, expand));
      const page = Number(u.searchParams.get('cursor') ?? '0');
      if (this.pageSize > 0 && items.length > (page + 1) * this.pageSize) {
        const next = new URL(u.pathname + u.search, this.url);
        next.searchParams.set('cursor', String(page + 1));
        return this.send(req, res, 200, items.slice(page * this.pageSize, (page + 1) * this.pageSize), { link: `<${next.href}>; rel="next"` });
      }
      return this.send(req, res, 200, this.pageSize > 0 ? items.slice(page * this.pageSize) : items);
    }
    if (op === 'paths-info' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: { paths?: unknown; expand?: unknown };
      try {
        body = (req.headers['content-type'] ?? '').includes('json')
          ? JSON.parse(raw)
          : { paths: new URLSearchParams(raw).getAll('paths'), expand: new URLSearchParams(raw).get('expand') === 'true' };
      } catch {
        return this.send(req, res, 400, { error: 'bad body' });
      }
      const paths = Array.isArray(body.paths) ? (body.paths as string[]) : [];
      const dirs = dirsOf(rev.files.keys());
      const out: unknown[] = [];
      for (const p of paths) {
        const f = rev.files.get(p);
        if (f) out.push(entry(f, body.expand === true));
        else if (dirs.has(p)) out.push({ type: 'directory', oid: gitBlobSha1(p), size: 0, path: p });
      }
      return this.send(req, res, 200, out);
    }
    this.send(req, res, 404, 'not found');
  }

  private resolve(req: http.IncomingMessage, res: http.ServerResponse, rev: FakeRevision, rel: string): void {
    const f = rev.files.get(rel);
    if (!f) return this.error(req, res, 404, 'EntryNotFound', `Entry not found: ${rel}`);
    const etag = `"${f.lfs ? f.lfs.oid : f.oid}"`;
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      etag,
      'x-repo-commit': rev.sha,
      'accept-ranges': 'bytes',
      ...(f.lfs ? { 'x-linked-etag': etag, 'x-linked-size': String(f.size) } : {}),
    };
    let start = 0;
    let end = f.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range && f.size === 0) {
      // nothing to range over: answer the whole (empty) body, still telling the size
      headers['content-range'] = 'bytes */0';
    } else if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!m || (m[1] === '' && m[2] === '')) return this.send(req, res, 416, 'bad range', { 'content-range': `bytes */${f.size}` });
      if (m[1] === '') {
        start = Math.max(0, f.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        end = m[2] === '' ? f.size - 1 : Math.min(Number(m[2]), f.size - 1);
      }
      if (start >= f.size || start > end) return this.send(req, res, 416, 'bad range', { 'content-range': `bytes */${f.size}` });
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${f.size}`;
    }
    const body = f.size === 0 ? Buffer.alloc(0) : readFileSync(f.abs).subarray(start, end + 1);
    headers['content-length'] = String(body.length);
    this.log(req, status);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
