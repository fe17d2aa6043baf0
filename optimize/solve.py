"""Solving a planning model with HiGHS: settings in, a :class:`SolveResult` with a status enum out.

The model is handed to HiGHS through Pyomo's ``pyomo.contrib.solver`` HiGHS interface (in-memory,
through ``highspy``; no files, no subprocess). The solver log is captured, never printed; the end
of it is kept in :attr:`SolveResult.log`. Every termination condition maps to a
:class:`~optimize.plan.SolveStatus`, and a solution is loaded into the model's variables exactly
when the status carries a plan (OPTIMAL or FEASIBLE).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from optimize.plan import SolveStatus
from scenarios.schema import SolverSettings

__all__ = ["SolveResult", "model_size", "solve"]

_LOG_TAIL = 4000
"""Characters of the end of the solver log kept in the result."""


@dataclass(frozen=True)
class SolveResult:
    """What one solve produced.

    ``objective`` is the incumbent's objective (None without a solution); ``mip_gap`` is the
    relative gap |incumbent − bound| / |incumbent| of a MIP (None for an LP or without a
    solution); ``seconds`` is wall-clock time of the solve call.
    """

    status: SolveStatus
    objective: float | None
    mip_gap: float | None
    seconds: float
    message: str
    log: str = ""


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
    for var in model.component_data_objects(pyo.Var, active=True, descend_into=True):
        variables += 1
        if var.is_binary():
            binaries += 1
        elif var.is_integer():
            integers += 1
    constraints = sum(
        1 for _ in model.component_data_objects(pyo.Constraint, active=True, descend_into=True)
    )
    return {
        "variables": variables,
        "constraints": constraints,
        "binaries": binaries,
        "integers": integers,
    }


def _is_mip(model: pyo.ConcreteModel) -> bool:
    return any(
        not v.is_continuous()
        for v in model.component_data_objects(pyo.Var, active=True, descend_into=True)
    )


_STOPPED = {
    TerminationCondition.maxTimeLimit: "time limit",
    TerminationCondition.iterationLimit: "iteration or solution limit",
    TerminationCondition.objectiveLimit: "objective limit",
    TerminationCondition.minStepLength: "minimum step length",
    TerminationCondition.interrupted: "interrupted",
    TerminationCondition.unknown: "unknown reason",
    TerminationCondition.emptyModel: "empty model",
}
"""Terminations that leave a plan exactly when an incumbent exists."""


def _status_of(termination: TerminationCondition, has_solution: bool) -> tuple[SolveStatus, str]:
    """Map one HiGHS termination to the status enum and a message."""
    if termination is TerminationCondition.convergenceCriteriaSatisfied:
        return SolveStatus.OPTIMAL, "optimal"
    if termination in (
        TerminationCondition.provenInfeasible,
        TerminationCondition.locallyInfeasible,
    ):
        return SolveStatus.INFEASIBLE, "HiGHS proved the planning model infeasible"
    if termination is TerminationCondition.infeasibleOrUnbounded:
        return SolveStatus.INFEASIBLE, "HiGHS found the planning model infeasible or unbounded"
    if termination is TerminationCondition.unbounded:
        return SolveStatus.UNBOUNDED, "HiGHS found the planning model unbounded"
    if termination in (TerminationCondition.error, TerminationCondition.licensingProblems):
        return SolveStatus.ERROR, f"HiGHS failed ({termination.name})"
    reason = _STOPPED.get(termination, termination.name)
    if has_solution:
        return SolveStatus.FEASIBLE, f"stopped ({reason}) with a feasible plan"
    return SolveStatus.NO_SOLUTION, f"stopped ({reason}) before finding a feasible plan"


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
    settings = settings or SolverSettings()
    start = time.perf_counter()
    if not any(True for _ in model.component_data_objects(pyo.Var, active=True)):
        constant = _constant_objective(model)
        return SolveResult(SolveStatus.OPTIMAL, constant, None, 0.0, "no decisions to make")
    solver = Highs()
    options = {
        "load_solutions": False,
        "raise_exception_on_nonoptimal_result": False,
        "time_limit": float(settings.time_limit_s),
        "rel_gap": float(settings.mip_gap),
        "threads": settings.threads,
    }
    try:
        results = solver.solve(model, **options)
        termination = results.termination_condition
        if termination is TerminationCondition.infeasibleOrUnbounded:
            # presolve cannot tell the two apart; the simplex without presolve can
            results = solver.solve(model, solver_options={"presolve": "off"}, **options)
            termination = results.termination_condition
    except Exception as exc:  # a solver failure must come back as a status, not a traceback
        seconds = time.perf_counter() - start
        return SolveResult(SolveStatus.ERROR, None, None, seconds, f"HiGHS failed: {exc!r}")
    has_solution = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    status, message = _status_of(termination, has_solution)
    objective: float | None = None
    gap: float | None = None
    if status.has_plan:
        results.solution_loader.load_vars()
        objective = float(results.incumbent_objective)
        if _is_mip(model):
            gap = _relative_gap(objective, results.objective_bound)
    log = str(results.solver_log or "")[-_LOG_TAIL:]
    seconds = time.perf_counter() - start
    return SolveResult(status, objective, gap, seconds, message, log)


def _relative_gap(objective: float, bound: float | None) -> float | None:
    if bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-10)


def _constant_objective(model: pyo.ConcreteModel) -> float:
    objectives = list(model.component_data_objects(pyo.Objective, active=True))
    return float(sum(pyo.value(o.expr) for o in objectives))
