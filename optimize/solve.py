"""Solving a planning model with HiGHS: settings in, a :class:`SolveResult` with a status enum out.

The Pyomo model is compiled to arrays once (:func:`compile_model`: Pyomo's
``LinearStandardFormCompiler`` in mixed form — one row per constraint side, a CSC matrix — plus
column bounds and integrality read from the variables) and handed to HiGHS in memory with
``highspy.Highs.passModel`` (no files, no subprocess). The column values HiGHS returns are mapped
back onto the Pyomo variables by position. Every HiGHS model status maps to a
:class:`~optimize.plan.SolveStatus`; a solution is loaded into the model's variables exactly when
the status carries a plan (OPTIMAL or FEASIBLE). The HiGHS log never reaches the console; its end
is kept in :attr:`SolveResult.log`.

:func:`run_highs` is the part after the hand-off; :class:`optimize.session.PlanningSession`
uses it to re-solve a model that stays loaded in HiGHS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.gc_manager import PauseGC
from pyomo.common.tee import capture_output
from pyomo.core.base.expression import ExpressionData, ScalarExpression
from pyomo.core.base.var import ScalarVar, VarData
from pyomo.core.expr.numeric_expr import (
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    SumExpression,
)
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimize.plan import SolveStatus
from scenarios.schema import SolverSettings

__all__ = [
    "CompiledModel",
    "SolveResult",
    "compile_model",
    "load_values",
    "model_size",
    "new_highs",
    "pass_model",
    "run_highs",
    "solve",
]

_LOG_TAIL = 4000
"""Characters of the end of the solver log kept in the result."""

_INF = highspy.kHighsInf

_BANNER_SHOWN = False
"""Whether this process has created a HiGHS instance (only the first one prints a banner)."""


@dataclass(frozen=True)
class SolveResult:
    """What one solve produced.

    ``objective`` is the incumbent's objective (None without a solution); ``mip_gap`` is the
    relative gap |incumbent − bound| / |incumbent| of a MIP (None for an LP or without a
    solution); ``seconds`` is wall-clock time of the solve call (compile, hand-off and HiGHS).
    ``highs_seconds`` is HiGHS's own run time within it.
    """

    status: SolveStatus
    objective: float | None
    mip_gap: float | None
    seconds: float
    message: str
    log: str = ""
    highs_seconds: float = 0.0


def model_size(model: pyo.ConcreteModel) -> dict[str, int]:
    """Counts of active ``variables``, ``constraints``, ``binaries`` and (general) ``integers``.

    Examples
    --------
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var([1, 2], within=pyo.Binary)
    >>> m.c = pyo.Constraint(expr=m.x[1] + m.x[2] <= 1)
    >>> model_size(m)
    {'variables': 2, 'constraints': 1, 'binaries': 2, 'integers': 0}
    """
    variables = binaries = integers = 0
    kinds: dict[int, tuple[bool, bool]] = {}  # id(domain) → (binary, integer)
    for component in model.component_objects(pyo.Var, active=True, descend_into=True):
        for var in component.values():
            variables += 1
            kind = kinds.get(id(var.domain))
            if kind is None:
                kind = kinds[id(var.domain)] = (var.is_binary(), var.is_integer())
            if kind[0]:
                binaries += 1
            elif kind[1]:
                integers += 1
    constraints = 0
    for component in model.component_objects(pyo.Constraint, active=True, descend_into=True):
        constraints += sum(1 for row in component.values() if row.active)
    return {
        "variables": variables,
        "constraints": constraints,
        "binaries": binaries,
        "integers": integers,
    }


# --------------------------------------------------------------------------------------------
# Compile: Pyomo model → arrays
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledModel:
    """A linear Pyomo model as HiGHS arrays: ``min cost·x + offset`` subject to
    ``row_lower ≤ matrix·x ≤ row_upper`` and ``col_lower ≤ x ≤ col_upper``.

    ``columns[j]`` is the Pyomo variable of column ``j`` (variables that appear in no active row
    and not in the objective are left out); ``rows[r]`` is ``(constraint, side)`` with side 0
    for an equality, 1 for ``≤`` and −1 for ``≥`` (a ranged row is two rows). ``sense`` is +1
    when the model minimises, −1 when it maximises (``cost`` and ``offset`` are then negated, so
    HiGHS always minimises).
    """

    columns: Sequence[pyo.Var]
    rows: Sequence[tuple[pyo.Constraint, int]]
    cost: np.ndarray
    offset: float
    matrix: sp.csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    """1 for an integer (or binary) column, 0 for a continuous one (int32)."""
    row_lower: np.ndarray
    row_upper: np.ndarray
    sense: int = 1
    column_of: dict[int, int] = field(default_factory=dict, repr=False)
    """``id(variable)`` → column."""

    @property
    def is_mip(self) -> bool:
        return bool(self.integrality.any())

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        rows, columns = self.matrix.shape
        return int(rows), int(columns)


def compile_model(model: pyo.ConcreteModel) -> CompiledModel:
    """The arrays of ``model`` (linear, one active objective or none).

    Rows whose bodies are flat sums of ``coefficient × variable`` terms and constants (every row
    of the planning model) are read directly (:func:`_flat_arrays`, ~3× faster than a generic
    expression walk); any other model goes through Pyomo's ``LinearStandardFormCompiler``
    (mixed form). Both give the same arrays. Raises ``ValueError`` for a nonlinear model or more
    than one active objective, and Pyomo's ``InfeasibleConstraintException`` for a row without
    variables that cannot hold.

    Examples
    --------
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var([1, 2], within=pyo.NonNegativeReals)
    >>> m.c = pyo.Constraint(expr=m.x[1] + 2 * m.x[2] >= 4)
    >>> m.o = pyo.Objective(expr=3 * m.x[1] + m.x[2] + 5)
    >>> compiled = compile_model(m)
    >>> compiled.shape, compiled.cost.tolist(), compiled.offset, compiled.row_lower.tolist()
    ((1, 2), [3.0, 1.0], 5.0, [4.0])
    """
    with PauseGC():
        flat = _flat_arrays(model)
        if flat is None:
            flat = _pyomo_arrays(model)
        columns, rows, cost, offset, matrix, rhs, sense = flat
        n_cols = len(columns)
        sides = np.fromiter((side for _, side in rows), dtype=np.int8, count=len(rows))
        row_lower = np.where(sides <= 0, rhs, -_INF)
        row_upper = np.where(sides >= 0, rhs, _INF)
        col_lower = np.empty(n_cols)
        col_upper = np.empty(n_cols)
        integrality = np.zeros(n_cols, dtype=np.int32)
        integral: dict[int, bool] = {}  # id(domain) → integer steps (Binary, NonNegativeIntegers…)
        for j, var in enumerate(columns):
            domain = var.domain
            is_integer = integral.get(id(domain))
            if is_integer is None:
                is_integer = integral[id(domain)] = domain.get_interval()[2] != 0
            lower, upper = var.bounds  # the variable's bounds tightened by its domain
            col_lower[j] = -_INF if lower is None else lower
            col_upper[j] = _INF if upper is None else upper
            if is_integer:
                integrality[j] = 1
        return CompiledModel(
            columns=columns,
            rows=rows,
            cost=cost,
            offset=offset,
            matrix=matrix,
            col_lower=col_lower,
            col_upper=col_upper,
            integrality=integrality,
            row_lower=row_lower,
            row_upper=row_upper,
            sense=sense,
            column_of={id(v): j for j, v in enumerate(columns)},
        )


_Arrays = tuple[list, list, np.ndarray, float, sp.csc_matrix, np.ndarray, int]
"""columns, rows (constraint, side), cost, offset, CSC matrix, right-hand sides, sense."""


def _pyomo_arrays(model: pyo.ConcreteModel) -> _Arrays:
    info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=pyo.minimize)
    objectives = list(info.objectives)
    if len(objectives) > 1:
        raise ValueError(f"the model has {len(objectives)} active objectives; one is needed")
    n_cols = len(info.columns)
    matrix = info.A if sp.isspmatrix_csc(info.A) else info.A.tocsc()
    if objectives:
        cost = np.asarray(info.c.toarray()[0], dtype=float).reshape(n_cols)
        offset = float(info.c_offset[0])
        sense = 1 if objectives[0].sense == pyo.minimize else -1
    else:
        cost, offset, sense = np.zeros(n_cols), 0.0, 1
    rhs = np.asarray(info.rhs, dtype=float)
    return list(info.columns), list(info.rows), cost, offset, matrix, rhs, sense


_NATIVE = (int, float)


def _flat_terms(
    expr: Any,
    column: dict[int, int],
    columns: list,
    cols: list[int],
    coefs: list[float],
    scale: float = 1.0,
) -> float | None:
    """Append the terms of a linear ``expr`` (times ``scale``) to ``cols``/``coefs`` (new
    variables get the next column) and return its constant; None when ``expr`` is anything
    but sums, negations and named expressions of constants and ``number × variable`` terms
    (products of expressions, fixed variables, parameters as coefficients …)."""
    cls = expr.__class__
    if cls in _NATIVE:
        return scale * expr
    if cls is LinearExpression or cls is SumExpression:
        terms = expr.args
    elif cls is ExpressionData or cls is ScalarExpression:  # a named expression: its body
        return _flat_terms(expr.expr, column, columns, cols, coefs, scale)
    elif cls is NegationExpression:
        return _flat_terms(expr.args[0], column, columns, cols, coefs, -scale)
    else:
        terms = (expr,)
    constant = 0.0
    for term in terms:
        cls = term.__class__
        if cls in _NATIVE:
            constant += scale * term
            continue
        if cls is MonomialTermExpression:
            coef, var = term.args
            if coef.__class__ not in _NATIVE:
                return None
            coef *= scale
        elif cls is VarData or cls is ScalarVar:
            coef, var = scale, term
        elif cls in _NESTED:
            inner = _flat_terms(term, column, columns, cols, coefs, scale)
            if inner is None:
                return None
            constant += inner
            continue
        elif not term.is_potentially_variable():  # a constant (NumericConstant, a parameter)
            constant += scale * pyo.value(term)
            continue
        else:
            return None
        if var.fixed:
            return None
        j = column.get(id(var))
        if j is None:
            j = column[id(var)] = len(columns)
            columns.append(var)
        cols.append(j)
        coefs.append(coef)
    return constant


_NESTED = (LinearExpression, SumExpression, NegationExpression, ExpressionData, ScalarExpression)


def _flat_arrays(model: pyo.ConcreteModel) -> _Arrays | None:
    """The arrays of a model whose rows and objective are flat sums; None otherwise.

    Same rows, order, sides and right-hand sides as the mixed form of Pyomo's
    ``LinearStandardFormCompiler`` (rows without variables are checked and dropped; a ranged
    row is a ``≤`` and a ``≥`` row); columns in order of first appearance."""
    objectives = list(model.component_data_objects(pyo.Objective, active=True))
    if len(objectives) > 1:
        raise ValueError(f"the model has {len(objectives)} active objectives; one is needed")
    column: dict[int, int] = {}
    columns: list = []
    cost_cols: list[int] = []
    cost_coefs: list[float] = []
    offset, sense = 0.0, 1
    if objectives:
        constant = _flat_terms(objectives[0].expr, column, columns, cost_cols, cost_coefs)
        if constant is None:
            return None
        offset = constant
        sense = 1 if objectives[0].sense == pyo.minimize else -1
    rows: list[tuple[Any, int]] = []
    rhs: list[float] = []
    cols: list[int] = []
    coefs: list[float] = []
    indptr = [0]
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        lower, body, upper = con.to_bounded_expression()
        if lower.__class__ not in _NATIVE and lower is not None:
            return None
        if upper.__class__ not in _NATIVE and upper is not None:
            return None
        if lower is None and upper is None:
            continue
        start = len(cols)
        constant = _flat_terms(body, column, columns, cols, coefs)
        if constant is None:
            return None
        count = len(cols) - start
        if count == 0:
            if (lower is None or lower <= constant) and (upper is None or upper >= constant):
                continue
            raise InfeasibleConstraintException(
                f"model contains a trivially infeasible constraint, '{con.name}'"
            )
        if lower == upper and upper is not None:
            rows.append((con, 0))
            rhs.append(upper - constant)
            indptr.append(len(cols))
            continue
        if upper is not None:
            rows.append((con, 1))
            rhs.append(upper - constant)
            indptr.append(len(cols))
        if lower is not None:
            if upper is not None:  # the ≥ side of a ranged row repeats its terms
                cols.extend(cols[start : start + count])
                coefs.extend(coefs[start : start + count])
            rows.append((con, -1))
            rhs.append(lower - constant)
            indptr.append(len(cols))
    n_cols = len(columns)
    by_row = sp.csr_matrix(
        (np.asarray(coefs, dtype=float), np.asarray(cols, dtype=np.int32), indptr),
        shape=(len(rows), n_cols),
    )
    by_row.sum_duplicates()  # a variable written twice in one row
    matrix = by_row.tocsc()
    cost = np.zeros(n_cols)
    np.add.at(cost, np.asarray(cost_cols, dtype=np.intp), np.asarray(cost_coefs, dtype=float))
    if sense < 0:  # HiGHS minimises: max f = −min(−f)
        cost, offset = -cost, -offset
    return columns, rows, cost, offset, matrix, np.asarray(rhs, dtype=float), sense


# --------------------------------------------------------------------------------------------
# Hand-off and run
# --------------------------------------------------------------------------------------------


def new_highs(settings: SolverSettings | None = None) -> highspy.Highs:
    """A quiet HiGHS instance with ``settings`` (time limit, MIP gap, threads) applied."""
    global _BANNER_SHOWN
    settings = settings or SolverSettings()
    if _BANNER_SHOWN:
        highs = highspy.Highs()
    else:  # HiGHS prints a banner to stdout when the first instance of a process is created
        with capture_output(capture_fd=True):
            highs = highspy.Highs()
        _BANNER_SHOWN = True
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("time_limit", float(settings.time_limit_s))
    highs.setOptionValue("mip_rel_gap", float(settings.mip_gap))
    if settings.threads is not None:
        highs.setOptionValue("threads", int(settings.threads))
    return highs


def pass_model(highs: highspy.Highs, compiled: CompiledModel) -> None:
    """Hand ``compiled`` to ``highs`` (replacing any model it holds)."""
    matrix = compiled.matrix
    n_rows, n_cols = matrix.shape
    start = np.ascontiguousarray(matrix.indptr, dtype=np.int32)
    index = np.ascontiguousarray(matrix.indices, dtype=np.int32)
    value = np.ascontiguousarray(matrix.data, dtype=np.float64)
    if compiled.is_mip:
        status = highs.passModel(
            n_cols,
            n_rows,
            int(matrix.nnz),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            compiled.offset,
            np.ascontiguousarray(compiled.cost, dtype=np.float64),
            np.ascontiguousarray(compiled.col_lower, dtype=np.float64),
            np.ascontiguousarray(compiled.col_upper, dtype=np.float64),
            np.ascontiguousarray(compiled.row_lower, dtype=np.float64),
            np.ascontiguousarray(compiled.row_upper, dtype=np.float64),
            start,
            index,
            value,
            np.ascontiguousarray(compiled.integrality, dtype=np.int32),
        )
    else:  # an LP goes without an integrality vector (HiGHS warns about an all-zero one)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, n_rows
        lp.offset_ = compiled.offset
        lp.col_cost_ = compiled.cost
        lp.col_lower_, lp.col_upper_ = compiled.col_lower, compiled.col_upper
        lp.row_lower_, lp.row_upper_ = compiled.row_lower, compiled.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = start, index, value
        status = highs.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the model (passModel returned an error)")


_MS = highspy.HighsModelStatus

_STOPPED = {
    _MS.kTimeLimit: "time limit",
    _MS.kIterationLimit: "iteration limit",
    _MS.kSolutionLimit: "solution limit",
    _MS.kObjectiveBound: "objective bound",
    _MS.kObjectiveTarget: "objective target",
    _MS.kInterrupt: "interrupted",
    getattr(_MS, "kHighsInterrupt", _MS.kInterrupt): "interrupted",  # not in highspy's stubs
    _MS.kUnknown: "unknown reason",
    _MS.kModelEmpty: "empty model",
}
"""HiGHS stops that leave a plan exactly when an incumbent exists."""

_FAILED = (
    _MS.kNotset,
    _MS.kLoadError,
    _MS.kModelError,
    _MS.kPresolveError,
    _MS.kSolveError,
    _MS.kPostsolveError,
    _MS.kMemoryLimit,
)


def _status_of(status: highspy.HighsModelStatus, has_solution: bool) -> tuple[SolveStatus, str]:
    """Map one HiGHS model status to the status enum and a message."""
    if status == _MS.kOptimal:
        return SolveStatus.OPTIMAL, "optimal"
    if status == _MS.kInfeasible:
        return SolveStatus.INFEASIBLE, "HiGHS proved the planning model infeasible"
    if status == _MS.kUnboundedOrInfeasible:
        return SolveStatus.INFEASIBLE, "HiGHS found the planning model infeasible or unbounded"
    if status == _MS.kUnbounded:
        return SolveStatus.UNBOUNDED, "HiGHS found the planning model unbounded"
    if status in _FAILED:
        return SolveStatus.ERROR, f"HiGHS failed ({status.name})"
    reason = _STOPPED.get(status, status.name)
    if has_solution:
        return SolveStatus.FEASIBLE, f"stopped ({reason}) with a feasible plan"
    return SolveStatus.NO_SOLUTION, f"stopped ({reason}) before finding a feasible plan"


@dataclass(frozen=True)
class HighsOutcome:
    """What :func:`run_highs` read back from HiGHS."""

    status: SolveStatus
    message: str
    objective: float | None
    mip_gap: float | None
    values: np.ndarray | None
    """Column values (None without a plan)."""
    seconds: float
    log: str


def run_highs(highs: highspy.Highs, compiled: CompiledModel) -> HighsOutcome:
    """Run ``highs`` on the model it holds (``compiled``) and read the outcome back.

    An "infeasible or unbounded" answer from presolve is resolved by a second run without
    presolve. The objective is in the model's own sense (a maximisation reports its maximum).
    """
    log: list[str] = []
    highs.setOptionValue("output_flag", True)
    highs.setOptionValue("log_to_console", False)
    subscribed = True
    try:
        highs.cbLogging.subscribe(lambda event: log.append(event.message))
    except Exception:
        subscribed = False
    start = time.perf_counter()
    try:
        highs.run()
        model_status = highs.getModelStatus()
        if model_status == _MS.kUnboundedOrInfeasible:
            # presolve cannot tell the two apart; the simplex without presolve can
            highs.setOptionValue("presolve", "off")
            try:
                highs.run()
            finally:
                highs.setOptionValue("presolve", "choose")
            model_status = highs.getModelStatus()
    finally:
        seconds = time.perf_counter() - start
        if subscribed:
            highs.cbLogging.clear()
    info = highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    status, message = _status_of(model_status, has_solution)
    objective = gap = values = None
    if status.has_plan:
        objective = compiled.sense * float(info.objective_function_value)
        values = np.asarray(highs.getSolution().col_value, dtype=float)
        if compiled.is_mip:
            bound = compiled.sense * float(info.mip_dual_bound)
            gap = _relative_gap(objective, bound)
    return HighsOutcome(status, message, objective, gap, values, seconds, "".join(log)[-_LOG_TAIL:])


def load_values(compiled: CompiledModel, values: np.ndarray) -> None:
    """Set every column's Pyomo variable to its value in ``values``."""
    for var, value in zip(compiled.columns, values.tolist(), strict=True):
        var.set_value(value, skip_validation=True)


