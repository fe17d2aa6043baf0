"""The supply-planning MILP as a Pyomo model: one small ``add_*`` function per family, built purely.

Multi-product, multi-echelon, multi-period lot sizing with lead times, in the spirit of the
capacitated multi-level lot-sizing models of Pochet & Wolsey, *Production Planning by Mixed
Integer Programming* (Springer 2006), ch. 12 (multi-echelon, big-bucket). Indices: lane movement
``(lane, item)``, plant ``k``, product ``p``, stock point ``n``, zone ``z``, bucket ``b`` with
``days_b`` days. Lead times are whole buckets ``L`` (see :mod:`optimize.data`).

Inventory at each stock point and item (end of bucket, ``inv[n,i,-1]`` = on hand at start)::

    inv[n,i,b] = inv[n,i,b-1] + Σ flow[l,i,b-L_l] (into n) + Σ make[n,i,b-L_k] + pipeline[n,i,b]
                 − Σ flow[l,i,b] (out of n) − Σ_p bom[p,i]·make[n,p,b] − Σ_z served[z,i,b]

Customers: backorders ``backlog[z,i,b] = backlog[z,i,b-1] + demand[z,i,b] − served[z,i,b]``, or
lost sales ``served + lost = demand``. Capacities per bucket are daily capacities × ``days_b``.
Fixed costs use binaries only where the data has them: supplier order cost per (supplier, bucket),
lane shipment cost per (lane, bucket), MOQ per (supplier, item, bucket); order multiples and
production batch sizes use integer numbers of batches. Each flow is linked to each of its
switches separately, with a big-M of the demand its destination can still serve, capped by the
capacities (:meth:`optimize.data.PlanningData.flow_bound` and ``link_bound``).

Objective (scenario currency): purchase price and freight per unit, production cost, holding
``inv·unit_cost·rate/365·days_b``, backorders ``backlog·cost_per_day·days_b``, lost sales, backlog
left at the end valued as lost sales, fixed ordering and shipment costs, and a storage overflow
penalty on the soft storage capacities.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from optimize.data import Movement, PlanningData
from scenarios.schema import UnmetDemand

__all__ = [
    "COST_TYPES",
    "add_customer_balance",
    "add_customer_variables",
    "add_flow_variables",
    "add_inventory_balance",
    "add_inventory_variables",
    "add_lane_capacity",
    "add_minimum_order_quantities",
    "add_objective",
    "add_order_costs",
    "add_order_multiples",
    "add_plant_capacity",
    "add_production_batches",
    "add_production_variables",
    "add_safety_stock_targets",
    "add_shipment_costs",
    "add_storage_capacity",
    "add_supplier_capacity",
    "build_plan_model",
]

COST_TYPES = (
    "purchase",
    "transport",
    "production",
    "holding",
    "backorder",
    "lost_sales",
    "ordering",
    "storage_penalty",
    "safety_stock_penalty",
)
"""Cost types of the objective; the model has one ``Expression`` ``cost_<type>`` per type."""

FlowKey = tuple[int, str, int]
"""(lane, item, release bucket)."""

ExtraDemand = Callable[[pyo.ConcreteModel], Mapping[tuple[str, str, int], Any]]
"""Hook of :func:`build_plan_model`: adds its own components to the model (after the customer
variables) and returns demand terms per (zone, product, bucket) added to ``data.demand`` in the
customer balance (e.g. campaign uplift × a campaign decision, :mod:`optimize.joint`)."""

_F = TypeVar("_F", bound=Callable[..., Any])


def without_cyclic_gc(function: _F) -> _F:
    """Run ``function`` with Python's cyclic garbage collector paused (Pyomo's ``PauseGC``).

    Building a model allocates ~10 small objects per variable and term; the collector's passes
    over them took about half the build time of a 100 k-variable plan. Nothing built here forms
    reference cycles that need collecting while the build runs.
    """

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        with PauseGC():
            return function(*args, **kwargs)

    return paused  # type: ignore[return-value]


@without_cyclic_gc
def build_plan_model(
    data: PlanningData, extra_demand: ExtraDemand | None = None
) -> pyo.ConcreteModel:
    """The planning model of ``data`` (pure: ``data`` is only read).

    ``extra_demand`` (default None: demand is ``data.demand``) adds decision-dependent demand
    terms to the customer balance; the big-M bounds of ``data`` must then hold for the largest
    demand those terms can reach (see :func:`optimize.joint.build_joint_model`).

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> from crm_model import DemandModel
    >>> s = load_scenario("retailer_holiday")
    >>> model = build_plan_model(PlanningData.from_scenario(s, DemandModel(s).expected_by_bucket()))
    >>> {"flow", "inv", "served", "backlog", "lane_used"} <= {v.name for v in
    ...     model.component_objects(pyo.Var)}
    True
    """
    model = pyo.ConcreteModel(name=f"plan[{data.scenario_name}]")
    index = _Index.of(data)
    add_flow_variables(model, data, index)
    add_production_variables(model, data, index)
    add_inventory_variables(model, data)
    add_customer_variables(model, data)
    extra = {} if extra_demand is None else dict(extra_demand(model))
    add_inventory_balance(model, data, index)
    add_customer_balance(model, data, extra)
    add_supplier_capacity(model, data, index)
    add_lane_capacity(model, data, index)
    add_plant_capacity(model, data, index)
    add_storage_capacity(model, data)
    add_order_costs(model, data, index)
    add_shipment_costs(model, data, index)
    add_minimum_order_quantities(model, data, index)
    add_order_multiples(model, data, index)
    add_production_batches(model, data, index)
    add_safety_stock_targets(model, data)
    add_objective(model, data, index)
    return model


# --------------------------------------------------------------------------------------------
# Index: who touches what, computed once from the data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    """Lookups from a constraint's key to the variable keys in it."""

    movement: dict[tuple[int, str], Movement]
    flows: tuple[FlowKey, ...]
    arrivals: dict[tuple[str, str, int], list[FlowKey]]
    releases: dict[tuple[str, str, int], list[FlowKey]]
    makes: tuple[tuple[str, str, int], ...]
    outputs: dict[tuple[str, str, int], list[tuple[str, str, int]]]
    consumption: dict[tuple[str, str, int], list[tuple[float, tuple[str, str, int]]]]
    served_from: dict[tuple[str, str, int], list[tuple[str, str, int]]]
    purchases: dict[tuple[str, str, int], list[FlowKey]]
    """(supplier, item, bucket) → flows buying that item from that supplier in that bucket."""
    by_supplier: dict[tuple[str, int], list[FlowKey]]
    by_lane: dict[tuple[int, int], list[FlowKey]]
    serving_lane: dict[tuple[int, int], list[tuple[str, str, int]]]
    """(lane, bucket) → served keys shipped on that customer lane."""

    @classmethod
    def of(cls, data: PlanningData) -> _Index:
        movement = {(mv.lane, mv.item): mv for mv in data.movements}
        flows: list[FlowKey] = []
        arrivals: dict[tuple[str, str, int], list[FlowKey]] = defaultdict(list)
        releases: dict[tuple[str, str, int], list[FlowKey]] = defaultdict(list)
        purchases: dict[tuple[str, str, int], list[FlowKey]] = defaultdict(list)
        by_supplier: dict[tuple[str, int], list[FlowKey]] = defaultdict(list)
        by_lane: dict[tuple[int, int], list[FlowKey]] = defaultdict(list)
        for mv in data.movements:
            for b in data.release_buckets(mv.lead_buckets):
                key = (mv.lane, mv.item, b)
                flows.append(key)
                arrivals[(mv.dst, mv.item, b + mv.lead_buckets)].append(key)
                by_lane[(mv.lane, b)].append(key)
                if mv.supplier is None:
                    releases[(mv.src, mv.item, b)].append(key)
                else:
                    purchases[(mv.supplier, mv.item, b)].append(key)
                    by_supplier[(mv.supplier, b)].append(key)
        makes: list[tuple[str, str, int]] = []
        outputs: dict[tuple[str, str, int], list[tuple[str, str, int]]] = defaultdict(list)
        consumption: dict[tuple[str, str, int], list[tuple[float, tuple[str, str, int]]]]
        consumption = defaultdict(list)
        for option in data.productions:
            for b in data.release_buckets(option.lead_buckets):
                make = (option.plant, option.product, b)
                makes.append(make)
                outputs[(option.plant, option.product, b + option.lead_buckets)].append(make)
                for component, qty in option.bom:
                    consumption[(option.plant, component, b)].append((qty, make))
        served_from: dict[tuple[str, str, int], list[tuple[str, str, int]]] = defaultdict(list)
        serving_lane: dict[tuple[int, int], list[tuple[str, str, int]]] = defaultdict(list)
        for link in data.customers:
            if link.node is None:
                continue
            for b in range(data.n_buckets):
                served_from[(link.node, link.item, b)].append((link.zone, link.item, b))
                if link.lane is not None:
                    serving_lane[(link.lane, b)].append((link.zone, link.item, b))
        return cls(
            movement=movement,
            flows=tuple(flows),
            arrivals=dict(arrivals),
            releases=dict(releases),
            makes=tuple(makes),
            outputs=dict(outputs),
            consumption=dict(consumption),
            served_from=dict(served_from),
            purchases=dict(purchases),
            by_supplier=dict(by_supplier),
            by_lane=dict(by_lane),
            serving_lane=dict(serving_lane),
        )


