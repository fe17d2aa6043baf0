"""The SimPy engine: stock points, plan execution, replenishment policies, shipments, the order log.

One :class:`Simulation` is one replication. Time is in days (float). Within a day the order of
things is fixed so that runs are reproducible and comparable with the plan: receipts land at their
arrival time; planned releases happen at the start of their day plus ``RELEASE_OFFSET`` (lead
times still count from the start of the day); customer orders arrive during the day; inventory is
snapshotted at ``SNAPSHOT_OFFSET`` into the day, just before the next day begins.

Every customer order line is served from the stock point that serves its zone: what is on hand
ships at once, the rest is backordered (served first-come first-served on later receipts) or lost,
per ``fulfillment.unmet_demand``. Demand is one SimPy process walking a vectorised order stream,
not one process per customer.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import time
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import simpy

from crm_model.demand import ORDER_COLUMNS
from crm_model.stream import OUTCOME_COLUMNS, OrderStream
from scenarios.network import SupplyNetwork
from scenarios.state import (
    KnownDisruption,
    OpenCustomerOrder,
    OpenSupplyOrder,
    SupplyOrderKind,
    SupplyState,
)
from scenarios.schema import (
    Allocation,
    DisruptionKind,
    Distribution,
    ForecastMethod,
    NodeKind,
    Policy,
    PolicyKind,
    ProductKind,
    Scenario,
    SourcingRuleKind,
    UnmetDemand,
)
from sim.disruptions import Disruptions
from sim.records import EventLog, EventType, OrderType

__all__ = [
    "CONTROL_OFFSET",
    "ORDER_TABLE_COLUMNS",
    "Control",
    "RELEASE_OFFSET",
    "SNAPSHOT_OFFSET",
    "ReleaseSchedule",
    "Simulation",
    "Streams",
]

RELEASE_OFFSET = 1e-6
"""Planned releases happen this long after the start of their day (after that day's receipts)."""
CONTROL_OFFSET = RELEASE_OFFSET / 2
"""A controller (re-plan, auto-order) looks at the state this long after the start of its day:
after the day's receipts at the day's start, before the day's planned releases."""
SNAPSHOT_OFFSET = 1.0 - 1e-7
"""Inventory is recorded this far into each day (after the day's demand, before the next day)."""
_EPS = 1e-9

ORDER_TABLE_COLUMNS = (
    "order_id",
    "order_type",
    "product",
    "source",
    "destination",
    "lane",
    "segment",
    "customer",
    "campaign",
    "qty",
    "placed_time",
    "requested_time",
    "filled_immediately",
    "shipped_qty",
    "delivered_qty",
    "in_transit_qty",
    "lost_qty",
    "open_qty",
    "first_ship_time",
    "last_delivery_time",
    "expected_arrival",
    "status",
    "on_time",
)
"""Columns of the orders table (times in days, quantities in units)."""


_RELEASE_COLUMNS = {
    "purchases": ("lane", "dst", "item", "release_day", "due_day", "qty"),
    "production": ("plant", "product", "start_day", "finish_day", "qty"),
    "transfers": ("lane", "dst", "item", "release_day", "due_day", "qty"),
}


@dataclass(frozen=True)
class ReleaseSchedule:
    """What a plan tells the simulation to release, and when (the optimizer's plan tables).

    ``purchases`` and ``transfers`` need columns ``lane, dst, item, release_day, due_day, qty``;
    ``production`` needs ``plant, product, start_day, finish_day, qty``. Days count from 0.
    """

    purchases: pd.DataFrame
    production: pd.DataFrame
    transfers: pd.DataFrame

    @classmethod
    def empty(cls) -> ReleaseSchedule:
        frames = {k: pd.DataFrame({c: [] for c in cols}) for k, cols in _RELEASE_COLUMNS.items()}
        return cls(**frames)

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> ReleaseSchedule:
        """From a mapping of table name to DataFrame (missing tables are empty)."""
        empty = cls.empty()
        frames = {}
        for name, columns in _RELEASE_COLUMNS.items():
            frame = tables.get(name)
            if frame is None or frame.empty:
                frames[name] = getattr(empty, name)
                continue
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"release table '{name}' lacks columns {missing}")
            frames[name] = frame
        return cls(**frames)


@dataclass(frozen=True)
class Streams:
    """The random number generators of one replication, one per stream."""

    demand: np.random.Generator
    supply: np.random.Generator
    transport: np.random.Generator
    disruptions: np.random.Generator

    @classmethod
    def from_seed(cls, seed: np.random.SeedSequence) -> Streams:
        demand, supply, transport, disruptions = seed.spawn(4)
        return cls(
            np.random.default_rng(demand),
            np.random.default_rng(supply),
            np.random.default_rng(transport),
            np.random.default_rng(disruptions),
        )


@dataclass(frozen=True)
class Control:
    """A decision taken during the run from the simulated state: a rolling re-plan or auto-ordering.

    Every ``every_days`` from ``first_day`` (at ``CONTROL_OFFSET`` into the day) the engine takes
    its current state (:meth:`Simulation.snapshot_state`) and calls ``decide(day, state)``. The
    returned :class:`ReleaseSchedule` (days from the start of the run) is executed: with
    ``replace`` it replaces every plan release not yet made (a re-plan; only stock points
    following the plan), otherwise its releases are added and made wherever they point (orders a
    controller places itself). ``None`` changes nothing.
    """

    every_days: float
    decide: Callable[[float, SupplyState], ReleaseSchedule | None]
    replace: bool = True
    first_day: float | None = None
    """Day of the first decision (default: ``every_days``; the plan made before the run covers
    the first period)."""


