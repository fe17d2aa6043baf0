"""The executive strategy report: one self-contained HTML page (plotly.js inlined, no request to
any other host, printable) comparing strategies with a baseline, and the tables behind it.

Lead with the verdict, then the headline numbers with 95 % CIs and differences to the baseline
(green/red only where the paired CI excludes zero), service vs cost, costs, time series, where it
hurts, CRM, risk, and an appendix that is enough to reproduce the report.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reports import charts
from reports.compare import (
    StrategyRun,
    bands,
    campaign_spend_weekly,
    comparison_table,
    cost_breakdown,
    crm_summary,
    disruption_impact,
    efficient_frontier,
    headline_metrics,
    metric_label,
    overrides_in_words,
    planned_demand_weekly,
    scenario_differences,
    verdicts,
    weekly_series,
    worst_sku_locations,
)
from reports.html import PAGE_CSS

__all__ = ["ReportData", "build_report_data", "render_comparison_report", "report_tables"]

RISK_METRICS = (
    ("fill_rate", "Fill rate", ".1%"),
    ("otif", "OTIF", ".1%"),
    ("total_cost", "Total cost", "~s"),
    ("margin", "Margin", "~s"),
)


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, computed once; :func:`report_tables` exports it."""

    runs: tuple[StrategyRun, ...]
    baseline: str
    table: pd.DataFrame
    headline: tuple[str, ...]
    verdicts: dict[str, str]
    frontier: pd.DataFrame
    costs: pd.DataFrame
    weekly: dict[str, pd.DataFrame]
    weekly_bands: dict[str, pd.DataFrame]
    planned_demand: dict[str, pd.DataFrame]
    worst: pd.DataFrame
    disruptions: dict[str, pd.DataFrame]
    crm: dict[str, dict[str, pd.DataFrame]]
    differences: dict[str, list[str]]
    title: str
    generated: str
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [run.name for run in self.runs]

    @property
    def currency(self) -> str:
        return self.runs[0].scenario.currency


def build_report_data(
    runs: Sequence[StrategyRun],
    baseline: str | None = None,
    *,
    title: str | None = None,
    generated: str | None = None,
    versions: Mapping[str, str] | None = None,
) -> ReportData:
    """Compute every table of the report. ``baseline`` defaults to the first strategy.

    Raises
    ------
    ValueError
        With no strategies, duplicate names, or a baseline that is not one of them.
    """
    runs = tuple(runs)
    if not runs:
        raise ValueError("a report needs at least one strategy")
    names = [run.name for run in runs]
    if len(set(names)) < len(names):
        raise ValueError(f"strategy names must be unique: {names}")
    baseline = names[0] if baseline is None else baseline
    if baseline not in names:
        raise ValueError(f"baseline '{baseline}' is not one of the strategies: {names}")
    runs = tuple(sorted(runs, key=lambda r: r.name != baseline))  # baseline first
    table = comparison_table(runs, baseline)
    headline = tuple(headline_metrics(runs))
    weekly = {run.name: weekly_series(run) for run in runs}
    planned = {run.name: p for run in runs if (p := planned_demand_weekly(run)) is not None}
    base = runs[0]
    differences = {run.name: scenario_differences(base.scenario, run.scenario) for run in runs[1:]}
    return ReportData(
        runs=runs,
        baseline=baseline,
        table=table,
        headline=headline,
        verdicts=verdicts(table, baseline, [m for m in headline if m != "avg_inventory_value"]),
        frontier=efficient_frontier(table),
        costs=cost_breakdown(table),
        weekly=weekly,
        weekly_bands={name: bands(frame) for name, frame in weekly.items()},
        planned_demand=planned,
        worst=worst_sku_locations(runs, table),
        disruptions={run.name: disruption_impact(run) for run in runs},
        crm={run.name: s for run in runs if (s := crm_summary(run))},
        differences=differences,
        title=title or f"Strategy comparison: {base.scenario.name}",
        generated=generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=dict(versions or _versions()),
    )


def _versions() -> dict[str, str]:
    import numpy
    import plotly

    return {
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "numpy": numpy.__version__,
        "plotly": plotly.__version__,
    }


# ------------------------------------------------------------------------------ formatting
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt_value(value: Any, unit: str, compact: bool = False) -> str:
    """A KPI for display: fractions as percent, money and units with separators."""
    if not _finite(value):
        return "–"
    v = float(value)
    if unit == "fraction":
        return f"{100 * v:.2f} %"
    if compact and abs(v) >= 1e6:
        return f"{v / 1e6:,.2f} M"
    if compact and abs(v) >= 1e4:
        return f"{v / 1e3:,.1f} k"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def fmt_ci(value: Any, unit: str, compact: bool = False) -> str:
    if not _finite(value):
        return ""
    v = float(value)
    if unit == "fraction":
        return f"± {100 * v:.2f}"
    return "± " + fmt_value(v, unit, compact)


