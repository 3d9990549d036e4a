/**
 * A loopback W&B server for tests (127.0.0.1, a free port). It speaks the two endpoints the
 * wandb sink uses (GraphQL UpsertBucket, file_stream), checks the shape of every request and its
 * basic auth, records runs (config, history lines by offset, summary, completion, heartbeats),
 * and can simulate an outage (503s or dropped connections) for some time. Problems with a
 * request are answered with 400/401/404 and collected in `problems`, so a test can assert
 * there were none.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRun {
  entity: string;
  project: string;
  id: string;
  displayName: string | null;
  config: Record<string, { value: unknown; desc: unknown }> | null;
  /** History lines, by line number (offset). */
  history: string[];
  summary: Record<string, unknown> | null;
  complete: boolean;
  exitcode: number | null;
  heartbeats: number;
  fileStreamRequests: number;
}

export interface FakeWandbOptions {
  readonly apiKey: string;
  /** The default entity of the key (what W&B answers when the client names none). */
  readonly entity?: string;
  /** Clock for outage windows (tests share a virtual clock with the sink). */
  readonly now?: () => number;
}

export interface FakeWandb {
  readonly url: string;
  readonly runs: Map<string, FakeRun>;
  readonly problems: string[];
  /** Every request: path and parsed body (auth header left out). */
  readonly requests: Array<{ path: string; body: unknown; status: number }>;
  /** Requests refused by an outage. */
  outageRefusals: number;
  /** Refuse everything for `ms` (by the `now` clock): answer 503, or drop the connection. */
  outage(ms: number, mode?: '503' | 'drop'): void;
  endOutage(): void;
  close(): Promise<void>;
}

const isObj = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

