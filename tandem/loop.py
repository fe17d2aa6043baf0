"""The sim–opt loop: a plan re-solved from the simulated state during the run (rolling horizon).

Every ``every_days`` the simulation hands its state (:meth:`sim.Simulation.snapshot_state`) to a
:class:`RollingPlanner`, which turns it into a :class:`optimize.PlanningState` (on-hand, open
orders by arrival bucket, open backorders, outages under way with their announced end), cuts a
window of ``horizon_days`` out of the CRM forecast, corrects it with the demand observed over the
last ``lookback_days`` (per zone and product, ratio of observed to forecast units, clipped to
[0.5, 2]), re-solves the plan and returns its releases; the engine drops the old plan's pending
releases and follows the new one. The window stops at the end of the scenario's horizon, so a
rolling plan sees no demand the static plan does not see.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import optimize
import sim
from crm_model import DemandModel
from crm_model.stream import OrderStream, WrappedStream
from optimize.plan import Plan
from scenarios import Scenario
from scenarios.errors import Problem, ScenarioError
from scenarios.network import SupplyNetwork
from scenarios.schema import NodeKind
from scenarios.state import SupplyState

__all__ = [
    "ObservedStream",
    "ReplanSpec",
    "RollingPlanner",
    "cumulative_lead_days",
    "daily_forecast",
    "parse_days",
    "planning_state",
    "window_demand",
]

_UNITS = {"d": 1, "w": 7}


def parse_days(text: str, where: str) -> int:
    """Days in ``7d`` / ``12w`` / ``30`` (days); a ScenarioError naming ``where`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", text)
    if not match:
        raise ScenarioError(
            [Problem(where, f"'{text}' is not a duration like 7d or 12w")], source="--replan"
        )
    return int(match.group(1)) * _UNITS[match.group(2) or "d"]


@dataclass(frozen=True)
class ReplanSpec:
    """How often to re-plan and how far each plan looks ahead (days)."""

    every_days: int = 7
    horizon_days: int = 84
    lookback_days: int = 28
    """Days of observed demand the forecast correction looks back on."""

    @classmethod
    def parse(cls, text: str) -> ReplanSpec:
        """From ``every=7d,horizon=12w[,lookback=4w]`` (``d`` days, ``w`` weeks).

        >>> ReplanSpec.parse("every=7d,horizon=12w")
        ReplanSpec(every_days=7, horizon_days=84, lookback_days=28)
        """
        values: dict[str, int] = {}
        problems = []
        names = {"every": "every_days", "horizon": "horizon_days", "lookback": "lookback_days"}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, raw = part.partition("=")
            if key.strip() not in names or not raw:
                problems.append(
                    Problem(f"--replan {part}", "expected every=…, horizon=… or lookback=…")
                )
                continue
            values[names[key.strip()]] = parse_days(raw, f"--replan {key.strip()}")
        spec = cls(**values)
        if spec.every_days < 1:
            problems.append(Problem("--replan every", "must be at least 1 day"))
        if spec.horizon_days < spec.every_days:
            problems.append(Problem("--replan horizon", "must be at least the re-plan period"))
        if problems:
            raise ScenarioError(problems, source="--replan")
        return spec


def cumulative_lead_days(scenario: Scenario) -> float:
    """The longest mean lead time from a supplier order to a customer zone: lane lead times
    (supplier lead time included) plus production lead times of the plants on the way — each
    step rounded up to whole planning buckets, as the plan sees it. Paths of at most as many
    lanes as there are nodes count (a network with cycles gets a longer, safe, window)."""
    from optimize.data import lead_buckets

    net = SupplyNetwork(scenario)
    days = scenario.bucket.days
    step: dict[tuple[str, str], float] = {}
    for move in net.lane_movements():
        lead = float(lead_buckets(move.lead_time_days, days) * days)
        if net.kind(move.src) == NodeKind.PLANT:
            production = scenario.nodes[move.src].production_lead_time_days
            lead += lead_buckets(float(production), days) * days
        step[(move.src, move.dst)] = max(step.get((move.src, move.dst), 0.0), lead)
    longest: dict[str, float] = {}
    for _ in range(len(scenario.nodes)):  # longest paths by repeated relaxation
        for (src, dst), lead in step.items():
            longest[dst] = max(longest.get(dst, 0.0), longest.get(src, 0.0) + lead)
    zones = net.nodes_of(NodeKind.CUSTOMER_ZONE)
    return max((longest.get(z, 0.0) for z in zones), default=0.0)


def daily_forecast(scenario: Scenario) -> pd.DataFrame:
    """Expected units per ``day, zone, product`` over the horizon (the CRM forecast)."""
    table = DemandModel(scenario).expected()
    return table.groupby(["day", "zone", "product"], as_index=False)["units"].sum()


def window_demand(
    daily: pd.DataFrame,
    start_day: int,
    n_days: int,
    bucket_days: int,
    correction: dict[tuple[str, str], float] | None = None,
) -> pd.DataFrame:
    """The forecast of days ``[start_day, start_day + n_days)`` per bucket of the window
    (``bucket, zone, product, units``), scaled per (zone, product) by ``correction``."""
    rows = daily[(daily["day"] >= start_day) & (daily["day"] < start_day + n_days)]
    frame = rows.assign(bucket=(rows["day"] - start_day) // bucket_days)
    frame = frame.groupby(["bucket", "zone", "product"], as_index=False)["units"].sum()
    if correction:
        factor = [
            correction.get((z, p), 1.0)
            for z, p in zip(frame["zone"], frame["product"], strict=True)
        ]
        frame["units"] = frame["units"].to_numpy() * np.asarray(factor, dtype=float)
    return frame


def planning_state(state: SupplyState, bucket_days: int) -> optimize.PlanningState:
    """A simulated or user state as the optimizer's starting state: on-hand, open supply orders
    by arrival bucket (overdue ones in bucket 0), open backorders per zone and product, known
    outages and closures as days from the state's date."""
    on_hand = {
        (node, item): float(qty)
        for node, items in state.on_hand.items()
        for item, qty in items.items()
    }
    pipeline = []
    for order in state.open_orders:
        arrival = max(0.0, state.day_of(order.expected_arrival))
        pipeline.append(
            (order.destination, order.item, int(arrival // bucket_days), float(order.qty))
        )
    backlog: dict[tuple[str, str], float] = {}
    for line in state.open_customer_orders:
        key = (line.zone, line.product)
        backlog[key] = backlog.get(key, 0.0) + float(line.qty)
    down = {}
    closed = {}
    for known in state.disruptions:
        until = state.day_of(known.until)
        if known.kind == "supplier_outage" and known.node is not None:
            down[known.node] = max(until, down.get(known.node, 0.0))
        elif known.kind == "lane_closure" and known.lane is not None:
            closed[known.lane] = max(until, closed.get(known.lane, 0.0))
    return optimize.PlanningState(
        on_hand=on_hand,
        pipeline=tuple(pipeline),
        backlog=backlog,
        supplier_down_until=down,
        lane_closed_until=closed,
    )


class ObservedStream(WrappedStream):
    """Wraps the simulation's order stream and keeps the units it handed out per day, zone and
    product, so a planner can compare the demand observed so far with the forecast."""

    def __init__(self, inner: OrderStream) -> None:
        super().__init__(inner)
        self._daily: list[pd.DataFrame] = []

    def next_orders(self, start: float, end: float) -> pd.DataFrame:
        frame = self.inner.next_orders(start, end)
        if len(frame):
            day = np.floor(frame["time"].to_numpy())
            daily = frame[["zone", "product", "qty"]].assign(day=day)
            self._daily.append(
                daily.groupby(["day", "zone", "product"], as_index=False)["qty"].sum()
            )
        return frame

    def units(self, start: int, end: int) -> dict[tuple[str, str], float]:
        """Units ordered per (zone, product) on days ``start ≤ day < end``."""
        if not self._daily:
            return {}
        if len(self._daily) > 1:
            self._daily = [pd.concat(self._daily, ignore_index=True)]
        lines = self._daily[0]
        lines = lines[(lines["day"] >= start) & (lines["day"] < end)]
        return lines.groupby(["zone", "product"])["qty"].sum().to_dict()


@dataclass
class RollingPlanner:
    """Re-solves the plan from the simulated state (the ``decide`` of a :class:`sim.Control`)."""

    scenario: Scenario
    spec: ReplanSpec
    daily: pd.DataFrame
    stream: ObservedStream | None = None
    solves: list[dict[str, Any]] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    """How each re-plan reached HiGHS (:attr:`optimize.PlanningSession.last_route`)."""
    horizon_days: int = 0
    """The window each re-plan looks at: the spec's horizon, extended when it is shorter than
    the longest cumulative lead time + the re-plan period + one bucket (a shorter window cannot
    see the demand that orders placed now serve, and would starve the network)."""

    def __post_init__(self) -> None:
        needed = (
            cumulative_lead_days(self.scenario) + self.spec.every_days + self.scenario.bucket.days
        )
        self.horizon_days = int(max(self.spec.horizon_days, needed))
        self._sessions: dict[int, optimize.PlanningSession] = {}

    def control(self) -> sim.Control:
        return sim.Control(every_days=float(self.spec.every_days), decide=self.decide)

    def correction(self, day: int) -> dict[tuple[str, str], float]:
        """Observed ÷ forecast units per (zone, product) over the last ``lookback_days``."""
        if self.stream is None or day <= 0:
            return {}
        start = max(0, day - self.spec.lookback_days)
        observed = self.stream.units(start, day)
        past = self.daily[(self.daily["day"] >= start) & (self.daily["day"] < day)]
        expected = past.groupby(["zone", "product"])["units"].sum().to_dict()
        return {
            key: float(np.clip(observed.get(key, 0.0) / units, 0.5, 2.0))
            for key, units in expected.items()
            if units > 0
        }

    def window(self, day: int) -> Scenario:
        n_days = min(self.horizon_days, self.scenario.horizon_days - day)
        start = self.scenario.start_date + pd.Timedelta(days=day).to_pytimedelta()
        return self.scenario.model_copy(update={"start_date": start, "horizon_days": n_days})

    def plan(self, day: int, state: SupplyState) -> Plan:
        """Re-solve from ``state`` on day ``day``. The model stays loaded in HiGHS between
        re-plans of the same window length (:class:`optimize.PlanningSession`: only bounds and
        right-hand sides change, warm-started); the start date does not enter the model."""
        window = self.window(day)
        demand = window_demand(
            self.daily, day, window.horizon_days, window.bucket.days, self.correction(day)
        )
        session = self._sessions.get(window.horizon_days)
        if session is None:
            session = self._sessions[window.horizon_days] = optimize.PlanningSession(window)
        plan = session.plan(demand, planning_state(state, window.bucket.days))
        self.routes.append(session.last_route)
        return plan

    def decide(self, day: float, state: SupplyState) -> sim.ReleaseSchedule | None:
        started = time.perf_counter()
        plan = self.plan(int(day), state)
        self.solves.append(
            {
                "day": int(day),
                "horizon_days": self.horizon_days,
                "route": self.routes[-1] if self.routes else "",
                "status": str(plan.status),
                "objective": plan.objective,
                "seconds": time.perf_counter() - started,
            }
        )
        if not plan.status.has_plan:
            return None  # keep following the previous plan
        return shifted_schedule(plan, int(day))


def shifted_schedule(plan: Plan, day: int) -> sim.ReleaseSchedule:
    """The plan's releases with days counted from the run's start instead of the window's."""
    tables = {}
    for name, columns in (
        ("purchases", ("release_day", "due_day")),
        ("transfers", ("release_day", "due_day")),
        ("production", ("start_day", "finish_day")),
    ):
        frame = plan.table(name)
        if len(frame):
            frame = frame.assign(**{c: frame[c] + day for c in columns})
        tables[name] = frame
    return sim.ReleaseSchedule.from_tables(tables)