# --------------------------------------------------------------------------------------------
# Solve
# --------------------------------------------------------------------------------------------


def solve(model: pyo.ConcreteModel, settings: SolverSettings | None = None) -> SolveResult:
    """Solve ``model`` with HiGHS under ``settings`` (time limit, MIP gap, threads).

    Never raises for solver outcomes: infeasibility, limits and solver errors come back as a
    status. With OPTIMAL or FEASIBLE the solution is loaded into the model's variables.

    Examples
    --------
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var(within=pyo.NonNegativeReals)
    >>> m.c = pyo.Constraint(expr=m.x >= 2)
    >>> m.o = pyo.Objective(expr=3 * m.x)
    >>> result = solve(m)
    >>> result.status, result.objective
    (<SolveStatus.OPTIMAL: 'optimal'>, 6.0)
    """
    start = time.perf_counter()
    if not any(True for _ in model.component_data_objects(pyo.Var, active=True)):
        constant = _constant_objective(model)
        return SolveResult(SolveStatus.OPTIMAL, constant, None, 0.0, "no decisions to make")
    try:
        compiled = compile_model(model)
    except InfeasibleConstraintException as exc:
        seconds = time.perf_counter() - start
        return SolveResult(SolveStatus.INFEASIBLE, None, None, seconds, f"infeasible: {exc}")
    except Exception as exc:  # a model HiGHS cannot take must come back as a status
        seconds = time.perf_counter() - start
        return SolveResult(SolveStatus.ERROR, None, None, seconds, f"cannot compile: {exc!r}")
    if not compiled.columns:
        seconds = time.perf_counter() - start
        objective = compiled.sense * compiled.offset
        return SolveResult(SolveStatus.OPTIMAL, objective, None, seconds, "no decisions to make")
    result, _ = solve_compiled(compiled, settings, start=start)
    return result


