/**
 * Feature dashboards in headless Chromium: every panel of every feature draws, the picker
 * switches features, no network, no console error, token text is escaped (an `<img onerror>`
 * token shows as text and runs nothing). The screenshot goes to a temp folder removed after
 * the test (set SAE_RX_KEEP_SCREENSHOTS=DIR to keep a copy).
 */
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { renderDashboards } from '../../src/sinks/dashboard/renderDashboards.js';
import { INJECTION_TOKEN, syntheticDashboards } from '../fixtures/dashboard/synthetic.js';
import { browserSkipReason, withBrowser } from '../helpers/browser.js';
import { titled } from '../helpers/skip.js';
import { setupTf } from '../helpers/tf.js';

const PANELS = ['activation-density', 'logit-tables', 'logit-histogram', 'neighbours', 'top-examples', 'quantile-examples'];

const noBrowser = await browserSkipReason();
(noBrowser ? test.skip : test)(titled('dashboards render in Chromium: every panel draws, picker works, escaped tokens, no errors', noBrowser), async (t) => {
  await setupTf();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-dash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = syntheticDashboards({ F: 4 });
  const file = path.join(dir, 'dashboards.html');
  await fsp.writeFile(file, renderDashboards(data, { generatedAt: new Date('2026-01-01T00:00:00Z') }));

  await withBrowser(t, async (browser) => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const visible = () => page.$$eval('section.feature', (s) => s.filter((x) => !(x as HTMLElement).hidden).map((x) => x.getAttribute('data-feature')));
    t.deepEqual(await visible(), [String(data.features[0]!.feature)], 'the first feature shows first, alone');

    for (const f of data.features) {
      await page.selectOption('#feature-picker', String(f.feature));
      await page.waitForFunction((id) => location.hash === `#f${id}`, f.feature);
      t.deepEqual(await visible(), [String(f.feature)], `picker shows feature ${f.feature}`);
      const panels = await page.$$eval(`section#f${f.feature} .panel`, (els) =>
        els.map((el) => {
          const r = el.getBoundingClientRect();
          return {
            name: el.getAttribute('data-panel'),
            w: r.width,
            h: r.height,
            bars: Array.from(el.querySelectorAll('rect.bar')).filter((b) => (b as SVGRectElement).getBBox().height > 0).length,
            rows: el.querySelectorAll('tbody tr').length,
            seqs: el.querySelectorAll('.seq').length,
            highlighted: Array.from(el.querySelectorAll('.seq .t')).filter((s) => getComputedStyle(s).backgroundColor !== 'rgba(0, 0, 0, 0)').length,
            bold: el.querySelectorAll('.seq .t.bold').length,
          };
        }),
      );
      t.deepEqual(panels.map((p) => p.name), PANELS);
      for (const p of panels) t.true(p.w > 200 && p.h > 40, `feature ${f.feature} ${p.name}: ${p.w}×${p.h}`);
      const by = Object.fromEntries(panels.map((p) => [p.name, p]));
      t.true(by['activation-density']!.bars >= 5, `density histogram bars: ${by['activation-density']!.bars}`);
      t.true(by['logit-histogram']!.bars >= 5, `logit histogram bars: ${by['logit-histogram']!.bars}`);
      t.is(by['logit-tables']!.rows, 20, 'ten positive and ten negative logits');
      t.is(by['neighbours']!.rows, 5);
      t.is(by['top-examples']!.seqs, f.topExamples.length);
      t.is(by['top-examples']!.bold, f.topExamples.length, 'one bold token per example');
      t.true(by['top-examples']!.highlighted >= f.topExamples.length, 'activating tokens are highlighted');
      t.is(by['quantile-examples']!.seqs, f.intervals.reduce((s, iv) => s + iv.examples.length, 0));
      t.true(by['quantile-examples']!.seqs > 0);
    }

    // the injection token (feature 0's strongest input) is shown as text
    await page.selectOption('#feature-picker', String(data.features[0]!.feature));
    const texts = await page.$$eval(`section#f${data.features[0]!.feature} .seq .t`, (els) => els.map((e) => e.textContent));
    t.true(texts.includes(INJECTION_TOKEN), 'the <img> token reads as text');
    t.is(await page.$$eval('main img', (els) => els.length), 0, 'no <img> element was created');
    t.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'no injected script ran');

    // keyboard navigation
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((id) => location.hash === `#f${id}`, data.features[1]!.feature);
    t.deepEqual(await visible(), [String(data.features[1]!.feature)]);

    t.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'no network requests');
    t.deepEqual(problems, [], 'no console errors');
    const shot = path.join(dir, 'dashboards.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.true((await fsp.stat(shot)).size > 10_000, 'screenshot saved');
    const keep = process.env['SAE_RX_KEEP_SCREENSHOTS'];
    if (keep) {
      await fsp.mkdir(keep, { recursive: true });
      await fsp.copyFile(shot, path.join(keep, 'dashboards.png'));
    }
    await page.close();
  });
});
