"""Strategy comparison data: per-strategy KPIs with 95 % CIs, paired differences to a baseline on
common random numbers, verdicts, and the derived tables an executive report shows and exports.

Everything here takes plain data (:class:`StrategyRun`) and returns pandas tables; rendering is
:mod:`reports.executive`, charts :mod:`reports.charts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.kpis import KPI_COLUMNS, summarize, t95
from scenarios.schema import ProductKind, Scenario

__all__ = [
    "COST_COMPONENTS",
    "HEADLINE_METRICS",
    "StrategyRun",
    "better_direction",
    "comparison_table",
    "cost_breakdown",
    "crm_summary",
    "disruption_impact",
    "efficient_frontier",
    "metric_label",
    "paired_difference",
    "scenario_differences",
    "verdicts",
    "weekly_series",
    "worst_sku_locations",
]


@dataclass(frozen=True)
class StrategyRun:
    """One strategy of a comparison, as plain data (``reports`` never imports the pipeline).

    Parameters
    ----------
    name
        Label shown in the report (free text; always escaped).
    scenario
        The resolved scenario the strategy ran.
    kpis
        KPIs per replication: the long table of :func:`reports.compute_kpis`
        (``replication, metric, scope, value, unit``).
    tables
        Optional result tables by name: ``orders``, ``events``, ``inventory``, ``crm_*``,
        ``plan_*`` (plan tables), ``forecast``, ``disruption_windows`` (``replication, index,
        name, kind, start, end``). Sections whose tables are missing say so instead of a chart.
    plan_summary
        The plan's status, objective, gap and planned cost breakdown (JSON-ready).
    overrides
        The what-if relative to the baseline (field path → value), for the appendix.
    meta
        Anything worth reproducing the run: run id, version, timings … (shown in the appendix).
    seed
        Root seed of the replications. Two strategies with the same seed and replication index
        ran on common random numbers, so their differences are paired.
    """

    name: str
    scenario: Scenario
    kpis: pd.DataFrame
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    plan_summary: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None

    @property
    def replications(self) -> int:
        return int(self.kpis["replication"].nunique()) if len(self.kpis) else 0

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name`` when present and not empty, else None."""
        frame = self.tables.get(name)
        return frame if frame is not None and len(frame) else None


# ------------------------------------------------------------------------------ metric catalog
HEADLINE_METRICS = ("fill_rate", "otif", "total_cost", "revenue", "margin", "avg_inventory_value")
"""The headline KPIs, in order; a campaign ROI KPI is appended when the runs have one."""

COST_COMPONENTS = (
    ("purchase_cost", "Purchase"),
    ("production_cost", "Production"),
    ("holding_cost", "Holding"),
    ("ordering_cost", "Ordering"),
    ("transport_cost", "Transport"),
    ("campaign_cost", "Campaigns"),
    ("campaign_spend", "Campaigns"),
)
"""Cash cost KPIs stacked in the cost breakdown (campaign cost only when a KPI exists)."""

_LABELS = {
    "fill_rate": "Fill rate",
    "otif": "OTIF",
    "total_cost": "Total cost",
    "revenue": "Revenue",
    "margin": "Margin",
    "avg_inventory_value": "Inventory value",
    "ending_inventory_value": "Inventory value at the end",
    "avg_inventory": "Inventory (units)",
    "lost_sales": "Lost sales",
    "backorders": "Backorders",
    "shortage_cost": "Shortage penalty",
    "stockout_days": "Stockout days",
    "order_fill_rate": "Order fill rate",
    "cycle_service_level": "Cycle service level",
    "inventory_turns": "Inventory turns",
    "days_of_supply": "Days of supply",
    "order_lead_time_mean": "Order lead time (mean)",
    "order_lead_time_p95": "Order lead time (P95)",
    "backorder_age_mean": "Backorder age",
    "bullwhip_ratio": "Bullwhip ratio",
    "demand_units": "Demand",
    "orders": "Order lines",
}
_LOWER_IS_BETTER = (
    "cost",
    "lost",
    "backorder",
    "stockout",
    "lead_time",
    "bullwhip",
    "age",
    "inventory_value",
    "churn",
    "ticket",
)
_HIGHER_IS_BETTER = (
    "fill",
    "otif",
    "revenue",
    "margin",
    "service",
    "turns",
    "roi",
    "clv",
    "profit",
)