export async function startFakeWandb(opts: FakeWandbOptions): Promise<FakeWandb> {
  const now = opts.now ?? Date.now;
  const expectedAuth = `Basic ${Buffer.from(`api:${opts.apiKey}`).toString('base64')}`;
  const runs = new Map<string, FakeRun>();
  const problems: string[] = [];
  const requests: FakeWandb['requests'] = [];
  let outageUntil = -Infinity;
  let outageMode: '503' | 'drop' = '503';

  const reply = (res: ServerResponse, path: string, body: unknown, status: number, answer: unknown) => {
    requests.push({ path, body, status });
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(answer));
  };
  const bad = (res: ServerResponse, path: string, body: unknown, status: number, problem: string) => {
    problems.push(`${path}: ${problem}`);
    reply(res, path, body, status, { error: problem });
  };

  const handleGraphql = (res: ServerResponse, path: string, body: Record<string, unknown>) => {
    const q = body.query;
    const v = body.variables;
    if (typeof q !== 'string' || !/mutation UpsertBucket\(/.test(q) || !/upsertBucket\(input:/.test(q)) {
      return bad(res, path, body, 400, 'expected the UpsertBucket mutation');
    }
    if (!isObj(v)) return bad(res, path, body, 400, 'variables must be an object');
    if (typeof v.name !== 'string' || v.name === '') return bad(res, path, body, 400, 'variables.name (run id) must be a string');
    if (typeof v.project !== 'string' || v.project === '') return bad(res, path, body, 400, 'variables.project must be a string');
    if (v.entity !== null && v.entity !== undefined && typeof v.entity !== 'string') return bad(res, path, body, 400, 'variables.entity must be a string or null');
    let config: FakeRun['config'] = null;
    if (v.config !== null && v.config !== undefined) {
      if (typeof v.config !== 'string') return bad(res, path, body, 400, 'variables.config must be a JSON string');
      const parsed = JSON.parse(v.config) as unknown;
      if (!isObj(parsed) || !Object.values(parsed).every((x) => isObj(x) && 'value' in x && 'desc' in x)) {
        return bad(res, path, body, 400, 'config must be {key: {value, desc}}');
      }
      config = parsed as FakeRun['config'];
    }
    const entity = (v.entity as string | null | undefined) ?? opts.entity ?? 'default-entity';
    const key = `${entity}/${v.project}/${v.name}`;
    let run = runs.get(key);
    const inserted = !run;
    if (!run) {
      run = {
        entity, project: v.project, id: v.name, displayName: null, config: null, history: [], summary: null,
        complete: false, exitcode: null, heartbeats: 0, fileStreamRequests: 0,
      };
      runs.set(key, run);
    }
    if (typeof v.displayName === 'string') run.displayName = v.displayName;
    if (config) run.config = config;
    reply(res, path, body, 200, {
      data: {
        upsertBucket: {
          bucket: {
            id: `b-${run.id}`, name: run.id, displayName: run.displayName, description: null,
            config: JSON.stringify(run.config), sweepName: null,
            project: { id: `p-${run.project}`, name: run.project, entity: { id: `e-${entity}`, name: entity } },
            historyLineCount: run.history.length,
          },
          inserted,
        },
      },
    });
  };

  const handleFileStream = (res: ServerResponse, path: string, body: Record<string, unknown>, key: string) => {
    const run = runs.get(key);
    if (!run) return bad(res, path, body, 404, `no run ${key} (upsertBucket first)`);
    if (run.complete) return bad(res, path, body, 400, 'request after complete');
    run.fileStreamRequests++;
    const extra = Object.keys(body).filter((k) => !['files', 'complete', 'exitcode', 'uploaded', 'preempting'].includes(k));
    if (extra.length > 0) return bad(res, path, body, 400, `unknown keys ${extra.join(', ')}`);
    if (Object.keys(body).length === 0) {
      run.heartbeats++;
      return reply(res, path, body, 200, { exitcode: null, limits: {} });
    }
    if (body.files !== undefined) {
      if (!isObj(body.files)) return bad(res, path, body, 400, 'files must be an object');
      for (const [name, chunk] of Object.entries(body.files)) {
        if (name !== 'wandb-history.jsonl' && name !== 'wandb-summary.json') return bad(res, path, body, 400, `unexpected file ${name}`);
        if (!isObj(chunk) || !Number.isSafeInteger(chunk.offset) || (chunk.offset as number) < 0 || !Array.isArray(chunk.content) || !chunk.content.every((l) => typeof l === 'string')) {
          return bad(res, path, body, 400, `${name}: expected {offset: int >= 0, content: string[]}`);
        }
        const lines = chunk.content as string[];
        const offset = chunk.offset as number;
        for (const line of lines) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            return bad(res, path, body, 400, `${name}: a line is not JSON`);
          }
          if (!isObj(parsed)) return bad(res, path, body, 400, `${name}: a line is not a JSON object`);
          if (name === 'wandb-history.jsonl' && typeof parsed._step !== 'number') return bad(res, path, body, 400, 'history line without _step');
        }
        if (name === 'wandb-history.jsonl') {
          // Offsets must continue the file (a resend may overwrite, never leave a gap).
          if (offset > run.history.length) return bad(res, path, body, 400, `history offset ${offset} leaves a gap after ${run.history.length} lines`);
          run.history.splice(offset, lines.length, ...lines);
        } else {
          if (offset !== 0 || lines.length !== 1) return bad(res, path, body, 400, 'summary must be offset 0 with one line');
          run.summary = JSON.parse(lines[0]!) as Record<string, unknown>;
        }
      }
    }
    if (body.complete !== undefined) {
      if (body.complete !== true || !Number.isSafeInteger(body.exitcode)) return bad(res, path, body, 400, 'complete must be true with an integer exitcode');
      run.complete = true;
      run.exitcode = body.exitcode as number;
    }
    reply(res, path, body, 200, { exitcode: null, limits: {} });
  };

  const fake: FakeWandb = {
    url: '',
    runs,
    problems,
    requests,
    outageRefusals: 0,
    outage(ms, mode = '503') {
      outageUntil = now() + ms;
      outageMode = mode;
    },
    endOutage() {
      outageUntil = -Infinity;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (now() < outageUntil) {
        fake.outageRefusals++;
        if (outageMode === 'drop') {
          req.socket.destroy();
          return;
        }
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        res.end('service unavailable');
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return bad(res, path, null, 400, 'body is not JSON');
      }
      if (req.method !== 'POST') return bad(res, path, body, 405, `method ${req.method}`);
      if (req.headers['content-type'] !== 'application/json') return bad(res, path, body, 400, 'content-type must be application/json');
      if (req.headers.authorization !== expectedAuth) {
        // Echo what was sent, as a careless server might: the client must scrub it.
        problems.push(`${path}: bad auth`);
        return reply(res, path, body, 401, { error: `bad credentials: ${req.headers.authorization ?? 'none'}` });
      }
      if (!isObj(body)) return bad(res, path, body, 400, 'body must be an object');
      if (path === '/graphql') return handleGraphql(res, path, body);
      const m = /^\/files\/([^/]+)\/([^/]+)\/([^/]+)\/file_stream$/.exec(path);
      if (m) return handleFileStream(res, path, body, m.slice(1, 4).map(decodeURIComponent).join('/'));
      return bad(res, path, body, 404, 'unknown endpoint');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  (fake as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/**
 * A virtual clock: timers fire in deadline order, each as soon as the event loop is free,
 * advancing `now` to its deadline. A 30 s backoff schedule passes in milliseconds of real time.
 */
export function virtualClock(start = 1_700_000_000_000) {
  let t = start;
  const timers = new Set<{ deadline: number; fn: () => void }>();
  const fireNext = () => {
    let next: { deadline: number; fn: () => void } | undefined;
    for (const x of timers) if (!next || x.deadline < next.deadline) next = x;
    if (!next) return;
    timers.delete(next);
    t = Math.max(t, next.deadline);
    next.fn();
  };
  return {
    now: () => t,
    setTimeout(fn: () => void, ms: number): unknown {
      const timer = { deadline: t + ms, fn };
      timers.add(timer);
      setImmediate(fireNext);
      return timer;
    },
    clearTimeout(h: unknown) {
      timers.delete(h as { deadline: number; fn: () => void });
    },
  };
}
