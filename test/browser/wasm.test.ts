/**
 * tfjs's `wasm` backend in a page (headless Chromium): it needs its .wasm binaries, which the
 * browser build copies beside the bundle and sae-rx points tfjs at (src/platform/wasmBinaries.ts).
 * The page here sits in a different folder than its bundle (/index.html loads /dist/sae-rx.js),
 * so tfjs's own default (beside the page) would 404: the backend must start from /dist/ and then
 * replay the SaeTrainer golden trajectory of test/fixtures/sae/train.json within CPU-float32
 * tolerances. The demo page offers `?backend=wasm` too (served by its own server).
 */
import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
// @ts-expect-error -- a plain ESM script without types
import { buildBrowser } from '../../scripts/buildBrowser.mjs';
import { startDemoServer } from '../../examples/browser/server.js';
import { WEBGPU_CHROMIUM_ARGS, browserSkipReason, watchPage, withBrowser } from '../helpers/browser.js';
import { startStaticServer, type StaticServer } from '../helpers/staticServer.js';
import { fileTempDir } from '../helpers/tempDir.js';

/** wasm computes in CPU float32, like the Node tests of the same trajectory (test/sae/train.test.ts). */
const TOL = { loss: 1e-4, l0: 1 / 32 + 1e-9, evMean: 1e-4, params: 1e-4 };

const skip = await browserSkipReason();
const declare = skip ? test.skip : test.serial;
if (skip) console.log(`skipping the wasm page tests: ${skip}`);

const pageDir = skip ? undefined : fileTempDir(test.after.always, 'sae-rx-wasm-page-');
test.before(async () => {
  if (!pageDir) return;
  const built = await buildBrowser({ entry: 'test/browser/page/checks.ts', outdir: path.join(pageDir, 'dist'), minify: false });
  if (built.nodeLeaks.length) throw new Error(`page bundle reaches Node: ${JSON.stringify(built.nodeLeaks)}`);
  fs.writeFileSync(path.join(pageDir, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>sae-rx wasm</title><script type="module" src="dist/sae-rx.js"></script>');
});

/** Collects console errors, page errors and requests off the server while `f` runs on a fresh page. */
async function watched(t: ExecutionContext, origin: string, f: (page: Page) => Promise<void>): Promise<void> {
  await withBrowser(t, async (browser) => {
    const page = await browser.newPage();
    const { errors, offsite } = watchPage(page, origin);
    await f(page);
    t.deepEqual(offsite, [], 'requests beyond the loopback server');
    t.deepEqual(errors, [], 'console errors');
  });
}

declare('wasm in a page: the binaries load from beside the bundle, and the SaeTrainer golden trajectory matches PyTorch', async (t) => {
  const server: StaticServer = await startStaticServer({ '/': pageDir!, '/fixtures/': path.resolve('test/fixtures') });
  try {
    await watched(t, server.origin, async (page) => {
      await page.goto(`${server.origin}/index.html`);
      await page.waitForFunction(() => 'saeRxChecks' in globalThis, undefined, { timeout: 60_000 });
      const chosen = await page.evaluate(() => (globalThis as any).saeRxChecks.backend('wasm'));
      t.is(chosen.backend, 'wasm', `wasm did not start: ${JSON.stringify(chosen.skipped)}`);
      const wasmReqs = server.requests.filter((q) => q.path.endsWith('.wasm'));
      t.true(wasmReqs.length >= 1, 'the page fetched a wasm binary');
      t.deepEqual(wasmReqs.filter((q) => !(q.path.startsWith('/dist/tfjs-backend-wasm') && q.status === 200)), [], 'every binary from beside the bundle');
      const r = await page.evaluate(() => (globalThis as any).saeRxChecks.golden(200));
      t.log(`wasm golden ${r.steps} steps in ${(r.ms / 1000).toFixed(1)} s: ${JSON.stringify(r.worst)}`);
      t.is(r.steps, 200);
      t.true(r.snapshotsChecked >= 1);
      t.true(r.worst.mse <= TOL.loss && r.worst.l1 <= TOL.loss && r.worst.total <= TOL.loss, JSON.stringify(r.worst));
      t.true(r.worst.l0 <= TOL.l0, `l0 off by ${r.worst.l0}`);
      t.true(r.worst.evMean <= TOL.evMean, `ev mean off by ${r.worst.evMean}`);
      t.true(r.worst.params <= TOL.params, `weights off by ${r.worst.params} of their max`);
      t.is(r.worst.deadMismatches, 0);
      t.is(r.leaked, 0, 'tensors left in the page');
      t.deepEqual(server.requests.filter((q) => q.status !== 200).map((q) => `${q.status} ${q.path}`), [], 'every request answered');
    });
  } finally {
    await server.close();
  }
});

declare('the demo page starts on ?backend=wasm (its server serves the binaries); unasked, it takes wasm when webgpu has no adapter and webgl is software', async (t) => {
  const server = await startDemoServer({ port: 0 });
  try {
    await watched(t, server.url.replace(/\/$/, ''), async (page) => {
      // CHROMIUM_ARGS (--disable-gpu, no --enable-unsafe-webgpu): no WebGPU adapter, and webgl is
      // SwiftShader, which selectBackend tries after wasm
      await page.goto(`${server.url}?parts=toy`);
      await page.waitForFunction(() => document.body.dataset['state'] !== 'loading', null, { timeout: 60_000 });
      t.is(await page.textContent('#backend'), 'wasm');
      t.regex(String(await page.getAttribute('#backend', 'title')), /^skipped webgl: software renderer \(.*SwiftShader.*\); wasm is faster without a GPU .*webgpu: /);
      await page.goto(`${server.url}?backend=wasm&parts=toy`);
      await page.waitForFunction(() => document.body.dataset['state'] !== 'loading', null, { timeout: 60_000 });
      t.is(await page.evaluate(() => document.body.dataset['state']), 'ready', `the page started: ${await page.textContent('#fatal')}`);
      t.is(await page.textContent('#backend'), 'wasm');
      t.true(server.requests.some((p) => /^\/tfjs-backend-wasm.*\.wasm$/.test(p)), 'a binary came from the demo server');
    });
  } finally {
    await server.close();
  }
});

declare('unasked, selectBackend takes wasm over software webgpu and webgl (SwiftShader), and still gives either when asked', async (t) => {
  const server: StaticServer = await startStaticServer({ '/': pageDir!, '/fixtures/': path.resolve('test/fixtures') });
  try {
    for (const [ask, want] of [[undefined, 'wasm'], ['webgpu', 'webgpu'], ['webgl', 'webgl']] as const) {
      // a fresh browser each time: the choice is made once per page, and WebGPU needs its flags
      await withBrowser(t, async (browser) => {
        const page = await browser.newPage();
        await page.goto(`${server.origin}/index.html`);
        await page.waitForFunction(() => 'saeRxChecks' in globalThis, undefined, { timeout: 60_000 });
        const chosen = (await page.evaluate((name) => (globalThis as any).saeRxChecks.backend(name), ask ?? null)) as { backend: string; skipped: string[] };
        t.is(chosen.backend, want, `asked ${ask ?? 'nothing'}: ${JSON.stringify(chosen.skipped)}`);
        if (ask === undefined) {
          t.regex(chosen.skipped.join('\n'), /^webgpu: software adapter \(.*swiftshader.*\); wasm is faster without a GPU/im);
          t.regex(chosen.skipped.join('\n'), /^webgl: software renderer \(.*SwiftShader.*\); wasm is faster without a GPU/m);
        }
      }, WEBGPU_CHROMIUM_ARGS);
    }
  } finally {
    await server.close();
  }
});
