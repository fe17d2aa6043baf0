"""Planning data: everything the supply-planning model needs, as plain Python built from a scenario.

:class:`PlanningData` is the one place where the scenario, the demand forecast and the starting
state are turned into the sets and numbers of the model (buckets, lead times in buckets, costs,
capacities, big-M bounds). Building it is pure: nothing passed in is changed.

Time
----
Bucket ``b`` (0 … ``n_buckets``−1) covers days ``b·B`` … ``b·B + days_in_bucket(b) − 1`` with
``B = scenario.bucket.days``; the last bucket may be shorter than ``B``. A lead time of ``d`` days
is ``ceil(d / B)`` buckets (0 allowed): an order released at the start of bucket ``b`` is counted
as stock from bucket ``b + L`` on, whose first day is the order's due day. Its mean arrival,
``release_day + d``, is on or before the due day, so the plan never counts on stock earlier than
it arrives on average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np
import pandas as pd

from scenarios.errors import DataError, Problem
from scenarios.network import SupplyNetwork
from scenarios.schema import (
    CustomerZone,
    NodeKind,
    Plant,
    ProductKind,
    Scenario,
    Supplier,
    UnmetDemand,
    Warehouse,
)

__all__ = [
    "DEMAND_COLUMNS",
    "CustomerLink",
    "Movement",
    "PlanningData",
    "PlanningState",
    "ProductionOption",
    "lead_buckets",
]

DEMAND_COLUMNS = ("bucket", "zone", "product", "units")
"""Columns of the demand table the planner takes (``DemandModel.expected_by_bucket``)."""

_LEAD_TOLERANCE = 1e-9
"""Lead times within this many buckets below a whole number round down to it (7.0000000001/7)."""


def lead_buckets(lead_time_days: float, bucket_days: int) -> int:
    """Whole buckets from release to availability: ``ceil(lead_time_days / bucket_days − 1e-9)``.

    Examples
    --------
    >>> lead_buckets(2, 1), lead_buckets(44, 7), lead_buckets(7, 7), lead_buckets(0, 7)
    (2, 7, 1, 0)
    """
    return max(0, math.ceil(lead_time_days / bucket_days - _LEAD_TOLERANCE))


# --------------------------------------------------------------------------------------------
# Starting state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanningState:
    """Where the plan starts: stock on hand, receipts already on their way, open backorders.

    ``on_hand`` maps (stock point, item) to units at the start of bucket 0 (pairs left out hold
    nothing); ``pipeline`` lists (stock point, item, arrival bucket, units) already ordered;
    ``backlog`` maps (zone, product) to open customer backorders. With lost sales an open backlog
    is added to the first bucket's demand.

    Examples
    --------
    >>> PlanningState(on_hand={("dc", "widget"): 5.0}).on_hand[("dc", "widget")]
    5.0
    """

    on_hand: Mapping[tuple[str, str], float] = field(default_factory=dict)
    pipeline: tuple[tuple[str, str, int, float], ...] = ()
    backlog: Mapping[tuple[str, str], float] = field(default_factory=dict)
    supplier_down_until: Mapping[str, float] = field(default_factory=dict)
    """Supplier → day (from the plan's start) its known outage ends: nothing it would have ready
    before then is planned (a re-plan during an announced outage)."""
    lane_closed_until: Mapping[int, float] = field(default_factory=dict)
    """Lane → day its known closure ends: nothing is planned to depart on it before then."""

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> PlanningState:
        """The scenario's own start: its initial inventories, nothing in transit, no backlog."""
        on_hand = {
            (node_id, item): float(qty)
            for node_id, node in scenario.nodes.items()
            for item, qty in (getattr(node, "initial_inventory", None) or {}).items()
        }
        return cls(on_hand=on_hand)


# --------------------------------------------------------------------------------------------
# Records of the network
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One item on one lane between a source and a stock point: a purchase or a transfer."""

    lane: int
    src: str
    dst: str
    item: str
    lead_time_days: float
    """Mean days from release to receipt (supplier lead time included for purchases)."""
    lead_buckets: int
    supplier: str | None
    """The source when it is a supplier (the flow is a purchase), else None (a transfer)."""
    unit_price: float
    """Purchase price per unit (0 for transfers)."""
    freight_per_unit: float

    @property
    def is_purchase(self) -> bool:
        return self.supplier is not None


@dataclass(frozen=True)
class ProductionOption:
    """One product one plant makes: cost, capacity use, lead time and bill of materials."""

    plant: str
    product: str
    cost_per_unit: float
    capacity_use: float
    lead_time_days: float
    lead_buckets: int
    bom: tuple[tuple[str, float], ...]
    """(component, units consumed per unit made)."""
    batch_size: float | None = None
    """Production orders are whole multiples of this (None: any quantity)."""


@dataclass(frozen=True)
class CustomerLink:
    """A (zone, product) pair with demand, and the stock point and lane that serve it."""

    zone: str
    item: str
    node: str | None
    """Serving stock point, or None when the zone has none or it never stocks the item."""
    lane: int | None
    freight_per_unit: float


# --------------------------------------------------------------------------------------------
# Planning data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanningData:
    """Sets and parameters of the planning model (read-only by convention; never modified).

    Build with :meth:`from_scenario`. Quantities are units, money is the scenario currency,
    capacities are per day (the model scales them by :attr:`days_in_bucket`).

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> from crm_model import DemandModel
    >>> s = load_scenario("retailer_holiday")
    >>> data = PlanningData.from_scenario(s, DemandModel(s).expected_by_bucket())
    >>> data.n_buckets, data.bucket_days, len(data.stock_items)
    (52, 7, 12)
    """

    scenario_name: str
    currency: str
    bucket_days: int
    horizon_days: int
    days_in_bucket: tuple[int, ...]
    unmet_demand: UnmetDemand
    stock_items: tuple[tuple[str, str], ...]
    """(stock point, item) pairs that hold inventory, in scenario order."""
    on_hand: dict[tuple[str, str], float]
    pipeline: dict[tuple[str, str, int], float]
    """(stock point, item, arrival bucket) → units already on their way."""
    movements: tuple[Movement, ...]
    productions: tuple[ProductionOption, ...]
    customers: tuple[CustomerLink, ...]
    demand: dict[tuple[str, str, int], float]
    """(zone, product, bucket) → units (non-zero only)."""
    initial_backlog: dict[tuple[str, str], float]
    holding_cost_per_unit_day: dict[str, float]
    backorder_cost_per_unit_day: dict[str, float]
    lost_sale_cost: dict[str, float]
    supplier_capacity_per_day: dict[tuple[str, str], float]
    supplier_order_cost: dict[str, float]
    """Supplier → fixed cost per bucket with any purchase (only suppliers with a cost > 0)."""
    moq: dict[tuple[str, str], float]
    order_multiple: dict[tuple[str, str], float]
    lane_capacity_per_day: dict[int, float]
    lane_shipment_cost: dict[int, float]
    """Lane → fixed cost per bucket with any flow (lanes between nodes with a cost > 0)."""
    plant_capacity_per_day: dict[str, float]
    storage_capacity: dict[str, float]
    storage_penalty_per_unit_day: float
    requirement: dict[str, float]
    """Item → units that can ever be useful (demand exploded through BOMs): a valid big-M."""
    downstream: dict[tuple[str, str], tuple[tuple[str, str, float], ...]]
    """(stock point, item) → (zone, product, units of item per unit of product) for every
    customer pair served from the stock point or a stock point it can ship to."""
    remaining_need: dict[tuple[str, str], tuple[float, ...]]
    """(stock point, item) → for each bucket t (and t = n_buckets), the downstream demand of
    buckets t … n_buckets−1, exploded through BOMs: what stock there at t can still be used for
    (besides open backlog)."""
    safety_stock: dict[tuple[str, str], float] = field(default_factory=dict)
    """(stock point, item) → soft target of on-hand at the end of every bucket (units); empty by
    default (no targets). See :meth:`with_safety_stock` and :mod:`optimize.safety_stock`."""
    safety_stock_penalty_per_unit_day: dict[str, float] = field(default_factory=dict)
    """Item → cost per unit-day of on-hand below its target."""
    supplier_down_until: dict[str, float] = field(default_factory=dict)
    """Supplier → day a known outage ends (:attr:`PlanningState.supplier_down_until`)."""
    lane_closed_until: dict[int, float] = field(default_factory=dict)
    """Lane → day a known closure ends (:attr:`PlanningState.lane_closed_until`)."""
    supplier_lead_days: dict[str, float] = field(default_factory=dict)
    """Supplier → mean days from order to dispatch (to date departures during known outages)."""

    # ------------------------------------------------------------------------- safety stock
    def with_safety_stock(
        self, targets: Mapping[tuple[str, str], float], penalty_share: float = 0.5
    ) -> PlanningData:
        """A copy with soft safety-stock ``targets`` ((stock point, item) → units), each unit-day
        below target costing ``penalty_share`` × the item's backorder cost per unit-day (below
        1, so the plan never backlogs a customer to keep a buffer). Pairs that do not hold stock
        are ignored; ``self`` is not modified.

        Examples
        --------
        >>> from scenarios import load_scenario
        >>> from crm_model import DemandModel
        >>> s = load_scenario("retailer_holiday", {"horizon_days": 28})
        >>> data = PlanningData.from_scenario(s, DemandModel(s).expected_by_bucket())
        >>> node, item = data.stock_items[0]
        >>> data.with_safety_stock({(node, item): 100.0}).safety_stock
        {('dc_north', 'earbuds'): 100.0}
        >>> data.safety_stock
        {}
        """
        stocked = set(self.stock_items)
        kept = {key: float(v) for key, v in targets.items() if key in stocked and v > 0}
        penalty = {
            item: penalty_share * self.backorder_cost_per_unit_day.get(item, 0.0)
            for _, item in kept
        }
        return replace(self, safety_stock=kept, safety_stock_penalty_per_unit_day=penalty)

    # --------------------------------------------------------------------------- calendar
    @property
    def n_buckets(self) -> int:
        return len(self.days_in_bucket)

    def start_day(self, bucket: int) -> int:
        """First day of ``bucket``."""
        return bucket * self.bucket_days

    def day_end(self, bucket: int) -> int:
        """Last day of ``bucket``."""
        return bucket * self.bucket_days + self.days_in_bucket[bucket] - 1

    def release_buckets(self, lead: int) -> range:
        """Buckets in which something with ``lead`` buckets of lead time may start (it must be
        available within the horizon)."""
        return range(max(0, self.n_buckets - lead))

    @property
    def stock_nodes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(node for node, _ in self.stock_items))

    # -------------------------------------------------------------------------- big-M bounds
    def purchase_bound(self, supplier: str, item: str) -> float:
        """Most units of ``item`` worth buying from ``supplier`` in one bucket: the item's whole
        requirement, rounded up to the order multiple and at least the MOQ."""
        need = self.requirement.get(item, 0.0)
        if need <= 0:
            return 0.0
        multiple = self.order_multiple.get((supplier, item))
        if multiple:
            need = math.ceil(need / multiple - 1e-9) * multiple
        return max(need, self.moq.get((supplier, item), 0.0))

    def has_lot_rules(self, movement: Movement) -> bool:
        """Whether the flow is a purchase under an MOQ or order multiple (which can force buying
        more than is needed)."""
        key = (movement.supplier, movement.item)
        return movement.supplier is not None and (key in self.moq or key in self.order_multiple)

    def backlog_ahead(self, node: str, item: str) -> float:
        """Open backlog at the start that units of ``item`` at ``node`` could still serve."""
        return sum(
            factor * self.initial_backlog.get((zone, product), 0.0)
            for zone, product, factor in self.downstream.get((node, item), ())
        )

    def blocked(self, movement: Movement, bucket: int) -> bool:
        """Whether a flow released in ``bucket`` would be ready at a supplier in a known outage,
        or depart on a lane in a known closure (it cannot then arrive when the model says)."""
        start = self.start_day(bucket)
        depart = float(start)
        if movement.supplier is not None:
            depart += self.supplier_lead_days.get(movement.supplier, 0.0)
            until = self.supplier_down_until.get(movement.supplier)
            if until is not None and depart < until:
                return True
        until = self.lane_closed_until.get(movement.lane)
        return until is not None and depart < until

    def _capacity_bound(self, movement: Movement, bucket: int, bound: float) -> float:
        if (self.supplier_down_until or self.lane_closed_until) and self.blocked(movement, bucket):
            return 0.0
        days = self.days_in_bucket[bucket]
        if movement.supplier is not None:
            cap = self.supplier_capacity_per_day.get((movement.supplier, movement.item))
            if cap is not None:
                bound = min(bound, cap * days)
        lane_cap = self.lane_capacity_per_day.get(movement.lane)
        if lane_cap is not None:
            bound = min(bound, lane_cap * days)
        return float(bound)

    def flow_bound(self, movement: Movement, bucket: int) -> float:
        """Upper bound of one flow variable: every capacity that applies, and the units that can
        be of use downstream of its destination (no optimal plan ships more; under an MOQ or
        order multiple, the item's whole requirement rounded up to them)."""
        if self.has_lot_rules(movement):
            need = self.purchase_bound(str(movement.supplier), movement.item)
        else:
            key = (movement.dst, movement.item)
            need = self.remaining_need[key][0] + self.backlog_ahead(*key)
        return self._capacity_bound(movement, bucket, need)

    def link_bound(self, movement: Movement, bucket: int) -> float:
        """Big-M of the flow released in ``bucket`` in a fixed-cost link ``flow ≤ M·y + B``.

        ``B`` is the downstream backlog open when the flow arrives (a variable; with backorders
        only) and ``M`` the downstream demand from its arrival bucket on, capped by capacities:
        units arriving at ``t`` serve open backlog, demand of ``t`` or later, or are never used
        (Pochet & Wolsey 2006, §7.4, the ``x_t ≤ d_{tT}·y_t + r_{t−1}`` inequality of lot sizing
        with backlogging). Under an MOQ or order multiple ``M`` is :meth:`flow_bound`.
        """
        if self.has_lot_rules(movement):
            return self.flow_bound(movement, bucket)
        arrival = bucket + movement.lead_buckets
        need = self.remaining_need[(movement.dst, movement.item)][arrival]
        if arrival == 0:
            need += self.backlog_ahead(movement.dst, movement.item)
        return self._capacity_bound(movement, bucket, need)

    # ------------------------------------------------------------------------------ build
    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        demand: pd.DataFrame,
        state: PlanningState | None = None,
        network: SupplyNetwork | None = None,
    ) -> PlanningData:
        """Planning data of ``scenario`` for forecast ``demand`` from ``state``.

        Parameters
        ----------
        scenario
            A validated scenario.
        demand
            Units per ``bucket, zone, product`` (extra columns are ignored; duplicate rows add
            up). Service products are skipped: they need no supply.
        state
            Starting state; default :meth:`PlanningState.from_scenario`.
        network
            The scenario's :class:`~scenarios.network.SupplyNetwork`, if already built.

        Raises
        ------
        DataError
            Listing every problem in ``demand`` or ``state`` at once.
        """
        net = network or SupplyNetwork(scenario)
        state = state or PlanningState.from_scenario(scenario)
        bucket_days = scenario.bucket.days
        n_buckets = scenario.n_buckets
        days_in_bucket = tuple(
            min(bucket_days, scenario.horizon_days - b * bucket_days) for b in range(n_buckets)
        )
        stock_items = tuple(
            (node, item) for node in net.stock_points for item in net.items_at(node)
        )
        problems: list[Problem] = []
        demand_units, demand_problems = _demand_table(scenario, demand, n_buckets)
        problems += demand_problems
        on_hand, pipeline, backlog, state_problems = _state_tables(scenario, state, stock_items)
        problems += state_problems
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            count = len(problems)
            raise DataError(f"planning input: {count} problem{'s' if count != 1 else ''}\n{lines}")
        if scenario.fulfillment.unmet_demand is UnmetDemand.LOST_SALES:
            for (zone, item), units in backlog.items():
                key = (zone, item, 0)
                demand_units[key] = demand_units.get(key, 0.0) + units
            backlog = {}

        movements = _movements(scenario, net, bucket_days)
        productions = _productions(scenario, net, bucket_days)
        customers = _customers(scenario, net, demand_units, backlog)
        items = [p for p, prod in scenario.products.items() if prod.kind != ProductKind.SERVICE]
        holding = {
            i: scenario.products[i].unit_cost * scenario.holding_rate(i) / 365.0 for i in items
        }
        backorder = {i: scenario.backorder_cost(i) for i in items}
        lost = {i: scenario.lost_sale_cost(i) for i in items}

        supplier_cap: dict[tuple[str, str], float] = {}
        order_cost: dict[str, float] = {}
        moq: dict[tuple[str, str], float] = {}
        multiple: dict[tuple[str, str], float] = {}
        plant_cap: dict[str, float] = {}
        storage: dict[str, float] = {}
        for node_id, node in scenario.nodes.items():
            if isinstance(node, Supplier):
                if node.order_cost > 0:
                    order_cost[node_id] = float(node.order_cost)
                for item, offer in node.supplies.items():
                    if offer.capacity_per_day is not None:
                        supplier_cap[(node_id, item)] = float(offer.capacity_per_day)
                    if offer.moq > 0:
                        moq[(node_id, item)] = float(offer.moq)
                    if offer.order_multiple is not None:
                        multiple[(node_id, item)] = float(offer.order_multiple)
            elif isinstance(node, Plant) and node.capacity_per_day is not None:
                plant_cap[node_id] = float(node.capacity_per_day)
            if isinstance(node, Plant | Warehouse) and node.storage_capacity:
                storage[node_id] = float(node.storage_capacity)
        flow_lanes = {mv.lane for mv in movements}
        serving_lanes = {c.lane for c in customers if c.lane is not None}
        lane_cap = {
            i: float(lane.capacity_per_day)
            for i, lane in enumerate(scenario.lanes)
            if lane.capacity_per_day is not None and i in flow_lanes | serving_lanes
        }
        shipment_cost = {
            i: float(scenario.lanes[i].cost_per_shipment)
            for i in sorted(flow_lanes)
            if scenario.lanes[i].cost_per_shipment > 0
        }
        requirement = _requirement(scenario, demand_units, backlog)
        downstream = _downstream(scenario, stock_items, movements, customers)
        remaining = _remaining_need(downstream, demand_units, n_buckets)
        penalty = _storage_penalty(scenario, movements, productions, items)
        return cls(
            scenario_name=scenario.name,
            currency=scenario.currency,
            bucket_days=bucket_days,
            horizon_days=scenario.horizon_days,
            days_in_bucket=days_in_bucket,
            unmet_demand=UnmetDemand(scenario.fulfillment.unmet_demand),
            stock_items=stock_items,
            on_hand=on_hand,
            pipeline=pipeline,
            movements=movements,
            productions=productions,
            customers=customers,
            demand=demand_units,
            initial_backlog=backlog,
            holding_cost_per_unit_day=holding,
            backorder_cost_per_unit_day=backorder,
            lost_sale_cost=lost,
            supplier_capacity_per_day=supplier_cap,
            supplier_order_cost=order_cost,
            moq=moq,
            order_multiple=multiple,
            lane_capacity_per_day=lane_cap,
            lane_shipment_cost=shipment_cost,
            plant_capacity_per_day=plant_cap,
            storage_capacity=storage,
            storage_penalty_per_unit_day=penalty,
            requirement=requirement,
            downstream=downstream,
            remaining_need=remaining,
            supplier_down_until={k: float(v) for k, v in state.supplier_down_until.items()},
            lane_closed_until={int(k): float(v) for k, v in state.lane_closed_until.items()},
            supplier_lead_days={
                node_id: float(node.lead_time.expected())
                for node_id, node in scenario.nodes.items()
                if isinstance(node, Supplier)
            },
        )