def metric_label(metric: str) -> str:
    """Readable name of a KPI (``campaign_roi_net`` → ``Campaign roi net`` when unknown)."""
    if metric == "campaign_roi_incremental_delivered":
        return "Campaign ROI (net of supply)"
    return _LABELS.get(metric, metric.replace("_", " ").capitalize())


def better_direction(metric: str) -> int:
    """+1 when more is better, −1 when less is better, 0 when neither (demand, units)."""
    if metric in (
        "avg_inventory", "days_of_supply", "avg_on_order", "orders", "demand_units",
        "ending_inventory_value",
    ):
        return 0
    if any(word in metric for word in _HIGHER_IS_BETTER):
        return 1
    if any(word in metric for word in _LOWER_IS_BETTER):
        return -1
    return 0


def campaign_roi_metric(runs: Sequence[StrategyRun]) -> str | None:
    """The campaign ROI KPI the runs report, if any (net of supply preferred)."""
    names = {m for run in runs for m in run.kpis["metric"].unique() if "roi" in str(m)}
    # the CRM model's incremental attribution, on margin actually delivered, is the one to trust
    # (touch-based attribution credits every order of a targeted segment)
    for preferred in ("campaign_roi_incremental_delivered", "campaign_roi_incremental",
                      "campaign_roi_net_of_supply", "campaign_roi_net", "campaign_roi"):
        if preferred in names:
            return preferred
    return sorted(names)[0] if names else None


def headline_metrics(runs: Sequence[StrategyRun]) -> list[str]:
    present = {m for run in runs for m in run.kpis["metric"].unique()}
    metrics = [m for m in HEADLINE_METRICS if m in present]
    roi = campaign_roi_metric(runs)
    return [*metrics, roi] if roi else metrics


# ------------------------------------------------------------------------------ statistics
def paired_difference(values: pd.Series, base: pd.Series, paired: bool = True) -> dict[str, float]:
    """Difference of means ``values − base`` with its 95 % CI half-width.

    Paired (common random numbers): ``d_r = x_r − b_r`` over the replications both have, CI
    ``mean(d) ± t(n−1) · sd(d)/√n`` (Law, *Simulation Modeling and Analysis*, 5th ed., §10.2.1).
    Unpaired: Welch's CI with Satterthwaite degrees of freedom (§10.2.2). Both series are indexed
    by replication; NaN values are left out.

    Examples
    --------
    >>> x = pd.Series([1.5, 2.5, 3.6]); b = pd.Series([1.0, 2.0, 3.0])
    >>> r = paired_difference(x, b)
    >>> round(r["diff"], 4), round(r["ci_halfwidth"], 4), r["n"]
    (0.5333, 0.1434, 3)
    """
    if paired:
        joined = pd.concat([values.rename("x"), base.rename("b")], axis=1, join="inner").dropna()
        d = joined["x"] - joined["b"]
        n = len(d)
        mean = float(d.mean()) if n else math.nan
        std = float(d.std(ddof=1)) if n > 1 else math.nan
        half = t95(n - 1) * std / math.sqrt(n) if n > 1 else math.nan
        base_mean = float(joined["b"].mean()) if n else math.nan
    else:
        x, b = values.dropna(), base.dropna()
        n = min(len(x), len(b))
        mean = float(x.mean() - b.mean()) if n else math.nan
        vx = float(x.var(ddof=1)) / len(x) if len(x) > 1 else math.nan
        vb = float(b.var(ddof=1)) / len(b) if len(b) > 1 else math.nan
        total = vx + vb
        if n > 1 and total > 0:
            dof = total**2 / (vx**2 / (len(x) - 1) + vb**2 / (len(b) - 1))
            half = t95(dof) * math.sqrt(total)
        else:
            half = 0.0 if n > 1 else math.nan
        base_mean = float(b.mean()) if len(b) else math.nan
    significant = bool(math.isfinite(half) and abs(mean) > half)
    rel = mean / abs(base_mean) if base_mean and math.isfinite(base_mean) else math.nan
    return {"diff": mean, "ci_halfwidth": half, "n": n, "significant": significant, "rel_diff": rel}


def _paired(run: StrategyRun, base: StrategyRun) -> bool:
    """Common random numbers hold when both used the same root seed (or it is unknown)."""
    return run.seed is None or base.seed is None or run.seed == base.seed


