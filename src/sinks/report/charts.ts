/**
 * Inline SVG charts for the HTML report, drawn here in Node so the report needs no library and
 * no network, and reads even with scripts off. Each line chart also returns the (downsampled)
 * numbers its hover tooltip needs; the report's small inline script uses them.
 */
import { escapeHtml, formatNumber, logTicks, niceDomain, niceTicks } from './format.js';

/** One line of a chart: x and y of equal length; a non-finite y leaves a gap. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  /** Optional label per point for the tooltip (the training step). */
  readonly step?: readonly number[];
  /** Optional shaded band (e.g. mean ± std), same length as x. */
  readonly band?: { readonly lo: readonly number[]; readonly hi: readonly number[] };
}

export interface LineChartSpec {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel?: string;
  readonly series: readonly Series[];
  /** 'auto': log scale when every value is > 0 and they span more than 1.5 decades. */
  readonly logY?: boolean | 'auto';
  /** Draw a dot per point (for sparse series such as evals; up to 60 points). */
  readonly dots?: boolean;
}

/** What the tooltip script needs for one chart. */
export interface ChartData {
  readonly id: string;
  readonly xLabel: string;
  readonly plot: { left: number; top: number; width: number; height: number; vbWidth: number; vbHeight: number };
  readonly xDomain: [number, number];
  readonly series: Array<{ name: string; color: string; x: number[]; y: Array<number | null>; step?: number[] }>;
  readonly logY: boolean;
  readonly yDomain: [number, number];
}

export interface HistogramSpec {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel?: string;
  /** bin edges, length bins+1 */
  readonly edges: readonly number[];
  readonly series: ReadonlyArray<{ readonly name: string; readonly color: string; readonly counts: readonly number[] }>;
}

/** Colour-blind-friendly palette; series keep their colour across every chart of a report. */
export const PALETTE = [
  '#2f6fdf', '#e8710a', '#1a9e77', '#d6336c', '#7b4fd1', '#8c6d31', '#0ea5b7', '#6b7280', '#b8a100', '#c2410c',
] as const;

const VB_W = 560;
const VB_H = 290;
const M = { left: 62, right: 18, top: 14, bottom: 46 } as const;
/** Most points a line keeps; longer series are reduced to per-bucket min and max. */
export const MAX_POINTS = 1200;

const f = (v: number) => (Math.round(v * 10) / 10).toString();

/**
 * Reduces a series to at most `max` points, keeping each bucket's min and max in x order, so
 * spikes survive. Indices are returned so x, y, step and band stay aligned.
 */
export function downsampleIndices(y: readonly number[], max = MAX_POINTS): number[] {
  const n = y.length;
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const buckets = Math.max(1, Math.floor(max / 2));
  const out: number[] = [0];
  for (let b = 0; b < buckets; b++) {
    const s = Math.floor((b * n) / buckets);
    const e = Math.floor(((b + 1) * n) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = s; i < e; i++) {
      const v = y[i]!;
      if (!Number.isFinite(v)) continue;
      if (lo < 0 || v < y[lo]!) lo = i;
      if (hi < 0 || v > y[hi]!) hi = i;
    }
    if (lo < 0) { out.push(s); continue; } // all gaps: keep one so the gap shows
    const [a, c] = lo <= hi ? [lo, hi] : [hi, lo];
    out.push(a);
    if (c !== a) out.push(c);
  }
  out.push(n - 1);
  return [...new Set(out)].sort((p, q) => p - q);
}

function emptyChart(title: string, message: string): string {
  return (
    `<svg class="chart empty" viewBox="0 0 ${VB_W} ${VB_H}" role="img" aria-label="${escapeHtml(title)}: ${escapeHtml(message)}">` +
    `<rect x="${M.left}" y="${M.top}" width="${VB_W - M.left - M.right}" height="${VB_H - M.top - M.bottom}" class="frame"/>` +
    `<text x="${VB_W / 2}" y="${VB_H / 2}" text-anchor="middle" class="empty-msg">${escapeHtml(message)}</text></svg>`
  );
}

/**
 * The shared frame of the line chart and the histogram: y grid lines with labels, x ticks with
 * labels, the plot frame and the x-axis label.
 */