# --------------------------------------------------------------------------------------------
# Helpers of from_scenario
# --------------------------------------------------------------------------------------------


def _demand_table(
    scenario: Scenario, demand: pd.DataFrame, n_buckets: int
) -> tuple[dict[tuple[str, str, int], float], list[Problem]]:
    """Demand of physical products as a dict, and the problems found in the table."""
    missing = [c for c in DEMAND_COLUMNS if c not in demand.columns]
    if missing:
        return {}, [Problem("demand", f"missing columns {missing}; needs {list(DEMAND_COLUMNS)}")]
    problems: list[Problem] = []
    table = demand.loc[:, list(DEMAND_COLUMNS)]
    units = pd.to_numeric(table["units"], errors="coerce").to_numpy(dtype=float)
    buckets = pd.to_numeric(table["bucket"], errors="coerce").to_numpy(dtype=float)
    bad_units = ~np.isfinite(units) | (units < 0)
    if bad_units.any():
        problems.append(
            Problem("demand.units", f"{int(bad_units.sum())} rows are negative or not numbers")
        )
    bad_buckets = ~np.isfinite(buckets) | (buckets != np.round(buckets))
    bad_buckets |= (buckets < 0) | (buckets >= n_buckets)
    if bad_buckets.any():
        problems.append(
            Problem(
                "demand.bucket",
                f"{int(bad_buckets.sum())} rows outside the buckets 0..{n_buckets - 1}",
            )
        )
    zones = {n for n, node in scenario.nodes.items() if node.kind == NodeKind.CUSTOMER_ZONE}
    for zone in sorted(set(table["zone"]) - zones, key=str):
        problems.append(Problem("demand.zone", f"unknown customer zone '{zone}'"))
    products = scenario.products
    for item in sorted(set(table["product"]), key=str):
        if item not in products:
            problems.append(Problem("demand.product", f"unknown product '{item}'"))
        elif products[item].kind == ProductKind.COMPONENT:
            problems.append(Problem("demand.product", f"'{item}' is a component, not sold"))
    if problems:
        return {}, problems
    result: dict[tuple[str, str, int], float] = {}
    finished = {p for p, prod in products.items() if prod.kind == ProductKind.FINISHED}
    # plain lists: iterating pandas (Arrow-backed) columns element by element is ~10× slower
    for zone, item, bucket, qty in zip(
        table["zone"].astype(str).tolist(),
        table["product"].astype(str).tolist(),
        buckets.astype(int).tolist(),
        units.tolist(),
        strict=True,
    ):
        if qty > 0 and item in finished:
            key = (zone, item, bucket)
            result[key] = result.get(key, 0.0) + qty
    return result, problems


