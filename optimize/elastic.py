"""Infeasibility diagnosis: an elastic re-solve that says which hard constraints had to break.

When HiGHS proves a planning model infeasible, :func:`diagnose_infeasibility` rebuilds it from
the same :class:`~optimize.data.PlanningData` and makes the hard rows a user can over-constrain
elastic: every row ``lo ≤ a·x ≤ hi`` of the families in :data:`ELASTIC_FAMILIES` becomes
``lo ≤ a·x + s⁺ − s⁻ ≤ hi`` with ``s⁺, s⁻ ≥ 0``, and the objective becomes the total violation
``Σ (s⁺ + s⁻)`` (the phase-one "elastic programming" of Brown & Graves 1975; Chinneck,
*Feasibility and Infeasibility in Optimization*, Springer 2008, ch. 6, "elastic filter"). The rows
with positive slack are the broken constraints; the slack is the amount, in units.

Note on the model: as built in :mod:`optimize.model` the planning model is feasible by
construction for any valid scenario and state — backlog or lost sales absorb any shortfall, MOQ
and order multiples allow ordering nothing, storage capacity is soft, and every variable bound is
≥ 0. Infeasibility therefore only arises from data that bypassed validation (e.g. a negative
starting stock or capacity in a hand-made :class:`PlanningData`) or from future hard rows
(safety stock as a hard floor, fixed commitments). The diagnosis covers those cases and is
tested by forcing them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyomo.environ as pyo

from optimize.data import PlanningData
from optimize.model import build_plan_model
from optimize.plan import DIAGNOSIS_COLUMNS, SolveStatus, empty_table
from optimize.solve import solve
from scenarios.schema import SolverSettings

__all__ = [
    "ELASTIC_FAMILIES",
    "VIOLATION_TOL",
    "diagnose_infeasibility",
    "elastic_model",
    "is_diagnosable",
]

ELASTIC_FAMILIES: dict[str, str] = {
    "supplier_capacity": "supplier capacity",
    "lane_capacity": "lane capacity",
    "plant_capacity": "plant capacity",
    "moq_low": "minimum order quantity",
    "order_multiple": "order multiple",
    "production_batch": "production batch size",
    "inventory_balance": "stock balance (starting stock, pipeline, receipts and issues)",
    "backlog_balance": "demand/backlog balance",
    "lost_sales_balance": "demand/lost-sales balance",
}
"""Constraint component → words for it; the rows made elastic."""

VIOLATION_TOL = 1e-6
"""Slack at or below this (units) is not a violation."""


def elastic_model(data: PlanningData) -> pyo.ConcreteModel:
    """The planning model of ``data`` with the :data:`ELASTIC_FAMILIES` rows made elastic and
    the total violation as the objective (pure: ``data`` is only read)."""
    model = build_plan_model(data)
    rows: list[tuple[str, tuple[object, ...], pyo.ConstraintData]] = []
    for name in ELASTIC_FAMILIES:
        component = getattr(model, name, None)
        if component is None:
            continue
        for index, row in component.items():
            key = index if isinstance(index, tuple) else (index,)
            rows.append((name, key, row))
    model.ELASTIC = pyo.Set(initialize=range(len(rows)), ordered=True)
    model.slack_up = pyo.Var(model.ELASTIC, within=pyo.NonNegativeReals)
    model.slack_down = pyo.Var(model.ELASTIC, within=pyo.NonNegativeReals)
    model.elastic_rows = pyo.ConstraintList()
    for k, (_name, _key, row) in enumerate(rows):
        body = row.body + model.slack_up[k] - model.slack_down[k]
        lower, upper = row.lower, row.upper
        row.deactivate()
        if row.equality:
            model.elastic_rows.add(body == upper)
        else:
            if lower is not None:
                model.elastic_rows.add(body >= lower)
            if upper is not None:
                model.elastic_rows.add(body <= upper)
    model.elastic_where = [(name, key) for name, key, _ in rows]
    model.total_cost.deactivate()
    model.violation = pyo.Objective(
        expr=sum(model.slack_up[k] + model.slack_down[k] for k in model.ELASTIC)
    )
    return model


def _describe(name: str, key: Sequence[object], bucket: int, day: int, amount: float) -> str:
    what = ELASTIC_FAMILIES[name]
    parts = [str(k) for k in key[:-1]]
    if name == "lane_capacity":
        where = f"lane {parts[0]}"
    elif len(parts) == 2:
        where = f"{parts[1]} at {parts[0]}"
    else:
        where = ", ".join(parts)
    verb = {
        "supplier_capacity": "exceeded",
        "lane_capacity": "exceeded",
        "plant_capacity": "exceeded",
        "moq_low": "undercut",
    }.get(name, "broken")
    return f"{what} of {where} in bucket {bucket} (day {day}) {verb} by {amount:,.6g} units"


def diagnose_infeasibility(
    data: PlanningData, settings: SolverSettings | None = None
) -> tuple[pd.DataFrame, str]:
    """Which hard constraints of the planning model of ``data`` must break, where, by how much.

    Returns
    -------
    (table, message)
        ``table`` has the columns :data:`~optimize.plan.DIAGNOSIS_COLUMNS`, one row per broken
        row, largest violation first; ``message`` says it in plain words.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from scenarios import load_scenario
    >>> from crm_model import DemandModel
    >>> s = load_scenario("retailer_holiday", {"horizon_days": 28})
    >>> data = PlanningData.from_scenario(s, DemandModel(s).expected_by_bucket())
    >>> node, item = data.stock_items[0]
    >>> broken = replace(data, on_hand={**data.on_hand, (node, item): -50.0})
    >>> table, message = diagnose_infeasibility(broken)
    >>> float(table["violation"].sum())
    50.0
    """
    model = elastic_model(data)
    result = solve(model, settings)
    if not result.status.has_plan:
        return (
            empty_table(DIAGNOSIS_COLUMNS),
            f"the elastic re-solve found no solution either ({result.message})",
        )
    records = []
    for k, (name, key) in enumerate(model.elastic_where):
        amount = float(pyo.value(model.slack_up[k]) + pyo.value(model.slack_down[k]))
        if amount > VIOLATION_TOL:
            bucket = int(key[-1])  # type: ignore[call-overload]
            day = data.start_day(bucket)
            records.append(
                (
                    name,
                    ", ".join(str(p) for p in key),
                    bucket,
                    day,
                    round(amount, 9),
                    _describe(name, key, bucket, day, amount),
                )
            )
    table = pd.DataFrame.from_records(records, columns=list(DIAGNOSIS_COLUMNS))
    if table.empty:
        return empty_table(DIAGNOSIS_COLUMNS), "the elastic re-solve broke no constraint"
    table = table.sort_values(["violation", "bucket"], ascending=[False, True], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs["unit"] = {"violation": "units", "day": "day"}
    shown = list(table["description"].head(5))
    more = f"; and {len(table) - 5} more" if len(table) > 5 else ""
    message = (
        f"infeasible: {len(table)} hard constraint{'s' * (len(table) != 1)} had to be broken: "
        + "; ".join(shown)
        + more
    )
    return table, message


def is_diagnosable(status: SolveStatus) -> bool:
    """Whether an elastic re-solve can explain ``status`` (only proven infeasibility)."""
    return status is SolveStatus.INFEASIBLE
