"""Re-planning one scenario many times: a :class:`PlanningSession` keeps the model loaded in HiGHS.

A rolling horizon (issue #8) solves the same planning model again and again from a new state —
stock on hand, pipeline, open backorders, a new demand window. Only numbers change: right-hand
sides, bounds, and (with fixed costs) big-M coefficients. The session builds and compiles the
Pyomo model once, keeps it loaded in one ``highspy.Highs``, and on later calls changes only
what differs, then re-solves from where the last solve ended (the simplex basis of an LP; the
previous plan as a MIP start). Three routes, chosen per call:

``update`` (no Pyomo work)
    Same structure (every field of :class:`~optimize.data.PlanningData` except the state,
    the demand and what is derived from them) and no fixed costs, MOQs, order multiples or
    batch sizes (the only places where demand enters coefficients): the new right-hand sides of
    the stock, backlog/lost-sales and safety-stock rows and the new ``flow`` bounds are computed
    from the new data and pushed with ``changeRowsBounds`` / ``changeColsBounds``. The formulas
    are checked against the compiled model when it is first built; if they ever disagree (the
    model changed), the session never takes this route.
``rebuild-update``
    Otherwise the Pyomo model is rebuilt and compiled; when the arrays have the same shape,
    sparsity and integrality as the loaded ones, only the entries that differ are pushed
    (bounds, costs, ``changeCoeff`` for coefficients).
``build``
    First call, or a different structure (e.g. other (zone, product) pairs with demand, a
    different set of safety-stock targets): a full hand-off with ``passModel``.

Every route gives the plan :func:`optimize.plan_supply` gives for the same input (same model,
same solver settings; with alternative optima a warm start may pick another optimal plan).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression, SumExpression

from optimize.data import PlanningData, PlanningState
from optimize.elastic import diagnose_infeasibility, is_diagnosable
from optimize.extract import extract_plan
from optimize.model import COST_TYPES, build_plan_model, without_cyclic_gc
from optimize.plan import Plan, SolveStatus
from optimize.solve import (
    CompiledModel,
    compile_model,
    model_size,
    new_highs,
    pass_model,
    result_of,
    run_highs,
)
from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario

__all__ = ["PlanningSession"]

_STATE_FIELDS = frozenset(
    {
        "on_hand",
        "pipeline",
        "demand",
        "initial_backlog",
        "requirement",
        "remaining_need",
        "safety_stock",
        "supplier_down_until",
        "lane_closed_until",
    }
)
"""PlanningData fields that change from one re-plan to the next without changing the model's
structure (the state, the demand and what is derived from them)."""

_UPDATED_ROWS = (
    "inventory_balance",
    "backlog_balance",
    "lost_sales_balance",
    "safety_stock_target",
)
"""Row families whose bounds the ``update`` route recomputes from the data."""


def _row_constant(data: PlanningData, family: str, key: tuple[Any, ...]) -> float:
    """The right-hand side of one row of :data:`_UPDATED_ROWS` (see :mod:`optimize.model`)."""
    if family == "inventory_balance":
        node, item, b = key
        value = data.pipeline.get(key, 0.0)
        return value + data.on_hand.get((node, item), 0.0) if b == 0 else value
    if family == "backlog_balance":
        zone, item, b = key
        value = data.demand.get(key, 0.0)
        return value + data.initial_backlog.get((zone, item), 0.0) if b == 0 else value
    if family == "lost_sales_balance":
        return data.demand.get(key, 0.0)
    return data.safety_stock[(key[0], key[1])]  # safety_stock_target: inv + below ≥ target


def _structure(data: PlanningData) -> tuple[Any, ...]:
    """Everything in ``data`` that fixes the model's rows, columns and coefficients other than
    through the state and the demand."""
    kept = tuple(
        (f.name, getattr(data, f.name)) for f in fields(data) if f.name not in _STATE_FIELDS
    )
    targets = frozenset(k for k, v in data.safety_stock.items() if v > 0)
    return (*kept, ("safety_stock_keys", targets))


def _has_data_dependent_coefficients(data: PlanningData) -> bool:
    """Fixed costs, MOQs, order multiples and batch sizes put demand into coefficients and
    integer bounds (big-M links), which the ``update`` route does not recompute."""
    return bool(
        data.supplier_order_cost
        or data.lane_shipment_cost
        or data.moq
        or data.order_multiple
        or any(o.batch_size for o in data.productions)
    )


@dataclass
class _Layout:
    """Where the ``update`` route writes: rows of :data:`_UPDATED_ROWS` and ``flow`` columns."""

    rows: np.ndarray
    row_family: list[str]
    row_key: list[tuple[Any, ...]]
    row_side: np.ndarray
    flow_columns: np.ndarray
    flow_keys: list[tuple[int, str, int]]

    @classmethod
    def of(cls, compiled: CompiledModel) -> _Layout:
        rows: list[int] = []
        family: list[str] = []
        keys: list[tuple[Any, ...]] = []
        sides: list[int] = []
        wanted = set(_UPDATED_ROWS)
        for r, (row, side) in enumerate(compiled.rows):
            name = row.parent_component().local_name
            if name in wanted:
                rows.append(r)
                family.append(name)
                keys.append(row.index())
                sides.append(side)
        flow_columns: list[int] = []
        flow_keys: list[tuple[int, str, int]] = []
        for j, var in enumerate(compiled.columns):
            if var.parent_component().local_name == "flow":
                flow_columns.append(j)
                flow_keys.append(var.index())
        return cls(
            rows=np.asarray(rows, dtype=np.int32),
            row_family=family,
            row_key=keys,
            row_side=np.asarray(sides, dtype=np.int8),
            flow_columns=np.asarray(flow_columns, dtype=np.int32),
            flow_keys=flow_keys,
        )

    def arrays(self, data: PlanningData, compiled: CompiledModel) -> dict[str, np.ndarray]:
        """``compiled``'s bound arrays with the rows and columns of this layout recomputed."""
        constant = np.fromiter(
            (_row_constant(data, f, k) for f, k in zip(self.row_family, self.row_key, strict=True)),
            dtype=float,
            count=len(self.row_key),
        )
        row_lower = compiled.row_lower.copy()
        row_upper = compiled.row_upper.copy()
        lower_side = self.row_side <= 0
        upper_side = self.row_side >= 0
        row_lower[self.rows[lower_side]] = constant[lower_side]
        row_upper[self.rows[upper_side]] = constant[upper_side]
        movement = {(mv.lane, mv.item): mv for mv in data.movements}
        bounds = np.fromiter(
            (data.flow_bound(movement[(lane, item)], b) for lane, item, b in self.flow_keys),
            dtype=float,
            count=len(self.flow_keys),
        )
        col_upper = compiled.col_upper.copy()
        col_upper[self.flow_columns] = bounds
        return {"row_lower": row_lower, "row_upper": row_upper, "col_upper": col_upper}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=1e-12))