def solve_compiled(
    compiled: CompiledModel,
    settings: SolverSettings | None,
    *,
    start: float | None = None,
    highs: highspy.Highs | None = None,
) -> tuple[SolveResult, highspy.Highs | None]:
    """Hand ``compiled`` to a new (or the given) HiGHS, run it, load the values into the model.

    Returns the result and the HiGHS instance holding the model (None after a failure).
    """
    start = time.perf_counter() if start is None else start
    try:
        highs = highs or new_highs(settings)
        pass_model(highs, compiled)
        outcome = run_highs(highs, compiled)
    except Exception as exc:  # a solver failure must come back as a status, not a traceback
        seconds = time.perf_counter() - start
        return SolveResult(SolveStatus.ERROR, None, None, seconds, f"HiGHS failed: {exc!r}"), None
    return result_of(outcome, compiled, start), highs


def result_of(outcome: HighsOutcome, compiled: CompiledModel, start: float) -> SolveResult:
    """Load ``outcome``'s values into the model (when it has a plan) and make the result."""
    if outcome.values is not None:
        load_values(compiled, outcome.values)
    seconds = time.perf_counter() - start
    return SolveResult(
        outcome.status,
        outcome.objective,
        outcome.mip_gap,
        seconds,
        outcome.message,
        outcome.log,
        highs_seconds=outcome.seconds,
    )


def _relative_gap(objective: float, bound: float | None) -> float | None:
    if bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-10)


def _constant_objective(model: pyo.ConcreteModel) -> float:
    objectives = list(model.component_data_objects(pyo.Objective, active=True))
    return float(sum(pyo.value(o.expr) for o in objectives))
