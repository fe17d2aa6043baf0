"""A supply chain's state on one date: the starting point of a risk forecast or a re-plan.

A state file (YAML) says what is on hand, what has been ordered and not yet received, which
customer orders are still open, which B2B deals may close, and which disruptions are known to be
under way — everything an ERP knows on the morning of ``as_of``. ``tandem run --snapshot-at
DATE`` writes one from a simulation, so the whole loop is testable without real ERP data;
docs/state-format.md documents it for users who bring their own.

Dates are calendar dates; :class:`SupplyState` converts them to days after ``as_of`` (day 0 is
the state's date). :func:`check_state` checks a state against a scenario and lists every problem
at once with its field path.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scenarios.errors import Problem, ScenarioError
from scenarios.loader import (
    read_yaml_mapping,
    scenario_from_dict,
    scenario_to_dict,
    validation_problems,
)
from scenarios.network import SupplyNetwork
from scenarios.schema import NodeKind, ProductKind, Scenario

__all__ = [
    "KnownDisruption",
    "OpenCustomerOrder",
    "OpenDeal",
    "OpenSupplyOrder",
    "SupplyOrderKind",
    "SupplyState",
    "check_state",
    "load_state",
    "scenario_at",
    "state_from_dict",
    "state_to_yaml",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SupplyOrderKind(StrEnum):
    """What an open supply order is."""

    PURCHASE = "purchase"
    TRANSFER = "transfer"
    PRODUCTION = "production"


class OpenSupplyOrder(_Model):
    """A purchase, transfer or production order placed and not yet received in full."""

    id: str | None = Field(None, description="Order id (kept in the simulation's order log).")
    kind: SupplyOrderKind = Field(..., description="purchase, transfer or production.")
    source: str = Field(..., description="Supplier, shipping stock point or producing plant.")
    destination: str = Field(
        ..., description="Stock point receiving it (the plant for production)."
    )
    item: str = Field(..., description="Item ordered.")
    qty: float = Field(..., gt=0, description="Units still to arrive.")
    expected_arrival: dt.date = Field(..., description="Date it is expected to be received.")
    lane: int | None = Field(
        None, ge=0, description="Lane index (default: the lane source → destination)."
    )


class OpenCustomerOrder(_Model):
    """A customer order line accepted and not yet shipped (a backorder)."""

    id: str | None = Field(None, description="Order id.")
    zone: str = Field(..., description="Customer zone.")
    product: str = Field(..., description="Product.")
    qty: float = Field(..., gt=0, description="Units still to ship.")
    placed: dt.date | None = Field(None, description="Date placed (default: as_of).")
    segment: str = Field("", description="Customer segment (for priority allocation).")


class OpenDeal(_Model):
    """A B2B deal in the pipeline: ``qty`` ordered on ``expected_close`` with ``probability``."""

    name: str = Field("", description="Deal name.")
    zone: str = Field(..., description="Customer zone that would order.")
    product: str = Field(..., description="Product.")
    qty: float = Field(..., gt=0, description="Units if won.")
    probability: float = Field(..., ge=0, le=1, description="Probability of winning.")
    expected_close: dt.date = Field(..., description="Date the order would be placed.")


class KnownDisruption(_Model):
    """A disruption under way on ``as_of`` whose end is announced (an outage or a lane closure)."""

    kind: str = Field(..., description="supplier_outage or lane_closure.")
    node: str | None = Field(None, description="Supplier (supplier_outage).")
    lane: int | None = Field(None, ge=0, description="Lane index (lane_closure).")
    until: dt.date = Field(..., description="First date it is over.")


class SupplyState(_Model):
    """Where a supply chain stands on the morning of ``as_of``."""

    as_of: dt.date = Field(..., description="Date of the state (day 0 of what follows).")
    scenario: str | None = Field(None, description="Scenario it belongs to (informational).")
    on_hand: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Stock point → item → units on hand (left out: 0)."
    )
    open_orders: tuple[OpenSupplyOrder, ...] = Field((), description="Supply orders on their way.")
    open_customer_orders: tuple[OpenCustomerOrder, ...] = Field(
        (), description="Customer order lines not yet shipped."
    )
    deals: tuple[OpenDeal, ...] = Field((), description="Open B2B deals.")
    disruptions: tuple[KnownDisruption, ...] = Field((), description="Disruptions under way.")

    def day_of(self, date: dt.date) -> float:
        """Days from ``as_of`` to ``date`` (negative: before the state's date)."""
        return float((date - self.as_of).days)

    def total_on_hand(self) -> float:
        return float(sum(sum(items.values()) for items in self.on_hand.values()))


def state_from_dict(
    data: Any, scenario: Scenario | None = None, source: str | None = None
) -> SupplyState:
    """Validate raw data into a :class:`SupplyState` (and against ``scenario`` when given)."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("", "a state file must be a mapping of fields")], source=source
        )
    try:
        state = SupplyState.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data), source=source) from None
    if scenario is not None:
        problems = check_state(state, scenario)
        if problems:
            raise ScenarioError(problems, source=source)
    return state


def load_state(path: str | Path, scenario: Scenario | None = None) -> SupplyState:
    """Read a state file (YAML); every problem is reported at once with its field path."""
    path = Path(path)
    data = read_yaml_mapping(path, what="a state file")
    return state_from_dict(data, scenario, source=str(path))


def state_to_yaml(state: SupplyState) -> str:
    """The state as YAML (dates ISO, defaults left out)."""
    data = state.model_dump(mode="json", exclude_defaults=True)
    data["as_of"] = state.as_of.isoformat()
    return yaml.safe_dump(data, sort_keys=False)


def check_state(state: SupplyState, scenario: Scenario) -> list[Problem]:
    """Problems of ``state`` against ``scenario``: unknown nodes, items not stocked there, lanes
    that do not connect the order's ends, products not sold, disruptions without their target."""
    net = SupplyNetwork(scenario)
    stock_points = set(net.stock_points)
    problems: list[Problem] = []
    for node, items in state.on_hand.items():
        if node not in stock_points:
            problems.append(Problem(f"on_hand.{node}", "not a stock point of the scenario"))
            continue
        stocked = set(net.items_at(node))
        for item, qty in items.items():
            if item not in stocked:
                problems.append(
                    Problem(f"on_hand.{node}.{item}", f"'{item}' is not stocked at '{node}'")
                )
            elif not qty >= 0:
                problems.append(Problem(f"on_hand.{node}.{item}", f"must be >= 0 (got {qty})"))
    for k, order in enumerate(state.open_orders):
        where = f"open_orders[{k}]"
        if order.destination not in stock_points:
            problems.append(
                Problem(f"{where}.destination", f"'{order.destination}' is not a stock point")
            )
            continue
        if order.item not in net.items_at(order.destination):
            problems.append(
                Problem(f"{where}.item", f"'{order.item}' is not stocked at '{order.destination}'")
            )
            continue
        if order.kind == SupplyOrderKind.PRODUCTION:
            if order.source != order.destination or net.kind(order.source) != NodeKind.PLANT:
                problems.append(
                    Problem(
                        f"{where}.source",
                        "production is received at its plant: source = destination = a plant",
                    )
                )
            continue
        lanes = [i for i in net.inbound_lanes(order.destination) if net.lane(i).src == order.source]
        if order.lane is not None:
            if order.lane not in net.valid_lanes() or order.lane not in lanes:
                problems.append(
                    Problem(
                        f"{where}.lane",
                        f"lane {order.lane} does not run {order.source} → {order.destination}",
                    )
                )
        elif not lanes:
            problems.append(
                Problem(
                    f"{where}.source", f"no lane from '{order.source}' to '{order.destination}'"
                )
            )
        if order.source in scenario.nodes:
            is_supplier = net.kind(order.source) == NodeKind.SUPPLIER
            if is_supplier != (order.kind == SupplyOrderKind.PURCHASE):
                problems.append(
                    Problem(
                        f"{where}.kind",
                        "purchases come from suppliers, transfers from stock points",
                    )
                )
    zones = set(net.nodes_of(NodeKind.CUSTOMER_ZONE))
    for field, entries in (
        ("open_customer_orders", state.open_customer_orders),
        ("deals", state.deals),
    ):
        for k, entry in enumerate(entries):
            if entry.zone not in zones:
                problems.append(
                    Problem(f"{field}[{k}].zone", f"'{entry.zone}' is not a customer zone")
                )
            product = scenario.products.get(entry.product)
            if product is None or product.kind == ProductKind.COMPONENT:
                problems.append(
                    Problem(f"{field}[{k}].product", f"'{entry.product}' is not a product sold")
                )
    for k, deal in enumerate(state.deals):
        if deal.expected_close < state.as_of:
            problems.append(
                Problem(
                    f"deals[{k}].expected_close",
                    "before as_of: a deal in the past has closed or is lost",
                )
            )
    for k, known in enumerate(state.disruptions):
        where = f"disruptions[{k}]"
        if known.kind == "supplier_outage":
            if (
                known.node is None
                or known.node not in scenario.nodes
                or net.kind(known.node) != NodeKind.SUPPLIER
            ):
                problems.append(
                    Problem(f"{where}.node", "a supplier_outage needs the supplier's id")
                )
        elif known.kind == "lane_closure":
            if known.lane is None or known.lane not in net.valid_lanes():
                problems.append(Problem(f"{where}.lane", "a lane_closure needs a valid lane index"))
        else:
            problems.append(
                Problem(
                    f"{where}.kind", f"must be supplier_outage or lane_closure (got '{known.kind}')"
                )
            )
        if known.until <= state.as_of:
            problems.append(
                Problem(f"{where}.until", "must be after as_of (a disruption over is not a state)")
            )
    return problems


def scenario_at(scenario: Scenario, state: SupplyState, horizon_days: int) -> Scenario:
    """``scenario`` restarted at the state: it starts on ``as_of`` and runs ``horizon_days``, its
    stock points hold the state's on-hand (nothing else), and the state's known disruptions are
    added as scheduled ones (so the simulation keeps the supplier down until the announced date).
    Open orders are not part of a scenario: pass the state to the simulation as well."""
    data = scenario_to_dict(scenario)
    data["start_date"] = state.as_of.isoformat()
    data["horizon_days"] = int(horizon_days)
    net = SupplyNetwork(scenario)
    for node in net.stock_points:
        data["nodes"][node]["initial_inventory"] = {
            item: float(qty) for item, qty in state.on_hand.get(node, {}).items() if qty > 0
        }
    for k, known in enumerate(state.disruptions):
        entry: dict[str, Any] = {
            "name": f"known {known.kind} {k + 1}",
            "kind": known.kind,
            "start": state.as_of.isoformat(),
            "duration_days": float((known.until - state.as_of).days),
        }
        if known.kind == "supplier_outage":
            entry["node"] = known.node
        else:
            entry["lane"] = known.lane
        data.setdefault("disruptions", []).append(entry)
    return scenario_from_dict(data, source=f"{scenario.name} at {state.as_of}")
