/**
 * The two TSEA plots of SAELens v1.5 (`manhattan_plot_enrichment_scores` and
 * `plot_top_k_feature_projections_by_token_and_category`, plotly there), as standalone SVG
 * strings: no script, no network, every label escaped.
 */
import { ConfigError } from '../errors.js';
import type { EnrichmentScores } from './tsea.js';
import { enrichmentToLogScale, topFeaturesForSet } from './tsea.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Escapes text for SVG/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const fmt = (v: number) => (Number.isFinite(v) ? +v.toFixed(2) : 0);

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

export interface ManhattanPlotOptions {
  /** Label the top points of each set whose −log(1 − score) exceeds this (default 1, as SAELens). */
  readonly labelThreshold?: number;
  /** How many points to label per set (default 3). */
  readonly topN?: number;
  /** Width of one set's panel in px (default 220). */
  readonly panelWidth?: number;
  readonly height?: number;
  /** Panels per row (default 6). */
  readonly perRow?: number;
}

/**
 * One panel per token set: every feature's −log(1 − enrichment score) (x: the feature, in the
 * order scored), the top `topN` above `labelThreshold` labelled with their feature index.
 * Infinite values (score 1) are drawn at the top of the axis.
 */
export function manhattanPlotSvg(es: EnrichmentScores, opts: ManhattanPlotOptions = {}): string {
  const threshold = opts.labelThreshold ?? 1;
  const topN = opts.topN ?? 3;
  const pw = opts.panelWidth ?? 220;
  const ph = opts.height ?? 260;
  const perRow = Math.max(1, opts.perRow ?? 6);
  const nSets = es.setNames.length;
  const nF = es.features.length;
  if (nSets === 0 || nF === 0) throw new ConfigError('manhattanPlotSvg: no token sets or no features to plot');
  const vals = Array.from(es.scores, enrichmentToLogScale);
  const finite = vals.filter(Number.isFinite);
  const yMax = Math.max(1e-9, ...finite) * 1.1;
  const rows = Math.ceil(nSets / perRow);
  const m = { l: 44, r: 8, t: 26, b: 24 };
  const W = Math.min(nSets, perRow) * pw;
  const H = rows * ph + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="14">Token set enrichment: −log(1 − score) per feature</text>`,
  ];
  const yTicks = niceTicks(0, yMax);
  for (let s = 0; s < nSets; s++) {
    const ox = (s % perRow) * pw;
    const oy = 30 + Math.floor(s / perRow) * ph;
    const iw = pw - m.l - m.r;
    const ih = ph - m.t - m.b;
    const x = (j: number) => ox + m.l + (nF === 1 ? iw / 2 : (j / (nF - 1)) * iw);
    const y = (v: number) => oy + m.t + ih - (Math.min(Number.isFinite(v) ? v : yMax, yMax) / yMax) * ih;
    const color = PALETTE[s % PALETTE.length]!;
    parts.push(`<g class="panel" data-set="${escapeXml(es.setNames[s]!)}">`);
    parts.push(`<text x="${ox + m.l + iw / 2}" y="${oy + 14}" text-anchor="middle" font-size="12">${escapeXml(es.setNames[s]!)}</text>`);
    parts.push(`<rect x="${ox + m.l}" y="${oy + m.t}" width="${iw}" height="${ih}" fill="none" stroke="#ccc"/>`);
    if (s % perRow === 0) {
      for (const t of yTicks) parts.push(`<text x="${ox + m.l - 4}" y="${fmt(y(t) + 4)}" text-anchor="end">${t}</text>`);
    }
    const pts: string[] = [];
    for (let j = 0; j < nF; j++) {
      const v = vals[s * nF + j]!;
      pts.push(`<circle cx="${fmt(x(j))}" cy="${fmt(y(v))}" r="1.6" fill="${color}"><title>feature ${es.features[j]}: ${fmt(v)}</title></circle>`);
    }
    parts.push(...pts);
    const order = Array.from({ length: nF }, (_, j) => j)
      .sort((a, b) => vals[s * nF + b]! - vals[s * nF + a]! || a - b)
      .slice(0, topN);
    for (const j of order) {
      const v = vals[s * nF + j]!;
      if (v > threshold) {
        parts.push(`<text class="label" x="${fmt(x(j))}" y="${fmt(y(v) - 5)}" text-anchor="middle" font-size="10">${es.features[j]}</text>`);
      }
    }
    parts.push(`<text x="${ox + m.l + iw / 2}" y="${oy + ph - 6}" text-anchor="middle" fill="#555">feature</text>`);
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export interface ProjectionPlotInput {
  readonly es: EnrichmentScores;
  /** The token set to show. */
  readonly category: string;
  /** Its token ids. */
  readonly setIds: ReadonlySet<number>;
  /** Logit-weight rows `[features, vocab]` of the features to plot (see `rows`), row-major. */
  readonly rows: Float32Array;
  /** The features of `rows`, in order. */
  readonly rowFeatures: readonly number[];
  readonly vocab: number;
  /** Features to plot (default: the `k` best for `category` among `rowFeatures`). */
  readonly features?: readonly number[];
  readonly k?: number;
  readonly bins?: number;
  /** Log-scaled counts (default true, as SAELens). */
  readonly logY?: boolean;
  /** Axis label of the projection (default "W_U"). */
  readonly projectionOnto?: string;
}

/**
 * For each of the top-k features of a token set, the histogram of its logit weights over the
 * vocabulary, tokens in the set and not in it overlaid (SAELens's per-feature plotly histogram),
 * titled with the enrichment score (−log(1 − score)). One SVG, one panel per feature.
 */
export function featureProjectionsSvg(input: ProjectionPlotInput): string {
  const { es, category, setIds, rows, rowFeatures, vocab } = input;
  const bins = input.bins ?? 60;
  const logY = input.logY ?? true;
  const onto = input.projectionOnto ?? 'W_U';
  const s = es.setNames.indexOf(category);
  if (s < 0) throw new ConfigError(`featureProjectionsSvg: no token set "${category}" (have: ${es.setNames.join(', ')})`);
  // default: the best-scoring features among those with a row
  const picks =
    input.features ??
    topFeaturesForSet(es, category, es.features.length)
      .map((p) => p.feature)
      .filter((f) => rowFeatures.includes(f))
      .slice(0, input.k ?? 5);
  const pw = 420;
  const ph = 220;
  const m = { l: 46, r: 10, t: 30, b: 30 };
  const W = pw;
  const H = picks.length * ph + 24;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="8" y="16" font-size="12"><tspan fill="#d62728">■</tspan> in ${escapeXml(category)}  <tspan fill="#1f77b4">■</tspan> other tokens</text>`,
  ];
  picks.forEach((feature, i) => {
    const r = rowFeatures.indexOf(feature);
    if (r < 0) throw new ConfigError(`featureProjectionsSvg: feature ${feature} has no logit-weight row (rows hold ${rowFeatures.join(', ')})`);
    const j = es.features.indexOf(feature);
    const score = j >= 0 ? enrichmentToLogScale(es.scores[s * es.features.length + j]!) : NaN;
    const row = rows.subarray(r * vocab, (r + 1) * vocab);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of row) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi > lo)) hi = lo + 1;
    const inSet = new Float64Array(bins);
    const out = new Float64Array(bins);
    for (let t = 0; t < vocab; t++) {
      const b = Math.min(bins - 1, Math.floor(((row[t]! - lo) / (hi - lo)) * bins));
      (setIds.has(t) ? inSet : out)[b]!++;
    }
    const tr = (c: number) => (logY ? Math.log10(1 + c) : c);
    const cMax = Math.max(1e-9, ...Array.from(out, tr), ...Array.from(inSet, tr));
    const oy = 24 + i * ph;
    const iw = pw - m.l - m.r;
    const ih = ph - m.t - m.b;
    const bw = iw / bins;
    parts.push(`<g class="panel" data-feature="${feature}">`);
    parts.push(`<text x="${m.l}" y="${oy + 16}" font-size="12">W_dec_${feature}, ${escapeXml(onto)}, ${escapeXml(category)}: ${Number.isFinite(score) ? score.toFixed(2) : 'n/a'}</text>`);
    parts.push(`<rect x="${m.l}" y="${oy + m.t}" width="${iw}" height="${ih}" fill="none" stroke="#ccc"/>`);
    for (const [counts, color] of [
      [out, '#1f77b4'],
      [inSet, '#d62728'],
    ] as const) {
      for (let b = 0; b < bins; b++) {
        if (counts[b] === 0) continue;
        const h = (tr(counts[b]!) / cMax) * ih;
        parts.push(`<rect x="${fmt(m.l + b * bw)}" y="${fmt(oy + m.t + ih - h)}" width="${fmt(bw)}" height="${fmt(h)}" fill="${color}" fill-opacity="0.55"><title>${counts[b]} tokens</title></rect>`);
      }
    }
    parts.push(`<text x="${m.l}" y="${oy + ph - 12}" fill="#555">${fmt(lo)}</text>`);
    parts.push(`<text x="${m.l + iw}" y="${oy + ph - 12}" text-anchor="end" fill="#555">${fmt(hi)}</text>`);
    parts.push(`<text x="${m.l + iw / 2}" y="${oy + ph - 12}" text-anchor="middle" fill="#555">${escapeXml(onto)} W_dec[${feature}]${logY ? ' (log counts)' : ''}</text>`);
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}