def fmt_diff(value: Any, unit: str, compact: bool = False) -> str:
    if not _finite(value):
        return "–"
    v = float(value)
    if unit == "fraction":
        return f"{'+' if v >= 0 else '−'}{abs(100 * v):.2f} pts"
    sign = "+" if v >= 0 else "−"
    return sign + fmt_value(abs(v), unit, compact)


def _unit_suffix(unit: str, currency: str) -> str:
    if unit == "fraction":
        return ""
    return f" {unit}"


def _shown_unit(unit: str) -> str:
    return "" if unit == "fraction" else unit


def _attrs(**values: Any) -> str:
    parts = []
    for key, value in values.items():
        if isinstance(value, float):
            value = repr(value) if math.isfinite(value) else "nan"
        parts.append(f'data-{key.replace("_", "-")}="{_esc(value)}"')
    return " ".join(parts)


# ------------------------------------------------------------------------------ sections
class _Page:
    """Collects sections and figures."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, str, str]] = []
        self.figures: dict[str, charts.Figure] = {}

    def section(self, anchor: str, title: str, body: str) -> None:
        self.sections.append((anchor, title, body))

    def chart(self, key: str, figure: charts.Figure | None, caption: str = "") -> str:
        if figure is None:
            return ""
        element = f"chart-{key}"
        self.figures[element] = figure
        height = int(figure.get("layout", {}).get("height", 360))
        note = f"<figcaption>{caption}</figcaption>" if caption else ""
        return (
            f'<figure class="chart-box"><div class="chart" id="{element}" '
            f'style="height:{height}px"></div>{note}</figure>'
        )


def _dot(color: str) -> str:
    return f'<span class="dot" style="background:{color}"></span>'


def _verdict_section(data: ReportData, colors: Mapping[str, str]) -> str:
    items = []
    for name in data.names:
        kind = "baseline" if name == data.baseline else "strategy"
        items.append(
            f'<li class="{kind}">{_dot(colors[name])}<strong>{_esc(name)}</strong> — '
            f"{_esc(data.verdicts.get(name, ''))}</li>"
        )
    overall = data.table[data.table["scope"] == "all"]
    best = []
    for metric, pick, phrase in (
        ("fill_rate", "max", "best service"),
        ("total_cost", "min", "lowest cost"),
        ("margin", "max", "highest margin"),
    ):
        rows = overall[overall["metric"] == metric]
        if len(rows) > 1 and rows["value"].notna().any():
            row = rows.loc[rows["value"].idxmax() if pick == "max" else rows["value"].idxmin()]
            best.append(
                f"{phrase}: <strong>{_esc(row['strategy'])}</strong> "
                f"({_esc(fmt_value(row['value'], row['unit'], True))}"
                f"{_esc(_unit_suffix(row['unit'], data.currency))})"
            )
    frontier = [
        s for s, on in zip(data.frontier["strategy"], data.frontier["frontier"], strict=True) if on
    ]
    lines = ""
    if best:
        lines += "<p class='lead'>By mean: " + "; ".join(best) + ".</p>"
    if len(data.frontier) > 1 and frontier:
        lines += (
            "<p class='lead'>On the service–cost efficient frontier (no other strategy "
            "serves better for less): "
            + ", ".join(f"<strong>{_esc(s)}</strong>" for s in frontier)
            + ".</p>"
        )
    return f"<ul class='verdicts'>{''.join(items)}</ul>{lines}"


def _headline_section(data: ReportData, colors: Mapping[str, str]) -> str:
    overall = data.table[data.table["scope"] == "all"].set_index(["strategy", "metric"])
    head = "".join(
        f"<th class='num'>{_esc(metric_label(m))}<div class='unit'>"
        f"{_esc(_shown_unit(overall.xs(m, level='metric')['unit'].iloc[0]))}"
        "</div></th>"
        for m in data.headline
    )
    body = []
    for name in data.names:
        cells = []
        for metric in data.headline:
            if (name, metric) not in overall.index:
                cells.append("<td class='num'>–</td>")
                continue
            row = overall.loc[(name, metric)]
            unit = row["unit"]
            verdict = row["verdict"]
            css = {"better": "good", "worse": "bad", "different": "sig"}.get(verdict, "")
            delta = (
                "<div class='delta base'>baseline</div>"
                if name == data.baseline
                else f"<div class='delta {css}' title='95 % CI of the paired difference"
                f"{' excludes' if row['significant'] else ' includes'} zero'>Δ "
                f"{_esc(fmt_diff(row['diff'], unit, True))}"
                f"<div class='ci'>{_esc(fmt_ci(row['diff_ci_halfwidth'], unit, True))}"
                "</div></div>"
            )
            attrs = _attrs(
                strategy=name,
                metric=metric,
                scope="all",
                unit=unit,
                value=float(row["value"]),
                ci=float(row["ci_halfwidth"]),
                diff=float(row["diff"]),
                diff_ci=float(row["diff_ci_halfwidth"]),
                verdict=verdict,
            )
            cells.append(
                f"<td class='num kpi' {attrs}><div class='v'>"
                f"{_esc(fmt_value(row['value'], unit, True))}</div>"
                f"<div class='ci'>{_esc(fmt_ci(row['ci_halfwidth'], unit, True))}</div>"
                f"{delta}</td>"
            )
        body.append(
            f"<tr><th class='name'>{_dot(colors[name])}{_esc(name)}</th>{''.join(cells)}</tr>"
        )
    return (
        "<div style='overflow-x:auto'>"
        f"<table class='headline' id='headline-table'><thead><tr><th>Strategy</th>{head}</tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
        "<p class='note'>Mean over replications ± 95 % CI half-width (Student t). Δ is the "
        "difference to the baseline, paired by replication (common random numbers), ± its 95 % "
        "CI; <span class='good'>green</span> / <span class='bad'>red</span> only where that CI "
        "excludes zero and the change is better / worse. Percentages: Δ in percentage points."
        "</p>"
    )


def _cost_table(data: ReportData) -> str:
    costs = data.costs
    if costs.empty:
        return ""
    components = list(dict.fromkeys(costs["component"]))
    head = "".join(f"<th class='num'>{_esc(n)}</th>" for n in data.names)
    rows = []
    indexed = costs.set_index(["component", "strategy"])
    total = data.table[(data.table["scope"] == "all") & (data.table["metric"] == "total_cost")]
    for component in [*components, "Total cost"]:
        cells = []
        for name in data.names:
            if component == "Total cost":
                part = total[total["strategy"] == name]
                if part.empty:
                    cells.append("<td class='num'>–</td>")
                    continue
                row = part.iloc[0]
            elif (component, name) in indexed.index:
                row = indexed.loc[(component, name)]
            else:
                cells.append("<td class='num'>–</td>")
                continue
            delta = ""
            if name != data.baseline and _finite(row["diff"]):
                css = ""
                if bool(row["significant"]):
                    css = "bad" if row["diff"] > 0 else "good"
                delta = (
                    f"<div class='delta {css}'>Δ {_esc(fmt_diff(row['diff'], data.currency))}</div>"
                )
            cells.append(
                f"<td class='num'>{_esc(fmt_value(row['value'], data.currency))}"
                f"<div class='ci'>{_esc(fmt_ci(row['ci_halfwidth'], data.currency))}</div>"
                f"{delta}</td>"
            )
        label = _esc(component) + (
            " <span class='unit'>(penalty, not in total)</span>"
            if component == "Shortage penalty"
            else ""
        )
        css = " class='total'" if component == "Total cost" else ""
        rows.append(f"<tr{css}><th>{label}</th>{''.join(cells)}</tr>")
    return (
        f"<table class='costs'><thead><tr><th>{_esc(data.currency)}</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _worst_table(data: ReportData, colors: Mapping[str, str]) -> str:
    worst = data.worst
    rows = []
    for _scope, frame in worst.groupby("scope", sort=False):
        first = True
        for row in frame.itertuples(index=False):
            label = f"<th rowspan='{len(frame)}'>{_esc(row.sku_location)}</th>" if first else ""
            first = False
            rows.append(
                f"<tr>{label}<td>{_dot(colors[row.strategy])}{_esc(row.strategy)}</td>"
                f"<td class='num'>{_esc(fmt_value(row.fill_rate, 'fraction'))}</td>"
                f"<td class='num'>{_esc(fmt_value(row.lost_sales, 'units'))}</td>"
                f"<td class='num'>{_esc(fmt_value(row.backorders, 'units'))}</td>"
                f"<td class='num'>{_esc(fmt_value(row.stockout_days, 'days'))}</td></tr>"
            )
    return (
        "<table class='worst'><thead><tr><th>SKU-location</th><th>Strategy</th>"
        "<th class='num'>Fill rate</th><th class='num'>Lost sales (units)</th>"
        "<th class='num'>Backordered (units)</th><th class='num'>Stockout days</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _disruption_table(data: ReportData, colors: Mapping[str, str]) -> str:
    rows = []
    start_dates = {run.name: run.scenario.start_date for run in data.runs}
    for name, frame in data.disruptions.items():
        for row in frame.itertuples(index=False):
            start = start_dates[name] + dt.timedelta(days=float(row.start))
            end = start_dates[name] + dt.timedelta(days=float(row.end))
            when = (
                f"{start:%d %b} – {end:%d %b %Y}"
                if row.windows <= 1
                else f"{row.windows:.1f} windows per run"
            )
            recover = (
                "not within the horizon"
                if not _finite(row.recover_days)
                else f"{row.recover_days:.0f} days"
            )
            rows.append(
                f"<tr><td>{_esc(row.disruption)}<div class='unit'>{_esc(row.kind)}</div></td>"
                f"<td>{_esc(when)}</td><td>{_dot(colors[name])}{_esc(name)}</td>"
                f"<td class='num'>{_esc(fmt_value(row.fill_before, 'fraction'))}</td>"
                f"<td class='num'>{_esc(fmt_value(row.fill_during, 'fraction'))}</td>"
                f"<td class='num'>{_esc(fmt_value(row.fill_after, 'fraction'))}</td>"
                f"<td class='num'>{_esc(recover)}</td>"
                f"<td class='num'>"
                f"{_esc(fmt_value(row.lost_during + row.backordered_during, 'units'))}</td>"
                f"<td class='num'>{_esc(fmt_value(row.written_off, 'units'))}</td></tr>"
            )
    if not rows:
        return ""
    return (
        "<table class='disruptions'><thead><tr><th>Disruption</th><th>When</th>"
        "<th>Strategy</th><th class='num'>Fill rate 4 weeks before</th>"
        "<th class='num'>During</th><th class='num'>4 weeks after</th>"
        "<th class='num'>Time to recover</th><th class='num'>Units short during</th>"
        "<th class='num'>Written off</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p class='note'>Fill rate of customer orders placed in each period, mean over "
        "replications. Time to recover: days after the disruption ends until a 14-day fill "
        "rate is back within 1 point of the rate before it.</p>"
    )


def _risk_table(data: ReportData) -> str:
    rows = []
    for metric, label, _ in RISK_METRICS:
        for run in data.runs:
            values = run.kpis[(run.kpis["metric"] == metric) & (run.kpis["scope"] == "all")]
            if values.empty:
                continue
            unit = str(values["unit"].iloc[0])
            v = values["value"].dropna()
            q = v.quantile([0.05, 0.5, 0.95]) if len(v) else pd.Series([math.nan] * 3)
            rows.append(
                f"<tr><td>{_esc(label)}</td><td>{_esc(run.name)}</td>"
                + "".join(
                    f"<td class='num'>{_esc(fmt_value(x, unit))}</td>"
                    for x in (
                        v.min() if len(v) else math.nan,
                        *q.tolist(),
                        v.max() if len(v) else math.nan,
                    )
                )
                + "</tr>"
            )
    return (
        "<table class='risk'><thead><tr><th>KPI</th><th>Strategy</th><th class='num'>Min</th>"
        "<th class='num'>P5</th><th class='num'>Median</th>"
        "<th class='num'>P95</th><th class='num'>Max</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


STRESS_TABLES = ("stress_plan_vs_realised", "stress_adherence", "stress_breaks")
"""Tables a stress test (``tandem stress``) adds to each strategy; the report shows them."""

_MEASURE_UNITS = {"fill_rate": "fraction", "purchase_cost": "currency", "holding_cost": "currency",
                  "transport_cost": "currency", "ordering_cost": "currency"}


def _stress_section(data: ReportData) -> str:
    """Planned vs realised per strategy, plan adherence and the assumptions that broke first
    (empty when no strategy comes from a stress test)."""
    runs = [run for run in data.runs if run.table("stress_plan_vs_realised") is not None]
    if not runs:
        return ""
    first = runs[0].table("stress_plan_vs_realised")
    head = "<th>Measure</th><th class='num'>Planned</th>" + "".join(
        f"<th class='num'>{_esc(run.name)}</th>" for run in runs
    )
    body = []
    for k, measure in enumerate(first["measure"]):
        unit = _MEASURE_UNITS.get(measure, "units")
        cells = [f"<td>{_esc(metric_label(measure))}</td>",
                 f"<td class='num'>{_esc(fmt_value(first['planned'].iloc[k], unit))}</td>"]
        for run in runs:
            table = run.table("stress_plan_vs_realised").set_index("measure")
            value = table["realised"].get(measure, math.nan)
            cells.append(f"<td class='num'>{_esc(fmt_value(value, unit))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    html = (
        "<p>The plan was solved once on the CRM forecast; each strategy then ran on the same "
        "sampled demand, lead times and disruptions. Realised values are means over "
        "replications.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    adherence = []
    for run in runs:
        frame = run.table("stress_adherence")
        if frame is None:
            continue
        mean = frame.drop(columns="replication").mean()
        adherence.append(
            f"<tr><td>{_esc(run.name)}</td>"
            f"<td class='num'>{_esc(fmt_value(mean['adherence'], 'fraction'))}</td>"
            + "".join(
                f"<td class='num'>{_esc(fmt_value(mean[c], 'units'))}</td>"
                for c in (
                    "planned_units", "cancelled_units", "replanned_units", "outside_plan_units"
                )
            )
            + f"<td class='num'>{_esc(run.meta.get('re-plans per run', '0'))}</td>"
            f"<td class='num'>{_esc(run.meta.get('seconds per re-plan', '-'))}</td></tr>"
        )
    if adherence:
        html += (
            "<h3>Plan adherence</h3><div style='overflow-x:auto'><table><thead><tr>"
            "<th>Strategy</th>"
            "<th class='num'>Released as planned</th><th class='num'>Planned units</th>"
            "<th class='num'>Cancelled</th><th class='num'>Re-planned</th>"
            "<th class='num'>Outside the plan</th><th class='num'>Re-plans / run</th>"
            "<th class='num'>s / re-plan</th></tr></thead>"
            f"<tbody>{''.join(adherence)}</tbody></table></div>"
        )
    breaks = runs[0].table("stress_breaks")
    if breaks is not None:
        rows = "".join(
            f"<tr><td>{_esc(r.assumption)}</td>"
            f"<td class='num'>{_esc(fmt_value(r.broke_share, 'fraction'))}</td>"
            f"<td>{_esc(r.median_first_date or '-')}</td></tr>"
            for r in breaks.itertuples(index=False)
        )
        html += (
            f"<h3>Which plan assumptions broke first ({_esc(runs[0].name)})</h3>"
            "<table><thead><tr><th>Assumption</th><th class='num'>Broke in (share of runs)</th>"
            f"<th>Median first date</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return html


def _all_kpis_table(data: ReportData) -> str:
    overall = data.table[data.table["scope"] == "all"]
    order = {m: i for i, m in enumerate(dict.fromkeys(overall["metric"]))}
    strategies = {n: i for i, n in enumerate(data.names)}
    overall = overall.assign(
        _m=overall["metric"].map(order), _s=overall["strategy"].map(strategies)
    ).sort_values(["_m", "_s"])
    rows = []
    for row in overall.itertuples(index=False):
        unit = row.unit
        css = {"better": "good", "worse": "bad", "different": "sig"}.get(row.verdict, "")
        attrs = _attrs(
            strategy=row.strategy,
            metric=row.metric,
            scope=row.scope,
            unit=unit,
            value=float(row.value),
            ci=float(row.ci_halfwidth),
            replications=int(row.replications),
        )
        diff = (
            ""
            if row.strategy == data.baseline
            else f"{fmt_diff(row.diff, unit)} {fmt_ci(row.diff_ci_halfwidth, unit)}"
        )
        rows.append(
            f"<tr class='kpi-row' {attrs}><td>{_esc(row.strategy)}</td><td>{_esc(row.metric)}</td>"
            f"<td class='num value'>{_esc(fmt_value(row.value, unit))}</td>"
            f"<td class='num ci'>{_esc(fmt_ci(row.ci_halfwidth, unit))}</td>"
            f"<td>{_esc('%' if unit == 'fraction' else unit)}</td>"
            f"<td class='num {css}'>{_esc(diff)}</td></tr>"
        )
    return (
        "<table class='all-kpis' id='all-kpis'><thead><tr><th>Strategy</th><th>KPI</th>"
        "<th class='num'>Mean</th><th class='num'>95 % CI</th><th>Unit</th>"
        "<th class='num'>Δ vs baseline ± 95 % CI</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _settings_table(data: ReportData) -> str:
    fields: list[tuple[str, Any]] = []
    rows = []
    for run in data.runs:
        s = run.scenario
        plan = run.plan_summary or {}
        fields = [
            ("scenario", s.name),
            ("description", s.description),
            ("horizon", f"{s.horizon_days} days from {s.start_date} ({s.bucket} buckets)"),
            ("warm-up", f"{s.simulation.warmup_days:g} days"),
            ("replications", run.replications),
            ("root seed", run.seed if run.seed is not None else s.simulation.seed),
            ("solver", f"time limit {s.solver.time_limit_s:g} s, MIP gap {s.solver.mip_gap:g}"),
            ("plan status", plan.get("status", "–")),
            (
                "plan objective",
                fmt_value(plan.get("objective"), s.currency)
                if plan.get("objective") is not None
                else "–",
            ),
            ("plan MIP gap", f"{plan['mip_gap']:.3g}" if _finite(plan.get("mip_gap")) else "–"),
            *[(str(k), v) for k, v in run.meta.items()],
        ]
        rows.append((run.name, dict(fields)))
    keys = list(dict.fromkeys(k for _, f in rows for k in f))
    head = "".join(f"<th>{_esc(name)}</th>" for name, _ in rows)
    body = "".join(
        f"<tr><th>{_esc(key)}</th>"
        + "".join(f"<td>{_esc(f.get(key, '–'))}</td>" for _, f in rows)
        + "</tr>"
        for key in keys
    )
    return (
        f"<table class='settings'><thead><tr><th></th>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _appendix(data: ReportData) -> str:
    parts = []
    for run in data.runs[1:]:
        lines = data.differences.get(run.name, [])
        overrides = overrides_in_words(run.overrides)
        items = "".join(f"<li><code>{_esc(line)}</code></li>" for line in lines[:60])
        more = f"<li>… and {len(lines) - 60} more</li>" if len(lines) > 60 else ""
        over = (
            (
                "<p>Overrides given: "
                + "; ".join(f"<code>{_esc(o)}</code>" for o in overrides)
                + "</p>"
            )
            if overrides
            else ""
        )
        empty = "" if lines else "<li>No difference in the resolved scenario.</li>"
        parts.append(
            f"<h3>{_esc(run.name)} vs {_esc(data.baseline)}</h3>{over}"
            f"<ul class='diffs'>{items}{more}{empty}</ul>"
        )
    versions = ", ".join(f"{_esc(k)} {_esc(v)}" for k, v in data.versions.items())
    seeds = {
        run.seed if run.seed is not None else run.scenario.simulation.seed for run in data.runs
    }
    reps = max(run.replications for run in data.runs)
    names = " ".join(_esc(run.scenario.name) for run in data.runs)
    repro = (
        f"tandem compare {names} --replications {reps} --seed {next(iter(seeds))}"
        if len(seeds) == 1
        else "(strategies used different seeds)"
    )
    return (
        "<h3>What differs between the strategies</h3>"
        + ("".join(parts) or "<p>One strategy only.</p>")
        + "<h3>Settings</h3>"
        + _settings_table(data)
        + "<h3>Every KPI (all scopes are in the CSV / Excel export)</h3>"
        + _all_kpis_table(data)
        + f"<h3>Reproduce</h3><p><code>{repro}</code></p>"
        f"<p class='note'>Generated {_esc(data.generated)}; {versions}.</p>"
    )


# ------------------------------------------------------------------------------ the page
_REPORT_CSS = """
.verdicts{list-style:none;padding:0;margin:.4rem 0}.verdicts li{margin:.35rem 0;padding:.5rem .8rem;
border-left:4px solid #cbd2dc;background:#f8fafc;border-radius:4px}
.verdicts li.baseline{background:#fff}
.lead{margin:.4rem 0}
.dot{display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:.4em;vertical-align:baseline}
table.headline td.kpi .v{font-size:1.15rem;font-weight:600;white-space:nowrap}
table.headline td{vertical-align:top}table.headline th.name{white-space:nowrap}
.delta,.ci,td.num,th.num{white-space:nowrap}
table.worst td,table.disruptions td{white-space:nowrap}
.ci{color:#64748b;font-size:.8rem}.unit{color:#64748b;font-size:.75rem;font-weight:400}
.delta{font-size:.82rem;margin-top:.15rem;padding:0 .25rem;border-radius:3px;display:inline-block}
.delta.base{color:#64748b}.good{color:#166534}.bad{color:#b91c1c}
.delta.good{background:#dcfce7}.delta.bad{background:#fee2e2}.delta.sig{background:#e0e7ff}
.note{color:#64748b;font-size:.85rem}.missing{color:#64748b;font-style:italic}
.chart-box{margin:.6rem 0 1rem;break-inside:avoid;page-break-inside:avoid}
.chart-box figcaption{color:#64748b;font-size:.82rem}
tr.total th,tr.total td{border-top:2px solid #94a3b8;font-weight:600}
ul.diffs{margin:.2rem 0 1rem;padding-left:1.2rem;font-size:.88rem}
table.settings td,table.settings th{font-size:.82rem}table.all-kpis{font-size:.82rem}
nav.toc{font-size:.88rem;color:#64748b;margin:.4rem 0 1rem}
nav.toc a{color:#1d4ed8;margin-right:.8rem;text-decoration:none}
@media print{nav.toc{display:none}.modebar,.modebar-container{display:none!important}
section{break-before:auto}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}
table.headline td,table.headline th{padding:.25rem .3rem}table.headline td.kpi .v{font-size:.95rem}
.ci,.delta{font-size:.7rem}table.headline .dot{display:none}}
"""

_BOOT = """
(function(){
  var node = document.getElementById('tandem-figures');
  var figures = JSON.parse(node.textContent);
  var config = {displaylogo: false, responsive: true,
                modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d'],
                toImageButtonOptions: {format: 'png', scale: 2}};
  var jobs = [];
  Object.keys(figures).forEach(function(id){
    var el = document.getElementById(id);
    if (el) { jobs.push(Plotly.newPlot(el, figures[id].data, figures[id].layout, config)); }
  });
  Promise.all(jobs).then(function(){ document.body.setAttribute('data-charts', 'ready'); },
    function(err){ document.body.setAttribute('data-charts', 'failed'); console.error(err); });
  window.addEventListener('beforeprint', function(){
    Object.keys(figures).forEach(function(id){
      var el = document.getElementById(id); if (el) { Plotly.Plots.resize(el); }
    });
  });
})();
"""


def _missing(text: str) -> str:
    return f"<p class='missing'>{_esc(text)}</p>"


def render_comparison_report(
    runs: Sequence[StrategyRun],
    baseline: str | None = None,
    *,
    title: str | None = None,
    generated: str | None = None,
    versions: Mapping[str, str] | None = None,
) -> str:
    """The executive report comparing ``runs`` with ``baseline`` as one self-contained HTML page.

    Parameters
    ----------
    runs
        The strategies; each holds its KPIs per replication and, optionally, result tables.
    baseline
        Name of the strategy the others are compared with (default: the first).
    title, generated, versions
        Page title, generation time text and software versions for the appendix (defaults:
        "Strategy comparison: <baseline scenario>", now, this Python's packages).

    Returns
    -------
    str
        The HTML. plotly.js is inlined; the page requests nothing from any host. Every
        user-supplied string (names, descriptions, SKU and node names) is escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> from scenarios import load_scenario
    >>> s = load_scenario("retailer_holiday")
    >>> k = pd.DataFrame({"replication": [0, 1], "metric": "fill_rate", "scope": "all",
    ...                   "value": [0.9, 0.95], "unit": "fraction"})
    >>> page = render_comparison_report([StrategyRun("base", s, k)], versions={})
    >>> page.startswith("<!DOCTYPE html>") and "92.50 %" in page
    True
    """
    data = build_report_data(runs, baseline, title=title, generated=generated, versions=versions)
    return render_report_data(data)


def render_report_data(data: ReportData) -> str:
    """The HTML page of computed :class:`ReportData`."""
    import plotly.offline

    colors = charts.strategy_colors(data.names)
    page = _Page()
    currency = data.currency
    start = data.runs[0].scenario.start_date
    horizon = max(run.scenario.horizon_days for run in data.runs)
    has_tables = any(not frame.empty for frame in data.weekly.values())
    no_tables = (
        "Time series need the simulation tables (orders, inventory); this report was "
        "built from stored KPIs only."
    )

    page.section("verdict", "Verdict", _verdict_section(data, colors))
    page.section("headline", "Headline numbers", _headline_section(data, colors))

    if len(data.frontier):
        frontier = page.chart("frontier", charts.frontier_figure(data.frontier, colors, currency))
        page.section("service-cost", "Service vs cost", frontier)

    if len(data.costs):
        page.section(
            "costs",
            "Cost breakdown",
            page.chart("costs", charts.cost_figure(data.costs, data.names, currency))
            + _cost_table(data),
        )

    if has_tables:
        windows = []
        for run in data.runs[:1]:
            frame = data.disruptions.get(run.name)
            if frame is not None:
                windows = [
                    (r.disruption, r.start, r.end) for r in frame.itertuples() if r.windows <= 1
                ]
        body = page.chart(
            "time",
            charts.time_figure(data.weekly_bands, colors, start, currency, horizon, windows),
            "Shaded: scheduled disruption windows." if windows else "",
        )
        if any(not f[f["series"] == "demand"].empty for f in data.weekly_bands.values()):
            body += page.chart(
                "demand",
                charts.demand_figure(
                    data.weekly_bands, data.planned_demand, colors, start, horizon
                ),
            )
        spend = {
            run.name: campaign_spend_weekly(run.scenario)
            for run in data.runs
            if run.scenario.crm.campaigns
        }
        if spend:
            body += page.chart(
                "campaigns",
                charts.campaign_figure(spend, data.weekly_bands, colors, start, currency, horizon),
            )
        page.section("over-time", "Over time", body)
    else:
        page.section("over-time", "Over time", _missing(no_tables))

    hurts = ""
    if len(data.worst):
        hurts += page.chart("worst", charts.worst_figure(data.worst, colors, data.names))
        hurts += _worst_table(data, colors)
    else:
        hurts += "<p>No SKU-location lost sales, backorders or stockout days.</p>"
    disruptions = _disruption_table(data, colors)
    if disruptions:
        hurts += "<h3>Disruptions</h3>" + disruptions
    elif any(run.scenario.disruptions for run in data.runs):
        hurts += _missing(
            "Disruption impact needs the simulation tables."
            if not has_tables
            else "No disruption window fell inside the horizon."
        )
    page.section("where-it-hurts", "Where it hurts", hurts)

    stress = _stress_section(data)
    if stress:
        page.section("plan-vs-realised", "Plan vs realised", stress)

    if data.crm:
        figure = charts.crm_figure(data.crm, colors)
        supply = []
        for name, summary in data.crm.items():
            tickets = summary.get("tickets")
            if tickets is not None and tickets["tickets"].sum() > 0:
                share = (
                    tickets.loc[tickets["supply_problem"], "tickets"].sum()
                    / tickets["tickets"].sum()
                )
                supply.append(
                    f"{_esc(name)}: {100 * share:.0f} % of tickets come from supply "
                    "problems (backorders, lost or late orders)"
                )
        note = ("<p>" + "; ".join(supply) + ".</p>") if supply else ""
        page.section("crm", "Customers (CRM)", page.chart("crm", figure) + note)

    risk_metrics = [
        m
        for m in RISK_METRICS
        if any(((r.kpis["metric"] == m[0]) & (r.kpis["scope"] == "all")).any() for r in data.runs)
    ]
    if risk_metrics and max(run.replications for run in data.runs) > 1:
        kpis = {run.name: run.kpis for run in data.runs}
        page.section(
            "risk",
            "Risk: spread over replications",
            page.chart("risk", charts.risk_figure(kpis, risk_metrics, colors)) + _risk_table(data),
        )
    else:
        page.section(
            "risk",
            "Risk: spread over replications",
            _missing("One replication: run more to see the spread."),
        )

    page.section("appendix", "Appendix: how these numbers were made", _appendix(data))

    nav = "".join(f"<a href='#{anchor}'>{_esc(title)}</a>" for anchor, title, _ in page.sections)
    sections = "".join(
        f"<section id='{anchor}'><h2>{_esc(title)}</h2>{body}</section>"
        for anchor, title, body in page.sections
    )
    figures = (
        "{"
        + ",".join(f'"{key}":{charts.figure_json(fig)}' for key, fig in page.figures.items())
        + "}"
    )
    base_run = data.runs[0]
    reps = sorted({run.replications for run in data.runs})
    subtitle = (
        f"{len(data.runs)} strateg{'y' if len(data.runs) == 1 else 'ies'}, baseline "
        f"<strong>{_esc(data.baseline)}</strong>; {'/'.join(map(str, reps))} replications; "
        f"{base_run.scenario.horizon_days} days from {base_run.scenario.start_date}; "
        f"money in {_esc(currency)}. Generated {_esc(data.generated)}."
    )
    description = (
        f"<p class='sub'>{_esc(base_run.scenario.description)}</p>"
        if base_run.scenario.description
        else ""
    )
    plotly_js = plotly.offline.get_plotlyjs()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(data.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{PAGE_CSS}{_REPORT_CSS}</style></head>
<body>
<header><h1>{_esc(data.title)}</h1>{description}<p class="sub">{subtitle}</p></header>
<nav class="toc">{nav}</nav>
<noscript><p class="missing">Charts need JavaScript; every number is also in the tables.</p>
</noscript>
{sections}
<script type="application/json" id="tandem-figures">{figures}</script>
<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
<script>{plotly_js}</script>
<script>{_BOOT}</script>
</body></html>
"""


# ------------------------------------------------------------------------------ tables
def report_tables(data: ReportData) -> dict[str, pd.DataFrame]:
    """The report's tables for CSV / Excel export, by name."""
    tables: dict[str, pd.DataFrame] = {}
    tables["headline"] = data.table[
        (data.table["scope"] == "all") & data.table["metric"].isin(data.headline)
    ].reset_index(drop=True)
    tables["verdicts"] = pd.DataFrame(
        {"strategy": list(data.verdicts), "verdict": list(data.verdicts.values())}
    )
    tables["kpis"] = data.table
    tables["frontier"] = data.frontier
    tables["costs"] = data.costs
    weekly = [b.assign(strategy=name) for name, b in data.weekly_bands.items() if len(b)]
    if weekly:
        frame = pd.concat(weekly, ignore_index=True)
        start = {run.name: run.scenario.start_date for run in data.runs}
        frame.insert(
            0,
            "week_start",
            [
                start[s] + dt.timedelta(days=7 * int(w))
                for s, w in zip(frame["strategy"], frame["week"], strict=True)
            ],
        )
        tables["weekly"] = frame[
            ["strategy", "week_start", "week", "series", "mean", "low", "high", "replications"]
        ]
    if len(data.worst):
        tables["worst_sku_locations"] = data.worst
    disruptions = [f.assign(strategy=n) for n, f in data.disruptions.items() if len(f)]
    if disruptions:
        tables["disruptions"] = pd.concat(disruptions, ignore_index=True)
    for key in STRESS_TABLES:
        parts = [
            t.assign(strategy=run.name) for run in data.runs if (t := run.table(key)) is not None
        ]
        if parts:
            tables[key.removeprefix("stress_")] = pd.concat(parts, ignore_index=True)
    for key in ("funnel", "churn", "tickets"):
        parts = [s[key].assign(strategy=n) for n, s in data.crm.items() if key in s]
        if parts:
            tables[f"crm_{key}"] = pd.concat(parts, ignore_index=True)
    tables["replications"] = pd.concat(
        [run.kpis.assign(strategy=run.name) for run in data.runs], ignore_index=True
    )
    tables["scenario_differences"] = pd.DataFrame(
        [(name, line) for name, lines in data.differences.items() for line in lines],
        columns=["strategy", "difference_to_baseline"],
    )
    return tables