def _state_tables(
    scenario: Scenario, state: PlanningState, stock_items: tuple[tuple[str, str], ...]
) -> tuple[
    dict[tuple[str, str], float],
    dict[tuple[str, str, int], float],
    dict[tuple[str, str], float],
    list[Problem],
]:
    """The state as dicts over the model's index, and the problems found in it."""
    problems: list[Problem] = []
    stocked = set(stock_items)
    on_hand: dict[tuple[str, str], float] = {}
    for (node, item), qty in state.on_hand.items():
        if (node, item) not in stocked:
            problems.append(Problem(f"state.on_hand[{node}, {item}]", "not stocked there"))
        elif not qty >= 0:
            problems.append(Problem(f"state.on_hand[{node}, {item}]", f"must be >= 0 (got {qty})"))
        elif qty > 0:
            on_hand[(node, item)] = on_hand.get((node, item), 0.0) + float(qty)
    pipeline: dict[tuple[str, str, int], float] = {}
    for k, (node, item, bucket, qty) in enumerate(state.pipeline):
        where = f"state.pipeline[{k}]"
        if (node, item) not in stocked:
            problems.append(Problem(where, f"'{item}' is not stocked at '{node}'"))
        elif not qty >= 0 or int(bucket) != bucket or bucket < 0:
            problems.append(
                Problem(where, f"needs qty >= 0 and a bucket >= 0 (got {qty}, {bucket})")
            )
        elif qty > 0 and bucket < scenario.n_buckets:
            key = (node, item, int(bucket))
            pipeline[key] = pipeline.get(key, 0.0) + float(qty)
    backlog: dict[tuple[str, str], float] = {}
    for (zone, item), qty in state.backlog.items():
        product = scenario.products.get(item)
        if not isinstance(scenario.nodes.get(zone), CustomerZone):
            problems.append(Problem(f"state.backlog[{zone}, {item}]", "unknown customer zone"))
        elif product is None or product.kind == ProductKind.COMPONENT:
            problems.append(Problem(f"state.backlog[{zone}, {item}]", "unknown or unsold product"))
        elif not qty >= 0:
            problems.append(Problem(f"state.backlog[{zone}, {item}]", f"must be >= 0 (got {qty})"))
        elif qty > 0 and product.kind == ProductKind.FINISHED:
            backlog[(zone, item)] = backlog.get((zone, item), 0.0) + float(qty)
    return on_hand, pipeline, backlog, problems