def comparison_table(runs: Sequence[StrategyRun], baseline: str) -> pd.DataFrame:
    """Every KPI of every strategy: mean, std, 95 % CI, and the difference to the baseline.

    Columns ``strategy, metric, scope, unit, value, std, ci_halfwidth, replications, diff,
    diff_ci_halfwidth, rel_diff, significant, paired, direction, verdict`` where ``verdict`` is
    ``better``, ``worse``, ``different`` (significant, no better direction) or ``""``.
    """
    base = _by_name(runs, baseline)
    base_values = _indexed(base.kpis)
    parts = []
    for run in runs:
        summary = (
            summarize(run.kpis[list(KPI_COLUMNS)])
            if len(run.kpis)
            else pd.DataFrame(
                columns=["metric", "scope", "value", "unit", "std", "ci_halfwidth", "replications"]
            )
        )
        summary.insert(0, "strategy", run.name)
        values = _indexed(run.kpis)
        rows = []
        paired = _paired(run, base)
        for metric, scope in zip(summary["metric"], summary["scope"], strict=True):
            if run.name == base.name or (metric, scope) not in base_values:
                rows.append(
                    {
                        "diff": math.nan,
                        "diff_ci_halfwidth": math.nan,
                        "rel_diff": math.nan,
                        "significant": False,
                    }
                )
                continue
            result = paired_difference(
                values[(metric, scope)], base_values[(metric, scope)], paired
            )
            rows.append(
                {
                    "diff": result["diff"],
                    "diff_ci_halfwidth": result["ci_halfwidth"],
                    "rel_diff": result["rel_diff"],
                    "significant": result["significant"],
                }
            )
        diffs = pd.DataFrame(
            rows,
            index=summary.index,
            columns=["diff", "diff_ci_halfwidth", "rel_diff", "significant"],
        )
        part = pd.concat([summary, diffs], axis=1)
        part["paired"] = paired
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table["direction"] = [better_direction(m) for m in table["metric"]]
    table["verdict"] = [
        "" if not sig else ("different" if d == 0 else ("better" if diff * d > 0 else "worse"))
        for sig, d, diff in zip(
            table["significant"], table["direction"], table["diff"], strict=True
        )
    ]
    table["significant"] = table["significant"].astype(bool)
    return table[
        [
            "strategy",
            "metric",
            "scope",
            "unit",
            "value",
            "std",
            "ci_halfwidth",
            "replications",
            "diff",
            "diff_ci_halfwidth",
            "rel_diff",
            "significant",
            "paired",
            "direction",
            "verdict",
        ]
    ]


def _by_name(runs: Sequence[StrategyRun], name: str) -> StrategyRun:
    for run in runs:
        if run.name == name:
            return run
    raise KeyError(f"baseline '{name}' is not one of the strategies: {[r.name for r in runs]}")


