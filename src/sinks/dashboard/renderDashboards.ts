/**
 * Feature dashboards as one self-contained HTML file: every panel is drawn here in Node (inline
 * SVG and tables, through the HTML report's escaping and chart helpers), so the page needs no
 * network and no library. Its only script switches between features (picker, ←/→ keys, #f123
 * links) and writes nothing but `hidden` flags. Every token's text goes through `escapeHtml`.
 */
import { histogramSvg } from '../report/charts.js';
import { CHART_CSS } from '../report/chartCss.js';
import { escapeHtml, formatInt, formatNumber } from '../report/format.js';
import type { DashboardData, DashboardExample, FeatureDashboard } from '../../analysis/dashboard/featureDashboards.js';

/** Levels of the token highlight (an activation maps to the nearest of 10 shades). */
const SHADES = 10;

const CSS = `
:root{--fg:#1f2430;--muted:#697386;--line:#e3e6ec;--bg:#f5f6f8;--card:#fff;--accent:#2f6fdf}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:14px 24px;position:sticky;top:0;z-index:5;display:flex;gap:18px;align-items:center;flex-wrap:wrap}
h1{font-size:19px;margin:0;font-weight:650}
.meta{color:var(--muted);font-size:13px}
.picker{display:flex;gap:6px;align-items:center;margin-left:auto}
.picker select,.picker button{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
main{padding:14px 24px 40px;max-width:1500px}
section.feature{scroll-margin-top:130px}
.feature-head{display:flex;gap:14px;align-items:baseline;margin:4px 0 12px}
.feature-head h2{margin:0;font-size:18px}
.cols{display:grid;grid-template-columns:minmax(360px,1fr) minmax(480px,1.6fr);gap:14px;align-items:start}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:0 0 14px}
.card h3{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 8px;font-weight:600}
${CHART_CSS}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);font-size:13px}
th{color:var(--muted);font-weight:600;font-size:12px}
td.num{text-align:right}
.logit-tables{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px}
.logit-tables table{table-layout:fixed}
.logit-tables td.tokcell{overflow:hidden;text-overflow:ellipsis}
.logit-tables td.num{width:64px}
.pos td.num{color:#1d5fbf}.neg td.num{color:#b3261e}
code.tok,td.tokcell{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;white-space:pre}
.seq{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;line-height:1.9;padding:3px 0;border-bottom:1px solid #f0f1f4;white-space:nowrap;overflow-x:auto}
.seq .act{display:inline-block;min-width:52px;color:var(--muted);font-size:11.5px}
.t{white-space:pre;border-radius:2px;padding:1px 0}
.t.bold{font-weight:700;outline:1.5px solid #8a4b00}
${Array.from({ length: SHADES }, (_, i) => `.a${i + 1}{background:rgba(255,140,0,${(((i + 1) / SHADES) * 0.85).toFixed(3)})}`).join('\n')}
.group-title{font-size:12px;color:var(--muted);margin:10px 0 2px;font-weight:600}
.none{color:var(--muted);margin:4px 0}
a.nb{color:var(--accent);text-decoration:none}
a.nb.absent{color:var(--muted);pointer-events:none}
@media (max-width:1000px){.cols{grid-template-columns:1fr}}
`;

const SCRIPT = `
(function(){
  "use strict";
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.feature"));
  var picker = document.getElementById("feature-picker");
  if (!picker || sections.length === 0) return;
  function show(id){
    var found = false;
    sections.forEach(function(s){ var on = s.getAttribute("data-feature") === id; s.hidden = !on; if (on) found = true; });
    if (!found) { sections[0].hidden = false; id = sections[0].getAttribute("data-feature"); }
    picker.value = id;
  }
  function step(d){ var i = picker.selectedIndex + d; if (i >= 0 && i < picker.options.length) { picker.selectedIndex = i; location.hash = "f" + picker.value; } }
  picker.addEventListener("change", function(){ location.hash = "f" + picker.value; });
  document.getElementById("prev-feature").addEventListener("click", function(){ step(-1); });
  document.getElementById("next-feature").addEventListener("click", function(){ step(1); });
  document.addEventListener("keydown", function(e){ if (e.target === picker) return; if (e.key === "ArrowLeft") step(-1); else if (e.key === "ArrowRight") step(1); });
  window.addEventListener("hashchange", function(){ show(location.hash.replace(/^#f/, "")); });
  show(location.hash.replace(/^#f/, "") || sections[0].getAttribute("data-feature"));
})();
`;

export interface RenderDashboardsOptions {
  readonly title?: string;
  readonly generatedAt?: Date;
}

