"""CRM KPIs of a run: funnel, customers, churn, service and campaign return, as a long table
``replication, metric, scope, value, unit`` like the supply-chain KPIs of :mod:`reports`.

Scopes: ``all``, ``segment:<id>``, ``campaign:<name>``, ``channel:<channel>`` (marketing
channels for campaigns, support channels for tickets).

Campaign return on investment, per attribution method m:

    ROI_m(c) = (attributed gross margin_m(c) − cost(c)) / cost(c),

with gross margin = qty × (price − unit_cost) of customer order lines placed after the warm-up,
and cost the campaign's spend within the horizon. Methods: ``incremental`` credits a line to
the campaign the demand model attributed it to (the lift share lift_c / (1 + Σ lift), so the
credited margin is the campaign's expected incremental margin); ``first_touch``, ``last_touch``
and ``linear`` credit it to the earliest-starting, the latest-starting, or equally to every
campaign that *touched* it: a campaign targeting the line's segment on a channel that reaches
it (reach > 0), which started before the order and ended at most ``lookback_days`` before it.
The orders table does not say which customers a campaign reached, so touches are per segment.
``…_delivered`` variants count only the margin actually delivered by the end of the run (lost
and undelivered units excluded): the campaign's return net of supply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from crm_model.drivers import campaign_spend
from crm_model.purchasing import PurchaseModel, expected_purchases
from scenarios.schema import Scenario

__all__ = ["ATTRIBUTION_METHODS", "CRM_KPI_COLUMNS", "crm_kpis"]

CRM_KPI_COLUMNS = ("replication", "metric", "scope", "value", "unit")
ATTRIBUTION_METHODS = ("incremental", "first_touch", "last_touch", "linear")

_Add = Callable[..., None]
"""``add(metric, value, unit, scope="all")``: append one KPI row."""


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def crm_kpis(
    scenario: Scenario,
    tables: dict[str, pd.DataFrame],
    lookback_days: float = 30.0,
    discount_rate: float = 0.1,
) -> pd.DataFrame:
    """CRM KPIs per replication from a run's tables (``orders`` and the ``crm_*`` tables of
    :meth:`sim.SimulationResult.tables`); metrics whose tables are absent are left out.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> s = load_scenario("retailer_holiday")
    >>> orders = pd.DataFrame({"replication": [0], "order_type": ["customer"],
    ...     "product": ["earbuds"], "segment": ["loyal"], "customer": [1],
    ...     "campaign": ["black_friday"], "qty": [2.0], "placed_time": [320.0],
    ...     "delivered_qty": [2.0], "lost_qty": [0.0]})
    >>> k = crm_kpis(s, {"orders": orders}).set_index(["metric", "scope"])["value"]
    >>> float(k["campaign_margin_incremental", "campaign:black_friday"])
    62.0
    """
    orders = tables.get("orders", pd.DataFrame())
    reps = set(orders["replication"]) if "replication" in orders else set()
    for name, frame in tables.items():
        if name.startswith("crm_") and "replication" in frame:
            reps |= set(frame["replication"])
    rows: list[tuple[int, str, str, float, str]] = []
    for rep in sorted(reps) or [0]:
        part = {name: _of(frame, rep) for name, frame in tables.items()}
        rows += _one_replication(scenario, int(rep), part, lookback_days, discount_rate)
    return pd.DataFrame.from_records(rows, columns=list(CRM_KPI_COLUMNS))


def _of(frame: pd.DataFrame, rep: int) -> pd.DataFrame:
    if "replication" not in frame or len(frame) == 0:
        return frame
    return frame[frame["replication"].to_numpy() == rep]


def _one_replication(
    scenario: Scenario,
    rep: int,
    tables: dict[str, pd.DataFrame],
    lookback_days: float,
    discount_rate: float,
) -> list[tuple[int, str, str, float, str]]:
    rows: list[tuple[int, str, str, float, str]] = []
    cur = scenario.currency
    warm = scenario.simulation.warmup_days

    def add(metric: str, value: float, unit: str, scope: str = "all") -> None:
        rows.append((rep, metric, scope, float(value), unit))

    leads = tables.get("crm_leads")
    if leads is not None and len(leads.columns):
        _funnel(add, leads[leads["created"] >= warm], scenario.horizon_days)
    won = tables.get("crm_acquisitions")
    if won is not None and len(won.columns):
        won = won[won["won_time"] >= warm]
        add("customers_acquired", len(won), "customers")
        add("sales_cycle_days", won["cycle_days"].mean() if len(won) else math.nan, "days")
        for segment, frame in won.groupby("segment", sort=True):
            add("customers_acquired", len(frame), "customers", f"segment:{segment}")
            add("sales_cycle_days", frame["cycle_days"].mean(), "days", f"segment:{segment}")
        spend = sum(
            float(campaign_spend(c, scenario.start_date, scenario.horizon_days)[int(warm) :].sum())
            for c in scenario.crm.campaigns
        )
        add("customer_acquisition_cost", _ratio(spend, len(won)), f"{cur}/customer")
    lifecycle = tables.get("crm_lifecycle")
    if lifecycle is not None and len(lifecycle.columns):
        _customers(add, lifecycle, tables.get("crm_churn"), won)
    tickets = tables.get("crm_tickets")
    if tickets is not None and len(tickets.columns):
        _service(add, tickets[tickets["time"] >= warm])
    for segment in scenario.crm.segments:
        value = _clv(scenario, segment, discount_rate)
        if not math.isnan(value):
            add("clv_new_customer", value, cur, f"segment:{segment}")
    orders = tables.get("orders")
    if orders is not None and len(orders) and scenario.crm.campaigns:
        _campaigns(add, scenario, orders, lookback_days)
    return rows


def _funnel(add: _Add, leads: pd.DataFrame, horizon: float) -> None:
    """Leads, stage conversions and win rate; a rate counts the leads whose stage ended."""
    for scope, frame in [
        ("all", leads),
        *((f"segment:{s}", f) for s, f in leads.groupby("segment", sort=True)),
    ]:
        reached = frame["reached"].to_numpy()
        add("leads", len(frame), "leads", scope)
        add("qualified", int((reached >= 1).sum()), "leads", scope)
        add("opportunities", int((reached >= 2).sum()), "leads", scope)
        add("deals_won", int((reached >= 3).sum()), "leads", scope)
        stages = (
            ("qualify_exit", 0, "lead_to_qualified_rate"),
            ("propose_exit", 1, "qualified_to_opportunity_rate"),
            ("win_exit", 2, "win_rate"),
        )
        for column, k, metric in stages:
            decided = (reached >= k) & (frame[column].to_numpy() < horizon)
            add(
                metric,
                _ratio(float((reached[decided] > k).sum()), float(decided.sum())),
                "fraction",
                scope,
            )


def _customers(
    add: _Add, lifecycle: pd.DataFrame, churn: pd.DataFrame | None, won: pd.DataFrame | None
) -> None:
    customers = lifecycle[lifecycle["state"] == "customer"]
    first, last = customers["time"].min(), customers["time"].max()
    start = customers[customers["time"] == first].groupby("segment")["customers"].sum()
    end = customers[customers["time"] == last].groupby("segment")["customers"].sum()
    add("active_customers", end.sum(), "customers")
    acquired = (
        won.groupby("segment").size() if won is not None and len(won) else pd.Series(dtype=float)
    )
    churned = (
        churn.groupby("segment").size()
        if churn is not None and len(churn)
        else pd.Series(dtype=float)
    )
    service = (
        churn[churn["cause"] == "service"].groupby("segment").size()
        if churn is not None and len(churn)
        else pd.Series(dtype=float)
    )
    base = start.add(acquired, fill_value=0.0)
    add("churned_customers", churned.sum(), "customers")
    add("churned_after_service", service.sum(), "customers")
    add("churn_rate", _ratio(churned.sum(), base.sum()), "fraction")
    for segment in end.index:
        scope = f"segment:{segment}"
        add("active_customers", end[segment], "customers", scope)
        add("churned_customers", churned.get(segment, 0.0), "customers", scope)
        add("churned_after_service", service.get(segment, 0.0), "customers", scope)
        add(
            "churn_rate",
            _ratio(churned.get(segment, 0.0), base.get(segment, 0.0)),
            "fraction",
            scope,
        )


def _service(add: _Add, tickets: pd.DataFrame) -> None:
    groups = [
        ("all", tickets),
        *((f"channel:{c}", f) for c, f in tickets.groupby("channel", sort=True)),
        *((f"segment:{s}", f) for s, f in tickets.groupby("segment", sort=True)),
    ]
    for scope, frame in groups:
        add("tickets", len(frame), "tickets", scope)
        days = frame["resolution_days"].to_numpy(dtype=float)
        finite = np.isfinite(days)
        add(
            "ticket_resolution_days",
            float(days[finite].mean()) if finite.any() else math.nan,
            "days",
            scope,
        )
        add(
            "tickets_unresolved_share",
            _ratio(float((~frame["resolved"].astype(bool)).sum()), float(len(frame))),
            "fraction",
            scope,
        )
    for reason, frame in tickets.groupby("reason", sort=True):
        add("tickets", len(frame), "tickets", f"reason:{reason}")


def _clv(scenario: Scenario, segment: str, discount_rate: float) -> float:
    """Expected discounted gross margin of a new customer over a year (daily discounting), from
    the segment's purchase model: repeat purchases of the two-state chain (no seasonality)
    times the mean gross margin of an order line."""
    seg = scenario.crm.segments[segment]
    model = PurchaseModel.from_segment(seg)
    weights = {p: w for p, w in seg.product_mix.items() if w > 0}
    total = sum(weights.values())
    if total <= 0:
        return math.nan
    products = scenario.products
    if model.spend is not None:
        p, q, gamma = model.spend
        value = p * gamma / (q - 1.0)
        margin = sum(
            w / total * value * (1.0 - products[k].unit_cost / products[k].price)
            for k, w in weights.items()
            if products[k].price > 0
        )
    else:
        margin = sum(
            w / total * seg.units_per_order * (products[k].price - products[k].unit_cost)
            for k, w in weights.items()
        )
    purchases, _ = expected_purchases(model, np.ones((1, 365)), np.array([1.0]), 1.0)
    discount = (1.0 + discount_rate) ** (-(np.arange(365) + 0.5) / 365.0)
    return float(margin * (1.0 + float(purchases @ discount)))


def _lookup(
    coded: tuple[np.ndarray, pd.Index], values: Mapping[str, object], missing: object
) -> np.ndarray:
    """``values`` of every entry of a factorized column (``pd.factorize``), ``missing`` for
    labels not in ``values`` and for NaN: millions of rows are looked up as integer codes, once
    per distinct label, not as Python strings."""
    codes, labels = coded
    table = np.array([*(values.get(label, missing) for label in labels), missing])
    return table[codes]  # code −1 (NaN) picks ``missing``, the last entry


def _campaigns(add: _Add, scenario: Scenario, orders: pd.DataFrame, lookback_days: float) -> None:
    """Cost, contacts and ROI per campaign and channel, by attribution method."""
    cur = scenario.currency
    warm = scenario.simulation.warmup_days
    columns = ["product", "qty", "delivered_qty", "placed_time", "segment", "campaign"]
    mask = (orders["order_type"] == "customer").to_numpy(dtype=bool) & (
        orders["placed_time"].to_numpy(dtype=float) >= warm
    )
    lines = orders[columns][mask]
    unit_margin = {k: p.price - p.unit_cost for k, p in scenario.products.items()}
    per_unit = _lookup(pd.factorize(lines["product"]), unit_margin, math.nan)
    ordered = lines["qty"].to_numpy(dtype=float) * per_unit
    delivered = lines["delivered_qty"].to_numpy(dtype=float) * per_unit
    campaigns = scenario.crm.campaigns
    n = len(campaigns)
    start = np.array([(c.start - scenario.start_date).days for c in campaigns], dtype=float)
    end = np.array([(c.end - scenario.start_date).days + 1 for c in campaigns], dtype=float)
    time = lines["placed_time"].to_numpy(dtype=float)
    segment = pd.factorize(lines["segment"])
    touched = np.zeros((len(lines), n), dtype=bool)
    for j, c in enumerate(campaigns):
        segments = [
            s
            for s in scenario.crm.segments
            if (not c.target_segments or s in c.target_segments)
            and scenario.crm.segments[s].reach(c.channel) > 0
        ]
        targeted = _lookup(segment, dict.fromkeys(segments, True), False)
        touched[:, j] = targeted & (time >= start[j]) & (time < end[j] + lookback_days)
    credit = {"incremental": np.zeros((len(lines), n))}
    campaign = pd.factorize(lines["campaign"])
    for j, c in enumerate(campaigns):
        credit["incremental"][:, j] = _lookup(campaign, {c.name: True}, False)
    any_touch = touched.any(axis=1)
    order_first = np.where(touched, start[None, :], np.inf).argmin(axis=1)
    order_last = np.where(touched, start[None, :] + end[None, :] * 1e-6, -np.inf).argmax(axis=1)
    credit["first_touch"] = np.zeros((len(lines), n))
    credit["last_touch"] = np.zeros((len(lines), n))
    rows = np.flatnonzero(any_touch)
    credit["first_touch"][rows, order_first[rows]] = 1.0
    credit["last_touch"][rows, order_last[rows]] = 1.0
    counts = touched.sum(axis=1, keepdims=True)
    credit["linear"] = np.where(counts > 0, touched / np.maximum(counts, 1), 0.0)
    cost = np.array(
        [
            campaign_spend(c, scenario.start_date, scenario.horizon_days)[int(warm) :].sum()
            for c in campaigns
        ]
    )
    by_channel: dict[str, list[int]] = {}
    for j, c in enumerate(campaigns):
        by_channel.setdefault(str(c.channel), []).append(j)
        scope = f"campaign:{c.name}"
        add("campaign_cost", cost[j], cur, scope)
        if c.cost_per_contact:
            add("campaign_contacts", cost[j] / c.cost_per_contact, "contacts", scope)
    for method in ATTRIBUTION_METHODS:
        margin = credit[method].T @ ordered
        margin_delivered = credit[method].T @ delivered
        for j, c in enumerate(campaigns):
            scope = f"campaign:{c.name}"
            add(f"campaign_margin_{method}", margin[j], cur, scope)
            add(f"campaign_roi_{method}", _ratio(margin[j] - cost[j], cost[j]), "ratio", scope)
            add(
                f"campaign_roi_{method}_delivered",
                _ratio(margin_delivered[j] - cost[j], cost[j]),
                "ratio",
                scope,
            )
        for channel, members in by_channel.items():
            spent = float(cost[members].sum())
            add(
                f"campaign_roi_{method}",
                _ratio(float(margin[members].sum()) - spent, spent),
                "ratio",
                f"channel:{channel}",
            )
            add(
                f"campaign_roi_{method}_delivered",
                _ratio(float(margin_delivered[members].sum()) - spent, spent),
                "ratio",
                f"channel:{channel}",
            )
        spent = float(cost.sum())
        add(f"campaign_roi_{method}", _ratio(float(margin.sum()) - spent, spent), "ratio")
        add(
            f"campaign_roi_{method}_delivered",
            _ratio(float(margin_delivered.sum()) - spent, spent),
            "ratio",
        )
