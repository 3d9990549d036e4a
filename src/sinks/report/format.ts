/**
 * Text helpers of the HTML report: escaping (every string that comes from records or a config
 * goes through `escapeHtml`), compact number formatting and "nice" axis ticks.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON for an inline `<script type="application/json">`: `<`, `>`, `&` and the JS line separators
 * become \u escapes so no string from a record can close the script element.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A short human form of a number: 1.23k, 4.5M, 0.00123, 1.2e-7. */
export function formatNumber(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  const sign = x < 0 ? '−' : '';
  if (a >= 1e15 || a < 1e-4) {
    const [m, e] = a.toExponential(Math.max(0, digits - 1)).split('e');
    return `${sign}${trimZeros(m!)}e${e!.replace('+', '')}`;
  }
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (const [u, s] of units) {
    if (a >= u) return sign + trimZeros((a / u).toPrecision(digits)) + s;
  }
  return sign + trimZeros(a.toPrecision(digits));
}

/** Integers with thin-space thousands separators (for tables of token counts). */
export function formatInt(x: number): string {
  if (!Number.isFinite(x)) return formatNumber(x);
  return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function trimZeros(s: string): string {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

/** About `count` evenly spaced round ticks (1, 2 or 5 × 10^k apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** A domain widened to round numbers, so lines do not touch the frame. */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - pad, hi + pad];
  }
  const ticks = niceTicks(lo, hi, count);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : (hi - lo);
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
}

/** Ticks of a log10 axis over [lo, hi] (both > 0): decades, with 2× and 5× when few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 2 ? [1, 2, 5] : b - a <= 4 ? [1, 3] : [1];
  const stride = Math.max(1, Math.ceil((b - a) / 6));
  const out: number[] = [];
  for (let e = a; e <= b; e += stride) {
    for (const m of mults) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(Number(v.toPrecision(12)));
    }
  }
  return out;
}
