"""Plotly figures of the executive report, as JSON-ready dicts (drawn by the inlined plotly.js).

User-supplied text (strategy, product, node, campaign names) is HTML-escaped before it reaches
plotly, whose labels understand a little HTML: ``<b>`` in a name shows as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["PALETTE", "Figure", "figure_json", "strategy_colors", "text"]

Figure = dict[str, Any]

PALETTE = (
    "#475569",
    "#2563eb",
    "#d97706",
    "#059669",
    "#be185d",
    "#7c3aed",
    "#0891b2",
    "#65a30d",
    "#b45309",
    "#4338ca",
)
"""Strategy colours: the baseline is slate, the others follow."""

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_GRID = "#e5e8ee"


def text(value: Any) -> str:
    """Escape ``value`` for a plotly label (plotly decodes the entities and shows the text)."""
    return html.escape(str(value), quote=False)


def strategy_colors(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(title: str, height: int, **more: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
        "height": height,
        "margin": {"l": 64, "r": 16, "t": 44, "b": 48},
        "font": {"family": _FONT, "size": 12, "color": "#1f2937"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hovermode": "closest",
    }
    layout.update(more)
    return layout


def _axis(title: str = "", **more: Any) -> dict[str, Any]:
    axis = {
        "title": {"text": title},
        "gridcolor": _GRID,
        "zerolinecolor": "#cbd2dc",
        "linecolor": "#cbd2dc",
        "automargin": True,
    }
    axis.update(more)
    return axis


def _money_axis(title: str) -> dict[str, Any]:
    return _axis(title, tickformat="~s")


def figure_json(figure: Figure) -> str:
    """JSON of a figure, safe inside an HTML ``<script>`` element (``<``, ``>`` and ``&`` are
    written as ``\\u003c`` …, which JSON reads back unchanged)."""
    raw = json.dumps(figure, allow_nan=False, default=_default, separators=(",", ":"))
    return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _zero(value: float) -> float:
    return float(value) if value is not None and math.isfinite(float(value)) else 0.0


def _clean(values: Sequence[float] | pd.Series) -> list[float | None]:
    """Floats with NaN/inf as None (plotly leaves a gap)."""
    out: list[float | None] = []
    for v in values:
        f = float(v) if v is not None else math.nan
        out.append(f if math.isfinite(f) else None)
    return out


# ------------------------------------------------------------------------------ figures
def frontier_figure(
    frontier: pd.DataFrame,
    colors: Mapping[str, str],
    currency: str,
    service_label: str = "Fill rate",
) -> Figure:
    """Service (y) against total cost (x), 95 % CI bars both ways, the efficient frontier as a
    line through the strategies no other one beats on both."""
    traces: list[dict[str, Any]] = []
    on = frontier[frontier["frontier"]].sort_values("cost")
    if len(on) > 1:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": _clean(on["cost"]),
                "y": _clean(on["service"]),
                "name": "efficient frontier",
                "line": {"color": "#94a3b8", "dash": "dot", "width": 2},
                "hoverinfo": "skip",
            }
        )
    for row in frontier.itertuples(index=False):
        name = text(row.strategy)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "name": name,
                "x": _clean([row.cost]),
                "y": _clean([row.service]),
                "text": [name],
                "textposition": "top center",
                "cliponaxis": False,
                "marker": {
                    "size": 13,
                    "color": colors[row.strategy],
                    "symbol": "circle" if row.frontier else "circle-open",
                    "line": {"width": 2, "color": colors[row.strategy]},
                },
                "error_x": {
                    "type": "data",
                    "array": _clean([row.cost_ci]),
                    "color": colors[row.strategy],
                    "thickness": 1.5,
                    "width": 4,
                },
                "error_y": {
                    "type": "data",
                    "array": _clean([row.service_ci]),
                    "color": colors[row.strategy],
                    "thickness": 1.5,
                    "width": 4,
                },
                "hovertemplate": f"{name}<br>cost %{{x:,.0f}} {text(currency)}<br>"
                f"{service_label.lower()} %{{y:.2%}}<extra></extra>",
            }
        )
    xs = [
        v
        for row in frontier.itertuples(index=False)
        for v in (row.cost - _zero(row.cost_ci), row.cost + _zero(row.cost_ci))
    ]
    span = (max(xs) - min(xs)) if xs else 0.0
    pad = 0.18 * span if span > 0 else max(1.0, 0.05 * abs(xs[0]) if xs else 1.0)
    x_range = [min(xs) - pad, max(xs) + pad] if xs else None
    return {
        "data": traces,
        "layout": _layout(
            f"{service_label} vs total cost (mean ± 95 % CI; filled = on the efficient frontier)",
            400,
            xaxis=_money_axis(f"Total cost ({text(currency)}) — lower is better")
            | ({"range": x_range} if x_range else {}),
            yaxis=_axis(f"{service_label} — higher is better", tickformat=".1%"),
            showlegend=False,
        ),
    }


def cost_figure(costs: pd.DataFrame, order: Sequence[str], currency: str) -> Figure:
    """Stacked horizontal bars of cash cost components per strategy; the shortage penalty (not a
    cash cost) as a hatched bar beside them."""
    component_colors = ["#1d4ed8", "#0d9488", "#ca8a04", "#9333ea", "#ea580c", "#db2777"]
    traces = []
    names = [text(s) for s in order]
    components = list(dict.fromkeys(costs["component"]))
    for i, component in enumerate(components):
        part = costs[costs["component"] == component].set_index("strategy")
        in_total = bool(part["in_total"].iloc[0]) if len(part) else True
        values = [float(part.loc[s, "value"]) if s in part.index else 0.0 for s in order]
        trace = {
            "type": "bar",
            "orientation": "h",
            "name": text(component),
            "y": names,
            "x": _clean(values),
            "hovertemplate": f"{text(component)}: %{{x:,.0f}} {text(currency)}"
            "<extra>%{y}</extra>",
        }
        if in_total:
            trace["marker"] = {"color": component_colors[i % len(component_colors)]}
        else:
            trace.update(
                {
                    "marker": {
                        "color": "rgba(220,38,38,0.15)",
                        "line": {"color": "#dc2626", "width": 1},
                        "pattern": {"shape": "/", "fgcolor": "#dc2626"},
                    },
                    "xaxis": "x2",
                    "name": "shortage penalty (not in total cost)",
                }
            )
        traces.append(trace)
    has_penalty = any(not bool(v) for v in costs["in_total"]) if len(costs) else False
    layout = _layout(
        "Cost breakdown per strategy (mean over replications)",
        max(280, 110 + 56 * len(order)),
        barmode="stack",
        yaxis=_axis("", autorange="reversed"),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "traceorder": "normal"},
        margin={"l": 64, "r": 16, "t": 84, "b": 48},
    )
    if has_penalty:
        layout["xaxis"] = _money_axis(f"Cash cost ({text(currency)})") | {"domain": [0, 0.72]}
        layout["xaxis2"] = _money_axis("Shortage penalty") | {"domain": [0.78, 1], "anchor": "y"}
    else:
        layout["xaxis"] = _money_axis(f"Cash cost ({text(currency)})")
    return {"data": traces, "layout": layout}


def _band(
    x: list[str], part: pd.DataFrame, color: str, alpha: float, **extra: Any
) -> dict[str, Any]:
    """A filled 10th–90th percentile band (``part``'s ``low`` and ``high``) over dates ``x``."""
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x + x[::-1],
        "y": _clean(list(part["high"]) + list(part["low"])[::-1]),
        "fill": "toself",
        "fillcolor": _rgba(color, alpha),
        "line": {"width": 0, "color": color},
        "hoverinfo": "skip",
        "showlegend": False,
        **extra,
    }


