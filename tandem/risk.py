"""Early warning: from today's state, how likely is a stockout, where, when, because of whom — and
which purchase orders to place now.

:func:`assess_risk` restarts the scenario at the state (:func:`scenarios.state.scenario_at`: its
on-hand, its known disruptions) and simulates the next ``horizon_days`` many times with the open
supply orders arriving as expected (purchases late with the supplier's unreliability), the open
customer orders served first, new demand sampled from the CRM model, open deals won with their
probability, and the scenario's random disruptions. Nothing new is ordered except by the
scenario's classical policies (and the safety net of plan-following stock points): the result is
the exposure of what is on hand and on order.

Per stock point, item and week it reports the probability of a stockout (some demand — customer
or transfer — not served from stock that week), the expected shortage (units backordered or
lost), and the supplier or lane most responsible (late inbound orders in the runs that ran
short; "demand" when nothing was late). :func:`recommend_orders` then proposes, per at-risk
stock point and item, one order: the (1 − target) quantile over the runs of the shortage over
the horizon, rounded to MOQ and multiples, from the cheapest source that arrives before the
stockout probability first exceeds the target, ordered as late as that allows; when no source
arrives in time, from the fastest, placed now, for the shortage from its arrival on (the
shortage before it cannot be prevented by ordering: expedite or reallocate). With its order-by
date and expected arrival, ranked by value at risk (expected shortage × price). ``tandem risk
--verify`` re-runs the risk with those orders on their way, on the same random numbers.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import sim
from crm_model import DemandModel
from crm_model.demand import ORDER_COLUMNS
from scenarios import Scenario
from scenarios.errors import Problem, ScenarioError
from scenarios.network import SupplyNetwork
from scenarios.schema import NodeKind
from scenarios.state import OpenSupplyOrder, SupplyState, check_state, scenario_at
from sim.run import simulate_replication

__all__ = [
    "AutoOrder",
    "RiskResult",
    "assess_risk",
    "auto_order_control",
    "recommend_orders",
    "risk_reduction",
    "with_orders",
]

_DEAL_STREAM = 0xDEA1
_LATE_DAYS = 0.5
"""An inbound order is late when received (or still open) this long after its expected arrival."""


@dataclass
class RiskResult:
    """Stockout risk per stock point, item and week, and what drives it."""

    scenario: Scenario
    """The scenario restarted at the state (day 0 = ``state.as_of``)."""
    state: SupplyState
    replications: int
    weekly: pd.DataFrame
    """``node, item, week, week_start, stockout_probability, expected_shortage``."""
    by_item: pd.DataFrame
    """``node, item, stockout_probability`` (any week), ``expected_shortage``, ``value_at_risk``,
    ``first_risk_day``, ``most_responsible``, ``responsible_share``."""
    shortages: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """Per replication: ``replication, node, item, shortage, first_day``."""
    daily: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """Shortage units per ``replication, node, item, day``."""

    def shortage_from(self, node: str, item: str, day: float) -> np.ndarray:
        """Per replication, the units short at ``node``/``item`` on ``day`` or later."""
        rows = self.daily[
            (self.daily["node"] == node) & (self.daily["item"] == item) & (self.daily["day"] >= day)
        ]
        totals = rows.groupby("replication")["qty"].sum()
        return totals.reindex(range(self.replications), fill_value=0.0).to_numpy()

    def probability(self, node: str, item: str) -> float:
        rows = self.by_item[(self.by_item["node"] == node) & (self.by_item["item"] == item)]
        return float(rows["stockout_probability"].iloc[0]) if len(rows) else 0.0


def _deal_lines(state: SupplyState, seed: int, replication: int) -> pd.DataFrame | None:
    if not state.deals:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication, _DEAL_STREAM)))
    won = rng.random(len(state.deals)) < np.array([d.probability for d in state.deals])
    rows = []
    for k, (deal, hit) in enumerate(zip(state.deals, won, strict=True)):
        if hit:
            day = state.day_of(deal.expected_close)
            rows.append(
                (
                    f"deal-{k + 1:04d}",
                    day,
                    -1,
                    "",
                    deal.zone,
                    deal.product,
                    float(deal.qty),
                    deal.name,
                    day,
                )
            )
    return pd.DataFrame.from_records(rows, columns=list(ORDER_COLUMNS)) if rows else None


def assess_risk(
    scenario: Scenario,
    state: SupplyState,
    horizon_days: int = 56,
    replications: int = 50,
    seed: int | None = None,
) -> RiskResult:
    """Simulate ``horizon_days`` forward from ``state`` ``replications`` times (see the module).

    Raises
    ------
    ScenarioError
        When the state does not fit the scenario (every problem with its field path) or the
        horizon or replications are not positive.
    """
    problems = check_state(state, scenario)
    if horizon_days < 1:
        problems.append(Problem("--horizon", "must be at least one day"))
    if replications < 1:
        problems.append(Problem("--replications", "must be at least 1"))
    if problems:
        raise ScenarioError(problems, source="state")
    seed = scenario.simulation.seed if seed is None else int(seed)
    window = scenario_at(scenario, state, horizon_days)
    network = SupplyNetwork(window)
    demand = DemandModel(window)
    parts = []
    for rep in range(replications):
        tables = simulate_replication(
            window,
            sim.ReleaseSchedule.empty(),
            rep,
            seed,
            network,
            demand,
            initial_state=state,
            extra_orders=_deal_lines(state, seed, rep),
        )
        parts.append({k: tables[k] for k in ("orders", "events")})
    events = sim.concat_tables([p["events"] for p in parts])
    orders = sim.concat_tables([p["orders"] for p in parts])
    return _summarize(window, state, replications, events, orders, network)


def _summarize(
    window: Scenario,
    state: SupplyState,
    replications: int,
    events: pd.DataFrame,
    orders: pd.DataFrame,
    network: SupplyNetwork,
) -> RiskResult:
    stock_points = set(network.stock_points)
    short = events[
        events["event"].isin(["backordered", "lost"]) & events["node"].isin(stock_points)
    ]
    short = short.assign(week=(short["time"] // 7).astype(int), day=np.floor(short["time"]))
    n_weeks = math.ceil(window.horizon_days / 7)
    pairs = [(n, i) for n in network.stock_points for i in network.items_at(n)]
    weekly_rows = []
    grouped = short.groupby(["node", "product", "week"])
    for (node, item, week), rows in grouped:
        weekly_rows.append(
            (
                node,
                item,
                int(week),
                rows["replication"].nunique() / replications,
                float(rows["qty"].sum()) / replications,
            )
        )
    weekly = pd.DataFrame(
        weekly_rows, columns=["node", "item", "week", "stockout_probability", "expected_shortage"]
    )
    full = pd.MultiIndex.from_tuples(
        [(n, i, w) for n, i in pairs for w in range(n_weeks)], names=["node", "item", "week"]
    )
    weekly = weekly.set_index(["node", "item", "week"]).reindex(full, fill_value=0.0).reset_index()
    weekly.insert(
        3, "week_start", [state.as_of + dt.timedelta(days=7 * int(w)) for w in weekly["week"]]
    )

    per_rep = (
        short.groupby(["replication", "node", "product"])
        .agg(shortage=("qty", "sum"), first_day=("day", "min"))
        .reset_index()
        .rename(columns={"product": "item"})
    )
    blame = _responsibility(orders, per_rep, window.horizon_days)
    price = {p: spec.price for p, spec in window.products.items()}
    rows = []
    for node, item in pairs:
        mine = per_rep[(per_rep["node"] == node) & (per_rep["item"] == item)]
        probability = len(mine) / replications
        expected = float(mine["shortage"].sum()) / replications
        first = float(mine["first_day"].min()) if len(mine) else math.nan
        who, share = blame.get((node, item), ("", 0.0))
        rows.append(
            {
                "node": node,
                "item": item,
                "stockout_probability": probability,
                "expected_shortage": expected,
                "value_at_risk": expected * price.get(item, window.products[item].unit_cost),
                "first_risk_day": first,
                "most_responsible": who,
                "responsible_share": share,
            }
        )
    columns = [
        "node",
        "item",
        "stockout_probability",
        "expected_shortage",
        "value_at_risk",
        "first_risk_day",
        "most_responsible",
        "responsible_share",
    ]
    by_item = pd.DataFrame(rows, columns=columns).sort_values(
        ["value_at_risk", "stockout_probability"], ascending=False
    )
    daily = short.groupby(["replication", "node", "product", "day"], as_index=False)["qty"].sum()
    daily = daily.rename(columns={"product": "item"})
    return RiskResult(
        window, state, replications, weekly, by_item.reset_index(drop=True), per_rep, daily
    )


def _responsibility(
    orders: pd.DataFrame, per_rep: pd.DataFrame, horizon: float
) -> dict[tuple[str, str], tuple[str, float]]:
    """For each stock point and item that ran short, the source whose late inbound orders carried
    most of the late units over the runs that ran short (supplier for purchases, ``lane i`` for
    transfers), and its share; ``demand`` when nothing inbound was late."""
    inbound = orders[orders["order_type"].isin(["purchase", "transfer"])]
    expected = inbound["expected_arrival"].fillna(inbound["requested_time"])
    done = inbound["delivered_qty"] >= inbound["qty"] - 1e-9
    late_done = done & (inbound["last_delivery_time"] > expected + _LATE_DAYS)
    late_open = ~done & (expected + _LATE_DAYS < horizon)
    late = inbound[late_done | late_open]
    label = np.where(
        late["order_type"] == "purchase", late["source"], "lane " + late["lane"].astype(str)
    )
    late = late.assign(who=label)
    result = {}
    for (node, item), runs in per_rep.groupby(["node", "item"]):
        mine = late[
            (late["destination"] == node)
            & (late["product"] == item)
            & late["replication"].isin(runs["replication"])
        ]
        if mine.empty:
            result[(node, item)] = ("demand", 1.0)
            continue
        units = mine.groupby("who")["qty"].sum()
        result[(node, item)] = (str(units.idxmax()), float(units.max() / units.sum()))
    return result


# --------------------------------------------------------------------------- recommendations
def _round_to_lot(qty: float, moq: float, multiple: float | None) -> float:
    qty = max(qty, moq)
    if multiple:
        qty = math.ceil(qty / multiple - 1e-9) * multiple
    return float(qty)


def recommend_orders(risk: RiskResult, target: float = 0.05) -> pd.DataFrame:
    """Orders that bring each stockout probability under ``target`` (see the module docstring).

    Columns: ``node, item, source, lane, kind, qty, order_by, expected_arrival, arrives_in_time,
    stockout_probability, value_at_risk``; ranked by value at risk.
    """
    scenario, state = risk.scenario, risk.state
    network = SupplyNetwork(scenario)
    movements = {(m.lane, m.item): m for m in network.lane_movements()}
    rows = []
    for entry in risk.by_item.itertuples(index=False):
        if entry.stockout_probability <= target:
            continue
        runs = risk.shortages[
            (risk.shortages["node"] == entry.node) & (risk.shortages["item"] == entry.item)
        ]
        firsts = np.concatenate(
            [runs["first_day"].to_numpy(), np.full(risk.replications - len(runs), np.inf)]
        )
        need_by = float(np.quantile(firsts, target, method="lower"))
        options = []
        for lane in network.sourcing_options(entry.node, entry.item):
            move = movements[(lane, entry.item)]
            kind = "purchase" if network.kind(move.src) == NodeKind.SUPPLIER else "transfer"
            lead = _effective_lead(scenario, state, move, kind)
            in_time = lead <= need_by + 1e-9
            # an order arriving too late can only cover the shortage from its arrival on
            arrival = 0.0 if in_time else lead
            need = float(
                np.quantile(
                    risk.shortage_from(entry.node, entry.item, arrival),
                    1.0 - target,
                    method="higher",
                )
            )
            if need <= 1e-9:
                continue
            qty = need
            if kind == "purchase":
                offer = scenario.nodes[move.src].supplies[entry.item]
                qty = _round_to_lot(need, offer.moq, offer.order_multiple)
            elif state.on_hand.get(move.src, {}).get(entry.item, 0.0) < need:
                continue  # the upstream stock point cannot cover it
            options.append(
                (
                    not in_time,
                    move.cost_per_unit if in_time else lead,
                    lane,
                    move,
                    kind,
                    qty,
                    in_time,
                    lead,
                )
            )
        if not options:
            continue
        _, _, lane, move, kind, qty, in_time, lead = min(options, key=lambda o: (o[0], o[1], o[2]))
        order_day = max(0.0, math.floor(need_by - lead)) if in_time else 0.0
        rows.append(
            {
                "node": entry.node,
                "item": entry.item,
                "source": move.src,
                "lane": lane,
                "kind": kind,
                "qty": qty,
                "order_by": state.as_of + dt.timedelta(days=order_day),
                "expected_arrival": state.as_of + dt.timedelta(days=math.ceil(order_day + lead)),
                "arrives_in_time": in_time,
                "stockout_probability": entry.stockout_probability,
                "value_at_risk": entry.value_at_risk,
            }
        )
    columns = [
        "node",
        "item",
        "source",
        "lane",
        "kind",
        "qty",
        "order_by",
        "expected_arrival",
        "arrives_in_time",
        "stockout_probability",
        "value_at_risk",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("value_at_risk", ascending=False, kind="stable").reset_index(drop=True)


def _effective_lead(scenario: Scenario, state: SupplyState, move: Any, kind: str) -> float:
    """Days from ordering today to receipt, waiting out a known outage of the supplier or a known
    closure of the lane (the order ships when it is over)."""
    lead = float(move.lead_time_days)
    supplier_lead = (
        float(scenario.nodes[move.src].lead_time.expected()) if kind == "purchase" else 0.0
    )
    ready = supplier_lead
    for known in state.disruptions:
        until = state.day_of(known.until)
        if (known.kind == "supplier_outage" and known.node == move.src) or (
            known.kind == "lane_closure" and known.lane == move.lane
        ):
            ready = max(ready, until)
    return ready + (lead - supplier_lead)


def with_orders(state: SupplyState, orders: pd.DataFrame) -> SupplyState:
    """``state`` with recommended ``orders`` placed (on their way, due on expected arrival)."""
    extra = tuple(
        OpenSupplyOrder(
            id=f"REC-{k + 1:04d}",
            kind=row.kind,
            source=row.source,
            destination=row.node,
            item=row.item,
            qty=float(row.qty),
            expected_arrival=row.expected_arrival,
            lane=int(row.lane),
        )
        for k, row in enumerate(orders.itertuples(index=False))
    )
    return state.model_copy(update={"open_orders": state.open_orders + extra})


# ------------------------------------------------------------------------------ auto-order
@dataclass
class AutoOrder:
    """Places the recommended orders itself: every ``every_days`` it assesses the risk from the
    simulated state and releases the recommendations whose order-by date falls before the next
    review (the ``decide`` of a :class:`sim.Control` that adds orders)."""

    scenario: Scenario
    horizon_days: int = 28
    replications: int = 20
    target: float = 0.05
    every_days: int = 7
    seed: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def decide(self, day: float, state: SupplyState) -> sim.ReleaseSchedule | None:
        horizon = int(min(self.horizon_days, self.scenario.horizon_days - day))
        if horizon < 1:
            return None
        started = time.perf_counter()
        # the loop knows the disruptions under way (in the state), not the ones still to come
        base = self.scenario.model_copy(update={"disruptions": []})
        risk = assess_risk(base, state, horizon, self.replications, seed=self.seed + int(day))
        orders = recommend_orders(risk, self.target)
        soon = pd.Series(
            [(o - state.as_of).days < self.every_days for o in orders["order_by"]], dtype=bool
        )
        due = orders[soon.to_numpy()] if len(orders) else orders
        self.decisions.append(
            {
                "day": day,
                "orders": len(due),
                "units": float(due["qty"].sum()),
                "seconds": time.perf_counter() - started,
            }
        )
        if due.empty:
            return None
        network = SupplyNetwork(self.scenario)
        movements = {(m.lane, m.item): m for m in network.lane_movements()}
        purchases, transfers = [], []
        for row in due.itertuples(index=False):
            release = day + (row.order_by - state.as_of).days
            lead = movements[(row.lane, row.item)].lead_time_days
            entry = {
                "lane": row.lane,
                "dst": row.node,
                "item": row.item,
                "release_day": release,
                "due_day": release + lead,
                "qty": row.qty,
            }
            (purchases if row.kind == "purchase" else transfers).append(entry)
        return sim.ReleaseSchedule.from_tables(
            {"purchases": pd.DataFrame(purchases), "transfers": pd.DataFrame(transfers)}
        )


def auto_order_control(auto: AutoOrder) -> sim.Control:
    """The :class:`sim.Control` of an auto-order loop (orders are added, not replacing a plan)."""
    return sim.Control(
        every_days=float(auto.every_days), decide=auto.decide, replace=False, first_day=0.0
    )


def risk_reduction(before: RiskResult, after: RiskResult) -> pd.DataFrame:
    """Stockout probability and expected shortage per stock point and item, before and after."""
    keys = ["node", "item"]
    cols = ["stockout_probability", "expected_shortage"]
    merged = before.by_item[keys + cols].merge(
        after.by_item[keys + cols], on=keys, suffixes=("_before", "_after")
    )
    return merged