def _movements(scenario: Scenario, net: SupplyNetwork, bucket_days: int) -> tuple[Movement, ...]:
    """Lane movements into stock points (lanes into customer zones are the serving side)."""
    stock = set(net.stock_points)
    result = []
    for mv in net.lane_movements():
        if mv.dst not in stock:
            continue
        src = scenario.nodes[mv.src]
        supplier = mv.src if isinstance(src, Supplier) else None
        price = float(src.supplies[mv.item].price) if isinstance(src, Supplier) else 0.0
        result.append(
            Movement(
                lane=mv.lane,
                src=mv.src,
                dst=mv.dst,
                item=mv.item,
                lead_time_days=float(mv.lead_time_days),
                lead_buckets=lead_buckets(mv.lead_time_days, bucket_days),
                supplier=supplier,
                unit_price=price,
                freight_per_unit=float(mv.cost_per_unit) - price,
            )
        )
    return tuple(result)


def _productions(
    scenario: Scenario, net: SupplyNetwork, bucket_days: int
) -> tuple[ProductionOption, ...]:
    result = []
    for plant in net.nodes_of(NodeKind.PLANT):
        spec = scenario.nodes[plant]
        assert isinstance(spec, Plant)
        for product, production in spec.produces.items():
            lead = float(spec.production_lead_time_days)
            result.append(
                ProductionOption(
                    plant=plant,
                    product=product,
                    cost_per_unit=float(production.cost_per_unit),
                    capacity_use=float(production.capacity_use),
                    lead_time_days=lead,
                    lead_buckets=lead_buckets(lead, bucket_days),
                    bom=tuple((c, float(q)) for c, q in scenario.products[product].bom.items()),
                    batch_size=None
                    if production.batch_size is None
                    else float(production.batch_size),
                )
            )
    return tuple(result)


