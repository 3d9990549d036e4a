/**
 * A line chart redrawn as data arrives (the training report's SVG chart, reused): `push` adds a
 * point per series, and the SVG is rebuilt at most once per animation frame.
 */
import { escapeHtml, lineChartSvg } from './saeRx.js';

export interface LiveSeries {
  readonly name: string;
  readonly color: string;
}

export class LiveChart {
  private readonly xs: number[] = [];
  private readonly ys = new Map<string, number[]>();
  private pending = false;

  constructor(
    private readonly el: HTMLElement,
    private readonly id: string,
    private readonly title: string,
    private readonly series: readonly LiveSeries[],
    private readonly opts: { xLabel?: string; logY?: boolean | 'auto' } = {},
  ) {
    for (const s of series) this.ys.set(s.name, []);
    this.draw();
  }

  push(x: number, values: Readonly<Record<string, number>>): void {
    this.xs.push(x);
    for (const s of this.series) this.ys.get(s.name)!.push(values[s.name] ?? NaN);
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.draw();
      });
    }
  }

  /** Number of points drawn or about to be. */
  get length(): number {
    return this.xs.length;
  }

  reset(): void {
    this.xs.length = 0;
    for (const v of this.ys.values()) v.length = 0;
    this.draw();
  }

  draw(): void {
    const { svg } = lineChartSvg({
      id: this.id,
      title: this.title,
      xLabel: this.opts.xLabel ?? 'SAE step',
      logY: this.opts.logY ?? false,
      series: this.series.map((s) => ({ name: s.name, color: s.color, x: this.xs, y: this.ys.get(s.name)! })),
    });
    const legend = this.series.length > 1
      ? `<div class="legend">${this.series.map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`).join('')}</div>`
      : '';
    this.el.innerHTML = svg + legend;
    this.el.dataset['points'] = String(this.xs.length);
  }
}