class PlanningSession:
    """Plans one scenario again and again, keeping the model loaded in HiGHS between calls.

    ``plan(demand, state, safety_stock=...)`` has the contract of :func:`optimize.plan_supply`.
    ``builds`` counts full hand-offs (a model passed to HiGHS), ``updates`` re-solves of the
    loaded model after changing only what differed, ``pyomo_builds`` Pyomo models built, and
    ``last_route`` says how the last call went (``"build"``, ``"update"``,
    ``"rebuild-update"`` — see the module docstring — or ``"not_needed"``).

    The scenario is not modified. A session is not thread-safe (one HiGHS instance).

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> from crm_model import DemandModel
    >>> scenario = load_scenario("retailer_holiday", {"horizon_days": 56})
    >>> demand = DemandModel(scenario).expected_by_bucket()
    >>> session = PlanningSession(scenario)
    >>> first = session.plan(demand)
    >>> second = session.plan(demand.assign(units=demand["units"] * 1.1))
    >>> second.status, session.builds, session.updates
    (<SolveStatus.OPTIMAL: 'optimal'>, 1, 1)
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.network = SupplyNetwork(scenario)
        self.builds = 0
        self.updates = 0
        self.pyomo_builds = 0
        self.last_route = ""
        self._highs: Any = None
        self._model: pyo.ConcreteModel | None = None
        self._compiled: CompiledModel | None = None
        self._structure: tuple[Any, ...] | None = None
        self._layout: _Layout | None = None
        self._values: np.ndarray | None = None
        self._size: dict[str, int] | None = None
        self._cost_rows: tuple[sp.csr_matrix, np.ndarray] | None = None

    @without_cyclic_gc
    def plan(
        self,
        demand: pd.DataFrame,
        state: PlanningState | None = None,
        *,
        safety_stock: pd.DataFrame | None = None,
    ) -> Plan:
        """The plan for ``demand`` from ``state`` (see :func:`optimize.plan_supply`)."""
        start = time.perf_counter()
        if not self.network.stock_points:
            self.last_route = "not_needed"
            return Plan.without_tables(
                SolveStatus.NOT_NEEDED, "no stock points: nothing to plan", objective=0.0
            )
        data = PlanningData.from_scenario(self.scenario, demand, state, network=self.network)
        if safety_stock is not None:
            columns = (safety_stock[c] for c in ("node", "item", "safety_stock"))
            targets = {(str(n), str(i)): float(q) for n, i, q in zip(*columns, strict=True)}
            data = data.with_safety_stock(targets)
        structure = _structure(data)
        if self._highs is not None and structure == self._structure and self._layout is not None:
            self._update(data)
        else:
            self._rebuild(data, structure)
        build_seconds = time.perf_counter() - start
        assert self._compiled is not None and self._model is not None
        solve_start = time.perf_counter()
        try:
            if self._compiled.is_mip and self._values is not None and self.last_route != "build":
                self._highs.setSolution(
                    len(self._values),
                    np.arange(len(self._values), dtype=np.int32),
                    self._values,
                )
            outcome = run_highs(self._highs, self._compiled)
        except Exception as exc:  # a solver failure comes back as a status, not a traceback
            self._highs = None  # start afresh next time
            plan = Plan.without_tables(SolveStatus.ERROR, f"HiGHS failed: {exc!r}")
            return replace(plan, build_seconds=build_seconds)
        result = result_of(outcome, self._compiled, solve_start)
        if outcome.values is not None:
            self._values = outcome.values
        costs = None
        if self._cost_rows is not None and outcome.values is not None:
            matrix, constants = self._cost_rows
            totals = matrix @ outcome.values + constants
            costs = dict(zip(COST_TYPES, totals.tolist(), strict=True))
        plan = extract_plan(self._model, data, result, size=self._size, costs=costs)
        if is_diagnosable(result.status):
            diagnosis, message = diagnose_infeasibility(data, self.scenario.solver)
            plan = replace(plan, diagnosis=diagnosis, message=f"{plan.message}; {message}")
        return replace(plan, build_seconds=build_seconds)

    # ----------------------------------------------------------------------------------------

    def _rebuild(self, data: PlanningData, structure: tuple[Any, ...]) -> None:
        """Build and compile the Pyomo model; push only differences when the arrays match."""
        model = build_plan_model(data)
        self.pyomo_builds += 1
        compiled = compile_model(model)
        old = self._compiled
        if self._highs is not None and old is not None and _same_sparsity(old, compiled):
            _push(self._highs, old, compiled)
            self.updates += 1
            self.last_route = "rebuild-update"
        else:
            self._highs = self._highs or new_highs(self.scenario.solver)
            pass_model(self._highs, compiled)
            self.builds += 1
            self.last_route = "build"
            self._values = None
        self._model, self._compiled, self._structure = model, compiled, structure
        self._size = model_size(model)
        self._cost_rows = _cost_rows(model, compiled)
        self._layout = None
        if not _has_data_dependent_coefficients(data):
            layout = _Layout.of(compiled)
            arrays = layout.arrays(data, compiled)
            if all(_same(arrays[name], getattr(compiled, name)) for name in arrays):
                self._layout = layout  # the update formulas reproduce the compiled model

    def _update(self, data: PlanningData) -> None:
        """Same structure, no data-dependent coefficients: new bounds only, no Pyomo work."""
        assert self._compiled is not None and self._layout is not None
        arrays = self._layout.arrays(data, self._compiled)
        new = replace(
            self._compiled,
            row_lower=arrays["row_lower"],
            row_upper=arrays["row_upper"],
            col_upper=arrays["col_upper"],
        )
        _push(self._highs, self._compiled, new)
        self._compiled = new
        self.updates += 1
        self.last_route = "update"


def _cost_rows(
    model: pyo.ConcreteModel, compiled: CompiledModel
) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """One row per cost type with its coefficient on every column, and its constant, so that a
    re-plan's cost breakdown is one sparse product with the solution; None when a cost
    expression is not a flat sum of constants and ``coefficient × variable`` terms
    (``extract_plan`` then evaluates the expressions)."""
    rows: list[int] = []
    cols: list[int] = []
    coefs: list[float] = []
    constants = np.zeros(len(COST_TYPES))
    for r, name in enumerate(COST_TYPES):
        expr = getattr(model, f"cost_{name}").expr
        terms = expr.args if expr.__class__ in (LinearExpression, SumExpression) else (expr,)
        for term in terms:
            if term.__class__ in (int, float):
                constants[r] += term
                continue
            if term.__class__ is MonomialTermExpression:
                coef, var = term.args
            elif term.is_variable_type():
                coef, var = 1.0, term
            elif term.is_constant():
                constants[r] += pyo.value(term)
                continue
            else:
                return None
            column = compiled.column_of.get(id(var))
            if coef.__class__ not in (int, float) or column is None:
                return None
            rows.append(r)
            cols.append(column)
            coefs.append(float(coef))
    shape = (len(COST_TYPES), compiled.shape[1])
    return sp.csr_matrix((coefs, (rows, cols)), shape=shape), constants


def _same_sparsity(old: CompiledModel, new: CompiledModel) -> bool:
    return (
        old.shape == new.shape
        and old.sense == new.sense
        and np.array_equal(old.matrix.indptr, new.matrix.indptr)
        and np.array_equal(old.matrix.indices, new.matrix.indices)
        and np.array_equal(old.integrality, new.integrality)
    )


def _push(highs: Any, old: CompiledModel, new: CompiledModel) -> None:
    """Change in ``highs`` (holding ``old``) every bound, cost and coefficient that differs."""
    columns = np.flatnonzero((old.col_lower != new.col_lower) | (old.col_upper != new.col_upper))
    if len(columns):
        highs.changeColsBounds(
            len(columns),
            columns.astype(np.int32),
            new.col_lower[columns],
            new.col_upper[columns],
        )
    costs = np.flatnonzero(old.cost != new.cost)
    if len(costs):
        highs.changeColsCost(len(costs), costs.astype(np.int32), new.cost[costs])
    if old.offset != new.offset:
        highs.changeObjectiveOffset(new.offset)
    rows = np.flatnonzero((old.row_lower != new.row_lower) | (old.row_upper != new.row_upper))
    if len(rows):
        highs.changeRowsBounds(
            len(rows), rows.astype(np.int32), new.row_lower[rows], new.row_upper[rows]
        )
    changed = np.flatnonzero(old.matrix.data != new.matrix.data)
    if len(changed):
        column_of_entry = np.repeat(np.arange(new.shape[1]), np.diff(new.matrix.indptr))
        for k in changed.tolist():
            highs.changeCoeff(
                int(new.matrix.indices[k]), int(column_of_entry[k]), float(new.matrix.data[k])
            )