def _indexed(kpis: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    if kpis.empty:
        return {}
    return {
        (str(metric), str(scope)): frame.set_index("replication")["value"].astype(float)
        for (metric, scope), frame in kpis.groupby(["metric", "scope"], sort=False)
    }


# ------------------------------------------------------------------------------ verdicts
def _fmt_delta(metric: str, unit: str, value: float) -> str:
    if unit == "fraction":
        return f"{'+' if value >= 0 else '−'}{abs(100 * value):.1f} pts"
    if abs(value) >= 1000:
        return f"{value:+,.0f} {unit}".strip()
    return f"{value:+,.2f} {unit}".strip()


def verdicts(table: pd.DataFrame, baseline: str, metrics: Sequence[str]) -> dict[str, str]:
    """One sentence per strategy saying, from the numbers, how it compares with the baseline.

    Only differences whose 95 % CI excludes zero count; the sentence names what is better, what is
    worse, and says "no significant difference" when nothing is.
    """
    overall = table[table["scope"] == "all"].set_index(["strategy", "metric"])
    sentences: dict[str, str] = {}
    for strategy in dict.fromkeys(table["strategy"]):
        if strategy == baseline:
            parts = []
            for metric in metrics:
                if (strategy, metric) in overall.index:
                    row = overall.loc[(strategy, metric)]
                    parts.append(f"{_phrase(metric)} {_fmt_value(row['value'], row['unit'])}")
            reps = (
                int(overall.loc[strategy]["replications"].max()) if strategy in overall.index else 0
            )
            sentences[strategy] = f"Baseline ({reps} replications): " + ", ".join(parts) + "."
            continue
        better, worse = [], []
        for metric in metrics:
            if (strategy, metric) not in overall.index:
                continue
            row = overall.loc[(strategy, metric)]
            text = f"{_phrase(metric)} {_fmt_delta(metric, row['unit'], row['diff'])}"
            if row["verdict"] == "better":
                better.append(text)
            elif row["verdict"] == "worse":
                worse.append(text)
        if better and worse:
            sentence = f"Trade-off: better {', '.join(better)}; but worse {', '.join(worse)}."
        elif better:
            sentence = f"Better than the baseline: {', '.join(better)}."
        elif worse:
            sentence = f"Worse than the baseline: {', '.join(worse)}."
        else:
            sentence = (
                "No significant difference from the baseline in "
                + ", ".join(_phrase(m) for m in metrics)
                + "."
            )
        paired = bool(table.loc[table["strategy"] == strategy, "paired"].all())
        if not paired:
            sentence += " (Different seeds: differences are unpaired.)"
        sentences[strategy] = sentence
    return sentences


def _phrase(metric: str) -> str:
    """The label inside a sentence: lower case, acronyms kept (``OTIF``)."""
    label = metric_label(metric)
    first = label.split(" ", 1)[0]
    return label if first.isupper() else label[0].lower() + label[1:]


def _fmt_value(value: float, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if unit == "fraction":
        return f"{100 * value:.1f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:,.2f} {unit}".strip()


# ------------------------------------------------------------------------------ frontier, costs
def efficient_frontier(
    table: pd.DataFrame, service: str = "fill_rate", cost: str = "total_cost"
) -> pd.DataFrame:
    """Mean service and cost per strategy with CIs, and whether it is on the efficient frontier
    (no other strategy has at least its service for at most its cost, one of them strictly)."""
    overall = table[table["scope"] == "all"]
    rows = []
    for strategy in dict.fromkeys(overall["strategy"]):
        mine = overall[overall["strategy"] == strategy].set_index("metric")
        if service not in mine.index or cost not in mine.index:
            continue
        rows.append(
            {
                "strategy": strategy,
                "service": mine.loc[service, "value"],
                "service_ci": mine.loc[service, "ci_halfwidth"],
                "cost": mine.loc[cost, "value"],
                "cost_ci": mine.loc[cost, "ci_halfwidth"],
            }
        )
    frame = pd.DataFrame(rows, columns=["strategy", "service", "service_ci", "cost", "cost_ci"])
    on = []
    for row in frame.itertuples():
        dominated = any(
            (o.service >= row.service and o.cost <= row.cost)
            and (o.service > row.service or o.cost < row.cost)
            for o in frame.itertuples()
            if o.strategy != row.strategy
        )
        on.append(not dominated)
    frame["frontier"] = on
    return frame


def cost_breakdown(table: pd.DataFrame) -> pd.DataFrame:
    """Cash cost components per strategy (mean, CI, difference to baseline), plus the shortage
    penalty (a planning device, not part of total cost). Columns ``strategy, component, metric,
    value, ci_halfwidth, diff, diff_ci_halfwidth, significant, in_total``."""
    overall = table[table["scope"] == "all"]
    present = set(overall["metric"])
    rows = []
    seen_labels: set[str] = set()
    components = []
    totals = overall.groupby("metric")["value"].apply(lambda v: v.abs().sum())
    for metric, label in COST_COMPONENTS:
        if metric in present and label not in seen_labels and totals.get(metric, 0.0) > 0:
            components.append((metric, label, True))
            seen_labels.add(label)
    if "shortage_cost" in present:
        components.append(("shortage_cost", "Shortage penalty", False))
    for strategy in dict.fromkeys(overall["strategy"]):
        mine = overall[overall["strategy"] == strategy].set_index("metric")
        for metric, label, in_total in components:
            if metric not in mine.index:
                continue
            row = mine.loc[metric]
            rows.append(
                {
                    "strategy": strategy,
                    "component": label,
                    "metric": metric,
                    "value": row["value"],
                    "ci_halfwidth": row["ci_halfwidth"],
                    "diff": row["diff"],
                    "diff_ci_halfwidth": row["diff_ci_halfwidth"],
                    "significant": bool(row["significant"]),
                    "in_total": in_total,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "strategy",
            "component",
            "metric",
            "value",
            "ci_halfwidth",
            "diff",
            "diff_ci_halfwidth",
            "significant",
            "in_total",
        ],
    )


# ------------------------------------------------------------------------------ over time
def _goods_orders(run: StrategyRun) -> pd.DataFrame | None:
    orders = run.table("orders")
    if orders is None:
        return None
    kinds = {p: spec.kind for p, spec in run.scenario.products.items()}
    customer = orders[orders["order_type"] == "customer"]
    goods = customer[customer["product"].map(kinds) != ProductKind.SERVICE]
    return goods if len(goods) else customer


def weekly_series(run: StrategyRun) -> pd.DataFrame:
    """Weekly series per replication: ``replication, week, series, value``.

    ``inventory_value`` (mean on-hand value over the week's days), ``backlog`` (mean customer
    and transfer backorders, units), ``fill_rate`` (units filled from stock ÷ units ordered, orders
    placed that week), ``demand`` (units ordered), ``campaign_orders`` (order lines attributed to a
    campaign). Week *w* covers days ``[7w, 7w + 7)``.
    """
    frames = []
    inventory = run.table("inventory")
    if inventory is not None:
        unit_cost = {p: spec.unit_cost for p, spec in run.scenario.products.items()}
        inv = inventory.assign(
            value=inventory["on_hand"] * inventory["product"].map(unit_cost),
            week=(inventory["day"] // 7).astype(int),
        )
        daily = inv.groupby(["replication", "week", "day"])[["value", "backorders"]].sum()
        weekly = daily.groupby(level=["replication", "week"]).mean().reset_index()
        frames.append(
            weekly.rename(columns={"value": "inventory_value"})
            .melt(["replication", "week"], ["inventory_value", "backorders"], var_name="series")
            .replace({"series": {"backorders": "backlog"}})
        )
    goods = _goods_orders(run)
    if goods is not None:
        g = goods.assign(week=(goods["placed_time"] // 7).astype(int))
        sums = (
            g.groupby(["replication", "week"])
            .agg(filled=("filled_immediately", "sum"), qty=("qty", "sum"))
            .reset_index()
        )
        sums["fill_rate"] = np.where(
            sums["qty"] > 0, sums["filled"] / sums["qty"].where(sums["qty"] > 0, 1.0), np.nan
        )
        frames.append(
            sums.rename(columns={"qty": "demand"}).melt(
                ["replication", "week"], ["fill_rate", "demand"], var_name="series"
            )
        )
        orders = run.table("orders")
        assert orders is not None
        if "campaign" in orders.columns:
            attributed = orders[
                (orders["order_type"] == "customer")
                & orders["campaign"].fillna("").astype(str).ne("")
            ]
            if len(attributed):
                weeks = range(math.ceil(run.scenario.horizon_days / 7))
                reps = sorted(goods["replication"].unique())
                counts = (
                    attributed.assign(week=(attributed["placed_time"] // 7).astype(int))
                    .groupby(["replication", "week"])
                    .size()
                    .reindex(
                        pd.MultiIndex.from_product([reps, weeks], names=["replication", "week"]),
                        fill_value=0,
                    )
                    .rename("value")
                    .reset_index()
                )
                frames.append(counts.assign(series="campaign_orders"))
    if not frames:
        return pd.DataFrame(columns=["replication", "week", "series", "value"])
    return pd.concat(frames, ignore_index=True)[["replication", "week", "series", "value"]]


def bands(series: pd.DataFrame, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """Mean and the ``low``–``high`` quantile band over replications per week and series."""
    if series.empty:
        return pd.DataFrame(columns=["series", "week", "mean", "low", "high", "replications"])
    grouped = series.groupby(["series", "week"])["value"]
    return grouped.agg(
        mean="mean",
        low=lambda v: v.quantile(low),
        high=lambda v: v.quantile(high),
        replications="count",
    ).reset_index()


def planned_demand_weekly(run: StrategyRun) -> pd.DataFrame | None:
    """The demand the plan was made for, per week (``week, units``), from ``forecast`` (or the
    plan's ``plan_service`` table)."""
    bucket_days = 7 if str(run.scenario.bucket) in ("week", "Bucket.WEEK") else 1
    forecast = run.table("forecast")
    if forecast is not None and {"bucket", "units"} <= set(forecast.columns):
        frame, column = forecast, "units"
    else:
        plan = run.table("plan_service")
        if plan is None or not {"bucket", "demand"} <= set(plan.columns):
            return None
        frame, column = plan, "demand"
    kinds = {p: spec.kind for p, spec in run.scenario.products.items()}
    if "product" in frame.columns:
        frame = frame[frame["product"].map(kinds) != ProductKind.SERVICE]
    elif "item" in frame.columns:
        frame = frame[frame["item"].map(kinds) != ProductKind.SERVICE]
    week = (frame["bucket"] * bucket_days // 7).astype(int)
    return frame.groupby(week)[column].sum().rename("units").rename_axis("week").reset_index()


def campaign_spend_weekly(scenario: Scenario) -> pd.DataFrame:
    """Campaign spend per week and campaign (budget spread evenly over its days):
    ``campaign, week, spend``."""
    rows = []
    horizon = scenario.horizon_days
    for campaign in scenario.crm.campaigns:
        first = (campaign.start - scenario.start_date).days
        last = (campaign.end - scenario.start_date).days
        days = last - first + 1
        if days <= 0:
            continue
        per_day = campaign.budget / days
        for day in range(max(first, 0), min(last, horizon - 1) + 1):
            rows.append((campaign.name, day // 7, per_day))
    frame = pd.DataFrame(rows, columns=["campaign", "week", "spend"])
    return frame.groupby(["campaign", "week"], sort=False)["spend"].sum().reset_index()


# ------------------------------------------------------------------------------ where it hurts
def _display(scenario: Scenario, scope: str) -> str:
    """``sku_location:dc/earbuds`` → ``dc · Wireless earbuds`` (display names where given)."""
    _, _, rest = scope.partition(":")
    node, _, product = rest.partition("/")
    node_spec = scenario.nodes.get(node)
    product_spec = scenario.products.get(product)
    node_name = node_spec.name if node_spec is not None and node_spec.name else node
    product_name = product_spec.name if product_spec is not None and product_spec.name else product
    return f"{node_name} · {product_name}"


WORST_COLUMNS = (
    "scope",
    "sku_location",
    "strategy",
    "fill_rate",
    "lost_sales",
    "backorders",
    "stockout_days",
    "shortfall",
)
"""Columns of :func:`worst_sku_locations`."""


def worst_sku_locations(
    runs: Sequence[StrategyRun], table: pd.DataFrame, top: int = 10
) -> pd.DataFrame:
    """The SKU-locations that hurt most: lost sales + backorders (then stockout days), worst over
    all strategies first. Columns :data:`WORST_COLUMNS`."""
    sku = table[table["scope"].str.startswith("sku_location:")]
    if sku.empty:
        return pd.DataFrame(columns=list(WORST_COLUMNS))
    wide = sku.pivot_table(
        index=["scope", "strategy"], columns="metric", values="value", aggfunc="first"
    ).reset_index()
    for column in ("fill_rate", "lost_sales", "backorders", "stockout_days"):
        if column not in wide.columns:
            wide[column] = np.nan
    wide["shortfall"] = wide["lost_sales"].fillna(0) + wide["backorders"].fillna(0)
    rank = wide.groupby("scope").agg(
        shortfall=("shortfall", "max"), stockout=("stockout_days", "max")
    )
    rank = rank[(rank["shortfall"] > 0) | (rank["stockout"] > 0)]
    keep = rank.sort_values(["shortfall", "stockout"], ascending=False).head(top).index
    scenarios = {run.name: run.scenario for run in runs}
    order = {name: i for i, name in enumerate(scenarios)}
    frame = wide[wide["scope"].isin(keep)].copy()
    frame["_rank"] = frame["scope"].map({s: i for i, s in enumerate(keep)})
    frame["_strategy"] = frame["strategy"].map(order)
    frame = frame.sort_values(["_rank", "_strategy"]).drop(columns=["_rank", "_strategy"])
    frame.insert(
        1,
        "sku_location",
        [
            _display(scenarios[s], scope)
            for scope, s in zip(frame["scope"], frame["strategy"], strict=True)
        ],
    )
    return frame[list(WORST_COLUMNS)].reset_index(drop=True)


def _windows(run: StrategyRun) -> pd.DataFrame:
    stored = run.table("disruption_windows")
    if stored is not None:
        return stored
    rows = []
    scenario = run.scenario
    for index, spec in enumerate(scenario.disruptions):
        if spec.start is None or spec.duration_days is None:
            continue
        start = float((spec.start - scenario.start_date).days)
        for rep in sorted(run.kpis["replication"].unique()):
            rows.append(
                (int(rep), index, spec.name, str(spec.kind), start, start + spec.duration_days)
            )
    return pd.DataFrame(rows, columns=["replication", "index", "name", "kind", "start", "end"])


def disruption_impact(
    run: StrategyRun, window_days: int = 28, tolerance: float = 0.01
) -> pd.DataFrame:
    """Service before, during and after each disruption window, and the time to recover.

    Per replication and window: the unit fill rate of orders placed in the ``window_days`` before
    the start, during ``[start, end)``, and in the ``window_days`` after the end; the time to
    recover is the first ``d ≥ 0`` such that the fill rate over days ``[end + d, end + d + 14)``
    is within ``tolerance`` of the rate before (NaN when it never is within the horizon). Lost and
    backordered units during the window and units written off are summed. Averaged over
    replications (and over windows of a recurring disruption).

    Columns ``disruption, kind, windows, start, end, fill_before, fill_during, fill_after,
    recover_days, not_recovered, lost_during, backordered_during, written_off``.
    """
    columns = [
        "disruption",
        "kind",
        "windows",
        "start",
        "end",
        "fill_before",
        "fill_during",
        "fill_after",
        "recover_days",
        "not_recovered",
        "lost_during",
        "backordered_during",
        "written_off",
    ]
    goods = _goods_orders(run)
    windows = _windows(run)
    if goods is None or windows.empty:
        return pd.DataFrame(columns=columns)
    horizon = run.scenario.horizon_days
    events = run.table("events")
    records = []
    by_rep = {rep: frame for rep, frame in goods.groupby("replication")}
    events_by_rep = (
        {rep: frame for rep, frame in events.groupby("replication")} if events is not None else {}
    )
    for w in windows.itertuples(index=False):
        frame = by_rep.get(w.replication)
        if frame is None:
            continue
        day = np.floor(frame["placed_time"].to_numpy()).astype(int)
        filled = np.bincount(day, weights=frame["filled_immediately"].to_numpy(), minlength=horizon)
        qty = np.bincount(day, weights=frame["qty"].to_numpy(), minlength=horizon)
        start, end = math.floor(w.start), math.ceil(w.end)

        def rate(lo: int, hi: int, filled: np.ndarray = filled, qty: np.ndarray = qty) -> float:
            lo, hi = max(lo, 0), min(hi, horizon)
            total = qty[lo:hi].sum()
            return float(filled[lo:hi].sum() / total) if hi > lo and total > 0 else math.nan

        before = rate(start - window_days, start)
        recover = math.nan
        if math.isfinite(before):
            for d in range(0, max(0, horizon - end - 13)):
                r = rate(end + d, end + d + 14)
                if math.isfinite(r) and r >= before - tolerance:
                    recover = float(d)
                    break
        ev = events_by_rep.get(w.replication)
        lost = backordered = written = 0.0
        if ev is not None:
            inside = ev[(ev["time"] >= w.start) & (ev["time"] < w.end)]
            customer = inside[inside["order_type"] == "customer"]
            lost = float(customer.loc[customer["event"] == "lost", "qty"].sum())
            backordered = float(customer.loc[customer["event"] == "backordered", "qty"].sum())
            written = float(inside.loc[inside["event"] == "written_off", "qty"].sum())
        records.append(
            {
                "disruption": w.name,
                "kind": w.kind,
                "start": float(w.start),
                "end": float(w.end),
                "fill_before": before,
                "fill_during": rate(start, end),
                "fill_after": rate(end, end + window_days),
                "recover_days": recover,
                "not_recovered": float(math.isfinite(before) and not math.isfinite(recover)),
                "lost_during": lost,
                "backordered_during": backordered,
                "written_off": written,
            }
        )
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(records)
    kinds = frame.groupby("disruption", sort=False)["kind"].first()
    agg = (
        frame.groupby("disruption", sort=False)
        .agg(
            windows=("start", "size"),
            start=("start", "mean"),
            end=("end", "mean"),
            fill_before=("fill_before", "mean"),
            fill_during=("fill_during", "mean"),
            fill_after=("fill_after", "mean"),
            recover_days=("recover_days", "mean"),
            not_recovered=("not_recovered", "sum"),
            lost_during=("lost_during", "mean"),
            backordered_during=("backordered_during", "mean"),
            written_off=("written_off", "mean"),
        )
        .reset_index()
    )
    agg.insert(1, "kind", agg["disruption"].map(kinds))
    reps = max(1, run.replications)
    agg["windows"] = agg["windows"] / reps
    return agg[columns]


# ------------------------------------------------------------------------------ CRM
def crm_summary(run: StrategyRun) -> dict[str, pd.DataFrame]:
    """CRM tables summarised per replication mean, when the run has them: ``funnel`` (leads that
    reached each stage), ``churn`` (customers lost by cause), ``tickets`` (by reason; backordered,
    lost and late are supply problems). Missing tables or columns give no entry."""
    out: dict[str, pd.DataFrame] = {}
    reps = max(1, run.replications)
    leads = run.table("crm_leads")
    if leads is not None and "reached" in leads.columns:
        stages = ["lead", "qualified", "opportunity", "customer"]
        counts = [float((leads["reached"] >= k).sum()) / reps for k in range(len(stages))]
        out["funnel"] = pd.DataFrame({"stage": stages, "count": counts})
    churn = run.table("crm_churn")
    if churn is not None and "cause" in churn.columns:
        counts = churn.groupby("cause").size() / reps
        out["churn"] = counts.rename("customers").rename_axis("cause").reset_index()
    tickets = run.table("crm_tickets")
    if tickets is not None and "reason" in tickets.columns:
        counts = tickets.groupby("reason").size() / reps
        frame = counts.rename("tickets").rename_axis("reason").reset_index()
        frame["supply_problem"] = frame["reason"].isin(["backordered", "lost", "late"])
        out["tickets"] = frame
    return out


# ------------------------------------------------------------------------------ appendix
def _path(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def _diff(a: Any, b: Any, prefix: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(dict.fromkeys([*a, *b])):
            _diff(a.get(key, _MISSING), b.get(key, _MISSING), _path(prefix, key), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            _diff(
                a[i] if i < len(a) else _MISSING,
                b[i] if i < len(b) else _MISSING,
                _path(prefix, i),
                out,
            )
        return
    if a != b:
        out.append((prefix, a, b))


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING = _Missing()


def _words(value: Any) -> str:
    if value is _MISSING or value is None:
        return "(not set)"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {_words(v)}" for k, v in list(value.items())[:6])
        return "{" + inner + (", …" if len(value) > 6 else "") + "}"
    if isinstance(value, list):
        return (
            "[" + ", ".join(_words(v) for v in value[:6]) + (", …" if len(value) > 6 else "") + "]"
        )
    return str(value)


def scenario_differences(base: Scenario, other: Scenario) -> list[str]:
    """What differs between two resolved scenarios, one sentence per field (name excluded).

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> a = load_scenario("retailer_holiday")
    >>> b = load_scenario("retailer_holiday", {"crm.campaigns[1].budget": 90000})
    >>> scenario_differences(a, b)
    ['crm.campaigns[1].budget: 45,000 → 90,000 (+100 %)']
    """
    changes: list[tuple[str, Any, Any]] = []
    _diff(base.model_dump(mode="json"), other.model_dump(mode="json"), "", changes)
    lines = []
    for path, old, new in changes:
        if path in ("name", "description"):
            continue
        if old is _MISSING:
            lines.append(f"{path}: added {_words(new)}")
        elif new is _MISSING:
            lines.append(f"{path}: removed (was {_words(old)})")
        else:
            text = f"{path}: {_words(old)} → {_words(new)}"
            if (
                isinstance(old, int | float)
                and isinstance(new, int | float)
                and not isinstance(old, bool)
                and old
            ):
                text += f" ({(new - old) / abs(old):+.0%})".replace("%", " %")
            lines.append(text)
    return lines


def overrides_in_words(overrides: Mapping[str, Any]) -> list[str]:
    """``{"a.b": 3}`` → ``["a.b set to 3"]``."""
    return [f"{path} set to {_words(value)}" for path, value in overrides.items()]


def slug(text: str) -> str:
    """An identifier-safe version of ``text`` (for element ids)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"