def _week_dates(start: dt.date, weeks: Sequence[int]) -> list[str]:
    return [(start + dt.timedelta(days=7 * int(w))).isoformat() for w in weeks]


def time_figure(
    bands_by_strategy: Mapping[str, pd.DataFrame],
    colors: Mapping[str, str],
    start: dt.date,
    currency: str,
    horizon_days: int,
    windows: Sequence[tuple[str, float, float]] = (),
) -> Figure:
    """Fill rate, backlog and inventory value per week: mean line and a P10–P90 band over
    replications per strategy; disruption windows shaded."""
    rows = (
        ("fill_rate", "Fill rate", ".0%"),
        ("backlog", "Backlog (units)", "~s"),
        ("inventory_value", f"Inventory value ({text(currency)})", "~s"),
    )
    traces: list[dict[str, Any]] = []
    for axis_index, (series, _, _) in enumerate(rows, start=1):
        suffix = "" if axis_index == 1 else str(axis_index)
        for strategy, frame in bands_by_strategy.items():
            part = frame[frame["series"] == series].sort_values("week")
            if part.empty:
                continue
            x = _week_dates(start, part["week"])
            color = colors[strategy]
            name = text(strategy)
            traces.append(
                _band(
                    x, part, color, 0.13, legendgroup=name, xaxis=f"x{suffix}", yaxis=f"y{suffix}"
                )
            )
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": _clean(part["mean"]),
                    "name": name,
                    "legendgroup": name,
                    "showlegend": axis_index == 1,
                    "line": {"color": color, "width": 2},
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
    layout = _layout(
        "Over time: weekly mean, band = 10th–90th percentile over replications",
        620,
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.06, "x": 0},
    )
    gap = 0.05
    height = (1 - 2 * gap) / 3
    shapes = []
    for axis_index, (_, title, fmt) in enumerate(rows, start=1):
        suffix = "" if axis_index == 1 else str(axis_index)
        top = 1 - (axis_index - 1) * (height + gap)
        layout[f"yaxis{suffix}"] = _axis(
            title, tickformat=fmt, domain=[max(0.0, top - height), top]
        )
        layout[f"xaxis{suffix}"] = _axis(
            "",
            type="date",
            anchor=f"y{suffix}",
            range=_date_range(start, horizon_days),
            matches="x" if axis_index > 1 else None,
            showticklabels=axis_index == len(rows),
        )
        for _name, lo, hi in windows:
            shapes.append(
                {
                    "type": "rect",
                    "xref": f"x{suffix}",
                    "yref": f"y{suffix} domain",
                    "x0": (start + dt.timedelta(days=lo)).isoformat(),
                    "x1": (start + dt.timedelta(days=hi)).isoformat(),
                    "y0": 0,
                    "y1": 1,
                    "fillcolor": "rgba(220,38,38,0.08)",
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
    for key in list(layout):
        if key.startswith("xaxis") and layout[key].get("matches") is None:
            layout[key].pop("matches", None)
    layout["shapes"] = shapes
    layout["margin"] = {"l": 70, "r": 16, "t": 70, "b": 40}
    return {"data": traces, "layout": layout}


def demand_figure(
    actual: Mapping[str, pd.DataFrame],
    planned: Mapping[str, pd.DataFrame],
    colors: Mapping[str, str],
    start: dt.date,
    horizon_days: int,
) -> Figure:
    """Simulated weekly demand (mean and band) against the demand the plan was made for."""
    traces: list[dict[str, Any]] = []
    for strategy, frame in actual.items():
        part = frame[frame["series"] == "demand"].sort_values("week")
        color, name = colors[strategy], text(strategy)
        if len(part):
            x = _week_dates(start, part["week"])
            traces.append(_band(x, part, color, 0.12))
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": _clean(part["mean"]),
                    "name": f"{name}: simulated",
                    "line": {"color": color, "width": 2},
                }
            )
        plan = planned.get(strategy)
        if plan is not None and len(plan):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": _week_dates(start, plan["week"]),
                    "y": _clean(plan["units"]),
                    "name": f"{name}: planned",
                    "line": {"color": color, "width": 2, "dash": "dash"},
                }
            )
    return {
        "data": traces,
        "layout": _layout(
            "Demand vs plan: units ordered per week (simulated mean and band) and the forecast the "
            "plan was made for (dashed)",
            360,
            hovermode="x unified",
            xaxis=_axis("", type="date", range=_date_range(start, horizon_days)),
            yaxis=_axis("Units per week", tickformat="~s", rangemode="tozero"),
        ),
    }


