/**
 * The training report: one self-contained HTML file (inline CSS, inline SVG, a small inline
 * script for hover tooltips; nothing is fetched) built from the plain-JSON training records.
 * Every string that comes from a record or the config is escaped.
 */
import type { EvalRecord, StepRecord, TrainEvent } from '../../stream/TrainEvent.js';
import { logDensityHistogram } from '../../analysis/featureDensity.js';
import { isSecretKey, redactSecrets } from '../../config/secrets.js';
import { type ChartData, histogramSvg, lineChartSvg, PALETTE, type Series } from './charts.js';
import { escapeHtml, formatInt, formatNumber, jsonForScript } from './format.js';
import { REPORT_CSS, REPORT_SCRIPT } from './assets.js';

/** log10 feature frequencies: one array (one SAE, or all SAEs alike) or one per SAE id. */
export type FeatureLogDensity = ArrayLike<number> | Readonly<Record<string, ArrayLike<number>>>;

export interface ReportInput {
  /** Training records in the order they were emitted (records of unknown type are ignored). */
  readonly records: Iterable<TrainEvent | Record<string, unknown>>;
  /** The runner config (snake_case or camelCase); shown as a table, secrets redacted. */
  readonly config?: unknown;
  /** log10 feature frequencies (SAELens's `sparsity.safetensors`), for the density histogram. */
  readonly featureLogDensity?: FeatureLogDensity;
  readonly title?: string;
  /** Set when the run failed: shown in a banner at the top. */
  readonly error?: string;
  /** Timestamp printed in the header (default: now). */
  readonly generatedAt?: Date;
}

/** Lower edge of the density histogram: SAELens stores log10(freq + 1e-10), so dead = -10. */
const DENSITY_MIN = -10;
const DENSITY_BINS = 50;

/** A value from a record: JSONL turns NaN/Infinity into null; anything non-numeric is a gap. */
function num(v: unknown): number {
  return typeof v === 'number' ? v : NaN;
}

interface SaeRun {
  readonly id: string;
  readonly color: string;
  readonly steps: StepRecord[];
  readonly evals: EvalRecord[];
  checkpoints: number;
  done?: { step: number; tokens: number; path?: string };
}