def _customers(
    scenario: Scenario,
    net: SupplyNetwork,
    demand: dict[tuple[str, str, int], float],
    backlog: dict[tuple[str, str], float],
) -> tuple[CustomerLink, ...]:
    """One link per (zone, product) with demand or open backlog, in scenario order."""
    pairs = {(z, i) for z, i, _ in demand} | set(backlog)
    zone_order = {z: k for k, z in enumerate(scenario.nodes)}
    item_order = {p: k for k, p in enumerate(scenario.products)}
    result = []
    for zone, item in sorted(pairs, key=lambda p: (zone_order[p[0]], item_order[p[1]])):
        lane = net.serving_lane(zone)
        node = None if lane is None else scenario.lanes[lane].src
        if node is not None and item not in net.items_at(node):
            node, lane = None, None
        freight = 0.0 if lane is None else float(scenario.lanes[lane].cost_per_unit)
        result.append(CustomerLink(zone, item, node, lane, freight))
    return tuple(result)


def _requirement(
    scenario: Scenario,
    demand: dict[tuple[str, str, int], float],
    backlog: dict[tuple[str, str], float],
) -> dict[str, float]:
    """Units of each item that can ever be of use: direct demand and backlog, exploded through
    the BOMs (parents before components)."""
    need = {item: 0.0 for item in scenario.products}
    for (_, item, _), units in demand.items():
        need[item] += units
    for (_, item), units in backlog.items():
        need[item] += units
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(scenario.products)
    for parent, product in scenario.products.items():
        for component in product.bom:
            graph.add_edge(parent, component)
    for parent in nx.topological_sort(graph):
        for component, qty in scenario.products[parent].bom.items():
            need[component] += qty * need[parent]
    return need