/** How a token's text is shown: visible newlines and tabs, the rest as is (escaped later). */
function showToken(s: string): string {
  return s.replace(/\n/g, '↵').replace(/\t/g, '⇥');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(3)}%`;
}

function sequenceHtml(ex: DashboardExample, max: number, vocab: Readonly<Record<number, string>>): string {
  const spans = ex.tokens.map((id, j) => {
    const v = ex.values[j]!;
    const level = v > 0 && max > 0 ? Math.max(1, Math.min(SHADES, Math.round((v / max) * SHADES))) : 0;
    const bold = ex.contextStart + j === ex.position;
    const cls = `t${level ? ` a${level}` : ''}${bold ? ' bold' : ''}`;
    return `<span class="${cls}" title="${escapeHtml(`${formatNumber(v)} · token ${id}`)}">${escapeHtml(showToken(vocab[id] ?? `<${id}>`))}</span>`;
  });
  return `<div class="seq"><span class="act">${escapeHtml(formatNumber(ex.value))}</span>${spans.join('')}</div>`;
}

function logitTable(kind: 'pos' | 'neg', rows: FeatureDashboard['logits']['top'], vocab: Readonly<Record<number, string>>): string {
  const head = kind === 'pos' ? 'POSITIVE LOGITS' : 'NEGATIVE LOGITS';
  const body = rows.map((r) => `<tr><td class="tokcell">${escapeHtml(showToken(vocab[r.token] ?? `<${r.token}>`))}</td><td class="num">${escapeHtml(r.value >= 0 ? '+' : '')}${escapeHtml(r.value.toFixed(3))}</td></tr>`).join('');
  return `<table class="logits ${kind}"><thead><tr><th>${head}</th><th></th></tr></thead><tbody>${body}</tbody></table>`;
}

function featureSection(f: FeatureDashboard, data: DashboardData, present: ReadonlySet<number>): string {
  const id = `f${f.feature}`;
  const vocab = data.vocab;
  const actHist = histogramSvg({
    id: `${id}-acts`,
    title: `activations of feature ${f.feature}`,
    xLabel: 'activation',
    yLabel: 'tokens',
    edges: f.activationHistogram.edges,
    series: [{ name: 'tokens', color: '#e07b00', counts: f.activationHistogram.counts }],
  });
  const logitHist = histogramSvg({
    id: `${id}-logits`,
    title: `logit effects of feature ${f.feature}`,
    xLabel: 'W_dec · W_U',
    yLabel: 'vocabulary tokens',
    edges: f.logits.histogram.edges,
    series: [{ name: 'tokens', color: '#2f6fdf', counts: f.logits.histogram.counts }],
  });
  const neighbours = f.neighbours.length
    ? `<table class="neighbours"><thead><tr><th>feature</th><th class="num">cosine</th></tr></thead><tbody>${f.neighbours
        .map((n) => `<tr><td><a class="nb${present.has(n.feature) ? '' : ' absent'}" href="#f${n.feature}">${n.feature}</a></td><td class="num">${escapeHtml(n.cosine.toFixed(3))}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p class="none">no other features</p>';
  const top = f.topExamples.length
    ? f.topExamples.map((ex) => sequenceHtml(ex, f.maxActivation, vocab)).join('')
    : '<p class="none">the feature never fired on these tokens</p>';
  const intervals = f.intervals
    .map(
      (iv) =>
        `<div class="group"><div class="group-title">INTERVAL ${escapeHtml(iv.lo.toFixed(3))} – ${escapeHtml(iv.hi.toFixed(3))} · CONTAINS ${escapeHtml(pct(iv.fraction))}</div>${
          iv.examples.length ? iv.examples.map((ex) => sequenceHtml(ex, f.maxActivation, vocab)).join('') : '<p class="none">no examples</p>'
        }</div>`,
    )
    .join('');
  return `<section class="feature" id="${id}" data-feature="${f.feature}" hidden>
<div class="feature-head"><h2>Feature ${f.feature}</h2><span class="meta">density ${escapeHtml(pct(f.density))} (${escapeHtml(formatInt(f.nonZero))} of ${escapeHtml(formatInt(f.nTokens))} tokens) · max activation ${escapeHtml(formatNumber(f.maxActivation))}</span></div>
<div class="cols"><div>
<figure class="card panel" data-panel="activation-density"><h3>Activation density · ${escapeHtml(pct(f.density))}</h3>${actHist}</figure>
<figure class="card panel" data-panel="logit-tables"><h3>Logit effects</h3><div class="logit-tables">${logitTable('neg', f.logits.bottom, vocab)}${logitTable('pos', f.logits.top, vocab)}</div></figure>
<figure class="card panel" data-panel="logit-histogram"><h3>Logit effects over the vocabulary</h3>${logitHist}</figure>
<figure class="card panel" data-panel="neighbours"><h3>Nearest features by decoder cosine</h3>${neighbours}</figure>
</div><div>
<figure class="card panel" data-panel="top-examples"><h3>Top activations · max ${escapeHtml(formatNumber(f.maxActivation))}</h3>${top}</figure>
<figure class="card panel" data-panel="quantile-examples"><h3>Examples by activation interval</h3>${intervals || '<p class="none">the feature never fired on these tokens</p>'}</figure>
</div></div>
</section>`;
}

/** The dashboards page (a complete HTML document). */
export function renderDashboards(data: DashboardData, opts: RenderDashboardsOptions = {}): string {
  const m = data.meta;
  const title = opts.title ?? `Feature dashboards · ${m.model} · ${m.hookPoint}`;
  const present = new Set(data.features.map((f) => f.feature));
  const options = data.features
    .map((f) => `<option value="${f.feature}">feature ${f.feature} · density ${escapeHtml(pct(f.density))}</option>`)
    .join('');
  const when = (opts.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const meta = [
    `model ${m.model}`,
    `hook ${m.hookPoint}`,
    ...(m.saeId ? [`SAE ${m.saeId}`] : []),
    `d_sae ${formatInt(m.dSae)}`,
    `${formatInt(m.nTokens)} tokens (${formatInt(m.nSequences)} × ${m.contextSize})`,
    ...(m.dataset ? [`dataset ${m.dataset}`] : []),
    `generated ${when}`,
  ].join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style></head>
<body>
<header><div><h1>${escapeHtml(title)}</h1><div class="meta">${escapeHtml(meta)}</div></div>
<div class="picker"><button id="prev-feature" type="button" aria-label="previous feature">←</button><select id="feature-picker" aria-label="feature">${options}</select><button id="next-feature" type="button" aria-label="next feature">→</button></div></header>
<main>
${data.features.map((f) => featureSection(f, data, present)).join('\n')}
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