def campaign_figure(
    spend: Mapping[str, pd.DataFrame],
    orders: Mapping[str, pd.DataFrame],
    colors: Mapping[str, str],
    start: dt.date,
    currency: str,
    horizon_days: int,
) -> Figure:
    """Campaign spend per week (light bars, per strategy) and the order lines attributed to a
    campaign (lines, mean over replications)."""
    traces: list[dict[str, Any]] = []
    for strategy, frame in spend.items():
        if frame.empty:
            continue
        weekly = frame.groupby("week")["spend"].sum().reset_index()
        traces.append(
            {
                "type": "bar",
                "x": _week_dates(start, weekly["week"]),
                "y": _clean(weekly["spend"]),
                "name": f"{text(strategy)}: spend",
                "marker": {"color": _rgba(colors[strategy], 0.28)},
                "yaxis": "y2",
                "xperiod": 7 * 86400000,
                "xperiodalignment": "start",
                "hovertemplate": f"%{{y:,.0f}} {text(currency)}<extra>{text(strategy)}</extra>",
            }
        )
    for strategy, frame in orders.items():
        part = frame[frame["series"] == "campaign_orders"].sort_values("week")
        if part.empty:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": _week_dates(start, part["week"]),
                "y": _clean(part["mean"]),
                "name": f"{text(strategy)}: campaign orders",
                "line": {"color": colors[strategy], "width": 2},
            }
        )
    return {
        "data": traces,
        "layout": _layout(
            "Campaigns: spend per week (bars, right axis) and order lines attributed to a campaign "
            "(lines)",
            360,
            barmode="group",
            hovermode="x unified",
            xaxis=_axis("", type="date", range=_date_range(start, horizon_days)),
            yaxis=_axis("Order lines per week", tickformat="~s", rangemode="tozero"),
            yaxis2=_axis(
                f"Spend per week ({text(currency)})",
                overlaying="y",
                side="right",
                tickformat=",.3~s",
                showgrid=False,
                rangemode="tozero",
                tickmode="auto",
                nticks=6,
            ),
        ),
    }


