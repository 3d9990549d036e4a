/**
 * The demo page (`npm run demo`) in headless Chromium, driven as a user would:
 * - part 1 on `?backend=webgl` and on `?backend=webgpu` (both SwiftShader here): Train, the three
 *   charts grow one point per SAE step, and the SAE recovers ≥ 9 of the 10 true features;
 * - part 2 (needs ../shared): the default text shows its tokens with their top latents, a click on
 *   a latent computes and shows its feature dashboard (every panel drawn).
 * Every page: no request beyond the demo server, no console error or warning (SwiftShader's
 * "GL Driver Message … Performance" notices excepted: they are the software GPU's, not the
 * page's), no uncaught exception. Screenshots go to test/.screenshots/ (gitignored).
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { startDemoServer, type DemoServer } from '../../examples/browser/server.js';
import { TOY_DEMO } from '../../examples/browser/page/toyDemoConfig.js';
import { WEBGPU_CHROMIUM_ARGS, browserSkipReason, withBrowser } from '../helpers/browser.js';
import { titled } from '../helpers/skip.js';
import { HAVE_TINY_GPT2 } from '../helpers/tinyGpt2.js';

const SHOTS = path.resolve('test/.screenshots');
const noBrowser = await browserSkipReason();

/**
 * Notices that are not the page's: the GL driver's on readPixels (SwiftShader). The page reads
 * everything asynchronously, so tfjs-webgpu's advice against synchronous reads is a problem here.
 */
const isDriverNotice = (text: string) => /GL Driver Message \(OpenGL, Performance/.test(text);

async function openDemo(t: ExecutionContext, browser: Browser, server: DemoServer, query: string): Promise<{ page: Page; problems: string[]; foreign: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !isDriverNotice(m.text())) problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url)) foreign.push(r.url());
  });
  await page.goto(`${server.url}${query}`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset['state'] !== 'loading', null, { timeout: 60_000 });
  t.is(await page.evaluate(() => document.body.dataset['state']), 'ready', `the page started: ${await page.textContent('#fatal')}`);
  return { page, problems, foreign };
}

async function withDemo(t: ExecutionContext, f: (browser: Browser, server: DemoServer) => Promise<void>, args?: readonly string[]): Promise<void> {
  const server = await startDemoServer({ port: 0 });
  try {
    await withBrowser(t, (browser) => f(browser, server), args);
  } finally {
    await server.close();
  }
}

/**
 * The sizes each backend's test runs (the page's `?toySteps=&saeSteps=`): webgl the demo's own;
 * webgpu a shorter run, since SwiftShader's WebGPU computes ~3× slower than its WebGL here (50 toy
 * model steps and 30 SAE steps also recover 10/10 by SAE step 20 in Node).
 */
const SIZES = { webgl: { toySteps: TOY_DEMO.toySteps, saeSteps: TOY_DEMO.saeSteps }, webgpu: { toySteps: 50, saeSteps: 30 } } as const;
for (const backend of ['webgl', 'webgpu'] as const) {
  const skip = noBrowser;
  const { toySteps, saeSteps } = SIZES[backend];
  (skip ? test.skip : test.serial)(titled(`demo part 1 on ${backend}: the toy SAE trains live and recovers >= 9/10 features`, skip), async (t) => {
    await withDemo(t, async (browser, server) => {
      const { page, problems, foreign } = await openDemo(t, browser, server, `?backend=${backend}&parts=toy&toySteps=${toySteps}&saeSteps=${saeSteps}`);
      t.is(await page.textContent('#backend'), backend, 'the page says which backend runs');
      const t0 = Date.now();
      // dispatched, not page.click: a click waits for the page to settle, and training keeps it busy
      await page.locator('#toy-start').dispatchEvent('click');
      await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset['toy'] ?? ''), null, { timeout: 240_000 });
      const seconds = (Date.now() - t0) / 1000;
      const status = await page.textContent('#toy-status');
      t.is(await page.evaluate(() => document.body.dataset['toy']), 'done', `status: ${status}`);
      const recovered = Number(await page.getAttribute('#toy-recovered', 'data-recovered'));
      t.log(`${backend}: ${await page.textContent('#toy-recovered')} (9/10 first at step ${await page.evaluate(() => document.body.dataset['toyNineAt'])}) in ${seconds.toFixed(1)} s; ${status}`);
      t.true(recovered >= 9, `recovered ${recovered}/10`);
      t.is(await page.locator('#toy-recovery .rec').count(), TOY_DEMO.nFeatures, 'one bar per true feature');
      t.is(await page.locator('#toy-recovery .rec.ok').count(), recovered, 'the recovered ones are marked');
      for (const id of ['chart-loss', 'chart-l0', 'chart-dead']) {
        t.is(await page.getAttribute(`#${id}`, 'data-points'), String(saeSteps), `${id}: one point per SAE step`);
        t.true((await page.locator(`#${id} svg path.line`).count()) >= 1, `${id} draws a line`);
      }
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, `demo-toy-${backend}.png`), fullPage: true });
      t.deepEqual(foreign, [], 'no request beyond the demo server');
      t.deepEqual(problems, [], 'no console error or warning');
      await page.close();
    }, backend === 'webgpu' ? WEBGPU_CHROMIUM_ARGS : undefined);
  });
}

