/**
 * `npm run bench -- --browser [--quick] [--backend NAME[,NAME]] [--filter SUBSTR]`: tokens/s of
 * the SAE training step and of the tiny GPT-2 forward in headless Chromium, on each browser
 * backend (webgpu › webgl › wasm › cpu; webgpu with test/helpers/browser.ts's
 * WEBGPU_CHROMIUM_ARGS). The page (bench/browserPage.ts) is bundled with sae-rx's browser build
 * (scripts/buildBrowser.mjs, the wasm binaries beside it) and served from a loopback server with
 * the model folder; a request anywhere else is an error. One fresh browser per backend.
 *
 * Sizes (small: Debian's Chromium runs webgl and webgpu on SwiftShader, in software):
 *   SAE step      (d_in 64, d_sae 512, batch 256), 2 warm-up + 5 timed steps, once with
 *                 step() (`sync`: metrics read with dataSync) and once with stepAsync()
 *                 (`async`: with data()) (--quick: (32, 128, batch 64), 1 + 2)
 *   tiny GPT-2    1 × 64 tokens, `activations` (runWithCache to blocks.1.hook_resid_pre) and
 *                 `logits` (full forward), 1 warm-up + 3 timed passes (--quick: 1 × 16, 1 + 2)
 * About 5 minutes in all on a shared 2-core machine (software webgpu dominates: its logits pass, an
 * unembedding to 50257 tokens, takes ~24 s).
 * Each line carries the load average (1, 5, 15 min) before and after it: the machine may be shared.
 *
 * Run alone: `npx tsx bench/browser.ts [--quick] [--backend webgl]`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
// @ts-expect-error -- a plain ESM script without types
import { buildBrowser } from '../scripts/buildBrowser.mjs';
import { CHROMIUM_ARGS, WEBGPU_CHROMIUM_ARGS, findChromium } from '../test/helpers/browser.js';
import { startStaticServer } from '../test/helpers/staticServer.js';
import { loadavg, median } from './stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const TINY = path.resolve(ROOT, '../shared/models/tiny-gpt2-sotu');
const TINY_HOOK = 'blocks.1.hook_resid_pre';

const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** The browser backends in sae-rx's order of preference there. */
export const BROWSER_BENCH_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BrowserBenchBackend = (typeof BROWSER_BENCH_BACKENDS)[number];

export const BROWSER_SIZES = {
  full: { sae: { dIn: 64, dSae: 512, batch: 256, warmup: 2, steps: 5 }, forward: { batch: 1, pos: 64, warmup: 1, iters: 3 } },
  quick: { sae: { dIn: 32, dSae: 128, batch: 64, warmup: 1, steps: 2 }, forward: { batch: 1, pos: 16, warmup: 1, iters: 2 } },
} as const;

export interface BrowserBenchOptions {
  quick?: boolean;
  /** Only these backends (default all four). */
  backends?: readonly string[];
  /** Only the cases whose name contains it (`browserTrainStep/webgl`, `logits`, …). */
  filter?: string;
  emit: (line: object) => void;
  log?: (line: string) => void;
}

/** The Chromium flags each backend runs under: webgpu needs SwiftShader's Vulkan (see WEBGPU_CHROMIUM_ARGS). */
const argsFor = (b: string): readonly string[] => (b === 'webgpu' ? WEBGPU_CHROMIUM_ARGS : CHROMIUM_ARGS);

/** Parses `--backend a,b` values; an unknown name is an error naming the known ones. */
export function parseBrowserBackends(values: readonly string[]): BrowserBenchBackend[] {
  const out = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  for (const b of out) {
    if (!(BROWSER_BENCH_BACKENDS as readonly string[]).includes(b)) throw new Error(`bench --browser: --backend '${b}' is not one of ${BROWSER_BENCH_BACKENDS.join(', ')}`);
  }
  return out as BrowserBenchBackend[];
}

