import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Subject } from 'rxjs';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { renderReport } from '../../src/sinks/report/renderReport.js';
import { logDensityHistogram } from '../../src/analysis/featureDensity.js';
import { reportSink } from '../../src/sinks/report/reportSink.js';
import { readRecords, writeReport } from '../../src/sinks/report/writeReport.js';
import { escapeHtml, formatNumber, jsonForScript, niceTicks } from '../../src/sinks/report/format.js';
import { downsampleIndices } from '../../src/sinks/report/charts.js';
import type { TrainEvent } from '../../src/stream/TrainEvent.js';
import { INJECTION, syntheticRun } from '../fixtures/report/synthetic.js';
import { tempDir } from '../helpers/tempDir.js';

const tmpDir = async (t: ExecutionContext) => tempDir(t, 'sae-rx-report-');

test('format helpers: escaping, numbers, ticks', (t) => {
  t.is(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  t.false(jsonForScript({ s: '</script><!--' }).includes('<'));
  t.deepEqual(JSON.parse(jsonForScript({ s: '</script>' })), { s: '</script>' });
  t.is(formatNumber(1234567), '1.23M');
  t.is(formatNumber(0.5), '0.5');
  t.is(formatNumber(3e-7), '3e-7');
  t.is(formatNumber(NaN), '–');
  t.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(niceTicks(0, 1_200_000, 6), [0, 200000, 400000, 600000, 800000, 1000000, 1200000]);
});

test('downsampling keeps extremes and the ends', (t) => {
  const y = Array.from({ length: 10_000 }, (_, i) => Math.sin(i / 50));
  y[5003] = 100;
  const idx = downsampleIndices(y, 400);
  t.true(idx.length <= 404);
  t.is(idx[0], 0);
  t.is(idx[idx.length - 1], 9999);
  t.true(idx.includes(5003));
  t.deepEqual(idx, [...idx].sort((a, b) => a - b));
});

test('renderReport: charts for every series, tables, escaped strings, redacted secrets', (t) => {
  const run = syntheticRun();
  const html = renderReport({ records: run.records, config: run.config, featureLogDensity: run.featureLogDensity, title: `Sweep ${INJECTION}` });
  t.true(html.startsWith('<!DOCTYPE html>'));
  // self-contained: nothing fetched
  t.false(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html));
  t.false(/<link\b/i.test(html));
  // line charts: 4 losses + L0 + EV + dead + lr + l1 coefficient = 9, with a path per SAE
  const lines = [...html.matchAll(/<path class="line" data-series="([^"]*)" data-points="(\d+)"/g)];
  const stepLines = lines.filter((m) => Number(m[2]) === 300);
  t.is(stepLines.length, 9 * 2);
  for (const id of run.saeIds) t.true(html.includes(escapeHtml(id)));
  // eval charts: 9 metrics × 2 SAEs with 3 points each
  t.is(lines.filter((m) => Number(m[2]) === 3).length, 9 * 2);
  // density histogram (sparsity) + eval histogram
  t.true(html.includes('Feature log₁₀ density'));
  t.true(html.includes('log_feature_density (latest eval)'));
  t.true((html.match(/class="bar"/g) ?? []).length > 40);
  // tables
  t.true(html.includes('ce_loss_score'));
  t.true(html.includes('lr_scheduler_name'));
  // no injection anywhere
  t.false(html.includes('<img src=x'));
  t.false(html.includes('<script>window.__pwned'));
  t.true(html.includes('&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;'));
  // secrets never shown
  t.false(html.includes('hf_SECRET_do_not_show'));
  t.false(html.includes('SECRET_WANDB'));
  t.true(html.includes('(redacted)'));
  // warnings listed
  t.true(html.includes('request failed (HTTP 503)'));
});

