/**
 * The stylesheet of the SVG charts `lineChartSvg` and `histogramSvg` draw (class `chart` and
 * the classes of their parts), one copy for every page that shows them: the report, the feature
 * dashboards and the browser demo. Pages add their own rules (the report's hover guide).
 */
export const CHART_CSS = `
svg.chart{width:100%;height:auto;display:block;overflow:visible}
svg.chart text{font-size:11px;fill:#5b6475;font-family:inherit}
svg.chart .axis-label{font-size:11.5px;fill:#434b5c}
svg.chart .grid{stroke:#eceef2;stroke-width:1}
svg.chart .tick{stroke:#9aa3b2}
svg.chart .frame{fill:none;stroke:#c9ced8}
svg.chart .line{fill:none;stroke-width:1.7;stroke-linejoin:round;stroke-linecap:round}
svg.chart .band{opacity:.16;stroke:none}
svg.chart .empty-msg{font-size:13px;fill:#9aa3b2}
svg.chart.empty .frame{stroke-dasharray:4 4}
`;