export async function benchBrowser(opts: BrowserBenchOptions): Promise<void> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const sizes = opts.quick ? BROWSER_SIZES.quick : BROWSER_SIZES.full;
  const backends = opts.backends?.length ? parseBrowserBackends(opts.backends) : [...BROWSER_BENCH_BACKENDS];
  const executablePath = findChromium();
  if (!executablePath) {
    opts.emit({ bench: 'browser', skipped: 'no Chromium found (set CHROMIUM_PATH or install Debian\'s `chromium`)' });
    return;
  }
  const { chromium } = await import('playwright-core');
  const haveModel = fs.existsSync(path.join(TINY, 'model.safetensors'));
  const wants = (name: string) => opts.filter === undefined || name.includes(opts.filter);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-bench-page-'));
  try {
    const t0 = Date.now();
    const built = await buildBrowser({ entry: path.relative(ROOT, path.join(HERE, 'browserPage.ts')), outdir: dir, minify: true });
    if (built.nodeLeaks.length) throw new Error(`bench page bundle reaches Node: ${JSON.stringify(built.nodeLeaks)}`);
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>sae-rx bench</title><script type="module" src="sae-rx.js"></script>');
    log(`bench --browser: page bundled in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(built.bytes / 1024).toFixed(0)} KiB)`);
    // Cross-origin isolated (COOP + COEP), so the wasm backend may run its multi-threaded binary.
    const server = await startStaticServer({ '/': dir, ...(haveModel ? { '/model/': TINY } : {}) }, { headers: ISOLATED });
    let infoPrinted = false;
    try {
      for (const backend of backends) {
        const browser: Browser = await chromium.launch({ executablePath, args: [...argsFor(backend)], timeout: 60_000 });
        try {
          if (!infoPrinted) {
            opts.emit({
              bench: 'info', mode: 'browser', chromium: browser.version(), executable: executablePath, quick: Boolean(opts.quick),
              backends, sizes, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: loadavg(),
              ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
            });
            infoPrinted = true;
          }
          await benchOneBackend(browser, server.origin, backend, sizes, haveModel, wants, opts.emit, log);
        } finally {
          await browser.close().catch(() => {});
        }
      }
    } finally {
      await server.close();
    }
    const unanswered = server.requests.filter((q) => q.status === 404);
    if (unanswered.length) log(`bench --browser: requests the server could not answer: ${unanswered.map((q) => q.path).join(', ')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function benchOneBackend(
  browser: Browser, origin: string, backend: BrowserBenchBackend, sizes: (typeof BROWSER_SIZES)['full' | 'quick'],
  haveModel: boolean, wants: (name: string) => boolean, emit: (line: object) => void, log: (l: string) => void,
): Promise<void> {
  const saeNames = (['sync', 'async'] as const).map((r) => [r, `browserTrainStep/${backend}/${r}/${sizes.sae.dIn}x${sizes.sae.dSae}x${sizes.sae.batch}`] as const);
  const fwdNames = (['activations', 'logits'] as const).map((v) => [v, `browserModelForward/${backend}/tiny/${v}`] as const);
  if (![...saeNames, ...fwdNames].some(([, n]) => wants(n))) return;

  const page: Page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    // blob: URLs of the page's own origin are the wasm backend's thread workers
    if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith(`blob:${origin}/`)) problems.push(`request beyond the loopback server: ${r.url()}`);
  });
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => 'saeRxBench' in globalThis, undefined, { timeout: 120_000 });
  const chosen = await page.evaluate((b) => (globalThis as any).saeRxBench.backend(b), backend);
  if (chosen.backend !== backend) {
    emit({ bench: 'browser', backend, skipped: `backend did not start: ${chosen.error ?? chosen.backend}`, loadavg: loadavg() });
    return;
  }
  // the order sae-rx's selectBackend() tries in this page (its browser platform's)
  const extra = { preference: chosen.preference, ...(chosen.wasm ? { wasm: chosen.wasm } : {}) };
  const check = (what: string) => {
    if (problems.length) throw new Error(`bench --browser ${backend} ${what}: ${problems.join('; ')}`);
  };

  for (const [read, saeName] of saeNames) {
    if (!wants(saeName)) continue;
    const load0 = loadavg();
    log(`${saeName}: ${sizes.sae.warmup} warm-up + ${sizes.sae.steps} steps…`);
    const r = await page.evaluate((o) => (globalThis as any).saeRxBench.trainStep(o), { ...sizes.sae, read });
    check(saeName);
    const ms = median(r.ms);
    emit({
      bench: 'browserTrainStep', name: saeName, backend, ...extra, read, dIn: sizes.sae.dIn, dSae: sizes.sae.dSae, batch: sizes.sae.batch,
      warmup: sizes.sae.warmup, steps: r.ms.length, msPerStep: +ms.toFixed(1), msPerStepAll: r.ms.map((t: number) => +t.toFixed(1)),
      tokensPerSec: Math.round((sizes.sae.batch * 1000) / ms), mse: r.mse, leakedTensors: r.leaked, loadavg: [load0, loadavg()],
    });
  }
  for (const [variant, name] of fwdNames) {
    if (!wants(name)) continue;
    if (!haveModel) {
      emit({ bench: 'browserModelForward', name, backend, skipped: `${TINY} is absent` });
      continue;
    }
    const load0 = loadavg();
    log(`${name}: ${sizes.forward.warmup} warm-up + ${sizes.forward.iters} passes…`);
    const f = sizes.forward;
    const r = await page.evaluate((o) => (globalThis as any).saeRxBench.forward(o), { modelUrl: '/model/', variant, hook: TINY_HOOK, ...f });
    check(name);
    const ms = median(r.ms);
    emit({
      bench: 'browserModelForward', name, backend, ...extra, model: 'tiny-gpt2-sotu', variant, ...(variant === 'activations' ? { hook: TINY_HOOK } : {}),
      batch: f.batch, pos: f.pos, warmup: f.warmup, iters: r.ms.length, msPerForward: +ms.toFixed(1),
      msPerForwardAll: r.ms.map((t: number) => +t.toFixed(1)), tokensPerSec: Math.round((f.batch * f.pos * 1000) / ms),
      modelLoadMs: Math.round(r.loadMs), leakedTensors: r.leaked, loadavg: [load0, loadavg()],
    });
  }
  await page.close();
}

// Run alone: print JSON lines.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const backends = argv.flatMap((a, i) => (a === '--backend' ? [argv[i + 1] ?? ''] : []));
  benchBrowser({ quick: argv.includes('--quick'), backends, emit: (l) => console.log(JSON.stringify(l)) }).catch((e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
