"""The single-run HTML report: a self-contained page (no external requests) with KPIs, the plan
summary and inventory over time as an inline SVG chart."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["PAGE_CSS", "render_run_report", "svg_line_chart"]

PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1040px;
padding:0 1.2rem;color:#1f2937;line-height:1.45;font-size:15px}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;margin-top:2rem;padding-bottom:.2rem;
border-bottom:2px solid #e2e8f0}h3{font-size:1rem;margin:1.2rem 0 .4rem}
.sub{color:#64748b;margin:.2rem 0}table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0}
td,th{padding:.32rem .6rem;border-bottom:1px solid #edf0f4;text-align:left}thead th{background:#f4f6f9;
font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.85em;background:#f4f6f9;padding:0 .2em;border-radius:3px}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #e2e8f0;border-radius:8px;
padding:.6rem 1rem;min-width:150px}.card .v{font-size:1.4rem;font-weight:600}.card .l{color:#64748b;font-size:.85rem}
svg text{font-size:11px;fill:#64748b}
@page{size:A4;margin:12mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:12px}h2{break-after:avoid}}
"""
_CSS = PAGE_CSS

_HEADLINE = (
    ("fill_rate", "Fill rate"),
    ("otif", "OTIF"),
    ("revenue", "Revenue"),
    ("total_cost", "Total cost"),
    ("margin", "Margin"),
    ("avg_inventory", "Avg inventory"),
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "fraction":
        return f"{100 * float(value):.1f} %"
    if isinstance(value, (int, float)):
        number = float(value)
        if abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:,.2f}" if number != int(number) else f"{int(number):,}"
    return str(value)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def svg_line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    width: int = 900,
    height: int = 260,
    title: str = "",
) -> str:
    """A small inline SVG line chart (no JavaScript, prints well). Series names are escaped."""
    colors = ["#2f6fde", "#d9822b", "#2e9e5b", "#b23b6b", "#6b5bd2"]
    pad_l, pad_r, pad_t, pad_b = 60, 10, 24, 28
    values = [v for s in series.values() for v in s if not math.isnan(v)]
    if not x or not values:
        return "<p class='sub'>No data.</p>"
    x_min, x_max = min(x), max(x)
    y_max = max(values) or 1.0
    span_x = (x_max - x_min) or 1.0

    def px(value: float) -> float:
        return pad_l + (value - x_min) / span_x * (width - pad_l - pad_r)

    def py(value: float) -> float:
        return height - pad_b - value / y_max * (height - pad_t - pad_b)

    parts = [f"<svg role='img' aria-label='{_esc(title)}' viewBox='0 0 {width} {height}' "
             f"width='100%' xmlns='http://www.w3.org/2000/svg'>"]
    parts.append(f"<text x='{pad_l}' y='14'>{_esc(title)}</text>")
    for k in range(5):
        level = y_max * k / 4
        parts.append(f"<line x1='{pad_l}' x2='{width - pad_r}' y1='{py(level):.1f}' y2='{py(level):.1f}' "
                     "stroke='#eef'/>")
        parts.append(f"<text x='{pad_l - 6}' y='{py(level) + 4:.1f}' text-anchor='end'>{_fmt(level)}</text>")
    parts.append(f"<text x='{pad_l}' y='{height - 8}'>day {x_min:g}</text>")
    parts.append(f"<text x='{width - pad_r}' y='{height - 8}' text-anchor='end'>day {x_max:g}</text>")
    for i, (name, ys) in enumerate(series.items()):
        color = colors[i % len(colors)]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, ys, strict=True)
                          if not math.isnan(b))
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='1.6' points='{points}'/>")
        parts.append(f"<text x='{width - pad_r - 160}' y='{pad_t + 14 * i}' style='fill:{color}'>"
                     f"{_esc(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame, columns: Sequence[str], units: str | None = None) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column in columns:
            value = row[column]
            if column == "value" and units:
                cells.append(f"<td class='num'>{_esc(_fmt(value, str(row[units])))}</td>")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f"<td class='num'>{_esc(_fmt(value))}</td>")
            else:
                cells.append(f"<td>{_esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_run_report(
    *,
    title: str,
    description: str,
    meta: Mapping[str, Any],
    kpis: pd.DataFrame,
    plan_summary: Mapping[str, Any],
    inventory: pd.DataFrame,
    currency: str,
) -> str:
    """The HTML of one run: headline cards, KPI table, plan summary, inventory chart, settings.

    ``kpis`` is a summary table (``metric, scope, value, unit, …``); ``inventory`` the
    simulation's inventory table. Every user-supplied string is HTML-escaped.
    """
    overall = kpis[kpis["scope"] == "all"]
    lookup = {m: (v, u) for m, v, u in zip(overall["metric"], overall["value"], overall["unit"], strict=True)}
    cards = []
    for metric, label in _HEADLINE:
        if metric in lookup:
            value, unit = lookup[metric]
            shown = _fmt(value, unit) + ("" if unit in ("fraction",) or unit != currency else f" {currency}")
            cards.append(f"<div class='card'><div class='v'>{_esc(shown)}</div>"
                         f"<div class='l'>{_esc(label)}</div></div>")
    if len(inventory):
        daily = inventory.groupby(["replication", "day"])[["on_hand", "backorders"]].sum()
        mean = daily.groupby(level="day").mean()
        chart = svg_line_chart(
            mean.index.tolist(),
            {"on hand (units)": mean["on_hand"].tolist(), "backorders (units)": mean["backorders"].tolist()},
            title="Inventory and backorders over time, all stock points (mean over replications)",
        )
    else:
        chart = "<p class='sub'>No stock points in this scenario.</p>"
    plan_rows = "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(_fmt(v) if isinstance(v, float) else v)}</td></tr>"
        for k, v in plan_summary.items() if not isinstance(v, Mapping)
    )
    costs = plan_summary.get("cost_breakdown", {}) or {}
    cost_rows = "".join(f"<tr><th>{_esc(k)}</th><td class='num'>{_esc(_fmt(v))}</td></tr>"
                        for k, v in costs.items())
    meta_rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in meta.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)} – Tandem run</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>{_esc(title)}</h1><p class="sub">{_esc(description)}</p>
<div class="cards">{''.join(cards)}</div>
<h2>Inventory over time</h2>{chart}
<h2>Key performance indicators</h2>
{_table(overall, ["metric", "value", "unit"], units="unit")}
<h2>Supply plan</h2><table>{plan_rows}</table>
<h3>Planned cost breakdown ({_esc(currency)})</h3><table>{cost_rows}</table>
<h2>Run settings</h2><table>{meta_rows}</table>
<p class="sub">Generated by Tandem. Per-product and per-node KPIs are in kpis.csv.</p>
</body></html>
"""