# Plain-string constants: enum member lookups are slow in the hot path.
_CUSTOMER, _PURCHASE, _TRANSFER = (
    OrderType.CUSTOMER.value,
    OrderType.PURCHASE.value,
    OrderType.TRANSFER.value,
)
_PRODUCTION, _ADJUSTMENT = OrderType.PRODUCTION.value, OrderType.ADJUSTMENT.value
_PLACED, _ALLOCATED, _BACKORDERED = (
    EventType.PLACED.value,
    EventType.ALLOCATED.value,
    EventType.BACKORDERED.value,
)
_LOST, _WAITING, _CONSUMED = (
    EventType.LOST.value,
    EventType.WAITING_COMPONENTS.value,
    EventType.CONSUMED.value,
)
_IN_PRODUCTION, _SHIPPED = EventType.IN_PRODUCTION.value, EventType.SHIPPED.value
_RECEIVED, _DELIVERED, _WRITTEN_OFF = (
    EventType.RECEIVED.value,
    EventType.DELIVERED.value,
    EventType.WRITTEN_OFF.value,
)


@dataclass(eq=False, slots=True)
class _Order:
    order_id: str
    order_type: str
    product: str
    source: str
    destination: str
    qty: float
    placed: float
    requested: float
    lane: int = -1
    segment: str = ""
    customer: int = -1
    campaign: str = ""
    filled_immediately: float = 0.0
    shipped: float = 0.0
    delivered: float = 0.0
    lost: float = 0.0
    first_ship: float = math.nan
    last_delivery: float = math.nan
    expected_arrival: float = math.nan


@dataclass(eq=False, slots=True)
class _Stock:
    node: str
    product: str
    on_hand: float
    queue: list[tuple[int, int, list[Any]]] = field(default_factory=list)
    """Heap of (−priority, sequence, [order, remaining]) waiting for stock."""
    backlog: float = 0.0
    on_order: float = 0.0
    period_demand: float = 0.0
    history: list[float] = field(default_factory=list)
    smoothed: float | None = None


