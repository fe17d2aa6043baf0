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

Customer lines are served in blocks: all lines that arrive before the next scheduled SimPy event
are served in one step (numpy, or a plain loop for short blocks), each at its own arrival time,
because nothing else can happen between them. The intra-day rule is therefore the same as serving
each line with its own timeout: a line sees every receipt, release and review scheduled before
its arrival time and none after; lines at the same time as another event come after it. A block
stops before a line whose service makes the simulation act (a continuous-review reorder, a
shipment held by a lane closure or the lane's daily capacity), which is served alone at its
time. Results are bit for bit those of one timeout per line (tested on random networks).
Customer lines live in columns (``Simulation.lines``); a line that waits in a backorder queue
becomes an ``_Order`` like supply orders, so queues hold ``(−priority, sequence, [order,
remaining])`` for customer lines and transfers alike (see :meth:`Simulation.waiting`).
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
import pyarrow as pa
import simpy

from crm_model.stream import OUTCOME_COLUMNS, OrderStream
from scenarios.network import SupplyNetwork
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
from scenarios.state import (
    KnownDisruption,
    OpenCustomerOrder,
    OpenSupplyOrder,
    SupplyOrderKind,
    SupplyState,
)
from sim.disruptions import Disruptions
from sim.records import (
    CATEGORY_COLUMNS,
    Coded,
    EventLog,
    EventType,
    OrderType,
    coded,
    join_coded,
)

__all__ = [
    "CONTROL_OFFSET",
    "ORDER_TABLE_COLUMNS",
    "RELEASE_OFFSET",
    "SNAPSHOT_OFFSET",
    "Control",
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
_VECTOR_BLOCK = 256
"""Blocks of at least this many customer lines are decided with numpy, shorter ones in a loop."""

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


@dataclass(eq=False, slots=True)
class _Strings:
    """A string column of a period as codes into its distinct values (``names``), with the
    values as an Arrow array for building tables."""

    codes: np.ndarray
    names: np.ndarray
    labels: pa.Array

    @classmethod
    def of(cls, column: pd.Series) -> _Strings:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        names = np.asarray(uniques, dtype=object)
        return cls(np.asarray(codes, dtype=np.int64), names, _arrow(names))

    def __getitem__(self, k: int) -> Any:
        return self.names[self.codes[k]]

    def values(self, rows: np.ndarray) -> list[Any]:
        return self.names[self.codes[rows]].tolist()


def _arrow(names: np.ndarray) -> pa.Array:
    return pa.array(names, type=pa.large_string(), from_pandas=True)


@dataclass(eq=False, slots=True)
class _Period:
    """One period's customer order lines as arrays (see ``ORDER_COLUMNS``; strings coded),
    with each line's serving lane (−1 for none), the stock point serving it (an index into
    ``Simulation._stock_list``, −1 for services and unserved zones) and its allocation priority;
    ``base`` is the global index of the period's first line. ``nodes`` labels the zones then
    the stock point serving each zone (event ``node`` codes)."""

    order_id: pa.Array
    time: np.ndarray
    customer: np.ndarray
    segment: _Strings
    zone: _Strings
    product: _Strings
    qty: np.ndarray
    campaign: _Strings
    requested: np.ndarray
    lane: np.ndarray
    source: _Strings
    stock: np.ndarray
    priority: np.ndarray
    nodes: pa.Array
    base: int


_LINE_STATE = (
    "filled",
    "shipped",
    "delivered",
    "lost",
    "first_ship",
    "last_delivery",
    "expected",
)


class _CustomerLines:
    """Customer order lines in columns, one row per line in arrival order (the customer part of
    the orders table).

    Lines served in bulk are recorded in these arrays. A line that the per-line path serves, or
    that waits in a backorder queue, gets an ``_Order`` (in ``objects``, by line index) that
    holds its state from then on; the orders table takes those lines from their objects.
    """

    def __init__(self) -> None:
        self.count = 0
        self.periods: list[_Period] = []
        self.objects: dict[int, _Order] = {}
        self._state = {name: np.zeros(0) for name in _LINE_STATE}

    def add(self, period: _Period) -> None:
        """Register a period's lines (unserved: zero quantities, NaN times)."""
        n = len(period.time)
        self.periods.append(period)
        capacity = len(self._state["filled"])
        if self.count + n > capacity:
            grown = max(2 * capacity, self.count + n, 1024)
            for name, values in self._state.items():
                quantity = name in ("filled", "shipped", "delivered", "lost")
                fresh = np.zeros(grown) if quantity else np.full(grown, math.nan)
                fresh[: self.count] = values[: self.count]
                self._state[name] = fresh
        self.count += n

    def record(self, start: int, **values: np.ndarray) -> None:
        """Set the state columns of lines ``start, start + 1, …`` (one array per name)."""
        for name, column in values.items():
            self._state[name][start : start + len(column)] = column

    def materialise(self, period: _Period, k: int, restore: bool = False) -> _Order:
        """The ``_Order`` of line ``k`` of ``period`` (created on first use; ``restore`` copies
        the state recorded so far)."""
        index = period.base + k
        order = self.objects.get(index)
        if order is not None:
            return order
        order = _Order(
            period.order_id[k].as_py(),
            _CUSTOMER,
            period.product[k],
            period.source[k],
            period.zone[k],
            float(period.qty[k]),
            float(period.time[k]),
            float(period.requested[k]),
            lane=int(period.lane[k]),
            segment=period.segment[k],
            customer=int(period.customer[k]),
            campaign=period.campaign[k],
        )
        if restore:
            state = self._state
            order.filled_immediately = float(state["filled"][index])
            order.shipped = float(state["shipped"][index])
            order.delivered = float(state["delivered"][index])
            order.lost = float(state["lost"][index])
            order.first_ship = float(state["first_ship"][index])
            order.last_delivery = float(state["last_delivery"][index])
            order.expected_arrival = float(state["expected"][index])
        self.objects[index] = order
        return order

    def materialise_served(self, period: _Period, ks: np.ndarray) -> list[_Order]:
        """:meth:`materialise` with ``restore`` for lines ``ks`` of ``period`` (new objects),
        reading the arrays once for all of them."""
        index = period.base + ks
        state = self._state
        orders = []
        for row in zip(
            period.order_id.take(pa.array(ks)).to_pylist(),
            period.product.values(ks),
            period.source.values(ks),
            period.zone.values(ks),
            period.qty[ks].tolist(),
            period.time[ks].tolist(),
            period.requested[ks].tolist(),
            period.lane[ks].tolist(),
            period.segment.values(ks),
            period.customer[ks].tolist(),
            period.campaign.values(ks),
            state["filled"][index].tolist(),
            state["shipped"][index].tolist(),
            state["delivered"][index].tolist(),
            state["lost"][index].tolist(),
            state["first_ship"][index].tolist(),
            state["last_delivery"][index].tolist(),
            state["expected"][index].tolist(),
            index.tolist(),
            strict=True,
        ):
            order = _Order(
                row[0], _CUSTOMER, row[1], row[2], row[3], row[4], row[5], row[6],
                lane=row[7], segment=row[8], customer=row[9], campaign=row[10],
                filled_immediately=row[11], shipped=row[12], delivered=row[13], lost=row[14],
                first_ship=row[15], last_delivery=row[16], expected_arrival=row[17],
            )  # fmt: skip
            self.objects[row[18]] = order
            orders.append(order)
        return orders

    def columns(self) -> dict[str, Any]:
        """Every line's columns: the inputs (strings as lists of coded parts) and the state
        (objects' state where they exist)."""

        def join(name: str, dtype: Any) -> np.ndarray:
            parts = [getattr(p, name) for p in self.periods]
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

        def strings(name: str) -> list[Coded]:
            return [(part.codes, part.labels) for part in (getattr(p, name) for p in self.periods)]

        n = self.count
        columns: dict[str, Any] = {
            "order_id": [(np.arange(len(p.order_id)), p.order_id) for p in self.periods],
            "product": strings("product"),
            "source": strings("source"),
            "destination": strings("zone"),
            "lane": join("lane", np.int64),
            "segment": strings("segment"),
            "customer": join("customer", np.int64),
            "campaign": strings("campaign"),
            "qty": join("qty", float),
            "placed": join("time", float),
            "requested": join("requested", float),
        }
        for name, values in self._state.items():
            columns[name] = values[:n].copy()
        if self.objects:
            index = np.fromiter(self.objects, dtype=np.int64, count=len(self.objects))
            objects = list(self.objects.values())
            for name, attribute in (
                ("filled", "filled_immediately"),
                ("shipped", "shipped"),
                ("delivered", "delivered"),
                ("lost", "lost"),
                ("first_ship", "first_ship"),
                ("last_delivery", "last_delivery"),
                ("expected", "expected_arrival"),
            ):
                columns[name][index] = [getattr(o, attribute) for o in objects]
        return columns


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

    block_serving: bool = True
    """Serve customer lines in blocks between SimPy events (False: one SimPy step per line, the
    reference the block path is tested against)."""
    vector_block: int = _VECTOR_BLOCK
    """Blocks of at least this many lines are decided with numpy, shorter ones in a loop."""
    min_block: int = 16
    """Fewer lines than this before the next event are served one by one (the per-line path)."""

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
        self._transit_buffers: dict[int, list[Any]] = {}  # lane → [draws, next position]
        self._lane_rngs: dict[int, np.random.Generator] = {}
        self.streams = streams
        self.disruptions = disruptions or Disruptions([])
        self.env = simpy.Environment() if env is None else env
        self.log = EventLog()
        self.orders: list[_Order] = []
        """Supply orders (purchases, transfers, production) in the order they were placed."""
        self.lines = _CustomerLines()
        """Customer order lines (columnar; see :class:`_CustomerLines`)."""
        self._served = 0  # customer lines served so far (orders table row order)
        self._customer_label = pa.array([_CUSTOMER], type=pa.large_string())
        self._customer_event_labels = {
            short: pa.array(
                [_PLACED, _ALLOCATED, _SHIPPED, _DELIVERED, short], type=pa.large_string()
            )
            for short in (_BACKORDERED, _LOST)
        }
        self._order_positions: list[int] = []  # lines served when each supply order was placed
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
        self._stock_list = list(self.stocks.values())
        self._stock_index = {key: k for k, key in enumerate(self.stocks)}
        self._held_lanes = {
            i
            for i, lane in enumerate(scenario.lanes)
            if lane.capacity_per_day is not None
            or self.disruptions.lane_windows(DisruptionKind.LANE_CLOSURE, i)
        }

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
        if buffer is None or buffer[1] >= len(buffer[0]):
            if not self.stochastic:
                return max(0.0, self.net.lane(lane_index).lead_time.expected())
            buffer = self._transit_buffers[lane_index] = [self._transit_block(lane_index), 0]
        value = buffer[0][buffer[1]]
        buffer[1] += 1
        return float(value)

    def _transit_block(self, lane_index: int) -> np.ndarray:
        """The next 512 transit times of a lane (its generator is seeded from the transport
        stream on the lane's first use)."""
        rng = self._lane_rngs.get(lane_index)
        if rng is None:
            seed = self.streams.transport.integers(0, 2**63 - 1)
            rng = self._lane_rngs[lane_index] = np.random.default_rng([int(seed), lane_index])
        dist = self.net.lane(lane_index).lead_time
        return np.maximum(np.asarray(dist.sample(rng, 512), dtype=float), 0.0)

    def _transits(self, lane_index: int, count: int) -> np.ndarray:
        """The lane's next ``count`` transit times: the same values :meth:`_transit` would
        return one by one."""
        if not self.stochastic:
            return np.full(count, max(0.0, self.net.lane(lane_index).lead_time.expected()))
        buffer = self._transit_buffers.get(lane_index)
        if buffer is None:
            buffer = self._transit_buffers[lane_index] = [self._transit_block(lane_index), 0]
        parts = []
        while count > 0:
            if buffer[1] >= len(buffer[0]):
                buffer[0], buffer[1] = self._transit_block(lane_index), 0
            take = min(count, len(buffer[0]) - buffer[1])
            parts.append(buffer[0][buffer[1] : buffer[1] + take])
            buffer[1] += take
            count -= take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

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
        """Allocate on-hand to the waiting demand in queue order: runs of customer lines in one
        step (:meth:`_serve_waiting_lines`), transfers and lines whose shipment or review makes
        the simulation act one by one."""
        while stock.queue and stock.on_hand > _EPS:
            if self.block_serving and self._serve_waiting_lines(stock):
                continue
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

    def _serve_waiting_lines(self, stock: _Stock) -> int:
        """Serve the customer lines at the head of ``stock``'s queue that on-hand reaches, up to
        the first transfer or the first line whose shipment a lane closure or capacity would
        hold or after which a continuous-review policy would reorder; return how many were
        served. The same allocations, transit draws, log records and outcomes, in the same
        order, as one by one."""
        queue = stock.queue
        now = self.env.now
        reorders = self._reorders(stock)
        held = self._held_lanes
        on_hand, backlog = stock.on_hand, stock.backlog
        used: dict[int, float] = {}
        served: list[tuple[_Order, float]] = []
        while queue and on_hand > _EPS:
            entry = queue[0][2]
            order, remaining = entry
            if order.order_type is not _CUSTOMER:
                break
            take = min(remaining, on_hand)
            left, after, owed = remaining - take, on_hand - take, backlog - take
            if reorders is not None and reorders(after + stock.on_order - owed):
                break
            lane_index = order.lane
            if lane_index in held:
                if (
                    self.disruptions.blocked_until(DisruptionKind.LANE_CLOSURE, lane_index, now)
                    > now
                ):
                    break
                capacity = self.net.lane(lane_index).capacity_per_day
                if capacity is not None:
                    before = used.get(
                        lane_index, self._used.get(("lane", lane_index, math.floor(now)), 0.0)
                    )
                    if before + take > capacity + _EPS:
                        break
                    used[lane_index] = before + take
            entry[1] = left
            on_hand, backlog = after, owed
            if left <= _EPS:
                backlog -= left
                heapq.heappop(queue)
            served.append((order, take))
        stock.on_hand, stock.backlog = on_hand, backlog
        if not served:
            return 0
        draws: dict[int, list[float]] = {}
        for order, _ in served:
            draws[order.lane] = draws.get(order.lane, [])
            draws[order.lane].append(0.0)
        for lane_index, slots in draws.items():  # lanes in order of first use
            draws[lane_index] = self._transits(lane_index, len(slots)).tolist()[::-1]
        node, add = stock.node, self.log.add
        for order, take in served:
            lane_index = order.lane
            lane = self.net.lane(lane_index)
            if lane.capacity_per_day is not None:
                self._used[("lane", lane_index, math.floor(now))] += take
            extra = self.disruptions.lane_extra_days(lane_index, now)
            transit = draws[lane_index].pop() + extra
            expected = now + lane.lead_time.expected() + extra
            add(now, _ALLOCATED, order.order_id, _CUSTOMER, node, order.product, take)
            order.shipped += take
            if math.isnan(order.first_ship):
                order.first_ship = now
            order.expected_arrival = expected
            add(now, _SHIPPED, order.order_id, _CUSTOMER, node, order.product, take, expected,
                lane_index)  # fmt: skip
            self._deliver(order, take, now + transit)
        return len(served)

    def waiting(self, node: str, product: str) -> list[tuple[str, str, float]]:
        """Demand waiting at stock point ``(node, product)``, in the order it will be served:
        ``(destination, order_id, remaining)`` per queued customer line or transfer
        (destination is the customer zone or the receiving stock point).

        Examples
        --------
        >>> from crm_model import DemandModel
        >>> from scenarios import load_scenario, SupplyNetwork
        >>> s = load_scenario("retailer_holiday", {"horizon_days": 7})
        >>> streams = Streams.from_seed(np.random.SeedSequence(1))
        >>> orders = DemandModel(s).sample(streams.demand)
        >>> sim = Simulation(s, SupplyNetwork(s), ReleaseSchedule.empty(), orders, streams)
        >>> _ = sim.run()
        >>> sim.waiting("dc_north", "earbuds")
        []
        """
        queue = sorted(self.stocks[(node, product)].queue, key=lambda entry: entry[:2])
        return [(order.destination, order.order_id, rest) for _, _, (order, rest) in queue]

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

    def _period_lines(self, frame: pd.DataFrame) -> _Period:
        """A period's order lines as arrays, with the serving lane, stock point and priority of
        each line worked out once (by distinct zone, product and segment)."""
        zone = _Strings.of(frame["zone"])
        product = _Strings.of(frame["product"])
        segment = _Strings.of(frame["segment"])
        serving = [self._serving.get(z) for z in zone.names]
        lane = np.array([-1 if i is None else i for i in serving], dtype=np.int64)[zone.codes]
        source_names = np.array(
            ["" if i is None else self.net.lane(i).src for i in serving], dtype=object
        )
        stock = np.full((len(zone.names), len(product.names)), -1, dtype=np.int64)
        for z, lane_index in enumerate(serving):
            if lane_index is None:
                continue
            for p, name in enumerate(product.names):
                if self.scenario.products[name].kind != ProductKind.SERVICE:
                    stock[z, p] = self._stock_index[(source_names[z], name)]
        if self.by_priority:
            priority = np.array(
                [self._segment_priority.get(s, 0) for s in segment.names], dtype=np.int64
            )[segment.codes]
        else:
            priority = np.zeros(len(frame), dtype=np.int64)
        period = _Period(
            order_id=_arrow(np.asarray(frame["order_id"], dtype=object))
            if frame["order_id"].dtype == object
            else pa.array(frame["order_id"], type=pa.large_string()),
            time=frame["time"].to_numpy(dtype=float),
            customer=frame["customer"].to_numpy(dtype=np.int64),
            segment=segment,
            zone=zone,
            product=product,
            qty=frame["qty"].to_numpy(dtype=float),
            campaign=_Strings.of(frame["campaign"]),
            requested=frame["requested_time"].to_numpy(dtype=float),
            lane=lane,
            source=_Strings(zone.codes, source_names, _arrow(source_names)),
            stock=stock[zone.codes, product.codes],
            priority=priority,
            nodes=_arrow(np.concatenate([zone.names, source_names])),
            base=self.lines.count,
        )
        self.lines.add(period)
        return period

    def _serve_lines(self, frame: pd.DataFrame) -> Generator[simpy.Event, Any, None]:
        """Serve a period's lines in arrival order.

        Lines are taken in blocks: every line that arrives before the next scheduled SimPy event
        (and after the block's first line) is served in one vectorised step
        (:meth:`_serve_block`), as if each had its own timeout, because nothing else can happen
        in between. A block stops before the first line whose service needs the simulation to
        act at its time (a reorder triggered by a continuous-review policy, a shipment held by a
        lane closure or the lane's daily capacity, odd quantities); that line is served alone at
        its arrival time by the per-line path (:meth:`_serve_one`). Results are the same as
        serving every line with its own timeout.
        """
        n = len(frame)
        if n == 0:
            return
        period = self._period_lines(frame)
        times = period.time
        env = self.env
        in_order = bool(np.all(times[1:] >= times[:-1]))
        # ``now`` is the time the per-line path would have reached: each line waits
        # ``t − now`` from the previous line's time (which rounds differently from waiting
        # from the start of the block), and every time below is reached exactly.
        now = env.now
        i, window = 0, 64
        while i < n:
            if times[i] > now:
                now = now + (times[i] - now)
            if now > env.now:
                yield from self._advance_to(now)
            if not in_order or not self.block_serving:
                self._serve_one(period, i)
                now = env.now
                i += 1
                continue
            limit = env.peek()
            j = max(
                int(np.searchsorted(times, limit, side="left")),
                int(np.searchsorted(times, now, side="right")),
                i + 1,
            )
            j = min(j, i + window)
            if j - i < self.min_block:  # a few lines: cheaper one by one
                self._serve_one(period, i)
                now = env.now
                i += 1
                continue
            cut, now = self._serve_block(period, i, j)
            if cut == j:
                window = min(window * 2, 1 << 16)
                i = j
                continue
            window = max(16, 2 * (cut - i))
            if cut > i and times[cut] > now:  # line i has waited already
                now = now + (times[cut] - now)
            if now > env.now:
                yield from self._advance_to(now)
            self._serve_one(period, cut)
            now = env.now
            i = cut + 1
        if now > env.now:
            yield from self._advance_to(now)

    def _advance_to(self, target: float) -> Generator[simpy.Event, Any, None]:
        """Wait until exactly ``target`` (no other event is due before it). One timeout when
        ``now ≥ target / 2`` (then ``target − now`` is exact, Sterbenz's lemma); from an
        earlier clock, doubling hops first, because ``now + (target − now)`` can miss
        ``target`` by rounding."""
        env = self.env
        while env.now > 0 and 2 * env.now < target:
            yield env.timeout(env.now)
        if target > env.now:
            yield env.timeout(target - env.now)

    def _serve_one(self, period: _Period, k: int) -> None:
        """Serve line ``k`` of the period now, one SimPy step at its arrival (the exact path)."""
        order = self.lines.materialise(period, k)
        self._served = period.base + k + 1
        self._event(_PLACED, order, order.destination, order.qty, order.requested)
        stock_id = int(period.stock[k])
        if stock_id < 0:  # a service, or a zone no stock point serves: delivered on order
            order.filled_immediately = order.qty
            order.shipped = order.qty
            order.first_ship = self.env.now
            self._deliver(order, order.qty)
            return
        self._demand(self._stock_list[stock_id], order, self.backorder, int(period.priority[k]))

    def _arrival_times(self, period: _Period, i: int, j: int) -> np.ndarray:
        """``env.now`` at each line of ``[i, j)`` as if each had waited with its own timeout
        (now + (t − now) is t except for rounding, which this reproduces)."""
        nows = period.time[i:j].copy()
        nows[0] = self.env.now
        if j - i > 1:
            prev, cur = nows[:-1], nows[1:]
            if not np.all((cur == prev) | ((cur > prev) & (2.0 * prev >= cur))):
                now = float(self.env.now)
                for k in range(1, j - i):
                    t = nows[k]
                    if t > now:
                        now = now + (t - now)
                    nows[k] = now
        return nows

    def _serve_block(self, period: _Period, i: int, j: int) -> tuple[int, float]:
        """Serve lines ``[i, cut)`` of the period in one vectorised step and return ``cut``
        (≤ ``j``), the first line that needs the per-line path, or ``j``, and the time the
        per-line path would have reached at the last line served.

        Per stock point, lines are filled in arrival order from on-hand (running differences,
        computed in the same order as one by one, so results are bit for bit the same); from
        the first line that on-hand cannot fill, the rest of the stock point's lines are
        backordered (queued, FIFO or by priority) or lost. A line is cut (left to the per-line
        path) when serving it would trigger a continuous-review reorder, when its shipment
        would be held by a lane closure or the lane's daily capacity, or its quantities are
        too small to decide the same way as the per-line path."""
        m = j - i
        nows = self._arrival_times(period, i, j)
        if m < self.vector_block:
            return self._serve_block_loop(period, i, j, nows)
        qty = period.qty[i:j]
        stock_ids = period.stock[i:j]
        fill = np.zeros(m)
        short = np.zeros(m)
        cut = m
        groups = []
        for stock_id in np.unique(stock_ids).tolist():
            if stock_id < 0:
                continue
            stock = self._stock_list[stock_id]
            where = np.flatnonzero(stock_ids == stock_id)
            q = qty[where]
            g_cut = len(where)
            if stock.queue:
                f, r = np.zeros(len(q)), q.copy()
                after = np.full(len(q), stock.on_hand)
            else:
                running = np.subtract.accumulate(np.concatenate(([stock.on_hand], q)))
                before = running[:-1]
                over = q > before
                first = int(np.argmax(over)) if over.any() else len(q)
                f, r, after = q.copy(), np.zeros(len(q)), running[1:].copy()
                if first < len(q):
                    f[first:], r[first:], after[first:] = 0.0, q[first:], 0.0
                    left = before[first]
                    if left > _EPS and q[first] - left > _EPS:
                        f[first], r[first] = left, q[first] - left
                    elif left != 0.0:
                        g_cut = first
            small = np.flatnonzero(q <= _EPS)
            if len(small):
                g_cut = min(g_cut, int(small[0]))
            backlog = None
            if self.backorder:
                backlog = np.add.accumulate(np.concatenate(([stock.backlog], r)))
            trigger = self._review_triggers(stock, f, r, after, backlog)
            g_cut = min(g_cut, trigger)
            if g_cut < len(where):
                cut = min(cut, int(where[g_cut]))
            fill[where], short[where] = f, r
            groups.append((stock, where, q, after, backlog))
        taken = fill > _EPS
        cut = min(cut, self._lane_cut(period, i, nows, fill, taken))
        if cut == 0:
            return i, float(self.env.now)
        self._bulk(period, i, cut, nows, fill, short, taken)
        for stock, where, q, after, backlog in groups:
            done = int(np.searchsorted(where, cut))
            if done == 0:
                continue
            stock.period_demand = float(
                np.add.accumulate(np.concatenate(([stock.period_demand], q[:done])))[-1]
            )
            if not stock.queue:
                stock.on_hand = float(after[done - 1])
            if backlog is not None:
                stock.backlog = float(backlog[done])
        self._queue_backorders(period, i, cut, short)
        return i + cut, float(nows[cut - 1])

    def _serve_block_loop(
        self, period: _Period, i: int, j: int, nows: np.ndarray
    ) -> tuple[int, float]:
        """:meth:`_serve_block` for short blocks: the same decisions taken line by line in plain
        Python (cheaper than numpy calls on a few lines), then recorded in one step."""
        m = j - i
        quantities = period.qty[i:j].tolist()
        stock_ids = period.stock[i:j].tolist()
        lanes = period.lane[i:j].tolist()
        fill = [0.0] * m
        short = [0.0] * m
        states: dict[int, list[Any]] = {}
        used: dict[tuple[int, int], float] = {}
        held = self._held_lanes
        backorder = self.backorder
        cut = m
        for k in range(m):
            stock_id = stock_ids[k]
            if stock_id < 0:
                continue
            state = states.get(stock_id)
            if state is None:
                stock = self._stock_list[stock_id]
                state = states[stock_id] = [
                    stock.on_hand,
                    bool(stock.queue),
                    stock.backlog,
                    stock.period_demand,
                    stock,
                    self._reorders(stock),
                ]
            q = quantities[k]
            on_hand, queued, backlog, _, stock, reorders = state
            f = 0.0 if queued else min(q, on_hand)
            r = q - f
            if f > _EPS:
                on_hand -= f
                if reorders is not None and reorders(on_hand + stock.on_order - backlog):
                    cut = k
                    break
                lane_index = lanes[k]
                if lane_index in held:
                    now = float(nows[k])
                    if (
                        self.disruptions.blocked_until(DisruptionKind.LANE_CLOSURE, lane_index, now)
                        > now
                    ):
                        cut = k
                        break
                    capacity = self.net.lane(lane_index).capacity_per_day
                    if capacity is not None:
                        key = (lane_index, math.floor(now))
                        before = used.get(key, self._used.get(("lane", *key), 0.0))
                        if before + f > capacity + _EPS:
                            cut = k
                            break
                        used[key] = before + f
            elif q <= _EPS:
                cut = k
                break
            if r > _EPS:
                if backorder:
                    queued = True
                    backlog += r
                    if reorders is not None and reorders(on_hand + stock.on_order - backlog):
                        cut = k
                        break
                short[k] = r
            state[0], state[1], state[2] = on_hand, queued, backlog
            state[3] += q
            fill[k] = f
        if cut == 0:
            return i, float(self.env.now)
        for on_hand, _, backlog, demand, stock, _ in states.values():
            stock.on_hand, stock.backlog, stock.period_demand = on_hand, backlog, demand
        fill_array = np.asarray(fill)
        short_array = np.asarray(short)
        self._bulk(period, i, cut, nows, fill_array, short_array, fill_array > _EPS)
        self._queue_backorders(period, i, cut, short_array)
        return i + cut, float(nows[cut - 1])

    def _reorders(self, stock: _Stock) -> Callable[[float], bool] | None:
        """Whether a continuous-review policy at ``stock`` reorders at an inventory position
        (None when no such policy reviews after each demand)."""
        policy = self.policies.get((stock.node, stock.product))
        if policy is None or policy.kind == PolicyKind.ORDER_UP_TO:
            return None
        reorder = float(policy.reorder_point or 0.0)
        level = float(policy.order_up_to or 0.0)
        if policy.kind == PolicyKind.BASE_STOCK:
            return lambda position: position < level - _EPS
        if policy.kind == PolicyKind.R_Q:
            return lambda position: position <= reorder + _EPS
        return lambda position: position <= reorder + _EPS and level - position > _EPS

    def _review_triggers(
        self,
        stock: _Stock,
        fill: np.ndarray,
        short: np.ndarray,
        after: np.ndarray,
        backlog: np.ndarray | None,
    ) -> int:
        """Index of the first line after whose issue or backorder a continuous-review policy at
        ``stock`` would reorder (len(fill) when none would)."""
        policy = self.policies.get((stock.node, stock.product))
        n = len(fill)
        if policy is None or policy.kind == PolicyKind.ORDER_UP_TO or n == 0:
            return n
        held = after + stock.on_order
        if backlog is None:
            positions = [(fill > _EPS, held - stock.backlog)]
        else:
            positions = [
                (fill > _EPS, held - backlog[:-1]),
                (short > _EPS, held - backlog[1:]),
            ]
        hit = np.zeros(n, dtype=bool)
        for applies, position in positions:
            if policy.kind == PolicyKind.BASE_STOCK:
                orders = position < float(policy.order_up_to or 0.0) - _EPS
            elif policy.kind == PolicyKind.R_Q:
                orders = position <= float(policy.reorder_point or 0.0) + _EPS
            else:  # s_S, min_max, plan safety net
                orders = (position <= float(policy.reorder_point or 0.0) + _EPS) & (
                    float(policy.order_up_to or 0.0) - position > _EPS
                )
            hit |= applies & orders
        return int(np.argmax(hit)) if hit.any() else n

    def _lane_cut(
        self, period: _Period, i: int, nows: np.ndarray, fill: np.ndarray, taken: np.ndarray
    ) -> int:
        """First line whose shipment a lane closure or the lane's daily capacity would hold."""
        cut = len(fill)
        lanes = period.lane[i : i + len(fill)]
        for lane_index in self._held_lanes:
            mine = np.flatnonzero(taken & (lanes == lane_index))
            if not len(mine):
                continue
            closed = self.disruptions.lane_closed(lane_index, nows[mine])
            if closed.any():
                cut = min(cut, int(mine[np.argmax(closed)]))
            capacity = self.net.lane(lane_index).capacity_per_day
            if capacity is None:
                continue
            used: dict[int, float] = {}
            for k in mine.tolist():
                if k >= cut:
                    break
                day = math.floor(nows[k])
                before = used.get(day, self._used.get(("lane", lane_index, day), 0.0))
                if before + fill[k] <= capacity + _EPS:
                    used[day] = before + fill[k]
                else:
                    cut = k
                    break
        return cut

    def _bulk(
        self,
        period: _Period,
        i: int,
        m: int,
        nows: np.ndarray,
        fill: np.ndarray,
        short: np.ndarray,
        taken: np.ndarray,
    ) -> None:
        """Record lines ``[i, i + m)`` of the period as served by :meth:`_serve_block`: ship what
        was filled (transit times lane by lane in arrival order), log every step of every line
        in one block, buffer the service outcomes."""
        nows, fill, short, taken = nows[:m], fill[:m], short[:m], taken[:m]
        sl = slice(i, i + m)
        qty, requested = period.qty[sl], period.requested[sl]
        lanes = period.lane[sl]
        direct = period.stock[sl] < 0
        arrival = np.full(m, math.nan)
        expected = np.full(m, math.nan)
        ship = np.flatnonzero(taken)
        if len(ship):
            ship_lanes = lanes[ship]
            used_lanes, first = np.unique(ship_lanes, return_index=True)
            for lane_index in used_lanes[np.argsort(first)].tolist():
                sel = ship[ship_lanes == lane_index]
                transit = self._transits(lane_index, len(sel))
                extra: Any = 0
                if self.disruptions.windows:
                    extra = self.disruptions.lane_extra_days_at(lane_index, nows[sel])
                    transit = transit + extra
                mean = self.net.lane(lane_index).lead_time.expected()
                expected[sel] = nows[sel] + mean + extra
                arrival[sel] = nows[sel] + transit
                capacity = self.net.lane(lane_index).capacity_per_day
                if capacity is not None:
                    for k in sel.tolist():
                        self._used[("lane", lane_index, math.floor(nows[k]))] += fill[k]
        shipped = np.where(direct, qty, fill)
        arrival[direct] = nows[direct]
        delivered_mask = (taken | direct) & (arrival < self._horizon)
        lost_mask = (short > _EPS) & (not self.backorder)
        short_mask = short > _EPS
        self.lines.record(
            period.base + i,
            filled=np.where(direct, qty, np.where(taken, fill, 0.0)),
            shipped=shipped,
            delivered=np.where(delivered_mask, shipped, 0.0),
            lost=np.where(lost_mask, short, 0.0),
            first_ship=np.where(taken | direct, nows, math.nan),
            last_delivery=np.where(delivered_mask, arrival, math.nan),
            expected=expected,
        )
        self._served = period.base + i + m

        # the log, line by line in the order the per-line path writes it
        slots = np.zeros((m, 5), dtype=bool)
        slots[:, 0] = True
        slots[:, 1] = taken
        slots[:, 2] = taken
        slots[:, 3] = delivered_mask
        slots[:, 4] = short_mask
        flat = slots.ravel()
        line = np.repeat(np.arange(m), 5)[flat]
        slot = np.tile(np.arange(5), m)[flat]
        time = np.repeat(nows, 5)[flat]
        at_delivery = slot == 3
        time[at_delivery] = arrival[line[at_delivery]]
        at_zone = (slot == 0) | at_delivery
        amounts = np.stack([qty, fill, fill, shipped, short], axis=1).ravel()[flat]
        extras = np.stack(
            [requested, np.full(m, math.nan), expected, arrival, np.full(m, math.nan)], axis=1
        ).ravel()[flat]
        short_name = _BACKORDERED if self.backorder else _LOST
        zone_codes = period.zone.codes[sl][line]
        self.log.extend(
            (
                time,
                (slot, self._customer_event_labels[short_name]),
                (i + line, period.order_id),
                (np.zeros(len(line), dtype=np.int64), self._customer_label),
                (np.where(at_zone, zone_codes, len(period.zone.names) + zone_codes), period.nodes),
                (period.product.codes[sl][line], period.product.labels),
                amounts,
                extras,
                np.where(slot == 2, lanes[line], -1),
            )
        )

        # outcomes, in the same order: a late delivery before the line's shortage
        late = delivered_mask & (arrival > requested + _EPS)
        if late.any() or short_mask.any():
            report = (slot == 3) & late[line] | (slot == 4)
            rows = line[report]
            kinds = np.where(slot[report] == 3, "late", short_name)
            is_late = slot[report] == 3
            lines = i + rows
            self._outcomes.extend(
                zip(
                    time[report].tolist(),
                    period.order_id.take(pa.array(lines)).to_pylist(),
                    period.customer[lines].tolist(),
                    period.segment.values(lines),
                    period.zone.values(lines),
                    period.product.values(lines),
                    kinds.tolist(),
                    amounts[report].tolist(),
                    np.where(is_late, arrival[rows] - requested[rows], 0.0).tolist(),
                    strict=True,
                )
            )

    def _queue_backorders(self, period: _Period, i: int, m: int, short: np.ndarray) -> None:
        """Put the backordered lines of ``[i, i + m)`` in their stock point's queue, in arrival
        order (each becomes an order object from here on)."""
        if not self.backorder:
            return
        ks = np.flatnonzero(short[:m] > _EPS)
        if not len(ks):
            return
        orders = self.lines.materialise_served(period, i + ks)
        stocks = period.stock[i + ks].tolist()
        keys = (-period.priority[i + ks] if self.by_priority else np.zeros(len(ks), int)).tolist()
        for order, stock_id, key, remaining in zip(
            orders, stocks, keys, short[ks].tolist(), strict=True
        ):
            self._sequence += 1
            entry = (key, self._sequence, [order, remaining])
            heapq.heappush(self._stock_list[stock_id].queue, entry)

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
        self._order_positions.append(self._served)
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
                    i
                    for i in self.net.inbound_lanes(spec.destination)
                    if self.net.lane(i).src == spec.source
                )
            due = max(0.0, state.day_of(spec.expected_arrival))
            order = _Order(
                spec.id or self._next_id(prefix),
                kind,
                spec.item,
                spec.source,
                spec.destination,
                float(spec.qty),
                0.0,
                due,
                lane=-1 if lane is None else int(lane),
            )
            order.expected_arrival = due
            order.shipped = order.qty
            order.first_ship = 0.0
            self.orders.append(order)
            self._order_positions.append(self._served)
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
            line.id or f"open-{k + 1:06d}",
            _CUSTOMER,
            line.product,
            "" if lane is None else self.net.lane(lane).src,
            line.zone,
            float(line.qty),
            placed,
            placed,
            lane=-1 if lane is None else lane,
            segment=line.segment,
        )
        self.orders.append(order)  # with the supply orders: not one of the stream's lines
        self._order_positions.append(self._served)
        self._event(_PLACED, order, line.zone, order.qty, order.requested)
        if lane is None:
            order.filled_immediately = order.shipped = order.qty
            order.first_ship = 0.0
            self._deliver(order, order.qty)
            return
        self._demand(
            self.stocks[(order.source, line.product)],
            order,
            True,
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
                    id=order.order_id,
                    kind=kind,
                    source=order.source,
                    destination=order.destination,
                    item=order.product,
                    qty=remaining,
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
                            id=order.order_id,
                            zone=order.destination,
                            product=order.product,
                            qty=remaining,
                            segment=order.segment,
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
                known.append(
                    KnownDisruption(kind="supplier_outage", node=window.spec.node, until=until)
                )
            elif window.spec.kind == DisruptionKind.LANE_CLOSURE:
                known.append(
                    KnownDisruption(kind="lane_closure", lane=window.spec.lane, until=until)
                )
        return SupplyState(
            as_of=as_of,
            scenario=self.scenario.name,
            on_hand=on_hand,
            open_orders=tuple(open_orders),
            open_customer_orders=tuple(waiting),
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
        events = self.log.to_frame(sort_by_time=True)
        return {
            "orders": self._orders_table(),
            "events": events,
            "inventory": self._inventory_table(),
        }

    def _orders_table(self) -> pd.DataFrame:
        """Customer lines and supply orders, one row each, in the order they were placed."""
        open_qty: dict[int, float] = {}
        for stock in self.stocks.values():
            for _, _, (order, remaining) in stock.queue:
                open_qty[id(order)] = open_qty.get(id(order), 0.0) + remaining
        rows = []
        for o in self.orders:
            in_transit = o.shipped - o.delivered
            pending = (
                open_qty.get(id(o), 0.0)
                if o.order_type is _TRANSFER
                else (o.qty - o.shipped - o.lost)
            )
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
        supply = list(zip(*rows, strict=True)) if rows else [()] * len(ORDER_TABLE_COLUMNS)
        supply_columns = dict(zip(ORDER_TABLE_COLUMNS, supply, strict=True))
        c = self.lines.columns()
        n = len(c["qty"])
        waiting = np.zeros(n)
        for index, order in self.lines.objects.items():
            waiting[index] = open_qty.get(id(order), 0.0)
        in_transit = c["shipped"] - c["delivered"]
        status = np.select(
            [
                waiting > _EPS,
                in_transit > _EPS,
                c["lost"] >= c["qty"] - _EPS,
                c["lost"] > _EPS,
            ],
            [0, 1, 2, 3],
            4,
        )
        status_labels = pa.array(
            ["backordered", "in_transit", "lost", "partially_delivered", "delivered"],
            type=pa.large_string(),
        )
        customer: dict[str, Any] = {
            "order_id": c["order_id"],
            "order_type": [(np.zeros(n, dtype=np.int64), self._customer_label)],
            "product": c["product"],
            "source": c["source"],
            "destination": c["destination"],
            "lane": c["lane"],
            "segment": c["segment"],
            "customer": c["customer"],
            "campaign": c["campaign"],
            "qty": c["qty"],
            "placed_time": c["placed"],
            "requested_time": c["requested"],
            "filled_immediately": c["filled"],
            "shipped_qty": c["shipped"],
            "delivered_qty": c["delivered"],
            "in_transit_qty": in_transit,
            "lost_qty": c["lost"],
            "open_qty": waiting,
            "first_ship_time": c["first_ship"],
            "last_delivery_time": c["last_delivery"],
            "expected_arrival": c["expected"],
            "status": [(status, status_labels)],
            "on_time": (c["delivered"] >= c["qty"] - _EPS)
            & (c["last_delivery"] <= c["requested"] + _EPS),
        }
        # supply order k was placed after the first positions[k] customer lines
        keys = np.concatenate(
            [2 * np.arange(n) + 1, 2 * np.asarray(self._order_positions, dtype=np.int64)]
        )
        order = np.argsort(keys, kind="stable")
        dtypes = {"lane": np.int64, "customer": np.int64, "on_time": bool}
        frame = pd.DataFrame(
            {
                name: join_coded(
                    [*values, coded(supply_columns[name])],
                    order,
                    categorical=name in CATEGORY_COLUMNS,
                )
                if isinstance(values, list)
                else np.concatenate(
                    [values, np.asarray(supply_columns[name], dtype=dtypes.get(name, float))]
                )[order]
                for name, values in customer.items()
            }
        )
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