function axesSvg(
  yTicks: readonly number[],
  xTicks: readonly number[],
  sx: (x: number) => number,
  sy: (y: number) => number,
  pw: number,
  ph: number,
  xLabel: string,
): string {
  const parts: string[] = ['<g class="axis y-axis">'];
  for (const t of yTicks) {
    const y = f(sy(t));
    parts.push(`<line class="grid" x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text x="${M.left - 7}" y="${y}" dy="0.32em" text-anchor="end">${escapeHtml(formatNumber(t))}</text>`);
  }
  parts.push('</g><g class="axis x-axis">');
  for (const t of xTicks) {
    const x = f(sx(t));
    parts.push(`<line class="tick" x1="${x}" x2="${x}" y1="${M.top + ph}" y2="${M.top + ph + 5}"/>`);
    parts.push(`<text x="${x}" y="${M.top + ph + 18}" text-anchor="middle">${escapeHtml(formatNumber(t))}</text>`);
  }
  parts.push('</g>');
  parts.push(`<rect class="frame" x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/>`);
  parts.push(`<text class="axis-label" x="${M.left + pw / 2}" y="${VB_H - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  return parts.join('');
}

/** A line chart as an SVG string, plus its tooltip data (null when there is nothing to draw). */
export function lineChartSvg(spec: LineChartSpec): { svg: string; data: ChartData | null } {
  const pw = VB_W - M.left - M.right;
  const ph = VB_H - M.top - M.bottom;
  // Downsample first; domains come from what is drawn (min/max per bucket keeps the extremes).
  const kept = spec.series.map((s) => {
    const idx = downsampleIndices(s.y);
    return {
      s,
      x: idx.map((i) => s.x[i]!),
      y: idx.map((i) => s.y[i]!),
      step: s.step ? idx.map((i) => s.step![i]!) : undefined,
      lo: s.band ? idx.map((i) => s.band!.lo[i]!) : undefined,
      hi: s.band ? idx.map((i) => s.band!.hi[i]!) : undefined,
    };
  });
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity, nFinite = 0;
  let allPositive = true;
  for (const k of kept) {
    for (let i = 0; i < k.x.length; i++) {
      const x = k.x[i]!, y = k.y[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      nFinite++;
      xMin = Math.min(xMin, x); xMax = Math.max(xMax, x);
      for (const v of [y, k.lo?.[i], k.hi?.[i]]) {
        if (v === undefined || !Number.isFinite(v)) continue;
        yMin = Math.min(yMin, v); yMax = Math.max(yMax, v);
        if (v <= 0) allPositive = false;
      }
    }
  }
  if (nFinite === 0) return { svg: emptyChart(spec.title, 'no data recorded'), data: null };

  const logY = spec.logY === true ? allPositive : spec.logY === 'auto' ? allPositive && yMax / yMin > 10 ** 1.5 : false;
  let yDomain: [number, number];
  let yTicks: number[];
  if (logY) {
    const lo = Math.log10(yMin), hi = Math.log10(yMax);
    const pad = Math.max(0.02, (hi - lo) * 0.04);
    yDomain = [10 ** (lo - pad), 10 ** (hi + pad)];
    yTicks = logTicks(yDomain[0], yDomain[1]);
  } else {
    // a little room so flat lines do not sit on the frame; never below 0 for non-negative data
    const span = yMax - yMin || Math.abs(yMax) || 1;
    let lo = yMin - span * 0.04;
    if (yMin >= 0 && lo < 0) lo = 0;
    yDomain = niceDomain(lo, yMax + span * 0.04, 5);
    yTicks = niceTicks(yDomain[0], yDomain[1], 5);
  }
  const xDomain: [number, number] = xMin === xMax ? [xMin - 0.5, xMax + 0.5] : [xMin, xMax];
  const xTicks = niceTicks(xDomain[0], xDomain[1], 6).filter((t) => t >= xDomain[0] && t <= xDomain[1]);

  const sx = (x: number) => M.left + ((x - xDomain[0]) / (xDomain[1] - xDomain[0])) * pw;
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  const [ty0, ty1] = [ty(yDomain[0]), ty(yDomain[1])];
  const sy = (y: number) => M.top + ph - ((ty(y) - ty0) / (ty1 - ty0)) * ph;
  const okY = (y: number) => Number.isFinite(y) && (!logY || y > 0);

  const parts: string[] = [];
  parts.push(`<svg class="chart" id="${escapeHtml(spec.id)}" viewBox="0 0 ${VB_W} ${VB_H}" role="img" aria-label="${escapeHtml(spec.title)}">`);
  parts.push(`<defs><clipPath id="${escapeHtml(spec.id)}-clip"><rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  // grid + y axis, x ticks, frame, x label
  parts.push(axesSvg(yTicks, xTicks, sx, sy, pw, ph, spec.xLabel));
  if (spec.yLabel || logY) {
    const label = `${spec.yLabel ?? ''}${logY ? (spec.yLabel ? ' (log scale)' : 'log scale') : ''}`;
    parts.push(`<text class="axis-label" transform="translate(13 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(label)}</text>`);
  }
  parts.push(`<g clip-path="url(#${escapeHtml(spec.id)}-clip)">`);
  for (const k of kept) {
    if (k.lo && k.hi) {
      // band: upper edge forward, lower edge back, one closed path per finite run
      let run: number[] = [];
      const flush = () => {
        if (run.length > 1) {
          const top = run.map((i, j) => `${j ? 'L' : 'M'}${f(sx(k.x[i]!))},${f(sy(k.hi![i]!))}`).join('');
          const bot = [...run].reverse().map((i) => `L${f(sx(k.x[i]!))},${f(sy(k.lo![i]!))}`).join('');
          parts.push(`<path class="band" d="${top}${bot}Z" fill="${escapeHtml(k.s.color)}"/>`);
        }
        run = [];
      };
      for (let i = 0; i < k.x.length; i++) {
        if (Number.isFinite(k.x[i]!) && okY(k.lo[i]!) && okY(k.hi[i]!)) run.push(i);
        else flush();
      }
      flush();
    }
    let d = '';
    let pen = false;
    let nPts = 0;
    for (let i = 0; i < k.x.length; i++) {
      const x = k.x[i]!, y = k.y[i]!;
      if (!Number.isFinite(x) || !okY(y)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${f(sx(x))},${f(sy(y))}`;
      pen = true;
      nPts++;
    }
    if (nPts > 0) {
      const lone = nPts === 1 || (spec.dots === true && nPts <= 60); // dots only while they stay apart
      parts.push(`<path class="line" data-series="${escapeHtml(k.s.name)}" data-points="${nPts}" d="${d}" stroke="${escapeHtml(k.s.color)}"/>`);
      if (lone) {
        for (let i = 0; i < k.x.length; i++) {
          if (!Number.isFinite(k.x[i]!) || !okY(k.y[i]!)) continue;
          parts.push(`<circle class="dot" cx="${f(sx(k.x[i]!))}" cy="${f(sy(k.y[i]!))}" r="3" fill="${escapeHtml(k.s.color)}"/>`);
        }
      }
    }
  }
  parts.push('</g>');
  // hover layer: the script moves the guide and the markers
  parts.push(`<g class="hover" visibility="hidden"><line class="guide" x1="0" x2="0" y1="${M.top}" y2="${M.top + ph}"/>`);
  kept.forEach((k) => parts.push(`<circle class="marker" r="4" fill="${escapeHtml(k.s.color)}"/>`));
  parts.push('</g>');
  parts.push(`<rect class="overlay" x="${M.left}" y="${M.top}" width="${pw}" height="${ph}"/>`);
  parts.push('</svg>');

  const data: ChartData = {
    id: spec.id,
    xLabel: spec.xLabel,
    plot: { left: M.left, top: M.top, width: pw, height: ph, vbWidth: VB_W, vbHeight: VB_H },
    xDomain,
    yDomain,
    logY,
    series: kept.map((k) => ({
      name: k.s.name,
      color: k.s.color,
      x: k.x,
      y: k.y.map((v) => (Number.isFinite(v) ? v : null)),
      ...(k.step ? { step: k.step } : {}),
    })),
  };
  return { svg: parts.join(''), data };
}

/** A histogram (one or more overlaid series sharing the bin edges) as an SVG string. */
export function histogramSvg(spec: HistogramSpec): string {
  const nb = spec.edges.length - 1;
  const series = spec.series.filter((s) => s.counts.length === nb && s.counts.some((c) => c > 0));
  if (nb < 1 || series.length === 0) return emptyChart(spec.title, 'no data recorded');
  const pw = VB_W - M.left - M.right;
  const ph = VB_H - M.top - M.bottom;
  const x0 = spec.edges[0]!, x1 = spec.edges[nb]!;
  const yMax = Math.max(...series.flatMap((s) => s.counts));
  const yDomain = niceDomain(0, yMax, 5);
  const yTicks = niceTicks(0, yDomain[1], 5);
  const xTicks = niceTicks(x0, x1, 7).filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9);
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => M.top + ph - (y / (yDomain[1] || 1)) * ph;
  const parts: string[] = [];
  parts.push(`<svg class="chart histogram" id="${escapeHtml(spec.id)}" viewBox="0 0 ${VB_W} ${VB_H}" role="img" aria-label="${escapeHtml(spec.title)}">`);
  parts.push(axesSvg(yTicks, xTicks, sx, sy, pw, ph, spec.xLabel));
  parts.push(`<text class="axis-label" transform="translate(13 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel ?? 'features')}</text>`);
  const opacity = series.length > 1 ? 0.45 : 0.85;
  for (const s of series) {
    parts.push(`<g class="bars" data-series="${escapeHtml(s.name)}" fill="${escapeHtml(s.color)}" fill-opacity="${opacity}">`);
    for (let i = 0; i < nb; i++) {
      const c = s.counts[i]!;
      if (!(c > 0)) continue;
      const xa = sx(spec.edges[i]!), xb = sx(spec.edges[i + 1]!);
      const y = sy(c);
      parts.push(
        `<rect class="bar" x="${f(xa + 0.5)}" y="${f(y)}" width="${f(Math.max(0.8, xb - xa - 1))}" height="${f(M.top + ph - y)}">` +
          `<title>${escapeHtml(s.name)}: ${escapeHtml(formatNumber(c))} in [${escapeHtml(formatNumber(spec.edges[i]!))}, ${escapeHtml(formatNumber(spec.edges[i + 1]!))})</title></rect>`,
      );
    }
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('');
}