def _date_range(start: dt.date, horizon_days: int) -> list[str]:
    return [start.isoformat(), (start + dt.timedelta(days=horizon_days)).isoformat()]


def worst_figure(worst: pd.DataFrame, colors: Mapping[str, str], order: Sequence[str]) -> Figure:
    """Lost sales + backorders of the worst SKU-locations, one bar per strategy."""
    traces = []
    locations = list(dict.fromkeys(worst["sku_location"]))
    for strategy in order:
        part = worst[worst["strategy"] == strategy].set_index("sku_location")
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": text(strategy),
                "y": [text(s) for s in locations],
                "x": _clean(
                    [part.loc[s, "shortfall"] if s in part.index else 0.0 for s in locations]
                ),
                "marker": {"color": colors[strategy]},
                "hovertemplate": "%{y}: %{x:,.0f} units<extra>" + text(strategy) + "</extra>",
            }
        )
    return {
        "data": traces,
        "layout": _layout(
            "Worst SKU-locations: units lost or backordered (mean per replication)",
            max(200, 110 + 20 * len(locations) * max(1, len(order))),
            barmode="group",
            bargap=0.3,
            yaxis=_axis("", autorange="reversed"),
            xaxis=_axis("Units", tickformat="~s"),
        ),
    }


def risk_figure(
    kpis_by_strategy: Mapping[str, pd.DataFrame],
    metrics: Sequence[tuple[str, str, str]],
    colors: Mapping[str, str],
) -> Figure:
    """Box plots (all replications shown) of key KPIs per strategy, one panel per KPI."""
    traces = []
    count = len(metrics)
    columns = 2 if count > 1 else 1
    rows = math.ceil(count / columns)
    layout = _layout(
        "Risk: distribution over replications (box = quartiles, whiskers, every "
        "replication as a dot)",
        280 * rows + 40,
        showlegend=False,
    )
    hgap, vgap = 0.12, 0.14
    width = (1 - hgap * (columns - 1)) / columns
    height = (1 - vgap * (rows - 1)) / rows
    annotations = []
    for k, (metric, label, fmt) in enumerate(metrics):
        row, col = divmod(k, columns)
        suffix = "" if k == 0 else str(k + 1)
        x0 = col * (width + hgap)
        y1 = 1 - row * (height + vgap)
        layout[f"xaxis{suffix}"] = _axis("", domain=[x0, x0 + width], anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = _axis(
            "", domain=[y1 - height, y1], anchor=f"x{suffix}", tickformat=fmt
        )
        annotations.append(
            {
                "text": f"<b>{text(label)}</b>",
                "x": x0,
                "y": y1 + 0.01,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )
        for strategy, frame in kpis_by_strategy.items():
            values = frame[(frame["metric"] == metric) & (frame["scope"] == "all")]["value"]
            traces.append(
                {
                    "type": "box",
                    "name": text(strategy),
                    "y": _clean(values),
                    "boxpoints": "all",
                    "jitter": 0.35,
                    "pointpos": 0,
                    "marker": {"color": colors[strategy], "size": 4, "opacity": 0.6},
                    "line": {"color": colors[strategy]},
                    "fillcolor": _rgba(colors[strategy], 0.15),
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
    layout["annotations"] = annotations
    layout["margin"] = {"l": 64, "r": 16, "t": 64, "b": 40}
    return {"data": traces, "layout": layout}


def crm_figure(
    summaries: Mapping[str, Mapping[str, pd.DataFrame]], colors: Mapping[str, str]
) -> Figure | None:
    """Grouped bars: funnel stages, churn by cause and tickets by reason, per strategy."""
    panels = [
        ("funnel", "stage", "count", "Funnel: leads reaching each stage"),
        ("churn", "cause", "customers", "Customers churned by cause"),
        ("tickets", "reason", "tickets", "Service tickets by reason"),
    ]
    present = [p for p in panels if any(p[0] in s for s in summaries.values())]
    if not present:
        return None
    traces = []
    layout = _layout("CRM per strategy (mean per replication)", 330, barmode="group")
    gap = 0.08
    width = (1 - gap * (len(present) - 1)) / len(present)
    annotations = []
    for k, (key, category, value, title) in enumerate(present):
        suffix = "" if k == 0 else str(k + 1)
        x0 = k * (width + gap)
        layout[f"xaxis{suffix}"] = _axis("", domain=[x0, x0 + width], anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = _axis("", anchor=f"x{suffix}", tickformat="~s")
        annotations.append(
            {
                "text": f"<b>{title}</b>",
                "x": x0,
                "y": 1.02,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )
        for strategy, summary in summaries.items():
            frame = summary.get(key)
            if frame is None:
                continue
            traces.append(
                {
                    "type": "bar",
                    "name": text(strategy),
                    "legendgroup": text(strategy),
                    "showlegend": k == 0,
                    "x": [text(c) for c in frame[category]],
                    "y": _clean(frame[value]),
                    "marker": {"color": colors[strategy]},
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
    layout["annotations"] = annotations
    layout["margin"] = {"l": 56, "r": 16, "t": 70, "b": 40}
    return {"data": traces, "layout": layout}