# --------------------------------------------------------------------------------------------
# Variables
# --------------------------------------------------------------------------------------------


def add_flow_variables(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """``flow[lane, item, b]`` ≥ 0: units released on a lane in bucket ``b`` (purchases from
    suppliers, transfers otherwise), bounded by requirement and capacities."""
    model.FLOWS = pyo.Set(initialize=index.flows, dimen=3, ordered=True)

    def bounds(_m: pyo.ConcreteModel, lane: int, item: str, b: int) -> tuple[float, float]:
        return 0.0, data.flow_bound(index.movement[(lane, item)], b)

    model.flow = pyo.Var(model.FLOWS, within=pyo.NonNegativeReals, bounds=bounds)


def add_production_variables(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """``make[plant, product, b]`` ≥ 0: units started in bucket ``b``."""
    model.MAKES = pyo.Set(initialize=index.makes, dimen=3, ordered=True)
    model.make = pyo.Var(model.MAKES, within=pyo.NonNegativeReals)


def add_inventory_variables(model: pyo.ConcreteModel, data: PlanningData) -> None:
    """``inv[node, item, b]`` ≥ 0: on hand at the end of bucket ``b``."""
    keys = [(n, i, b) for n, i in data.stock_items for b in range(data.n_buckets)]
    model.STOCK = pyo.Set(initialize=keys, dimen=3, ordered=True)
    model.inv = pyo.Var(model.STOCK, within=pyo.NonNegativeReals)


def add_customer_variables(model: pyo.ConcreteModel, data: PlanningData) -> None:
    """``served[z, i, b]`` for pairs whose serving point stocks the item; ``backlog[z, i, b]`` or
    ``lost[z, i, b]`` for every pair with demand, by the fulfilment mode."""
    buckets = range(data.n_buckets)
    served = [(c.zone, c.item, b) for c in data.customers if c.node is not None for b in buckets]
    every = [(c.zone, c.item, b) for c in data.customers for b in buckets]
    model.SERVED = pyo.Set(initialize=served, dimen=3, ordered=True)
    model.CUSTOMER = pyo.Set(initialize=every, dimen=3, ordered=True)
    model.served = pyo.Var(model.SERVED, within=pyo.NonNegativeReals)
    if data.unmet_demand is UnmetDemand.BACKORDER:
        model.backlog = pyo.Var(model.CUSTOMER, within=pyo.NonNegativeReals)
    else:
        model.lost = pyo.Var(model.CUSTOMER, within=pyo.NonNegativeReals)


# --------------------------------------------------------------------------------------------
# Balances
# --------------------------------------------------------------------------------------------


def add_inventory_balance(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """Stock conservation per stock point, item and bucket (see the module docstring)."""

    def rule(m: pyo.ConcreteModel, node: str, item: str, b: int) -> pyo.Expression:
        key = (node, item, b)
        previous = m.inv[node, item, b - 1] if b > 0 else data.on_hand.get((node, item), 0.0)
        receipts = sum(m.flow[k] for k in index.arrivals.get(key, ()))
        receipts += sum(m.make[k] for k in index.outputs.get(key, ()))
        issues = sum(m.flow[k] for k in index.releases.get(key, ()))
        issues += sum(qty * m.make[k] for qty, k in index.consumption.get(key, ()))
        issues += sum(m.served[k] for k in index.served_from.get(key, ()))
        pipeline = data.pipeline.get(key, 0.0)
        # as `stock change − receipts + issues = pipeline`: a flat linear body and a constant side
        # (Pyomo compiles `var == expression` by building and walking `var − expression`)
        return m.inv[key] - previous - receipts + issues == pipeline

    model.inventory_balance = pyo.Constraint(model.STOCK, rule=rule)


def add_customer_balance(
    model: pyo.ConcreteModel,
    data: PlanningData,
    extra: Mapping[tuple[str, str, int], Any] | None = None,
) -> None:
    """Backorders carry over (``backlog`` ≥ 0), or demand not served is lost. Demand is
    ``data.demand`` plus ``extra`` terms (constants or expressions) where given."""
    served = set(model.SERVED)
    extra = extra or {}

    def served_at(m: pyo.ConcreteModel, key: tuple[str, str, int]) -> pyo.Expression | float:
        return m.served[key] if key in served else 0.0

    if data.unmet_demand is UnmetDemand.BACKORDER:

        def backlog_rule(m: pyo.ConcreteModel, zone: str, item: str, b: int) -> pyo.Expression:
            key = (zone, item, b)
            if b > 0:
                previous = m.backlog[zone, item, b - 1]
            else:
                previous = data.initial_backlog.get((zone, item), 0.0)
            demand = data.demand.get(key, 0.0)
            term = extra.get(key)
            if term is None:
                return m.backlog[key] - previous + served_at(m, key) == demand
            return m.backlog[key] - previous + served_at(m, key) - term == demand

        model.backlog_balance = pyo.Constraint(model.CUSTOMER, rule=backlog_rule)
    else:

        def lost_rule(m: pyo.ConcreteModel, zone: str, item: str, b: int) -> pyo.Expression:
            key = (zone, item, b)
            demand = data.demand.get(key, 0.0)
            term = extra.get(key)
            if term is None:
                return served_at(m, key) + m.lost[key] == demand
            return served_at(m, key) + m.lost[key] - term == demand

        model.lost_sales_balance = pyo.Constraint(model.CUSTOMER, rule=lost_rule)


# --------------------------------------------------------------------------------------------
# Capacities
# --------------------------------------------------------------------------------------------


def add_supplier_capacity(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """Purchases of an item from a supplier per bucket ≤ capacity_per_day × days."""
    keys = [k for k in index.purchases if (k[0], k[1]) in data.supplier_capacity_per_day]
    model.SUPPLIER_CAPACITY = pyo.Set(initialize=keys, dimen=3, ordered=True)

    def rule(m: pyo.ConcreteModel, supplier: str, item: str, b: int) -> pyo.Expression:
        cap = data.supplier_capacity_per_day[(supplier, item)] * data.days_in_bucket[b]
        return sum(m.flow[k] for k in index.purchases[(supplier, item, b)]) <= cap

    model.supplier_capacity = pyo.Constraint(model.SUPPLIER_CAPACITY, rule=rule)


def add_lane_capacity(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """Units dispatched on a lane per bucket ≤ capacity_per_day × days (flows, or customer
    shipments on a serving lane)."""
    keys = [
        (lane, b)
        for lane in data.lane_capacity_per_day
        for b in range(data.n_buckets)
        if (lane, b) in index.by_lane or (lane, b) in index.serving_lane
    ]
    model.LANE_CAPACITY = pyo.Set(initialize=keys, dimen=2, ordered=True)

    def rule(m: pyo.ConcreteModel, lane: int, b: int) -> pyo.Expression:
        load = sum(m.flow[k] for k in index.by_lane.get((lane, b), ()))
        load += sum(m.served[k] for k in index.serving_lane.get((lane, b), ()))
        return load <= data.lane_capacity_per_day[lane] * data.days_in_bucket[b]

    model.lane_capacity = pyo.Constraint(model.LANE_CAPACITY, rule=rule)


def add_plant_capacity(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """Σ capacity_use × make per plant and bucket ≤ capacity_per_day × days."""
    use = {(o.plant, o.product): o.capacity_use for o in data.productions}
    starts: dict[tuple[str, int], list[tuple[str, str, int]]] = defaultdict(list)
    for key in index.makes:
        if key[0] in data.plant_capacity_per_day:
            starts[(key[0], key[2])].append(key)
    model.PLANT_CAPACITY = pyo.Set(initialize=list(starts), dimen=2, ordered=True)

    def rule(m: pyo.ConcreteModel, plant: str, b: int) -> pyo.Expression:
        load = sum(use[(k[0], k[1])] * m.make[k] for k in starts[(plant, b)])
        return load <= data.plant_capacity_per_day[plant] * data.days_in_bucket[b]

    model.plant_capacity = pyo.Constraint(model.PLANT_CAPACITY, rule=rule)


def add_storage_capacity(model: pyo.ConcreteModel, data: PlanningData) -> None:
    """Σ inventory at a node ≤ storage_capacity + ``overflow`` (soft: overflow is penalised, so
    starting stock above capacity never makes the plan infeasible)."""
    items: dict[str, list[str]] = defaultdict(list)
    for node, item in data.stock_items:
        items[node].append(item)
    keys = [
        (node, b)
        for node in data.storage_capacity
        if items.get(node)
        for b in range(data.n_buckets)
    ]
    model.STORAGE = pyo.Set(initialize=keys, dimen=2, ordered=True)
    model.overflow = pyo.Var(model.STORAGE, within=pyo.NonNegativeReals)

    def rule(m: pyo.ConcreteModel, node: str, b: int) -> pyo.Expression:
        stock = sum(m.inv[node, item, b] for item in items[node])
        return stock - m.overflow[node, b] <= data.storage_capacity[node]

    model.storage_capacity = pyo.Constraint(model.STORAGE, rule=rule)


# --------------------------------------------------------------------------------------------
# Fixed costs and lot-size rules
# --------------------------------------------------------------------------------------------


def _add_links(
    model: pyo.ConcreteModel,
    data: PlanningData,
    index: _Index,
    name: str,
    flows: list[FlowKey],
    switch: Callable[[pyo.ConcreteModel, FlowKey], pyo.Var],
) -> None:
    """Link every flow to its fixed-cost switch ``y`` (``<name>``), per flow rather than per
    group (disaggregated links are tighter):

    - ``flow ≤ M·y``, with ``M`` the downstream demand from the flow's arrival on (see
      :meth:`~optimize.data.PlanningData.link_bound`) under lost sales, else
      :meth:`~optimize.data.PlanningData.flow_bound`;
    - with backorders also ``<name>_ahead``: ``flow ≤ M_t·y + B``, ``M_t`` the demand from
      arrival on and ``B`` the downstream backlog open at arrival (only where tighter).
    """
    backorders = data.unmet_demand is UnmetDemand.BACKORDER
    ahead = []
    for key in flows:
        movement = index.movement[(key[0], key[1])]
        arrival = key[2] + movement.lead_buckets
        tighter = data.link_bound(movement, key[2]) < data.flow_bound(movement, key[2])
        if backorders and arrival > 0 and tighter and not data.has_lot_rules(movement):
            ahead.append(key)

    def link(m: pyo.ConcreteModel, lane: int, item: str, b: int) -> pyo.Expression:
        movement = index.movement[(lane, item)]
        bound = data.flow_bound if backorders else data.link_bound
        big_m = bound(movement, b)
        return m.flow[lane, item, b] <= big_m * switch(m, (lane, item, b))

    def link_ahead(m: pyo.ConcreteModel, lane: int, item: str, b: int) -> pyo.Expression:
        movement = index.movement[(lane, item)]
        arrival = b + movement.lead_buckets
        pairs = data.downstream.get((movement.dst, item), ())
        backlog = sum(factor * m.backlog[z, p, arrival - 1] for z, p, factor in pairs)
        rhs = data.link_bound(movement, b) * switch(m, (lane, item, b)) + backlog
        return m.flow[lane, item, b] <= rhs

    setattr(model, f"{name.upper()}S", pyo.Set(initialize=flows, dimen=3, ordered=True))
    setattr(model, f"{name.upper()}S_AHEAD", pyo.Set(initialize=ahead, dimen=3, ordered=True))
    setattr(model, name, pyo.Constraint(getattr(model, f"{name.upper()}S"), rule=link))
    setattr(
        model,
        f"{name}_ahead",
        pyo.Constraint(getattr(model, f"{name.upper()}S_AHEAD"), rule=link_ahead),
    )


def add_order_costs(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """``order_placed[s, b]`` ∈ {0, 1} for suppliers with an order cost; every purchase from
    ``s`` in ``b`` needs it (links: :func:`_add_links`)."""
    keys = [k for k in index.by_supplier if k[0] in data.supplier_order_cost]
    model.ORDERS = pyo.Set(initialize=keys, dimen=2, ordered=True)
    model.order_placed = pyo.Var(model.ORDERS, within=pyo.Binary)
    flows = [f for k in keys for f in index.by_supplier[k]]

    def switch(m: pyo.ConcreteModel, key: FlowKey) -> pyo.Var:
        return m.order_placed[index.movement[(key[0], key[1])].supplier, key[2]]

    _add_links(model, data, index, "order_link", flows, switch)


def add_shipment_costs(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """``lane_used[l, b]`` ∈ {0, 1} for lanes with a cost per shipment; every flow on ``l`` in
    ``b`` needs it (links: :func:`_add_links`)."""
    keys = [k for k in index.by_lane if k[0] in data.lane_shipment_cost]
    model.SHIPMENTS = pyo.Set(initialize=keys, dimen=2, ordered=True)
    model.lane_used = pyo.Var(model.SHIPMENTS, within=pyo.Binary)
    flows = [f for k in keys for f in index.by_lane[k]]

    def switch(m: pyo.ConcreteModel, key: FlowKey) -> pyo.Var:
        return m.lane_used[key[0], key[2]]

    _add_links(model, data, index, "shipment_link", flows, switch)


def _purchase_big_m(data: PlanningData, index: _Index, key: tuple[str, str, int]) -> float:
    supplier, item, b = key
    big_m = sum(data.flow_bound(index.movement[(k[0], k[1])], k[2]) for k in index.purchases[key])
    cap = data.supplier_capacity_per_day.get((supplier, item))
    if cap is not None:
        big_m = min(big_m, cap * data.days_in_bucket[b])
    return big_m


def add_minimum_order_quantities(
    model: pyo.ConcreteModel, data: PlanningData, index: _Index
) -> None:
    """``moq_used[s, i, b]`` ∈ {0, 1} where an offer has an MOQ:
    moq · moq_used ≤ Σ purchases of i from s in b ≤ M · moq_used."""
    keys = [k for k in index.purchases if (k[0], k[1]) in data.moq]
    model.MOQ = pyo.Set(initialize=keys, dimen=3, ordered=True)
    model.moq_used = pyo.Var(model.MOQ, within=pyo.Binary)

    def low(m: pyo.ConcreteModel, supplier: str, item: str, b: int) -> pyo.Expression:
        qty = sum(m.flow[k] for k in index.purchases[(supplier, item, b)])
        return qty >= data.moq[(supplier, item)] * m.moq_used[supplier, item, b]

    def high(m: pyo.ConcreteModel, supplier: str, item: str, b: int) -> pyo.Expression:
        key = (supplier, item, b)
        qty = sum(m.flow[k] for k in index.purchases[key])
        return qty <= _purchase_big_m(data, index, key) * m.moq_used[key]

    model.moq_low = pyo.Constraint(model.MOQ, rule=low)
    model.moq_high = pyo.Constraint(model.MOQ, rule=high)


def add_order_multiples(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """``batches[s, i, b]`` ∈ ℤ≥0 where an offer has an order multiple:
    Σ purchases of i from s in b = order_multiple · batches."""
    keys = [k for k in index.purchases if (k[0], k[1]) in data.order_multiple]
    model.MULTIPLES = pyo.Set(initialize=keys, dimen=3, ordered=True)

    def bounds(_m: pyo.ConcreteModel, supplier: str, item: str, b: int) -> tuple[float, float]:
        multiple = data.order_multiple[(supplier, item)]
        return 0.0, float(_purchase_big_m(data, index, (supplier, item, b)) // multiple)

    model.batches = pyo.Var(model.MULTIPLES, within=pyo.NonNegativeIntegers, bounds=bounds)

    def rule(m: pyo.ConcreteModel, supplier: str, item: str, b: int) -> pyo.Expression:
        qty = sum(m.flow[k] for k in index.purchases[(supplier, item, b)])
        return qty == data.order_multiple[(supplier, item)] * m.batches[supplier, item, b]

    model.order_multiple = pyo.Constraint(model.MULTIPLES, rule=rule)


def add_production_batches(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """``make_batches[k, p, b]`` ∈ ℤ≥0 where a product has a batch size:
    make = batch_size · make_batches (the simulation rounds production orders up to batches).
    At most enough batches for the product's downstream need, and for the plant's capacity."""
    option = {(o.plant, o.product): o for o in data.productions if o.batch_size}
    keys = [k for k in index.makes if (k[0], k[1]) in option]
    model.BATCHED = pyo.Set(initialize=keys, dimen=3, ordered=True)

    def bounds(_m: pyo.ConcreteModel, plant: str, product: str, b: int) -> tuple[float, float]:
        spec = option[(plant, product)]
        size = float(spec.batch_size or 1.0)
        need = data.remaining_need[(plant, product)][0] + data.backlog_ahead(plant, product)
        most = math.ceil(need / size - 1e-9)
        cap = data.plant_capacity_per_day.get(plant)
        if cap is not None:
            room = cap * data.days_in_bucket[b] / (spec.capacity_use * size)
            most = min(most, math.floor(room + 1e-9))
        return 0.0, float(max(most, 0))

    model.make_batches = pyo.Var(model.BATCHED, within=pyo.NonNegativeIntegers, bounds=bounds)

    def rule(m: pyo.ConcreteModel, plant: str, product: str, b: int) -> pyo.Expression:
        key = (plant, product, b)
        return (
            m.make[key] == float(option[(plant, product)].batch_size or 1.0) * m.make_batches[key]
        )

    model.production_batch = pyo.Constraint(model.BATCHED, rule=rule)


def add_safety_stock_targets(model: pyo.ConcreteModel, data: PlanningData) -> None:
    """Soft safety stock: ``inv[n, i, b] + below_target[n, i, b] ≥ target[n, i]`` with
    ``below_target`` ≥ 0 penalised per unit-day (none without targets, the default)."""
    keys = [
        (n, i, b)
        for (n, i), target in data.safety_stock.items()
        if target > 0
        for b in range(data.n_buckets)
    ]
    model.SAFETY_STOCK = pyo.Set(initialize=keys, dimen=3, ordered=True)
    model.below_target = pyo.Var(model.SAFETY_STOCK, within=pyo.NonNegativeReals)

    def rule(m: pyo.ConcreteModel, node: str, item: str, b: int) -> pyo.Expression:
        return (
            m.inv[node, item, b] + m.below_target[node, item, b] >= data.safety_stock[(node, item)]
        )

    model.safety_stock_target = pyo.Constraint(model.SAFETY_STOCK, rule=rule)


# --------------------------------------------------------------------------------------------
# Objective
# --------------------------------------------------------------------------------------------


def add_objective(model: pyo.ConcreteModel, data: PlanningData, index: _Index) -> None:
    """Minimise total cost; each cost type is an ``Expression`` ``cost_<type>``."""
    m = model
    days = data.days_in_bucket
    last = data.n_buckets - 1
    serving_freight = {(c.zone, c.item): c.freight_per_unit for c in data.customers}

    move = index.movement
    m.cost_purchase = pyo.Expression(
        expr=_linear_sum((move[(k[0], k[1])].unit_price, v) for k, v in m.flow.items())
    )
    m.cost_transport = pyo.Expression(
        expr=_linear_sum(
            [(move[(k[0], k[1])].freight_per_unit, v) for k, v in m.flow.items()]
            + [(serving_freight[(k[0], k[1])], v) for k, v in m.served.items()]
        )
    )
    cost_of = {(o.plant, o.product): o.cost_per_unit for o in data.productions}
    m.cost_production = pyo.Expression(
        expr=_linear_sum((cost_of[(k[0], k[1])], v) for k, v in m.make.items())
    )
    holding = data.holding_cost_per_unit_day
    m.cost_holding = pyo.Expression(
        expr=_linear_sum((holding[k[1]] * days[k[2]], v) for k, v in m.inv.items())
    )
    if data.unmet_demand is UnmetDemand.BACKORDER:
        backorder = data.backorder_cost_per_unit_day
        m.cost_backorder = pyo.Expression(
            expr=_linear_sum((backorder[k[1]] * days[k[2]], v) for k, v in m.backlog.items())
        )
        # backlog still open at the end of the horizon is valued as lost sales
        m.cost_lost_sales = pyo.Expression(
            expr=_linear_sum(
                (data.lost_sale_cost[k[1]], v) for k, v in m.backlog.items() if k[2] == last
            )
        )
    else:
        m.cost_backorder = pyo.Expression(expr=0.0)
        m.cost_lost_sales = pyo.Expression(
            expr=_linear_sum((data.lost_sale_cost[k[1]], v) for k, v in m.lost.items())
        )
    m.cost_ordering = pyo.Expression(
        expr=_linear_sum(
            [(data.supplier_order_cost[k[0]], v) for k, v in m.order_placed.items()]
            + [(data.lane_shipment_cost[k[0]], v) for k, v in m.lane_used.items()]
        )
    )
    penalty = data.storage_penalty_per_unit_day
    m.cost_storage_penalty = pyo.Expression(
        expr=_linear_sum((penalty * days[k[1]], v) for k, v in m.overflow.items())
    )
    below = data.safety_stock_penalty_per_unit_day
    m.cost_safety_stock_penalty = pyo.Expression(
        expr=_linear_sum((below[k[1]] * days[k[2]], v) for k, v in m.below_target.items())
    )
    m.total_cost = pyo.Objective(
        expr=sum(getattr(m, f"cost_{name}") for name in COST_TYPES), sense=pyo.minimize
    )


def _linear_sum(terms: Iterable[tuple[float, pyo.Var]]) -> LinearExpression | float:
    """``Σ coefficient · variable`` as one flat ``LinearExpression``, built directly (summing
    ``coef * var`` with ``+`` dispatches through Pyomo's operator overloading once per term and
    took ~3× longer on a 100 k-variable plan). 0.0 when there are no terms."""
    args = [MonomialTermExpression((float(coef), var)) for coef, var in terms]
    return LinearExpression(args) if args else 0.0
