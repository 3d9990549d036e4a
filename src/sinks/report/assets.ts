/**
 * The report's inline stylesheet and script. The script only adds hover tooltips to the line
 * charts (the SVG is complete without it); it reads numbers from the JSON block and writes
 * text with textContent, never innerHTML.
 */

import { CHART_CSS } from './chartCss.js';

export const REPORT_CSS = `
:root{--fg:#1f2430;--muted:#697386;--line:#e3e6ec;--bg:#f5f6f8;--card:#fff;--accent:#2f6fdf}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:18px 28px 0;position:sticky;top:0;z-index:5}
h1{font-size:20px;margin:0 0 2px;font-weight:650}
.meta{color:var(--muted);margin:0 0 10px;font-size:13px}
nav{display:flex;gap:18px;font-size:13px}
nav a{color:var(--muted);text-decoration:none;padding:6px 0 9px;border-bottom:2px solid transparent}
nav a:hover{color:var(--fg);border-bottom-color:var(--accent)}
main{padding:8px 28px 40px;max-width:1500px}
section{margin-top:22px;scroll-margin-top:96px}
h2{font-size:15px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:600;margin:0 0 10px}
h3{font-size:14px;margin:0;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:0}
.chart-card figcaption{display:flex;justify-content:space-between;align-items:baseline;gap:10px;flex-wrap:wrap;margin-bottom:2px}
.legend{display:flex;gap:12px;flex-wrap:wrap;font-size:12px;color:var(--muted)}
.legend i,.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.note{margin:2px 0 0;color:var(--muted);font-size:12px}
${CHART_CSS}svg.chart .guide{stroke:#8a93a3;stroke-dasharray:3 3}
svg.chart .marker{stroke:#fff;stroke-width:1.5}
svg.chart .overlay{fill:transparent;cursor:crosshair}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);font-size:13px;vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px}
table.metrics td:not(:first-child),table.summary td:nth-child(n+3):not(.path){text-align:right}
table.metrics th:not(:first-child),table.summary th:nth-child(n+3):not(:last-child){text-align:right}
tr.sub td{color:var(--muted);font-size:12px}
td.path,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.table-card{overflow-x:auto;margin-bottom:14px}
table.config td:first-child{width:32%;color:#434b5c}
.redacted{color:var(--muted);font-style:italic}
.warnings,.ckpts{margin:0;padding:0;list-style:none}
.warnings li,.ckpts li{padding:5px 0;border-bottom:1px solid var(--line)}
.warnings li{color:#8a4b00}
.where{display:inline-block;min-width:190px;color:var(--muted);font-size:12px;margin-right:8px}
details summary{cursor:pointer;color:var(--muted);margin-top:8px}
.none{color:var(--muted);margin:4px 0}
.empty-card{color:var(--muted)}
.error-banner{margin-top:16px;background:#fdecec;border:1px solid #f3b7b7;color:#8b1d1d;border-radius:8px;padding:10px 14px}
#tooltip{position:fixed;pointer-events:none;background:rgba(24,28,38,.94);color:#fff;font-size:12px;padding:7px 9px;border-radius:6px;z-index:10;min-width:140px;box-shadow:0 4px 14px rgba(0,0,0,.18)}
#tooltip .tt-head{color:#c5cbd6;margin-bottom:3px}
#tooltip .tt-row{display:flex;align-items:center;gap:6px;white-space:nowrap}
#tooltip .tt-row i{width:9px;height:9px;border-radius:2px;display:inline-block}
#tooltip .tt-row b{margin-left:auto;padding-left:10px;font-weight:600;font-variant-numeric:tabular-nums}
@media (max-width:700px){.grid{grid-template-columns:1fr}main,header{padding-left:12px;padding-right:12px}}
`;

export const REPORT_SCRIPT = `
(function(){
  "use strict";
  var node = document.getElementById("chart-data");
  if (!node) return;
  var charts;
  try { charts = JSON.parse(node.textContent || "[]"); } catch (e) { return; }
  var tip = document.getElementById("tooltip");
  function fmt(x){
    if (x === null || x === undefined || isNaN(x)) return "\\u2013";
    var a = Math.abs(x);
    if (a !== 0 && (a >= 1e15 || a < 1e-4)) return x.toExponential(3);
    var units = [[1e12,"T"],[1e9,"B"],[1e6,"M"],[1e3,"k"]];
    for (var i = 0; i < units.length; i++) if (a >= units[i][0]) return (x / units[i][0]).toPrecision(4).replace(/\\.?0+$/, "") + units[i][1];
    return String(Number(x.toPrecision(4)));
  }
  function nearest(xs, x){
    var lo = 0, hi = xs.length - 1;
    if (hi < 0) return -1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid; else hi = mid; }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
  }
  charts.forEach(function(c){
    var svg = document.getElementById(c.id);
    if (!svg) return;
    var overlay = svg.querySelector(".overlay"), hover = svg.querySelector(".hover");
    var guide = svg.querySelector(".guide"), markers = svg.querySelectorAll(".marker");
    var p = c.plot;
    function sx(x){ return p.left + (x - c.xDomain[0]) / (c.xDomain[1] - c.xDomain[0]) * p.width; }
    function ty(y){ return c.logY ? Math.log(y) / Math.LN10 : y; }
    function sy(y){ var a = ty(c.yDomain[0]), b = ty(c.yDomain[1]); return p.top + p.height - (ty(y) - a) / (b - a) * p.height; }
    function move(ev){
      var ctm = svg.getScreenCTM(); if (!ctm) return;
      var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
      var q = pt.matrixTransform(ctm.inverse());
      var x = c.xDomain[0] + (q.x - p.left) / p.width * (c.xDomain[1] - c.xDomain[0]);
      while (tip.firstChild) tip.removeChild(tip.firstChild);
      var head = document.createElement("div"); head.className = "tt-head"; tip.appendChild(head);
      var gx = null, step = null, tokens = null;
      c.series.forEach(function(s, k){
        var i = nearest(s.x, x), m = markers[k];
        if (i < 0 || s.y[i] === null || (c.logY && s.y[i] <= 0)) { if (m) m.setAttribute("visibility", "hidden"); return; }
        if (gx === null) { gx = sx(s.x[i]); tokens = s.x[i]; step = s.step ? s.step[i] : null; }
        if (m) { m.setAttribute("visibility", "visible"); m.setAttribute("cx", sx(s.x[i])); m.setAttribute("cy", sy(s.y[i])); }
        var row = document.createElement("div"); row.className = "tt-row";
        var sw = document.createElement("i"); sw.style.background = s.color; row.appendChild(sw);
        var name = document.createElement("span"); name.textContent = s.name; row.appendChild(name);
        var val = document.createElement("b"); val.textContent = fmt(s.y[i]); row.appendChild(val);
        tip.appendChild(row);
      });
      if (gx === null) { hide(); return; }
      head.textContent = (step !== null ? "step " + step + " \\u00b7 " : "") + fmt(tokens) + " tokens";
      guide.setAttribute("x1", gx); guide.setAttribute("x2", gx);
      hover.setAttribute("visibility", "visible");
      tip.hidden = false;
      var w = tip.offsetWidth, left = ev.clientX + 14;
      if (left + w > window.innerWidth - 8) left = ev.clientX - w - 14;
      tip.style.left = left + "px"; tip.style.top = (ev.clientY + 12) + "px";
    }
    function hide(){ hover.setAttribute("visibility", "hidden"); tip.hidden = true; }
    overlay.addEventListener("mousemove", move);
    overlay.addEventListener("mouseleave", hide);
  });
})();
`;