export function renderReport(input: ReportInput): string {
  const title = input.title ?? 'sae-rx training report';
  const runs = new Map<string, SaeRun>();
  const warnings: Array<{ saeId: string; step: number; tokens: number; message: string }> = [];
  const checkpoints: Array<{ saeId: string; step: number; tokens: number; path: string }> = [];
  let nRecords = 0;
  let streamError: string | undefined;
  const run = (id: unknown): SaeRun => {
    const key = typeof id === 'string' ? id : String(id ?? '');
    let r = runs.get(key);
    if (!r) {
      r = { id: key, color: PALETTE[runs.size % PALETTE.length]!, steps: [], evals: [], checkpoints: 0 };
      runs.set(key, r);
    }
    return r;
  };
  for (const rec of input.records) {
    if (rec === null || typeof rec !== 'object') continue;
    nRecords++;
    const r = rec as Record<string, unknown>;
    switch (r['type']) {
      case 'step':
        run(r['saeId']).steps.push(rec as StepRecord);
        break;
      case 'eval':
        run(r['saeId']).evals.push(rec as EvalRecord);
        break;
      case 'checkpoint':
        run(r['saeId']).checkpoints++;
        checkpoints.push({ saeId: String(r['saeId'] ?? ''), step: num(r['step']), tokens: num(r['tokens']), path: String(r['path'] ?? '') });
        break;
      case 'done': {
        const d = run(r['saeId']);
        d.done = { step: num(r['step']), tokens: num(r['tokens']), ...(typeof r['path'] === 'string' ? { path: r['path'] } : {}) };
        break;
      }
      case 'error': // jsonlSink's record of a stream error
        if (streamError === undefined) streamError = String(r['message'] ?? 'unknown error');
        break;
      case 'warning':
        warnings.push({ saeId: String(r['saeId'] ?? ''), step: num(r['step']), tokens: num(r['tokens']), message: String(r['message'] ?? '') });
        break;
      default:
        break;
    }
  }
  // tooltips and lines need x in order; records of one SAE normally are, resumed runs may not be
  for (const r of runs.values()) {
    r.steps.sort((a, b) => num(a.tokens) - num(b.tokens) || num(a.step) - num(b.step));
    r.evals.sort((a, b) => num(a.tokens) - num(b.tokens) || num(a.step) - num(b.step));
  }
  const saes = [...runs.values()];
  const error = input.error ?? streamError;
  const charts: ChartData[] = [];
  let chartN = 0;
  const nextId = () => `chart-${++chartN}`;

  const card = (titleText: string, svg: string, series: readonly { name: string; color: string }[], note?: string) => {
    const legend =
      series.length > 1
        ? `<div class="legend">${series.map((s) => `<span><i style="background:${escapeHtml(s.color)}"></i>${escapeHtml(s.name)}</span>`).join('')}</div>`
        : '';
    return `<figure class="card chart-card"><figcaption><h3>${escapeHtml(titleText)}</h3>${legend}</figcaption>${svg}${note ? `<p class="note">${escapeHtml(note)}</p>` : ''}</figure>`;
  };
  const stepChart = (
    titleText: string,
    pick: (s: StepRecord) => number,
    opts: { yLabel?: string; logY?: boolean | 'auto'; band?: (s: StepRecord) => [number, number]; note?: string } = {},
  ): string => {
    const series: Series[] = saes
      .filter((r) => r.steps.length > 0)
      .map((r) => ({
        name: r.id,
        color: r.color,
        x: r.steps.map((s) => num(s.tokens)),
        y: r.steps.map((s) => pick(s)),
        step: r.steps.map((s) => num(s.step)),
        ...(opts.band
          ? { band: { lo: r.steps.map((s) => opts.band!(s)[0]), hi: r.steps.map((s) => opts.band!(s)[1]) } }
          : {}),
      }));
    const { svg, data } = lineChartSvg({
      id: nextId(),
      title: titleText,
      xLabel: 'training tokens',
      ...(opts.yLabel ? { yLabel: opts.yLabel } : {}),
      series,
      logY: opts.logY ?? false,
    });
    if (data) charts.push(data);
    return card(titleText, svg, series, opts.note);
  };

  // ---- training curves
  // total and mse first, then every loss term the records carry (l1, ghost, auxiliary_reconstruction_loss, …)
  const lossNames = new Set<string>(['total', 'mse']);
  for (const r of saes) for (const s of r.steps) for (const k of Object.keys(s.losses ?? {})) lossNames.add(k);
  const lossTitles: Record<string, string> = { total: 'Total loss', mse: 'MSE loss', l1: 'L1 (sparsity) loss', ghost: 'Ghost-grad loss' };
  const curves: string[] = [];
  for (const name of lossNames) {
    const ghostOff = name === 'ghost' && saes.every((r) => r.steps.every((s) => !(num(s.losses?.[name]) !== 0 && Number.isFinite(num(s.losses?.[name])))));
    curves.push(
      stepChart(lossTitles[name] ?? `${name} loss`, (s) => num(s.losses?.[name]), {
        logY: name === 'ghost' ? false : 'auto',
        ...(ghostOff ? { note: 'zero throughout (no dead features, or ghost grads off)' } : {}),
      }),
    );
  }
  curves.push(stepChart('L0 (active features per token)', (s) => num(s.l0), { yLabel: 'features' }));
  curves.push(
    stepChart('Explained variance', (s) => num(s.explainedVarianceMean), {
      band: (s) => [num(s.explainedVarianceMean) - num(s.explainedVarianceStd), num(s.explainedVarianceMean) + num(s.explainedVarianceStd)],
      note: 'mean over the batch; shaded ± one standard deviation',
    }),
  );
  curves.push(stepChart('Dead features', (s) => num(s.deadFeatures), { yLabel: 'features' }));
  curves.push(stepChart('Learning rate', (s) => num(s.lr)));
  curves.push(stepChart('L1 coefficient', (s) => num(s.l1Coefficient)));

  // ---- feature density
  const densityCards: string[] = [];
  const densities = normalizeDensity(input.featureLogDensity, saes.map((r) => r.id));
  if (densities.length > 0) {
    const hists = densities.map(({ values }) => logDensityHistogram(values, { bins: DENSITY_BINS, range: [DENSITY_MIN, 0] }));
    const edges = hists[0]!.edges;
    const series = densities.map(({ id }, k) => ({
      name: id,
      color: runs.get(id)?.color ?? PALETTE[0]!,
      counts: hists[k]!.counts,
    }));
    const notes = densities.map(({ id, values }) => {
      let dead = 0, dense = 0, n = 0;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        n++;
        if (!(v > -8)) dead++; // SAELens counts a feature dead below 1e-8 frequency
        if (v > -1) dense++;
      }
      return `${densities.length > 1 ? `${id}: ` : ''}${formatInt(n)} features, ${formatInt(dead)} dead (freq < 1e-8), ${formatInt(dense)} dense (freq > 0.1)`;
    });
    densityCards.push(
      card('Feature log₁₀ density', histogramSvg({ id: nextId(), title: 'Feature log10 density', xLabel: 'log₁₀ feature firing frequency', edges, series }), series, notes.join(' · ')),
    );
  }
  // histograms that evaluations logged: latest per SAE, one chart per name and bin layout
  const histByName = new Map<string, Array<{ id: string; color: string; edges: number[]; counts: number[] }>>();
  for (const r of saes) {
    const latest = [...r.evals].reverse().find((e) => e.histograms && Object.keys(e.histograms).length > 0);
    if (!latest?.histograms) continue;
    for (const [name, h] of Object.entries(latest.histograms)) {
      if (!Array.isArray(h?.edges) || !Array.isArray(h?.counts) || h.edges.length !== h.counts.length + 1) continue;
      const key = `${name}\u0000${h.edges.length}:${h.edges[0]}:${h.edges[h.edges.length - 1]}`;
      const list = histByName.get(key) ?? [];
      list.push({ id: r.id, color: r.color, edges: h.edges.map(num), counts: h.counts.map(num) });
      histByName.set(key, list);
    }
  }
  for (const [key, list] of histByName) {
    const name = key.split('\u0000')[0]!;
    const series = list.map((h) => ({ name: h.id, color: h.color, counts: h.counts }));
    densityCards.push(card(`${name} (latest eval)`, histogramSvg({ id: nextId(), title: name, xLabel: name, edges: list[0]!.edges, series }), series));
  }

  // ---- evals
  const evalNames = new Set<string>();
  for (const r of saes) for (const e of r.evals) for (const k of Object.keys(e.metrics ?? {})) evalNames.add(k);
  const evalSaes = saes.filter((r) => r.evals.length > 0);
  let evalTable = '';
  const evalCharts: string[] = [];
  if (evalNames.size > 0) {
    const head = `<tr><th>metric</th>${evalSaes.map((r) => `<th><i class="swatch" style="background:${escapeHtml(r.color)}"></i>${escapeHtml(r.id)}</th>`).join('')}</tr>`;
    const stepRow = `<tr class="sub"><td>at step · tokens</td>${evalSaes
      .map((r) => {
        const e = r.evals[r.evals.length - 1]!;
        return `<td>${escapeHtml(formatInt(num(e.step)))} · ${escapeHtml(formatNumber(num(e.tokens)))}</td>`;
      })
      .join('')}</tr>`;
    const rows = [...evalNames]
      .map((name) => {
        const cells = evalSaes.map((r) => {
          const e = [...r.evals].reverse().find((x) => x.metrics && name in x.metrics);
          return `<td>${e ? escapeHtml(formatNumber(num(e.metrics[name]), 4)) : '–'}</td>`;
        });
        return `<tr><td>${escapeHtml(name)}</td>${cells.join('')}</tr>`;
      })
      .join('');
    evalTable = `<div class="card table-card"><h3>Latest evaluation</h3><table class="metrics">${head}${stepRow}${rows}</table></div>`;
    if (evalSaes.some((r) => r.evals.length > 1)) {
      for (const name of evalNames) {
        const series: Series[] = evalSaes.map((r) => {
          const es = r.evals.filter((e) => e.metrics && name in e.metrics);
          return { name: r.id, color: r.color, x: es.map((e) => num(e.tokens)), y: es.map((e) => num(e.metrics[name])), step: es.map((e) => num(e.step)) };
        }).filter((s) => s.x.length > 0);
        const { svg, data } = lineChartSvg({ id: nextId(), title: name, xLabel: 'training tokens', series, dots: true });
        if (data) charts.push(data);
        evalCharts.push(card(name, svg, series));
      }
    }
  }

  // ---- summary
  const statusOf = (r: SaeRun) => (r.done ? 'done' : error !== undefined ? 'failed' : 'running / stopped');
  const summaryRows = saes
    .map((r) => {
      const last = r.steps[r.steps.length - 1];
      const steps = r.done?.step ?? (last ? num(last.step) : NaN);
      const tokens = r.done?.tokens ?? (last ? num(last.tokens) : NaN);
      return (
        `<tr><td><i class="swatch" style="background:${escapeHtml(r.color)}"></i>${escapeHtml(r.id)}</td>` +
        `<td>${escapeHtml(statusOf(r))}</td><td>${escapeHtml(formatInt(steps))}</td><td>${escapeHtml(formatNumber(tokens))}</td>` +
        `<td>${escapeHtml(formatNumber(last ? num(last.losses?.total) : NaN, 4))}</td>` +
        `<td>${escapeHtml(formatNumber(last ? num(last.losses?.mse) : NaN, 4))}</td>` +
        `<td>${escapeHtml(formatNumber(last ? num(last.l0) : NaN))}</td>` +
        `<td>${escapeHtml(formatNumber(last ? num(last.explainedVarianceMean) : NaN))}</td>` +
        `<td>${escapeHtml(formatNumber(last ? num(last.deadFeatures) : NaN))}</td>` +
        `<td>${r.checkpoints}</td><td class="path">${r.done?.path ? escapeHtml(r.done.path) : ''}</td></tr>`
      );
    })
    .join('');
  const summary =
    saes.length > 0
      ? `<div class="card table-card"><table class="summary"><tr><th>SAE</th><th>status</th><th>steps</th><th>tokens</th><th>total loss</th><th>MSE</th><th>L0</th><th>expl. var.</th><th>dead</th><th>ckpts</th><th>saved to</th></tr>${summaryRows}</table></div>`
      : `<div class="card empty-card">No training records yet${nRecords > 0 ? ` (${nRecords} records of other types)` : ''}.</div>`;

  const warningList =
    warnings.length > 0
      ? `<ul class="warnings">${warnings
          .map((w) => `<li><span class="where">${escapeHtml(w.saeId)} · step ${escapeHtml(formatInt(w.step))}</span>${escapeHtml(w.message)}</li>`)
          .join('')}</ul>`
      : '<p class="none">No warnings.</p>';
  const ckptList =
    checkpoints.length > 0
      ? `<details><summary>${checkpoints.length} checkpoint${checkpoints.length === 1 ? '' : 's'}</summary><ul class="ckpts">${checkpoints
          .map((c) => `<li><span class="where">${escapeHtml(c.saeId)} · step ${escapeHtml(formatInt(c.step))}</span><code>${escapeHtml(c.path)}</code></li>`)
          .join('')}</ul></details>`
      : '';
  const configTable = renderConfig(input.config);

  const generated = (input.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const hasSteps = saes.some((r) => r.steps.length > 0);
  const section = (id: string, h: string, body: string) => `<section id="${id}"><h2>${escapeHtml(h)}</h2>${body}</section>`;
  const nav = [
    ['curves', 'Training curves'],
    ['density', 'Feature density'],
    ['evals', 'Evaluations'],
    ['warnings', `Warnings (${warnings.length})`],
    ['config', 'Config'],
  ]
    .map(([id, label]) => `<a href="#${id}">${escapeHtml(label!)}</a>`)
    .join('');

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sae-rx">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style></head>
<body>
<header><h1>${escapeHtml(title)}</h1><p class="meta">${saes.length} SAE${saes.length === 1 ? '' : 's'} · ${formatInt(nRecords)} records · generated ${escapeHtml(generated)}</p><nav>${nav}</nav></header>
<main>
${error !== undefined ? `<div class="error-banner"><strong>The run failed:</strong> ${escapeHtml(error)}</div>` : ''}
${section('summary', 'Summary', summary)}
${section('curves', 'Training curves', hasSteps ? `<div class="grid">${curves.join('')}</div>` : '<p class="none">No step records.</p>')}
${section('density', 'Feature density', densityCards.length > 0 ? `<div class="grid">${densityCards.join('')}</div>` : '<p class="none">No feature density recorded (no sparsity file and no eval histograms).</p>')}
${section('evals', 'Evaluations', evalTable ? `${evalTable}${evalCharts.length ? `<div class="grid">${evalCharts.join('')}</div>` : ''}` : '<p class="none">No evaluation records.</p>')}
${section('warnings', 'Warnings and checkpoints', `<div class="card">${warningList}${ckptList}</div>`)}
${section('config', 'Config', configTable)}
</main>
<div id="tooltip" role="tooltip" hidden></div>
<script type="application/json" id="chart-data">${jsonForScript(charts)}</script>
<script>${REPORT_SCRIPT}</script>
</body></html>
`;
}

function normalizeDensity(d: FeatureLogDensity | undefined, ids: string[]): Array<{ id: string; values: ArrayLike<number> }> {
  if (!d) return [];
  if (typeof (d as ArrayLike<number>).length === 'number') {
    const values = d as ArrayLike<number>;
    return values.length > 0 ? [{ id: ids.length === 1 ? ids[0]! : 'all SAEs', values }] : [];
  }
  return Object.entries(d as Record<string, ArrayLike<number>>)
    .filter(([, v]) => v && v.length > 0)
    .map(([id, values]) => ({ id, values }));
}

function renderConfig(config: unknown): string {
  if (config === undefined || config === null) return '<p class="none">No config recorded.</p>';
  const rows: string[] = [];
  const walk = (prefix: string, v: unknown, depth: number) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth < 4) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, x, depth + 1);
      return;
    }
    const key = prefix.split('.').pop() ?? prefix;
    let shown: string;
    if (isSecretKey(key) && v !== null && v !== undefined && v !== '') shown = '<span class="redacted">(redacted)</span>';
    else shown = `<code>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v) ?? String(v))}</code>`;
    rows.push(`<tr><td>${escapeHtml(prefix)}</td><td>${shown}</td></tr>`);
  };
  // redactSecrets masks secret-looking strings anywhere (a token in a URL, in a list, or deeper
  // than the table goes, where a value is shown as JSON); the key check above labels the rest.
  walk('', redactSecrets(config), 0);
  if (rows.length === 0) return '<p class="none">Empty config.</p>';
  return `<div class="card table-card"><table class="config">${rows.join('')}</table></div>`;
}