test('renderReport: empty and partial inputs do not throw', (t) => {
  const empty = renderReport({ records: [] });
  t.true(empty.includes('No training records yet'));
  t.true(empty.includes('No step records.'));
  t.true(empty.includes('No evaluation records.'));
  t.true(empty.includes('No config recorded.'));
  // one step, NaN/null values (as JSONL gives back), unknown record type, odd histogram
  const recs = [
    { type: 'step', saeId: 'a', step: 0, tokens: 10, losses: { mse: null, l1: 0, ghost: 0, total: 1 }, l0: NaN, explainedVarianceMean: 0.1, explainedVarianceStd: 0, deadFeatures: 0, lr: 1e-4, l1Coefficient: 0, phase: 'train' },
    { type: 'mystery', saeId: 'a' },
    { type: 'eval', saeId: 'a', step: 0, tokens: 10, metrics: { l0: 1 }, histograms: { bad: { edges: [0], counts: [1, 2] } } },
  ] as unknown as TrainEvent[];
  const html = renderReport({ records: recs, featureLogDensity: new Float32Array(0), error: 'StageError: boom <b>' });
  t.true(html.includes('The run failed:'));
  t.true(html.includes('StageError: boom &lt;b&gt;'));
  t.true(html.includes('no data recorded')); // MSE and L0 are all gaps
  // jsonlSink writes a stream error as {"type":"error"}; the report shows it
  const failed = renderReport({ records: [...recs, { type: 'error', message: 'trainSae: <NaN>' } as unknown as TrainEvent] });
  t.true(failed.includes('trainSae: &lt;NaN&gt;'));
  t.true(failed.includes('>failed<'));
});

test('the report density histogram (logDensityHistogram) clamps to the edges', (t) => {
  t.deepEqual(logDensityHistogram([-Infinity, -12, -10, -5.1, -0.1, 0, 3, NaN], { bins: 2, range: [-10, 0] }).counts, [4, 3]);
});

test('reportSink writes the report on complete, and on error with what it has', async (t) => {
  const dir = await tmpDir(t);
  const run = syntheticRun({ steps: 50 });
  const file = path.join(dir, 'report.html');
  const sink = reportSink(file, { config: run.config, featureLogDensity: () => run.featureLogDensity, title: 'sink test' });
  const s = new Subject<TrainEvent>();
  s.subscribe(sink);
  for (const r of run.records) s.next(r);
  s.complete();
  t.true(await sink.written);
  const html = await fsp.readFile(file, 'utf8');
  t.true(html.includes('sink test'));
  t.true(html.includes('Feature log₁₀ density'));
  t.deepEqual((await fsp.readdir(dir)).sort(), ['report.html']); // no temp file left

  const file2 = path.join(dir, 'failed.html');
  const sink2 = reportSink(file2);
  const s2 = new Subject<TrainEvent>();
  s2.subscribe({ ...sink2, error: (e) => sink2.error!(e) });
  for (const r of run.records.slice(0, 20)) s2.next(r);
  s2.error(new Error('trainSae: NaN loss at step 10'));
  t.true(await sink2.written);
  const html2 = await fsp.readFile(file2, 'utf8');
  t.true(html2.includes('NaN loss at step 10'));

  // a write that fails only warns
  const warned: string[] = [];
  const sink3 = reportSink(path.join(dir, 'no', 'such', 'dir', 'r.html'), { log: (m) => warned.push(m) });
  sink3.complete!();
  t.false(await sink3.written);
  t.regex(warned[0] ?? '', /could not write .*r\.html/);
  await fsp.rm(dir, { recursive: true, force: true });
});

test('writeReport reads records.jsonl, config.json and sparsity from a run folder', async (t) => {
  const dir = await tmpDir(t);
  const run = syntheticRun({ steps: 60, dSae: 256 });
  const lines = run.records.map((r) => JSON.stringify(r)).join('\n');
  await fsp.writeFile(path.join(dir, 'records.jsonl'), `${lines}\n{"type":"step","saeId":`); // crash left half a line
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(run.config));
  for (const id of run.saeIds) {
    const sae = path.join(dir, 'final', id);
    await fsp.mkdir(sae, { recursive: true });
    const d = run.featureLogDensity[id]!;
    await fsp.writeFile(path.join(sae, 'sparsity.safetensors'), encodeSafetensors({ sparsity: { dtype: 'F32', shape: [d.length], data: d } }));
  }
  const recs = await readRecords(path.join(dir, 'records.jsonl'));
  t.is(recs.length, run.records.length + 1);
  t.is(recs[recs.length - 1]!.type, 'warning');

  const out = await writeReport(dir);
  t.is(out, path.join(dir, 'report.html'));
  const html = await fsp.readFile(out, 'utf8');
  t.true(html.includes('Feature log₁₀ density'));
  t.true(html.includes('256 features'));
  t.true(html.includes('not a JSON record, skipped'));
  t.true(html.includes('gelu-2l'));

  await t.throwsAsync(writeReport(path.join(dir, 'missing')), { name: 'FileFormatError', message: /records\.jsonl/ });
  await fsp.rm(dir, { recursive: true, force: true });
});
