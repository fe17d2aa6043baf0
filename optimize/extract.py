"""Turning a solved planning model into a :class:`~optimize.plan.Plan` of tidy tables.

Decision tables (purchases, production, transfers) have one row per non-zero quantity
(> :data:`QTY_TOL`); ``inventory`` has one row per stock point, item and bucket, and ``service``
one per zone, product and bucket. Days follow :mod:`optimize.data`: a release in bucket ``b`` is
on ``b·B``, its due day is the first day of the bucket it is counted in stock, ``(b + L)·B``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression, SumExpression

from optimize.data import PlanningData
from optimize.model import COST_TYPES, without_cyclic_gc
from optimize.plan import PLAN_TABLES, STORAGE_OVERFLOW_COLUMNS, Plan, empty_table
from optimize.solve import SolveResult, model_size
from scenarios.schema import UnmetDemand

__all__ = ["QTY_TOL", "extract_plan"]

QTY_TOL = 1e-9
"""Quantities at or below this are zero: no row in the decision tables."""

_UNITS = {
    "purchases": {
        "qty": "units",
        "unit_price": "currency/unit",
        "release_day": "day",
        "due_day": "day",
    },
    "production": {"qty": "units", "start_day": "day", "finish_day": "day"},
    "transfers": {"qty": "units", "release_day": "day", "due_day": "day"},
    "inventory": {"qty": "units", "day_end": "day"},
    "service": {"demand": "units", "served": "units", "backlog": "units", "lost": "units"},
}


@without_cyclic_gc
def extract_plan(
    model: pyo.ConcreteModel,
    data: PlanningData,
    result: SolveResult,
    *,
    size: Mapping[str, int] | None = None,
    costs: Mapping[str, float] | None = None,
) -> Plan:
    """The plan in a solved ``model`` (checks ``result.status`` first).

    Without a plan (infeasible, no solution, error) the tables are empty and the message says
    why. Numbers are plain floats; costs are in the scenario currency. ``size`` (the model's
    :func:`~optimize.solve.model_size`) and ``costs`` (the value of each ``cost_<type>``
    expression) can be passed by a caller that already knows them (a re-planning session);
    by default they are computed from the model.
    """
    size = model_size(model) if size is None else dict(size)
    if not result.status.has_plan:
        return Plan.without_tables(
            result.status,
            result.message,
            model_size=size,
            solve_seconds=result.seconds,
        )
    tables = {
        "purchases": _purchases(model, data),
        "production": _production(model, data),
        "transfers": _transfers(model, data),
        "inventory": _inventory(model, data),
        "service": _service(model, data),
    }
    for name, frame in tables.items():
        frame.attrs["unit"] = dict(_UNITS[name])
    if costs is None:
        costs = {name: _linear_value(getattr(model, f"cost_{name}")) for name in COST_TYPES}
    costs = {name: _clean(costs[name]) for name in COST_TYPES}
    overflow = _overflow(model, data)
    message = result.message
    if len(overflow):
        worst = overflow.sort_values("overflow", kind="stable").iloc[-1]
        where = f"'{worst['node']}' in bucket {worst['bucket']}"
        message += (
            f"; storage capacity exceeded in {len(overflow)} node-buckets "
            f"(most: {worst['overflow']:.6g} units at {where})"
        )
    return Plan(
        status=result.status,
        objective=None if result.objective is None else float(result.objective),
        tables=tables,
        cost_breakdown=costs,
        model_size=size,
        solve_seconds=result.seconds,
        mip_gap=result.mip_gap,
        message=message,
        storage_overflow=overflow,
    )


def _clean(value: float | None) -> float:
    """A plain float, with solver noise around zero set to zero."""
    number = float(value or 0.0)
    return 0.0 if abs(number) <= QTY_TOL else number


_NUMBERS = (int, float)


def _linear_value(component: pyo.Expression) -> float:
    """The value of a named linear expression: a flat loop over its terms (a cost type sums
    one term per variable, ~10⁵ of them on large plans; ``pyo.value`` walks the expression
    tree generically and takes several times longer). Anything else goes to ``pyo.value``."""
    expr = component.expr
    if expr.__class__ not in (LinearExpression, SumExpression):
        return float(pyo.value(expr))
    total = 0.0
    for term in expr.args:
        if term.__class__ is MonomialTermExpression:
            coef, var = term.args
            value = var.value
            if value is None or coef.__class__ not in _NUMBERS:
                return float(pyo.value(expr))
            total += coef * value
        elif term.__class__ in _NUMBERS:
            total += term
        elif term.is_variable_type() and term.value is not None:
            total += term.value
        else:
            total += pyo.value(term)
    return total


def _values(var: pyo.Var) -> dict[Any, float]:
    return {k: _clean(v) for k, v in var.extract_values().items()}


def _frame(name: str, rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    columns = PLAN_TABLES[name]
    if not rows:
        return empty_table(columns)
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.sort_values("bucket", kind="stable").reset_index(drop=True)


def _flow_rows(
    model: pyo.ConcreteModel, data: PlanningData, purchases: bool
) -> list[tuple[Any, ...]]:
    movement = {(mv.lane, mv.item): mv for mv in data.movements}
    rows: list[tuple[Any, ...]] = []
    for (lane, item, b), qty in _values(model.flow).items():
        mv = movement[(lane, item)]
        if qty <= QTY_TOL or mv.is_purchase != purchases:
            continue
        release = data.start_day(b)
        due = data.start_day(b + mv.lead_buckets)
        if purchases:
            rows.append((lane, mv.supplier, mv.dst, item, b, release, due, qty, mv.unit_price))
        else:
            rows.append((lane, mv.src, mv.dst, item, b, release, due, qty))
    return rows


def _purchases(model: pyo.ConcreteModel, data: PlanningData) -> pd.DataFrame:
    return _frame("purchases", _flow_rows(model, data, purchases=True))


def _transfers(model: pyo.ConcreteModel, data: PlanningData) -> pd.DataFrame:
    return _frame("transfers", _flow_rows(model, data, purchases=False))


def _production(model: pyo.ConcreteModel, data: PlanningData) -> pd.DataFrame:
    lead = {(o.plant, o.product): o.lead_buckets for o in data.productions}
    rows = [
        (plant, product, b, data.start_day(b), data.start_day(b + lead[(plant, product)]), qty)
        for (plant, product, b), qty in _values(model.make).items()
        if qty > QTY_TOL
    ]
    return _frame("production", rows)


def _inventory(model: pyo.ConcreteModel, data: PlanningData) -> pd.DataFrame:
    rows = [
        (node, item, b, data.day_end(b), max(qty, 0.0))
        for (node, item, b), qty in _values(model.inv).items()
    ]
    return _frame("inventory", rows)


def _service(model: pyo.ConcreteModel, data: PlanningData) -> pd.DataFrame:
    served = _values(model.served)
    backorder = data.unmet_demand is UnmetDemand.BACKORDER
    backlog = _values(model.backlog) if backorder else {}
    lost = {} if backorder else _values(model.lost)
    rows = []
    for link in data.customers:
        for b in range(data.n_buckets):
            key = (link.zone, link.item, b)
            rows.append(
                (
                    link.zone,
                    link.node,
                    link.item,
                    b,
                    data.demand.get(key, 0.0),
                    max(served.get(key, 0.0), 0.0),
                    max(backlog.get(key, 0.0), 0.0),
                    max(lost.get(key, 0.0), 0.0),
                )
            )
    return _frame("service", rows)


def _overflow(model: pyo.ConcreteModel, data: PlanningData) -> pd.DataFrame:
    inventory = _values(model.inv)
    on_hand: dict[tuple[str, int], float] = {}
    for (node, _, b), qty in inventory.items():
        on_hand[(node, b)] = on_hand.get((node, b), 0.0) + qty
    rows = [
        (node, b, data.day_end(b), data.storage_capacity[node], on_hand[(node, b)], qty)
        for (node, b), qty in _values(model.overflow).items()
        if qty > QTY_TOL
    ]
    if not rows:
        return empty_table(STORAGE_OVERFLOW_COLUMNS)
    frame = pd.DataFrame(rows, columns=list(STORAGE_OVERFLOW_COLUMNS))
    frame.attrs["unit"] = {"capacity": "units", "on_hand": "units", "overflow": "units"}
    return frame
