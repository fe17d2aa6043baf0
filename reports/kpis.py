"""KPI functions over simulation result tables: service, inventory, cost and revenue.

Every function takes the scenario (for prices and cost rates) and the tidy tables of a
:class:`sim.SimulationResult` (or one replication of it) and returns a long table
``replication, metric, scope, value, unit``. :func:`summarize` averages over replications with a
95 % confidence interval (Student t).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from scenarios.schema import NodeKind, ProductKind, Scenario

__all__ = ["KPI_COLUMNS", "compute_kpis", "summarize", "t95"]

KPI_COLUMNS = ("replication", "metric", "scope", "value", "unit")


def t95(dof: float) -> float:
    """Two-sided 95 % Student t quantile with ``dof`` degrees of freedom (NaN when dof ≤ 0)."""
    return float(stats.t.ppf(0.975, dof)) if dof > 0 else math.nan


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def _one_replication(
    scenario: Scenario,
    rep: int,
    orders: pd.DataFrame,
    events: pd.DataFrame,
    inventory: pd.DataFrame,
    ids: tuple[pd.Series, pd.Series] | None = None,
) -> list[tuple[int, str, str, float, str]]:
    cur = scenario.currency
    warm = scenario.simulation.warmup_days
    rows: list[tuple[int, str, str, float, str]] = []

    def add(metric: str, value: float, unit: str, scope: str = "all") -> None:
        rows.append((rep, metric, scope, float(value), unit))

    price = {p: spec.price for p, spec in scenario.products.items()}
    unit_cost = {p: spec.unit_cost for p, spec in scenario.products.items()}
    customer = orders[(orders["order_type"] == "customer") & (orders["placed_time"] >= warm)]
    physical = {p: spec.kind != ProductKind.SERVICE for p, spec in scenario.products.items()}
    goods = _where(customer, customer["product"].map(physical).astype(bool).to_numpy())
    service_base = goods if len(goods) else customer

    add("orders", len(customer), "order lines")
    add("demand_units", customer["qty"].sum(), "units")
    add(
        "fill_rate",
        _ratio(service_base["filled_immediately"].sum(), service_base["qty"].sum()),
        "fraction",
    )
    add("otif", _ratio(service_base["on_time"].sum(), len(service_base)), "fraction")
    backordered = events.loc[
        (events["event"] == "backordered")
        & (events["order_type"] == "customer")
        & (events["time"] >= warm),
        ["qty"],
    ]
    add("backorders", backordered["qty"].sum(), "units")
    add("open_backorders_end", customer["open_qty"].sum(), "units")
    add("lost_sales", customer["lost_qty"].sum(), "units")
    delivered = customer.loc[customer["delivered_qty"] > 0, ["last_delivery_time", "placed_time"]]
    lead = (delivered["last_delivery_time"] - delivered["placed_time"]).to_numpy()
    add("order_lead_time_mean", float(np.mean(lead)) if len(lead) else math.nan, "days")
    add("order_lead_time_p95", float(np.percentile(lead, 95)) if len(lead) else math.nan, "days")

    revenue = float(
        (customer["delivered_qty"] * customer["product"].map(price).astype(float)).sum()
    )
    add("revenue", revenue, cur)

    # inventory and holding
    inv = inventory[inventory["day"] >= warm]
    days = max(1, inv["day"].nunique())
    add("avg_inventory", inv["on_hand"].sum() / days, "units")
    value = inv["on_hand"] * inv["product"].map(unit_cost).astype(float)
    add("avg_inventory_value", value.sum() / days, cur)
    last = inv[inv["day"] == inv["day"].max()] if len(inv) else inv
    add(
        "ending_inventory_value",
        float((last["on_hand"] * last["product"].map(unit_cost).astype(float)).sum()),
        cur,
    )
    rate = (
        inv["product"].map({p: scenario.holding_rate(p) for p in scenario.products}).astype(float)
    )
    holding = float((value * rate / 365.0).sum())
    for node, frame in inv.groupby("node", sort=True):
        add("avg_inventory", frame["on_hand"].sum() / days, "units", f"node:{node}")

    # purchasing, production, transport
    purchases = orders[(orders["order_type"] == "purchase") & (orders["placed_time"] >= warm)]
    offer_price = {}
    order_cost = {}
    for node_id, node in scenario.nodes.items():
        if node.kind == NodeKind.SUPPLIER:
            order_cost[node_id] = node.order_cost
            for item, offer in node.supplies.items():
                offer_price[(node_id, item)] = offer.price
    purchase_cost = float(
        sum(
            q * offer_price.get((s, p), 0.0)
            for q, s, p in zip(
                purchases["qty"], purchases["source"], purchases["product"], strict=True
            )
        )
    )
    ordering_cost = float(purchases["source"].map(order_cost).astype(float).fillna(0.0).sum())
    production = orders[(orders["order_type"] == "production") & (orders["placed_time"] >= warm)]
    make_cost = {
        (n, p): spec.cost_per_unit
        for n, node in scenario.nodes.items()
        if node.kind == NodeKind.PLANT
        for p, spec in node.produces.items()
    }
    production_cost = float(
        sum(
            q * make_cost.get((n, p), 0.0)
            for q, n, p in zip(
                production["shipped_qty"], production["source"], production["product"], strict=True
            )
        )
    )
    shipped = events.loc[
        (events["event"] == "shipped") & (events["lane"] >= 0) & (events["time"] >= warm),
        ["qty", "lane"],
    ]
    lanes = scenario.lanes
    lane_index = shipped["lane"].to_numpy()
    per_unit = pd.Series(
        np.array([lane.cost_per_unit for lane in lanes], dtype=float)[lane_index],
        index=shipped.index,
    )
    per_shipment = pd.Series(
        np.array([lane.cost_per_shipment for lane in lanes], dtype=float)[lane_index],
        index=shipped.index,
    )
    transport_cost = float((shipped["qty"] * per_unit).sum() + per_shipment.sum())

    add("purchase_cost", purchase_cost, cur)
    add("ordering_cost", ordering_cost, cur)
    add("production_cost", production_cost, cur)
    add("transport_cost", transport_cost, cur)
    add("holding_cost", holding, cur)
    total = purchase_cost + ordering_cost + production_cost + transport_cost + holding
    add("total_cost", total, cur)
    add("margin", revenue - total, cur)

    # more service and inventory measures
    add(
        "order_fill_rate",
        _ratio(
            (service_base["filled_immediately"] >= service_base["qty"] - 1e-9).sum(),
            len(service_base),
        ),
        "fraction",
    )
    add(
        "backorder_age_mean",
        _backorder_age(customer, events, scenario.horizon_days, ids),
        "days",
    )
    add("avg_on_order", inv["on_order"].sum() / days, "units")
    cogs = float(
        (customer["delivered_qty"] * customer["product"].map(unit_cost).astype(float)).sum()
    )
    average_value = value.sum() / days
    add("inventory_turns", _ratio(cogs * 365.0 / days, average_value), "1/year")
    daily_demand = goods["qty"].sum() / days if len(goods) else 0.0
    add("days_of_supply", _ratio(inv["on_hand"].sum() / days, daily_demand), "days")
    backorder_penalty = float(
        (inv["backorders"] * inv["product"].map(scenario.backorder_cost).astype(float)).sum()
    )
    lost_penalty = float(
        (
            customer["lost_qty"] * customer["product"].map(scenario.lost_sale_cost).astype(float)
        ).sum()
    )
    add("shortage_cost", backorder_penalty + lost_penalty, cur)
    add("cycle_service_level", _cycle_service_level(events), "fraction")
    for echelon, ratio in _bullwhip(scenario, orders, events, warm).items():
        add("bullwhip_ratio", ratio, "ratio", f"echelon:{echelon}")

    # per product
    # group only the columns summed (sorting the groups moves every column of the frame)
    by_product = service_base[["product", "filled_immediately", "qty", "on_time", "lost_qty"]]
    for product, frame in by_product.groupby("product", sort=True):
        scope = f"product:{product}"
        add(
            "fill_rate",
            _ratio(frame["filled_immediately"].sum(), frame["qty"].sum()),
            "fraction",
            scope,
        )
        add("otif", _ratio(frame["on_time"].sum(), len(frame)), "fraction", scope)
        add("lost_sales", frame["lost_qty"].sum(), "units", scope)
        add("demand_units", frame["qty"].sum(), "units", scope)
    # per SKU-location (the stock point serving the line)
    by_location = goods[["source", "product", "filled_immediately", "qty", "lost_qty"]]
    for (node, product), frame in by_location.groupby(["source", "product"], sort=True):
        scope = f"sku_location:{node}/{product}"
        add(
            "fill_rate",
            _ratio(frame["filled_immediately"].sum(), frame["qty"].sum()),
            "fraction",
            scope,
        )
        add("lost_sales", frame["lost_qty"].sum(), "units", scope)
        add(
            "backorders",
            (frame["qty"] - frame["filled_immediately"] - frame["lost_qty"]).sum(),
            "units",
            scope,
        )
    for (node, product), frame in inv.groupby(["node", "product"], sort=True):
        scope = f"sku_location:{node}/{product}"
        add("avg_inventory", frame["on_hand"].sum() / days, "units", scope)
        add("stockout_days", float((frame["on_hand"] <= 1e-9).sum()), "days", scope)
    return rows


def _backorder_age(
    customer: pd.DataFrame,
    events: pd.DataFrame,
    horizon: float,
    ids: tuple[pd.Series, pd.Series] | None = None,
) -> float:
    """Mean days a backordered unit waited for stock (units still waiting at the end count with
    their age at the end of the horizon). ``ids`` are the ``order_id`` columns of the orders
    and events tables when ``customer`` and ``events`` leave them out (by index label)."""
    if customer.empty:
        return math.nan
    order_ids, event_ids = ids if ids is not None else (customer["order_id"], events["order_id"])
    waited = customer.loc[
        customer["qty"] - customer["filled_immediately"] - customer["lost_qty"] > 1e-9,
        ["placed_time"],
    ]
    if waited.empty:
        return math.nan
    waited.insert(0, "order_id", order_ids.loc[waited.index])
    allocated = events.loc[
        (events["event"] == "allocated") & (events["order_type"] == "customer"),
        ["time", "qty"],
    ]
    allocated.insert(0, "order_id", event_ids.loc[allocated.index])
    allocated = allocated[_isin(allocated["order_id"], waited["order_id"])]
    joined = allocated.merge(waited, on="order_id", how="inner")
    waits = (joined["time"] - joined["placed_time"]).to_numpy()
    late = waits > 1e-9
    weight = float(joined["qty"].to_numpy()[late].sum())
    total = float((waits[late] * joined["qty"].to_numpy()[late]).sum())
    still_open = customer[customer["open_qty"] > 0]
    total += float(((horizon - still_open["placed_time"]) * still_open["open_qty"]).sum())
    weight += float(still_open["open_qty"].sum())
    return _ratio(total, weight)


def _cycle_service_level(events: pd.DataFrame) -> float:
    """Share of replenishment cycles (between consecutive receipts of a stock point and item)
    in which no customer demand went short (backordered or lost)."""
    receipts = events[events["event"] == "received"]
    shortages = events[
        (events["event"].isin(["backordered", "lost"])) & (events["order_type"] == "customer")
    ]
    if receipts.empty:
        return math.nan
    short_keys = shortages.groupby(["node", "product"])["time"].apply(np.sort).to_dict()
    cycles = stocked_out = 0
    for (node, product), frame in receipts.groupby(["node", "product"]):
        times = np.unique(frame["time"].to_numpy())
        shorts = short_keys.get((node, product), np.array([]))
        if len(times) < 2:
            continue
        counts = np.diff(np.searchsorted(shorts, times, side="left"))
        cycles += len(counts)
        stocked_out += int((counts > 0).sum())
    return _ratio(cycles - stocked_out, cycles)


def _bullwhip(
    scenario: Scenario, orders: pd.DataFrame, events: pd.DataFrame, warm: float
) -> dict[int, float]:
    """Var(orders placed) / Var(demand received) per echelon, on weekly totals.

    Echelon 1 serves customers; its demand is customer order lines. Upstream stock points'
    demand is the transfers and component consumption they face.
    """
    from scenarios.network import SupplyNetwork

    echelons = SupplyNetwork(scenario).echelons()
    stock_points = set(SupplyNetwork(scenario).stock_points)
    weeks = max(1, int((scenario.horizon_days - warm) // 7))
    result: dict[int, float] = {}
    placed = orders[
        (orders["order_type"].isin(["purchase", "transfer", "production"]))
        & (orders["placed_time"] >= warm)
    ]
    issued = events.loc[
        (events["time"] >= warm)
        & (
            ((events["event"] == "placed") & (events["order_type"] == "customer"))
            | ((events["event"] == "placed") & (events["order_type"] == "transfer"))
            | (events["event"] == "consumed")
        ),
        ["node", "time", "qty"],
    ]
    customer_lines = orders.loc[
        (orders["order_type"] == "customer") & (orders["placed_time"] >= warm),
        ["source", "placed_time", "qty"],
    ]
    for level in sorted({e for n, e in echelons.items() if n in stock_points}):
        nodes = {n for n, e in echelons.items() if e == level and n in stock_points}
        mine = placed[placed["destination"].isin(nodes)]
        if level == 1:
            demand_times = customer_lines.loc[
                customer_lines["source"].isin(nodes), ["placed_time", "qty"]
            ]
            demand_times = demand_times.rename(columns={"placed_time": "time"})
        else:
            demand_times = issued.loc[issued["node"].isin(nodes), ["time", "qty"]]
        if mine.empty or demand_times.empty:
            continue
        bins = np.arange(weeks + 1) * 7.0 + warm
        order_series = np.histogram(mine["placed_time"], bins=bins, weights=mine["qty"])[0]
        demand_series = np.histogram(demand_times["time"], bins=bins, weights=demand_times["qty"])[
            0
        ]
        if demand_series.var() > 0:
            result[level] = float(order_series.var() / demand_series.var())
    return result


_ORDER_KEYS = ("order_type", "product", "source", "destination")
_ORDER_COLUMNS = (
    "replication",
    *_ORDER_KEYS,
    "qty",
    "placed_time",
    "filled_immediately",
    "shipped_qty",
    "delivered_qty",
    "lost_qty",
    "open_qty",
    "last_delivery_time",
    "on_time",
)
_EVENT_KEYS = ("event", "order_type", "node", "product")
_EVENT_COLUMNS = ("replication", "time", *_EVENT_KEYS, "qty", "lane")
"""Columns the KPIs filter and sum; ``order_id`` (high cardinality) is looked up by index
label only where needed (backorder age)."""


def _keyed(frame: pd.DataFrame, columns: tuple[str, ...], keys: tuple[str, ...]) -> pd.DataFrame:
    """The columns the KPIs read, with the low-cardinality string keys as categoricals (sorted
    categories, so groupby order is unchanged): filters then move integer codes, not strings."""
    frame = frame[[c for c in columns if c in frame.columns]]
    return frame.assign(
        **{
            key: pd.Categorical(frame[key])
            for key in keys
            if key in frame.columns and not isinstance(frame[key].dtype, pd.CategoricalDtype)
        }
    )


def _isin(values: pd.Series, candidates: pd.Series) -> np.ndarray:
    """``values.isin(candidates)`` for string columns, hashed by Arrow."""
    found = pc.is_in(
        pa.array(values, type=pa.large_string()),
        value_set=pa.array(candidates, type=pa.large_string()),
    )
    return found.to_numpy(zero_copy_only=False)


def _where(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """The rows of ``frame`` where ``mask`` holds (the frame itself when it holds everywhere)."""
    return frame if mask.all() else frame[mask]


def _replication(frame: pd.DataFrame, rep: int) -> pd.DataFrame:
    """The rows of replication ``rep`` (the frame itself when it holds only that one)."""
    mask = frame["replication"].to_numpy() == rep
    return frame if mask.all() else frame[mask]


def compute_kpis(scenario: Scenario, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """KPIs per replication as a long table with :data:`KPI_COLUMNS`.

    ``fill_rate`` is the unit fill rate (units shipped from stock on arrival of the order ÷ units
    ordered); ``otif`` the share of order lines delivered in full by their requested date; costs
    are cash costs in the scenario currency (shortage penalties are planning devices, not costs).
    Orders placed and days before ``simulation.warmup_days`` are left out.
    """
    orders = _keyed(tables["orders"], _ORDER_COLUMNS, _ORDER_KEYS)
    events = _keyed(tables["events"], _EVENT_COLUMNS, _EVENT_KEYS)
    ids = (tables["orders"]["order_id"], tables["events"]["order_id"])
    inventory = tables["inventory"]
    reps = sorted(set(orders["replication"]) | set(inventory["replication"])) or [0]
    rows = []
    for rep in reps:
        rows += _one_replication(
            scenario,
            int(rep),
            _replication(orders, rep),
            _replication(events, rep),
            _replication(inventory, rep),
            ids,
        )
    frame = pd.DataFrame.from_records(rows, columns=list(KPI_COLUMNS))
    return frame


def summarize(kpis: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and 95 % CI half-width per metric and scope over replications.

    Columns ``metric, scope, value, unit, std, ci_halfwidth, replications``; metric order is kept.
    """
    order = {
        key: i
        for i, key in enumerate(dict.fromkeys(zip(kpis["metric"], kpis["scope"], strict=True)))
    }
    grouped = kpis.groupby(["metric", "scope", "unit"], sort=False)["value"]
    summary = grouped.agg(value="mean", std="std", replications="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    summary["ci_halfwidth"] = [
        t95(n - 1) * s / math.sqrt(n) if n > 1 else math.nan
        for s, n in zip(summary["std"], summary["replications"], strict=True)
    ]
    summary["_order"] = [
        order[(m, s)] for m, s in zip(summary["metric"], summary["scope"], strict=True)
    ]
    summary = summary.sort_values("_order").drop(columns="_order").reset_index(drop=True)
    return summary[["metric", "scope", "value", "unit", "std", "ci_halfwidth", "replications"]]