def _explosion(scenario: Scenario) -> dict[tuple[str, str], float]:
    """(product, item) → units of item in one unit of product, over all BOM levels (1 for the
    product itself)."""
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(scenario.products)
    for parent, spec in scenario.products.items():
        for component in spec.bom:
            graph.add_edge(parent, component)
    factors: dict[tuple[str, str], float] = {}
    for product in scenario.products:
        per_unit = {product: 1.0}
        below = graph.subgraph(nx.descendants(graph, product) | {product})
        for parent in nx.topological_sort(below):
            for component, qty in scenario.products[parent].bom.items():
                per_unit[component] = per_unit.get(component, 0.0) + qty * per_unit[parent]
        for item, factor in per_unit.items():
            factors[(product, item)] = factor
    return factors


def _downstream(
    scenario: Scenario,
    stock_items: tuple[tuple[str, str], ...],
    movements: tuple[Movement, ...],
    customers: tuple[CustomerLink, ...],
) -> dict[tuple[str, str], tuple[tuple[str, str, float], ...]]:
    """For each stock point and item: the customer pairs its stock can end up serving (served
    from the point or from a point it ships to, directly or through BOMs)."""
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(node for node, _ in stock_items)
    graph.add_edges_from((mv.src, mv.dst) for mv in movements if mv.supplier is None)
    explosion = _explosion(scenario)
    result = {}
    for node, item in stock_items:
        reach = nx.descendants(graph, node) | {node}
        result[(node, item)] = tuple(
            (link.zone, link.item, explosion[(link.item, item)])
            for link in customers
            if link.node in reach and explosion.get((link.item, item), 0.0) > 0
        )
    return result


