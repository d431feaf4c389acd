"""The page's inline stylesheet: system fonts only, no external resource, print-friendly."""

from __future__ import annotations

CSS = """
:root { --ink:#1d2733; --muted:#5f6b7a; --line:#dde3ea; --soft:#f4f6f9; --accent:#1f4e79;
  --high:#c62828; --medium:#e08a00; --low:#2e7d32; }
* { box-sizing: border-box; }
body { margin:0; background:#eef1f5; color:var(--ink);
  font: 14px/1.45 "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
header.top { background:var(--accent); color:#fff; padding:14px 28px; display:flex;
  justify-content:space-between; align-items:baseline; flex-wrap:wrap; gap:8px; }
header.top h1 { font-size:19px; margin:0; font-weight:600; letter-spacing:.2px; }
header.top .meta { font-size:12.5px; opacity:.9; }
main { max-width:1180px; margin:0 auto; padding:20px 20px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px;
  margin:0 0 16px; }
section > h2 { font-size:15px; margin:0 0 4px; text-transform:uppercase; letter-spacing:.6px;
  color:var(--accent); }
section > p.lead { margin:0 0 12px; color:var(--muted); font-size:12.5px; }
h3 { font-size:13px; margin:14px 0 6px; color:var(--muted); }
.cards { display:grid; grid-template-columns:repeat(5, 1fr); gap:12px; }
.card { background:var(--soft); border-radius:6px; padding:10px 12px; min-height:78px; }
.card .k { font-size:11.5px; color:var(--muted); text-transform:uppercase; letter-spacing:.5px; }
.card .v { font-size:24px; font-weight:650; margin-top:2px; }
.card .s { font-size:12px; color:var(--muted); }
.band { display:inline-block; padding:2px 10px; border-radius:12px; color:#fff; font-size:13px;
  font-weight:600; text-transform:uppercase; letter-spacing:.5px; }
.band.high { background:var(--high); } .band.medium { background:var(--medium); }
.band.low { background:var(--low); } .band.unknown { background:#8a96a3; }
.selected { color:var(--high); } .not-selected { color:var(--muted); }
ol.reasons { margin:0; padding:0; list-style:none; counter-reset:r; }
ol.reasons li { display:grid; grid-template-columns:34px 96px 1fr 84px; gap:10px; align-items:start;
  padding:9px 0; border-top:1px solid var(--line); counter-increment:r; }
ol.reasons li:first-child { border-top:none; }
ol.reasons li::before { content:counter(r); width:24px; height:24px; border-radius:50%;
  background:var(--accent); color:#fff; font-weight:600; display:flex; align-items:center;
  justify-content:center; font-size:12.5px; }
.code { font: 600 12px/1.9 "DejaVu Sans Mono", Menlo, Consolas, monospace; background:#fdecea;
  color:#8e1c1c; border-radius:4px; padding:0 6px; justify-self:start; }
.reason-text { font-size:14.5px; }
.reason-text .fam { display:block; font-size:11.5px; color:var(--muted); }
.contrib { text-align:right; font-variant-numeric:tabular-nums; color:var(--high);
  font-weight:600; }
.chart { overflow-x:auto; }
svg text { font-family: "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
svg.waterfall .label { font-size:13px; fill:var(--ink); }
svg.waterfall .label.strong { font-weight:650; }
svg.waterfall .detail { font-size:11px; fill:var(--muted); }
svg.waterfall .value { font-size:12px; fill:var(--ink); font-variant-numeric:tabular-nums; }
svg.waterfall .tick { font-size:11px; fill:var(--muted); }
svg.waterfall .tick.sub { font-size:10px; }
svg.waterfall .grid { stroke:#edf0f4; stroke-width:1; }
svg.waterfall .zero { stroke:#7b8794; stroke-width:1.2; }
svg.waterfall .link { stroke:#9aa5b1; stroke-width:1; stroke-dasharray:3 2; }
.net { display:grid; grid-template-columns:minmax(0, 700px) minmax(0, 1fr); gap:18px;
  align-items:start; }
svg.waterfall, svg.network { max-width:100%; height:auto; display:block; }
svg.network .edge { stroke:#b8c2cc; }
svg.network .edge.own { stroke:#1f4e79; stroke-width:2; opacity:.55; }
svg.network .edge.carrier { stroke-dasharray:5 4; }
svg.network .edge.cross { opacity:.45; }
svg.network .node { stroke:#fff; stroke-width:2; }
svg.network .node.new { stroke:#5f6b7a; stroke-dasharray:3 2; }
svg.network .decl { fill:#1f4e79; }
svg.network .decl-label { fill:#fff; font-size:10.5px; font-weight:600; }
svg.network .initial { fill:#fff; font-size:12px; font-weight:700; }
svg.network .role { font-size:11px; fill:var(--muted); letter-spacing:.4px; }
svg.network .pid { font-size:12px; fill:var(--ink); font-weight:600; }
svg.network .pid.small { font-size:10.5px; font-weight:400; }
svg.network .more { font-size:10.5px; fill:var(--muted); font-style:italic; }
svg.network .legend { font-size:11px; fill:var(--muted); }
table { border-collapse:collapse; width:100%; }
table.grid th { text-align:left; font-size:11.5px; text-transform:uppercase; letter-spacing:.4px;
  color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); padding:6px 8px; }
table.grid td { border-bottom:1px solid var(--line); padding:6px 8px; vertical-align:top; }
table.grid td.num { font-variant-numeric:tabular-nums; }
table.grid tr.flag td { background:#fff4e5; }
table.grid tr.flag td:first-child { box-shadow: inset 3px 0 0 var(--medium); font-weight:600; }
table.grid.small td, table.grid.small th { font-size:12px; padding:4px 6px; }
table.fields th { text-align:left; width:42%; color:var(--muted); font-weight:500;
  padding:4px 8px; border-bottom:1px solid var(--line); text-transform:capitalize; }
table.fields td { padding:4px 8px; border-bottom:1px solid var(--line); word-break:break-word; }
.two { display:grid; grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); gap:18px; }
.notes { background:#fff8e1; border:1px solid #f3d27a; border-radius:6px; padding:8px 12px;
  font-size:12.5px; margin:0 0 16px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:4px 0 24px; }
footer code { font-size:11.5px; }
@media print { body { background:#fff; } section { break-inside:avoid; border-color:#ccc; }
  header.top { background:#fff; color:#000; border-bottom:2px solid #000; } }
"""
