/**
 * The HTML report in a real browser (headless Chromium): every chart draws, the tooltip works,
 * no console errors, no network, no injected script runs. Saves test/.tmp/report.png.
 * Skips (passes with a log line) when no Chromium is installed.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { renderReport } from '../../src/sinks/report/renderReport.js';
import { INJECTION, syntheticRun } from '../fixtures/report/synthetic.js';
import { browserSkipReason, withBrowser } from '../helpers/browser.js';
import { titled } from '../helpers/skip.js';

const TMP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '.tmp');

const noBrowser = await browserSkipReason();
(noBrowser ? test.skip : test)(titled('report renders in Chromium: every chart has marks, tooltips, no errors', noBrowser), async (t) => {
  const run = syntheticRun({ steps: 300 });
  const html = renderReport({
    records: run.records,
    config: run.config,
    featureLogDensity: run.featureLogDensity,
    title: `gelu-2l · blocks.0.hook_mlp_out · l1 sweep ${INJECTION}`,
    generatedAt: new Date('2026-01-01T00:00:00Z'),
  });
  await fsp.mkdir(TMP, { recursive: true });
  const file = path.join(TMP, 'report.html');
  await fsp.writeFile(file, html);

  await withBrowser(t, async (browser) => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => {
        const lines = Array.from(svg.querySelectorAll('path.line')).map((p) => {
          const d = p.getAttribute('d') ?? '';
          const b = (p as SVGPathElement).getBBox();
          return { points: (d.match(/[ML]/g) ?? []).length, w: b.width, h: b.height, len: (p as SVGPathElement).getTotalLength() };
        });
        const bars = Array.from(svg.querySelectorAll('rect.bar')).filter((r) => (r as SVGRectElement).getBBox().height > 0).length;
        const r = svg.getBoundingClientRect();
        return { id: svg.id, empty: svg.classList.contains('empty'), lines, bars, w: r.width, h: r.height, title: svg.getAttribute('aria-label') };
      }),
    );
    t.log(`${charts.length} charts`);
    t.is(charts.filter((c) => c.empty).length, 0, 'no empty chart');
    t.true(charts.length >= 9 + 2 + 9, `expected ≥ 20 charts, got ${charts.length}`);
    for (const c of charts) {
      t.true(c.w > 300 && c.h > 150, `${c.title} has size ${c.w}×${c.h}`);
      if (c.bars > 0) continue;
      t.is(c.lines.length, 2, `${c.title}: one line per SAE`);
      for (const l of c.lines) t.true(l.points >= 3 && l.len > 50, `${c.title}: line drawn (${l.points} points, length ${l.len.toFixed(0)})`);
    }
    const stepCharts = charts.filter((c) => c.lines.some((l) => l.points >= 300));
    t.is(stepCharts.length, 9, 'nine training-curve charts with ≥300 points per line');
    const hist = charts.filter((c) => c.bars > 0);
    t.is(hist.length, 2, 'density histogram + eval histogram');
    for (const h of hist) t.true(h.bars >= 20, `${h.title}: ${h.bars} bars`);

    // hover over the first chart: the tooltip names both SAEs
    const overlay = page.locator('svg.chart .overlay').first();
    const box = await overlay.boundingBox();
    t.truthy(box);
    await page.mouse.move(box!.x + box!.width * 0.6, box!.y + box!.height * 0.5);
    const tip = await page.$eval('#tooltip', (el) => ({ hidden: (el as HTMLElement).hidden, text: el.textContent ?? '' }));
    t.false(tip.hidden, 'tooltip shown on hover');
    for (const id of run.saeIds) t.true(tip.text.includes(id), `tooltip lists ${id}: ${tip.text}`);
    t.regex(tip.text, /step \d+/);
    await page.mouse.move(0, 0);

    t.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'no injected script ran');
    t.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'no network requests');
    t.deepEqual(problems, [], 'no console errors');

    await page.screenshot({ path: path.join(TMP, 'report.png'), fullPage: true });
    // a second, hovered view of the top of the page
    await page.mouse.move(box!.x + box!.width * 0.35, box!.y + box!.height * 0.4);
    await page.screenshot({ path: path.join(TMP, 'report-hover.png') });
    await page.close();
  });
});