def _remaining_need(
    downstream: dict[tuple[str, str], tuple[tuple[str, str, float], ...]],
    demand: dict[tuple[str, str, int], float],
    n_buckets: int,
) -> dict[tuple[str, str], tuple[float, ...]]:
    """Suffix sums over buckets (and 0 past the last) of each stock point's downstream demand."""
    by_pair: dict[tuple[str, str], np.ndarray] = {}
    for (zone, product, bucket), units in demand.items():
        by_pair.setdefault((zone, product), np.zeros(n_buckets))[bucket] += units
    result = {}
    for key, pairs in downstream.items():
        per_bucket = np.zeros(n_buckets + 1)
        for zone, product, factor in pairs:
            series = by_pair.get((zone, product))
            if series is not None:
                per_bucket[:n_buckets] += factor * series
        suffix = np.cumsum(per_bucket[::-1])[::-1]
        result[key] = tuple(float(x) for x in suffix)
    return result


def _storage_penalty(
    scenario: Scenario,
    movements: tuple[Movement, ...],
    productions: tuple[ProductionOption, ...],
    items: list[str],
) -> float:
    """Penalty per unit-day above a storage capacity: ten times the largest cost a unit can
    carry, so that overflow is only chosen when nothing else is possible."""
    figures = [1.0]
    figures += [mv.unit_price + mv.freight_per_unit for mv in movements]
    figures += [p.cost_per_unit for p in productions]
    for item in items:
        figures.append(scenario.lost_sale_cost(item))
        figures.append(scenario.backorder_cost(item) * scenario.horizon_days)
        figures.append(scenario.products[item].unit_cost)
    return 10.0 * max(figures)