class Simulation:
    """One replication of a scenario executing a plan.

    Parameters
    ----------
    scenario, network
        The scenario and its :class:`~scenarios.network.SupplyNetwork`.
    releases
        The plan's release schedule, executed for stock points with the ``plan`` policy.
    customer_orders
        An :class:`crm_model.OrderStream`, or a table of order lines (``DemandModel.sample`` or
        ``expected_stream``) served as a stream without feedback.
    streams
        Random generators for lead times (demand is already sampled).
    disruptions
        This replication's disruption windows (default: none).
    env
        The SimPy environment to run in (default: a new one starting at day 0).
    initial_state
        Open supply orders and open customer orders to start from (a :class:`SupplyState` whose
        ``as_of`` is the scenario's start date; its on-hand must already be the scenario's
        initial inventories, see :func:`scenarios.state.scenario_at`).
    control
        A re-plan or auto-order decision taken periodically during the run (:class:`Control`).
    snapshot_days
        Days at whose start (after the day's receipts) the state is recorded in
        :attr:`states` (``tandem run --snapshot-at``).
    """

    def __init__(
        self,
        scenario: Scenario,
        network: SupplyNetwork,
        releases: ReleaseSchedule,
        customer_orders: OrderStream | pd.DataFrame,
        streams: Streams,
        disruptions: Disruptions | None = None,
        env: simpy.Environment | None = None,
        *,
        initial_state: SupplyState | None = None,
        control: Control | None = None,
        snapshot_days: tuple[float, ...] = (),
    ) -> None:
        self.scenario = scenario
        self.net = network
        self.releases = releases
        self.stream = (
            customer_orders
            if isinstance(customer_orders, OrderStream)
            else OrderStream(customer_orders)
        )
        self._outcomes: list[tuple[Any, ...]] = []
        self._horizon = float(scenario.horizon_days)
        self._transit_buffers: dict[int, list[float]] = {}
        self._lane_rngs: dict[int, np.random.Generator] = {}
        self.streams = streams
        self.disruptions = disruptions or Disruptions([])
        self.env = simpy.Environment() if env is None else env
        self.log = EventLog()
        self.orders: list[_Order] = []
        self.snapshots: list[tuple[int, str, str, float, float, float]] = []
        self.stochastic = scenario.simulation.stochastic_lead_times
        self.backorder = scenario.fulfillment.unmet_demand == UnmetDemand.BACKORDER
        self.by_priority = scenario.fulfillment.allocation == Allocation.PRIORITY
        self.stocks: dict[tuple[str, str], _Stock] = {}
        for node in network.stock_points:
            initial = scenario.nodes[node].initial_inventory
            for item in network.items_at(node):
                self.stocks[(node, item)] = _Stock(node, item, float(initial.get(item, 0.0)))
        self.policies: dict[tuple[str, str], Policy] = {
            (p.node, p.product): p for p in scenario.policies if _is_active_policy(p)
        }
        self.sourcing = {(r.node, r.product): r for r in scenario.sourcing}
        self.receipt_signal: dict[str, simpy.Event] = {
            n: self.env.event() for n in network.nodes_of(NodeKind.PLANT)
        }
        self._counters: dict[str, int] = {}
        self._sequence = 0
        self._used: dict[tuple[Any, ...], float] = defaultdict(float)  # capacity ledgers
        self._serving = {
            z: network.serving_lane(z) for z in network.nodes_of(NodeKind.CUSTOMER_ZONE)
        }
        self._segment_priority = {k: v.priority for k, v in scenario.crm.segments.items()}
        self._movements = {(m.lane, m.item): m for m in network.lane_movements()}
        self.initial_state = initial_state
        self.control = control
        self.snapshot_days = tuple(snapshot_days)
        self.states: dict[float, SupplyState] = {}
        """States recorded at :attr:`snapshot_days` (day → state)."""
        self.released: list[tuple[float, str, Any, str, float, int]] = []
        """Plan releases made: (day, kind, lane or plant, item, units, plan generation); the
        first plan is generation 0, each re-plan the next."""
        self.decisions: list[tuple[float, float]] = []
        """Controller calls: (day, seconds it took)."""
        self._generation = 0

    # ------------------------------------------------------------------------------- helpers
    def _next_id(self, prefix: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return f"{prefix}-{self._counters[prefix]:06d}"

    def _duration(self, dist: Distribution, rng: np.random.Generator) -> float:
        if not self.stochastic:
            return max(0.0, dist.expected())
        return max(0.0, float(dist.sample(rng)))

    def _event(
        self,
        event: str,
        order: _Order,
        node: str,
        qty: float,
        expected: float = math.nan,
        lane: int = -1,
        product: str | None = None,
    ) -> None:
        self.log.add(
            self.env.now,
            event,
            order.order_id,
            order.order_type,
            node,
            order.product if product is None else product,
            qty,
            expected,
            lane,
        )

    # ------------------------------------------------------------------------------ shipping
    def _ship(
        self,
        order: _Order,
        qty: float,
        src: str,
        lane_index: int,
        on_arrival: Callable[[float], None],
    ) -> None:
        """Send ``qty`` of ``order`` on a lane, respecting closures and the lane's daily capacity;
        ``on_arrival(portion)`` runs as each portion arrives."""
        now = self.env.now
        lane = self.net.lane(lane_index)
        depart = self.disruptions.blocked_until(DisruptionKind.LANE_CLOSURE, lane_index, now)
        capacity = lane.capacity_per_day
        if depart <= now and (
            capacity is None
            or self._used[("lane", lane_index, math.floor(now))] + qty <= capacity + _EPS
        ):
            if capacity is not None:
                self._used[("lane", lane_index, math.floor(now))] += qty
            self._dispatch(order, qty, src, lane_index, on_arrival)
        else:
            self.env.process(self._ship_later(order, qty, src, lane_index, on_arrival, depart))

    def _ship_later(
        self,
        order: _Order,
        qty: float,
        src: str,
        lane_index: int,
        on_arrival: Callable[[float], None],
        depart: float,
    ) -> Generator[simpy.Event, Any, None]:
        capacity = self.net.lane(lane_index).capacity_per_day
        remaining, t = qty, depart
        while remaining > _EPS:
            t = self.disruptions.blocked_until(DisruptionKind.LANE_CLOSURE, lane_index, t)
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            day = math.floor(self.env.now)
            take = remaining
            if capacity is not None:
                take = min(remaining, max(0.0, capacity - self._used[("lane", lane_index, day)]))
                self._used[("lane", lane_index, day)] += take
            if take > _EPS:
                self._dispatch(order, take, src, lane_index, on_arrival)
                remaining -= take
            t = float(day + 1)

    def _transit(self, lane_index: int) -> float:
        """Next transit time of a lane: drawn in blocks (one numpy call per block), lane by lane,
        from the transport stream, so each lane's draws do not depend on other lanes' traffic."""
        buffer = self._transit_buffers.get(lane_index)
        if not buffer:
            dist = self.net.lane(lane_index).lead_time
            if not self.stochastic:
                return max(0.0, dist.expected())
            rng = self._lane_rngs.get(lane_index)
            if rng is None:
                seed = self.streams.transport.integers(0, 2**63 - 1)
                rng = self._lane_rngs[lane_index] = np.random.default_rng([int(seed), lane_index])
            buffer = np.maximum(np.asarray(dist.sample(rng, 512), dtype=float), 0.0).tolist()
            buffer.reverse()
            self._transit_buffers[lane_index] = buffer
        return buffer.pop()

    def _dispatch(
        self,
        order: _Order,
        qty: float,
        src: str,
        lane_index: int,
        on_arrival: Callable[[float], None],
    ) -> None:
        lane = self.net.lane(lane_index)
        extra = self.disruptions.lane_extra_days(lane_index, self.env.now)
        transit = self._transit(lane_index) + extra
        expected = self.env.now + lane.lead_time.expected() + extra
        order.shipped += qty
        if math.isnan(order.first_ship):
            order.first_ship = self.env.now
        order.expected_arrival = expected
        self._event(_SHIPPED, order, src, qty, expected, lane_index)
        if order.order_type == _CUSTOMER:
            # Nothing in the model reacts to a delivery, so it needs no SimPy event: it is
            # recorded now, at its (future) arrival time, if that falls within the horizon.
            self._deliver(order, qty, self.env.now + transit)
            return
        timer = self.env.timeout(transit)
        timer.callbacks.append(lambda _event: on_arrival(qty))

    def _deliver(self, order: _Order, qty: float, at: float | None = None) -> None:
        """Record the delivery of ``qty`` of a customer order at time ``at`` (default: now);
        deliveries after the end of the horizon stay in transit."""
        at = self.env.now if at is None else at
        if at >= self._horizon:
            return
        order.delivered += qty
        order.last_delivery = (
            at if math.isnan(order.last_delivery) else max(order.last_delivery, at)
        )
        self.log.add(
            at,
            _DELIVERED,
            order.order_id,
            order.order_type,
            order.destination,
            order.product,
            qty,
            at,
            -1,
        )
        if at > order.requested + _EPS:
            self._outcome(order, "late", qty, at - order.requested, at)

    def _receive(self, order: _Order, node: str, qty: float) -> None:
        stock = self.stocks[(node, order.product)]
        stock.on_hand += qty
        stock.on_order -= qty
        order.delivered += qty
        order.last_delivery = self.env.now
        self._event(_RECEIVED, order, node, qty, self.env.now)
        self._serve_queue(stock)
        signal = self.receipt_signal.get(node)
        if signal is not None:
            signal.succeed()
            self.receipt_signal[node] = self.env.event()

    # ------------------------------------------------------------------------- stock points
    def _take(self, stock: _Stock, order: _Order, qty: float) -> None:
        """Issue ``qty`` from ``stock`` to ``order`` and ship it onward."""
        stock.on_hand -= qty
        if order.order_type is _CUSTOMER:
            self._ship(order, qty, stock.node, order.lane, lambda q: None)
        else:  # transfer to another stock point
            dst = order.destination
            self._ship(order, qty, stock.node, order.lane, lambda q: self._receive(order, dst, q))
        self._review(stock)

    def _demand(self, stock: _Stock, order: _Order, backorder: bool, priority: int = 0) -> None:
        """A new demand (customer line or transfer) on ``stock``: fill, then backorder or lose."""
        stock.period_demand += order.qty
        fill = min(order.qty, stock.on_hand) if not stock.queue else 0.0
        if fill > _EPS:
            order.filled_immediately = fill
            self._event(_ALLOCATED, order, stock.node, fill)
            self._take(stock, order, fill)
        remaining = order.qty - fill
        if remaining > _EPS:
            if backorder:
                self._sequence += 1
                key = -priority if self.by_priority else 0
                heapq.heappush(stock.queue, (key, self._sequence, [order, remaining]))
                stock.backlog += remaining
                self._event(_BACKORDERED, order, stock.node, remaining)
                if order.order_type is _CUSTOMER:
                    self._outcome(order, "backordered", remaining)
                self._review(stock)
            else:
                order.lost += remaining
                self._event(_LOST, order, stock.node, remaining)
                self._outcome(order, "lost", remaining)

    def _serve_queue(self, stock: _Stock) -> None:
        while stock.queue and stock.on_hand > _EPS:
            entry = stock.queue[0][2]
            order, remaining = entry
            take = min(remaining, stock.on_hand)
            entry[1] = remaining - take
            stock.backlog -= take
            self._event(_ALLOCATED, order, stock.node, take)
            self._take(stock, order, take)
            if entry[1] <= _EPS:
                stock.backlog -= entry[1]
                heapq.heappop(stock.queue)

    # ---------------------------------------------------------------------------- customers
    def _customer_process(self) -> Generator[simpy.Event, Any, None]:
        """Pull order lines period by period from the stream and report service outcomes back."""
        stream = self.stream
        horizon = float(self.scenario.horizon_days)
        start = 0.0
        while start < horizon:
            end = min(start + stream.period_days, horizon)
            frame = stream.next_orders(start, end)
            yield from self._serve_lines(frame)
            if end > self.env.now:
                yield self.env.timeout(end - self.env.now)
            due = [o for o in self._outcomes if o[0] <= self.env.now]
            if due:
                self._outcomes = [o for o in self._outcomes if o[0] > self.env.now]
                stream.record_outcomes(
                    pd.DataFrame.from_records(due, columns=list(OUTCOME_COLUMNS))
                )
            start = end

    def _serve_lines(self, frame: pd.DataFrame) -> Generator[simpy.Event, Any, None]:
        columns = [frame[c].to_numpy() for c in ORDER_COLUMNS]
        products = self.scenario.products
        for oid, time, customer, segment, zone, product, qty, campaign, requested in zip(
            *columns, strict=True
        ):
            if time > self.env.now:
                yield self.env.timeout(time - self.env.now)
            lane = self._serving.get(zone)
            source = "" if lane is None else self.net.lane(lane).src
            order = _Order(
                oid,
                _CUSTOMER,
                product,
                source,
                zone,
                float(qty),
                float(time),
                float(requested),
                lane=-1 if lane is None else lane,
                segment=segment,
                customer=int(customer),
                campaign=campaign,
            )
            self.orders.append(order)
            self._event(_PLACED, order, zone, order.qty, order.requested)
            if products[product].kind == ProductKind.SERVICE or lane is None:
                order.filled_immediately = order.qty
                order.shipped = order.qty
                order.first_ship = self.env.now
                self._deliver(order, order.qty)
                continue
            self._demand(
                self.stocks[(source, product)],
                order,
                self.backorder,
                self._segment_priority.get(segment, 0),
            )

    def _outcome(
        self, order: _Order, kind: str, qty: float, days_late: float = 0.0, at: float | None = None
    ) -> None:
        """Buffer a service outcome at time ``at`` (default now) for the next report to the
        stream."""
        self._outcomes.append(
            (
                self.env.now if at is None else at,
                order.order_id,
                order.customer,
                order.segment,
                order.destination,
                order.product,
                kind,
                qty,
                days_late,
            )
        )

    # -------------------------------------------------------------------------- supply side
    def _purchase(
        self, lane_index: int, product: str, qty: float, placed_day: float, due: float
    ) -> None:
        lane = self.net.lane(lane_index)
        order = self._place("PO", _PURCHASE, product, lane.src, lane.dst, qty, due, lane_index)
        supplier = self.scenario.nodes[lane.src]
        self.env.process(self._supplier_dispatch(order, supplier, placed_day))

    def _place(
        self,
        prefix: str,
        kind: str,
        product: str,
        src: str,
        dst: str,
        qty: float,
        due: float,
        lane_index: int = -1,
    ) -> _Order:
        """A new supply order (purchase, transfer, production): recorded, on order at ``dst``."""
        order = _Order(
            self._next_id(prefix), kind, product, src, dst, qty, self.env.now, due, lane=lane_index
        )
        order.expected_arrival = due
        self.orders.append(order)
        self.stocks[(dst, product)].on_order += qty
        self._event(_PLACED, order, src, qty, due)
        return order

    def _supplier_dispatch(
        self, order: _Order, supplier: Any, placed_day: float
    ) -> Generator[simpy.Event, Any, None]:
        """Lead time (with lateness and split shipments), outages, then daily capacity."""
        rng = self.streams.supply
        ready = placed_day + self._duration(supplier.lead_time, rng)
        parts = [(ready, order.qty)]
        if self.stochastic and supplier.reliability < 1.0 and rng.random() >= supplier.reliability:
            parts = [(ready + self._duration(supplier.late_delay, rng), order.qty)]
        elif (
            self.stochastic
            and supplier.partial_probability > 0
            and rng.random() < supplier.partial_probability
        ):
            first = order.qty * supplier.partial_fraction
            parts = [
                (ready, first),
                (ready + self._duration(supplier.late_delay, rng), order.qty - first),
            ]
        capacity = supplier.supplies[order.product].capacity_per_day
        dst = order.destination
        for t, qty in parts:
            remaining = qty
            while remaining > _EPS:
                t = self.disruptions.blocked_until(DisruptionKind.SUPPLIER_OUTAGE, order.source, t)
                if t > self.env.now:
                    yield self.env.timeout(t - self.env.now)
                day = math.floor(self.env.now)
                take = remaining
                if capacity is not None:
                    key = ("supplier", order.source, order.product, day)
                    take = min(remaining, max(0.0, capacity - self._used[key]))
                    self._used[key] += take
                if take > _EPS:
                    self._ship(
                        order,
                        take,
                        order.source,
                        order.lane,
                        lambda q: self._receive(order, dst, q),
                    )
                    remaining -= take
                t = max(t, float(day + 1)) if remaining > _EPS else t

    def _transfer(self, lane_index: int, product: str, qty: float, due: float) -> None:
        lane = self.net.lane(lane_index)
        order = self._place("TO", _TRANSFER, product, lane.src, lane.dst, qty, due, lane_index)
        self._demand(self.stocks[(lane.src, product)], order, backorder=True)

    def _production(
        self, plant: str, product: str, qty: float, placed_day: float, due: float
    ) -> Generator[simpy.Event, Any, None]:
        spec = self.scenario.nodes[plant]
        batch = spec.produces[product].batch_size
        if batch:
            qty = math.ceil(qty / batch - 1e-9) * batch
        order = self._place("MO", _PRODUCTION, product, plant, plant, qty, due)
        bom = self.scenario.products[product].bom
        remaining = qty
        waiting = False
        while remaining > _EPS:
            feasible = remaining
            for component, per_unit in bom.items():
                feasible = min(feasible, self.stocks[(plant, component)].on_hand / per_unit)
            if feasible > _EPS:
                for component, per_unit in bom.items():
                    stock = self.stocks[(plant, component)]
                    stock.on_hand -= feasible * per_unit
                    stock.period_demand += feasible * per_unit
                    self._event(_CONSUMED, order, plant, feasible * per_unit, product=component)
                    self._review(stock)
                self._schedule_production(order, plant, product, feasible, placed_day)
                remaining -= feasible
            if remaining > _EPS:
                if not waiting:
                    self._event(_WAITING, order, plant, remaining)
                    waiting = True
                yield self.receipt_signal[plant]

    def _schedule_production(
        self, order: _Order, plant: str, product: str, qty: float, placed_day: float
    ) -> None:
        """Book ``qty`` on the plant's daily capacity from today on; each day's portion is in
        stock ``production_lead_time_days`` after that day starts (after the release, on the
        release day)."""
        spec = self.scenario.nodes[plant]
        use = spec.produces[product].capacity_use
        lead = float(spec.production_lead_time_days)
        now = self.env.now
        start = placed_day if now - placed_day <= 2 * RELEASE_OFFSET else now
        day = math.floor(now)
        left = qty
        if math.isnan(order.first_ship):
            order.first_ship = now
        while left > _EPS:
            take = left
            if spec.capacity_per_day is not None:
                available = spec.capacity_per_day * self.disruptions.capacity_factor(plant, day)
                take = min(left, max(0.0, available - self._used[("plant", plant, day)]) / use)
                self._used[("plant", plant, day)] += take * use
            if take > _EPS:
                finish = (start if day == math.floor(start) else float(day)) + lead
                order.shipped += take
                self._event(_IN_PRODUCTION, order, plant, take, finish)
                timer = self.env.timeout(max(0.0, finish - now))
                timer.callbacks.append(lambda _e, take=take: self._receive(order, plant, take))
                left -= take
            day += 1
            if day > self.scenario.horizon_days + 3660:  # no capacity left in any reachable day
                break

    def _plan_process(
        self, schedule: ReleaseSchedule, generation: int = 0, everywhere: bool = False
    ) -> Generator[simpy.Event, Any, None]:
        """Make the releases of ``schedule`` at their days; stops when a re-plan supersedes its
        ``generation``. Unless ``everywhere``, stock points under a classical policy skip them."""
        releases: list[tuple[float, int, tuple[Any, ...]]] = []
        replaced = (
            set()
            if everywhere
            else {key for key, p in self.policies.items() if p.kind != PolicyKind.PLAN}
        )
        for row in schedule.purchases.itertuples(index=False):
            if (row.dst, row.item) not in replaced:
                releases.append(
                    (
                        float(row.release_day),
                        0,
                        ("purchase", int(row.lane), row.item, float(row.qty), float(row.due_day)),
                    )
                )
        for row in schedule.production.itertuples(index=False):
            releases.append(
                (
                    float(row.start_day),
                    1,
                    ("production", row.plant, row.product, float(row.qty), float(row.finish_day)),
                )
            )
        for row in schedule.transfers.itertuples(index=False):
            if (row.dst, row.item) not in replaced:
                releases.append(
                    (
                        float(row.release_day),
                        2,
                        ("transfer", int(row.lane), row.item, float(row.qty), float(row.due_day)),
                    )
                )
        releases.sort(key=lambda r: (r[0], r[1]))
        for day, _, (kind, where, item, qty, due) in releases:
            if qty <= _EPS:
                continue
            at = day + RELEASE_OFFSET
            if at < self.env.now - _EPS:
                continue  # a re-plan's releases start on its own day
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            if generation != self._generation and not everywhere:
                return
            self.released.append((day, kind, where, item, qty, generation))
            if kind == "purchase":
                self._purchase(where, item, qty, day, due)
            elif kind == "transfer":
                self._transfer(where, item, qty, due)
            else:
                self.env.process(self._production(where, item, qty, day, due))

    # ----------------------------------------------------------------------------- policies
    def _source_split(self, node: str, product: str, qty: float) -> list[tuple[int, float]]:
        """Lanes and quantities a policy order of ``qty`` goes to, by the sourcing rule."""
        options = self.net.sourcing_options(node, product)
        rule = self.sourcing.get((node, product))
        by_source = {self.net.lane(i).src: i for i in options}

        def cheapest(lanes: list[int]) -> int:
            return min(
                lanes,
                key=lambda i: (
                    self._movements[(i, product)].cost_per_unit,
                    self._movements[(i, product)].lead_time_days,
                    i,
                ),
            )

        if rule is None or rule.rule == SourcingRuleKind.CHEAPEST:
            return [(cheapest(options), qty)]
        if rule.rule == SourcingRuleKind.FASTEST:
            return [
                (
                    min(
                        options,
                        key=lambda i: (
                            self._movements[(i, product)].lead_time_days,
                            self._movements[(i, product)].cost_per_unit,
                            i,
                        ),
                    ),
                    qty,
                )
            ]
        if rule.rule == SourcingRuleKind.PRIMARY_BACKUP:
            for source in rule.sources:
                if not self.disruptions.supplier_down(source, self.env.now):
                    return [(by_source[source], qty)]
            return [(by_source[rule.sources[0]], qty)]
        total = sum(rule.split.values())
        return [
            (by_source[src], qty * share / total) for src, share in rule.split.items() if share > 0
        ]

    def _replenish(self, stock: _Stock, qty: float) -> None:
        for lane_index, part in self._source_split(stock.node, stock.product, qty):
            lane = self.net.lane(lane_index)
            movement = self._movements[(lane_index, stock.product)]
            due = self.env.now + movement.lead_time_days
            if self.net.kind(lane.src) == NodeKind.SUPPLIER:
                offer = self.scenario.nodes[lane.src].supplies[stock.product]
                part = max(part, offer.moq)
                if offer.order_multiple:
                    part = math.ceil(part / offer.order_multiple - 1e-9) * offer.order_multiple
                self._purchase(lane_index, stock.product, part, self.env.now, due)
            else:
                self._transfer(lane_index, stock.product, part, due)

    def _order_up_to_level(self, stock: _Stock, policy: Policy, period: float) -> float | None:
        """S_t for a periodic policy: fixed, or (L + R)·forecast + z·σ̂·√(L + R) in periods."""
        if policy.forecast == ForecastMethod.NONE:
            return float(policy.order_up_to or 0.0)
        history = stock.history[-policy.forecast_window :]
        if not history:
            return None if policy.order_up_to is None else float(policy.order_up_to)
        if policy.forecast == ForecastMethod.MOVING_AVERAGE:
            forecast = float(np.mean(history))
        else:
            forecast = float(stock.smoothed if stock.smoothed is not None else history[-1])
        lane_index = self._source_split(stock.node, stock.product, 1.0)[0][0]
        cover = self._movements[(lane_index, stock.product)].lead_time_days / period + 1.0
        spread = float(np.std(history, ddof=1)) if len(history) > 1 else 0.0
        return cover * forecast + policy.safety_factor * spread * math.sqrt(cover)

    def _review(self, stock: _Stock, periodic: bool = False) -> None:
        policy = self.policies.get((stock.node, stock.product))
        if policy is None or (policy.kind == PolicyKind.ORDER_UP_TO) != periodic:
            return
        position = stock.on_hand + stock.on_order - stock.backlog
        qty = 0.0
        if policy.kind in (PolicyKind.BASE_STOCK, PolicyKind.ORDER_UP_TO):
            if policy.kind == PolicyKind.ORDER_UP_TO:
                target = self._order_up_to_level(
                    stock, policy, float(policy.review_period_days or 1.0)
                )
            else:
                target = float(policy.order_up_to or 0.0)
            if target is not None and position < target - _EPS:
                qty = target - position
        elif policy.kind in (PolicyKind.S_S, PolicyKind.MIN_MAX, PolicyKind.PLAN):
            if position <= float(policy.reorder_point or 0.0) + _EPS:
                qty = float(policy.order_up_to or 0.0) - position
        elif policy.kind == PolicyKind.R_Q:
            reorder, lot = float(policy.reorder_point or 0.0), float(policy.order_quantity or 1.0)
            if position <= reorder + _EPS:
                qty = lot * (math.floor((reorder - position) / lot + _EPS) + 1)
        if qty > _EPS:
            self._replenish(stock, qty)

    def _periodic_process(self, stock: _Stock, policy: Policy) -> Generator[simpy.Event, Any, None]:
        period = float(policy.review_period_days or 1.0)
        first = True
        while True:
            if not first:
                observed = stock.period_demand
                stock.history.append(observed)
                alpha = policy.smoothing_alpha
                stock.smoothed = (
                    observed
                    if stock.smoothed is None
                    else (alpha * observed + (1 - alpha) * stock.smoothed)
                )
            stock.period_demand = 0.0
            first = False
            self._review(stock, periodic=True)
            yield self.env.timeout(period)

    # -------------------------------------------------------------------------- disruptions
    def _stock_loss_process(self, window: Any) -> Generator[simpy.Event, Any, None]:
        if window.start > self.env.now:
            yield self.env.timeout(window.start - self.env.now)
        spec = window.spec
        adjustment = _Order(
            spec.name, _ADJUSTMENT, "", spec.node, spec.node, 0.0, self.env.now, self.env.now
        )
        for (node, product), stock in self.stocks.items():
            if node != spec.node or (spec.product is not None and product != spec.product):
                continue
            lost = stock.on_hand * spec.stock_loss
            if lost > _EPS:
                stock.on_hand -= lost
                self._event(_WRITTEN_OFF, adjustment, node, lost, product=product)
                self._review(stock)

    # ---------------------------------------------------------------------------- snapshots
    def _snapshot_process(self) -> Generator[simpy.Event, Any, None]:
        keys = list(self.stocks)
        for day in range(self.scenario.horizon_days):
            yield self.env.timeout(day + SNAPSHOT_OFFSET - self.env.now)
            for key in keys:
                stock = self.stocks[key]
                self.snapshots.append(
                    (day, key[0], key[1], stock.on_hand, stock.backlog, stock.on_order)
                )

    # ------------------------------------------------------------------- state and control
    def _start_from_state(self, state: SupplyState) -> None:
        """Put the state's open supply orders on their way and queue its open customer orders.

        An open order is in transit from day 0 and is received on its expected arrival (day 0 if
        overdue); a purchase is late by the supplier's ``late_delay`` with probability
        1 − ``reliability`` when lead times are stochastic. Open customer orders are placed at
        day 0 before any new demand, so on-hand serves them first.
        """
        rng = self.streams.supply
        kinds = {
            SupplyOrderKind.PURCHASE: ("PO", _PURCHASE),
            SupplyOrderKind.TRANSFER: ("TO", _TRANSFER),
            SupplyOrderKind.PRODUCTION: ("MO", _PRODUCTION),
        }
        for spec in state.open_orders:
            prefix, kind = kinds[spec.kind]
            lane = spec.lane
            if lane is None and spec.kind != SupplyOrderKind.PRODUCTION:
                lane = next(
                    i for i in self.net.inbound_lanes(spec.destination)
                    if self.net.lane(i).src == spec.source
                )
            due = max(0.0, state.day_of(spec.expected_arrival))
            order = _Order(
                spec.id or self._next_id(prefix), kind, spec.item, spec.source,
                spec.destination, float(spec.qty), 0.0, due,
                lane=-1 if lane is None else int(lane),
            )
            order.expected_arrival = due
            order.shipped = order.qty
            order.first_ship = 0.0
            self.orders.append(order)
            self.stocks[(spec.destination, spec.item)].on_order += order.qty
            self._event(_SHIPPED, order, spec.source, order.qty, due, order.lane)
            arrival = due
            supplier = self.scenario.nodes[spec.source]
            if (
                kind is _PURCHASE
                and self.stochastic
                and supplier.reliability < 1.0
                and rng.random() >= supplier.reliability
            ):
                arrival += self._duration(supplier.late_delay, rng)
            timer = self.env.timeout(arrival)
            timer.callbacks.append(
                lambda _e, order=order: self._receive(order, order.destination, order.qty)
            )
        for k, line in enumerate(state.open_customer_orders):
            self._open_customer_order(state, line, k)

    def _open_customer_order(self, state: SupplyState, line: OpenCustomerOrder, k: int) -> None:
        lane = self._serving.get(line.zone)
        placed = 0.0 if line.placed is None else min(0.0, state.day_of(line.placed))
        order = _Order(
            line.id or f"open-{k + 1:06d}", _CUSTOMER, line.product,
            "" if lane is None else self.net.lane(lane).src, line.zone, float(line.qty),
            placed, placed, lane=-1 if lane is None else lane, segment=line.segment,
        )
        self.orders.append(order)
        self._event(_PLACED, order, line.zone, order.qty, order.requested)
        if lane is None:
            order.filled_immediately = order.shipped = order.qty
            order.first_ship = 0.0
            self._deliver(order, order.qty)
            return
        self._demand(
            self.stocks[(order.source, line.product)], order, True,
            self._segment_priority.get(line.segment, 0),
        )

    def snapshot_state(self) -> SupplyState:
        """The state now, as of the start of the current day: on-hand, open supply orders with
        their expected arrival, open customer orders (backorders) and the supplier outages and
        lane closures under way (with their end, as if announced)."""
        now = self.env.now
        day = math.floor(now + _EPS)
        start = self.scenario.start_date
        as_of = start + dt.timedelta(days=day)
        on_hand: dict[str, dict[str, float]] = {}
        for (node, item), stock in self.stocks.items():
            if stock.on_hand > _EPS:
                on_hand.setdefault(node, {})[item] = stock.on_hand
        kinds = {
            _PURCHASE: SupplyOrderKind.PURCHASE,
            _TRANSFER: SupplyOrderKind.TRANSFER,
            _PRODUCTION: SupplyOrderKind.PRODUCTION,
        }
        open_orders = []
        for order in self.orders:
            kind = kinds.get(order.order_type)
            remaining = order.qty - order.delivered - order.lost
            if kind is None or remaining <= _EPS:
                continue
            expected = order.expected_arrival
            if math.isnan(expected):
                expected = order.requested
            open_orders.append(
                OpenSupplyOrder(
                    id=order.order_id, kind=kind, source=order.source,
                    destination=order.destination, item=order.product, qty=remaining,
                    expected_arrival=start + dt.timedelta(days=math.ceil(expected - _EPS)),
                    lane=None if order.lane < 0 else order.lane,
                )
            )
        waiting = []
        for stock in self.stocks.values():
            for _, _, (order, remaining) in sorted(stock.queue, key=lambda e: e[:2]):
                if order.order_type is _CUSTOMER and remaining > _EPS:
                    waiting.append(
                        OpenCustomerOrder(
                            id=order.order_id, zone=order.destination, product=order.product,
                            qty=remaining, segment=order.segment,
                            placed=start + dt.timedelta(days=math.floor(order.placed)),
                        )
                    )
        known = []
        for window in self.disruptions.windows:
            if not window.start <= now < window.end:
                continue
            until = start + dt.timedelta(days=math.ceil(window.end))
            if until <= as_of:
                continue
            if window.spec.kind == DisruptionKind.SUPPLIER_OUTAGE:
                known.append(KnownDisruption(kind="supplier_outage", node=window.spec.node, until=until))
            elif window.spec.kind == DisruptionKind.LANE_CLOSURE:
                known.append(KnownDisruption(kind="lane_closure", lane=window.spec.lane, until=until))
        return SupplyState(
            as_of=as_of, scenario=self.scenario.name, on_hand=on_hand,
            open_orders=tuple(open_orders), open_customer_orders=tuple(waiting),
            disruptions=tuple(known),
        )

    def _state_process(self, day: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(0.0, day + CONTROL_OFFSET - self.env.now))
        self.states[day] = self.snapshot_state()

    def _control_process(self, control: Control) -> Generator[simpy.Event, Any, None]:
        day = control.every_days if control.first_day is None else control.first_day
        while day < self._horizon:
            yield self.env.timeout(max(0.0, day + CONTROL_OFFSET - self.env.now))
            started = time.perf_counter()
            schedule = control.decide(day, self.snapshot_state())
            self.decisions.append((day, time.perf_counter() - started))
            if schedule is not None:
                if control.replace:
                    self._generation += 1
                    self.env.process(self._plan_process(schedule, self._generation))
                else:
                    self.env.process(self._plan_process(schedule, everywhere=True))
            day += control.every_days

    # ---------------------------------------------------------------------------------- run
    def run(self) -> dict[str, pd.DataFrame]:
        """Run to the end of the horizon and return the ``orders``, ``events`` and
        ``inventory`` tables of this replication."""
        env = self.env
        env.process(self._customer_process())
        env.process(self._plan_process(self.releases))
        if self.initial_state is not None:
            self._start_from_state(self.initial_state)
        if self.control is not None:
            env.process(self._control_process(self.control))
        for day in self.snapshot_days:
            env.process(self._state_process(day))
        env.process(self._snapshot_process())
        for window in self.disruptions.stock_losses():
            env.process(self._stock_loss_process(window))
        for stock in self.stocks.values():
            policy = self.policies.get((stock.node, stock.product))
            if policy is not None and policy.kind == PolicyKind.ORDER_UP_TO:
                env.process(self._periodic_process(stock, policy))
            elif policy is not None:
                self._review(stock)
        env.run(until=float(self.scenario.horizon_days))
        events = self.log.to_frame().sort_values("time", kind="stable").reset_index(drop=True)
        return {
            "orders": self._orders_table(),
            "events": events,
            "inventory": self._inventory_table(),
        }

    def _orders_table(self) -> pd.DataFrame:
        rows = []
        open_qty: dict[int, float] = {}
        for stock in self.stocks.values():
            for _, _, (order, remaining) in stock.queue:
                open_qty[id(order)] = open_qty.get(id(order), 0.0) + remaining
        for o in self.orders:
            in_transit = o.shipped - o.delivered
            unshipped = o.qty - o.shipped - o.lost
            if o.order_type is _CUSTOMER or o.order_type is _TRANSFER:
                pending = open_qty.get(id(o), 0.0)
            else:
                pending = unshipped
            rows.append(
                (
                    o.order_id,
                    o.order_type,
                    o.product,
                    o.source,
                    o.destination,
                    o.lane,
                    o.segment,
                    o.customer,
                    o.campaign,
                    o.qty,
                    o.placed,
                    o.requested,
                    o.filled_immediately,
                    o.shipped,
                    o.delivered,
                    in_transit,
                    o.lost,
                    pending,
                    o.first_ship,
                    o.last_delivery,
                    o.expected_arrival,
                    _status(o.order_type, o.qty, o.delivered, in_transit, o.lost, pending),
                    bool(o.delivered >= o.qty - _EPS and o.last_delivery <= o.requested + _EPS),
                )
            )
        frame = pd.DataFrame.from_records(rows, columns=list(ORDER_TABLE_COLUMNS))
        frame.attrs["unit"] = {"qty": "units", "placed_time": "day", "requested_time": "day"}
        return frame

    def _inventory_table(self) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(
            self.snapshots, columns=["day", "node", "product", "on_hand", "backorders", "on_order"]
        )
        frame.attrs["unit"] = {"on_hand": "units", "backorders": "units", "on_order": "units"}
        return frame


def _is_active_policy(policy: Policy) -> bool:
    """Classical policies, and plan policies with an (s, S) safety net."""
    if policy.kind != PolicyKind.PLAN:
        return True
    return policy.reorder_point is not None and policy.order_up_to is not None


def _status(
    kind: str, qty: float, delivered: float, in_transit: float, lost: float, pending: float
) -> str:
    """The explicit end state of an order (every order gets exactly one)."""
    if pending > _EPS:
        if kind is _CUSTOMER:
            return "backordered"
        return "waiting_components" if kind is _PRODUCTION else "open"
    if in_transit > _EPS:
        return "in_production" if kind is _PRODUCTION else "in_transit"
    if lost >= qty - _EPS:
        return "lost"
    if lost > _EPS:
        return "partially_delivered"
    return "delivered" if kind is _CUSTOMER else "received"
