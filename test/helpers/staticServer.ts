/**
 * A loopback static file server for browser tests: GET/HEAD of files under mapped folders
 * (`/prefix/…` → a folder), everything else 404. It records every request (method, path, the
 * Authorization header) so a test can assert what the page asked for.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json',
  '.wasm': 'application/wasm', '.map': 'application/json', '.css': 'text/css', '.png': 'image/png',
};

export interface ServedRequest { readonly method: string; readonly path: string; readonly status: number; readonly authorization?: string }

export interface StaticServer {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly requests: readonly ServedRequest[];
  close(): Promise<void>;
}

/**
 * Serves `routes` (URL prefix like '/dist/' → folder) on 127.0.0.1 at a free port. `headers` go
 * on every file served (e.g. COOP/COEP, which make the page cross-origin isolated).
 */
export async function startStaticServer(routes: Readonly<Record<string, string>>, opts: { headers?: Readonly<Record<string, string>> } = {}): Promise<StaticServer> {
  const requests: ServedRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    const done = (status: number) => {
      requests.push({ method: req.method ?? '', path: p, status, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    };
    const prefix = Object.keys(routes).filter((r) => p.startsWith(r)).sort((a, b) => b.length - a.length)[0];
    const root = prefix === undefined ? undefined : path.resolve(routes[prefix]!);
    const file = root === undefined ? undefined : path.resolve(root, p.slice(prefix!.length));
    if (!file || !(file === root || file.startsWith(root + path.sep)) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      done(404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    done(200);
    const size = fs.statSync(file).size;
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-store', ...opts.headers });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