const partTwoSkip = noBrowser ?? (HAVE_TINY_GPT2 ? undefined : '../shared/models/tiny-gpt2-sotu is absent');
(partTwoSkip ? test.skip : test.serial)(titled('demo part 2: typed text shows each token\'s top latents; a click shows the feature dashboard', partTwoSkip), async (t) => {
  await withDemo(t, async (browser, server) => {
    const { page, problems, foreign } = await openDemo(t, browser, server, '?backend=webgl');
    await page.waitForFunction(() => !['loading', 'computing', undefined].includes(document.body.dataset['lm']), null, { timeout: 180_000 });
    t.is(await page.evaluate(() => document.body.dataset['lm']), 'tokens', `${await page.textContent('#lm-message')} ${await page.textContent('#lm-status')}`);
    // the user's own text
    await page.fill('#lm-text', 'The economy of the United States');
    await page.locator('#lm-run').dispatchEvent('click');
    await page.waitForFunction(() => document.body.dataset['lm'] !== 'computing' && document.querySelector('#lm-tokens .tok .text')?.textContent === 'The', null, { timeout: 120_000 });
    const tokens = await page.$$eval('#lm-tokens .tok', (els) => els.map((e) => ({ text: e.querySelector('.text')!.textContent, feats: e.querySelectorAll('.feat').length })));
    t.deepEqual(tokens.map((x) => x.text), ['The', ' economy', ' of', ' the', ' United', ' States'], 'one box per token of the text');
    for (const x of tokens) t.true(x.feats >= 1 && x.feats <= 3, `'${x.text}': ${x.feats} latents`);
    const feature = Number(await page.locator('#lm-tokens .tok:nth-child(2) .feat').first().getAttribute('data-feature'));
    await page.locator('#lm-tokens .tok:nth-child(2) .feat').first().dispatchEvent('click');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset['dashboard'] ?? ''), null, { timeout: 240_000 });
    t.is(await page.evaluate(() => document.body.dataset['dashboard']), 'done', `${await page.textContent('#lm-dashboard-status')}`);
    t.log(`feature ${feature}: ${await page.textContent('#lm-dashboard-status')}`);
    const frame = page.frameLocator('#lm-dashboard-frame');
    t.is(await frame.locator('section.feature:not([hidden])').getAttribute('data-feature'), String(feature), 'the clicked feature\'s dashboard');
    t.deepEqual(
      await frame.locator('section.feature:not([hidden]) .panel').evaluateAll((els) => els.map((e) => e.getAttribute('data-panel'))),
      ['activation-density', 'logit-tables', 'logit-histogram', 'neighbours', 'top-examples', 'quantile-examples'],
    );
    t.is(await frame.locator('.logit-tables tbody tr').count(), 20, 'ten raised and ten lowered tokens');
    t.true((await frame.locator('[data-panel="top-examples"] .seq').count()) >= 1, 'top activating examples from the corpus');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'demo-lm.png'), fullPage: true });
    t.deepEqual(foreign, [], 'no request beyond the demo server');
    t.deepEqual(problems, [], 'no console error or warning');
    await page.close();
  });
});
