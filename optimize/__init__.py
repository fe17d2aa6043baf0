"""Supply planning with Pyomo and HiGHS: build (pure) → solve (status enum) → extract (a Plan)."""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
from pyomo.common.gc_manager import PauseGC

from optimize.data import PlanningData, PlanningState
from optimize.elastic import diagnose_infeasibility, is_diagnosable
from optimize.extract import extract_plan
from optimize.model import build_plan_model
from optimize.plan import PLAN_TABLES, Plan, SolveStatus
from optimize.session import PlanningSession
from optimize.solve import SolveResult, solve
from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario

__all__ = [
    "PLAN_TABLES",
    "Plan",
    "PlanningData",
    "PlanningSession",
    "PlanningState",
    "SolveResult",
    "SolveStatus",
    "build_plan_model",
    "diagnose_infeasibility",
    "extract_plan",
    "plan_supply",
    "solve",
]


def plan_supply(
    scenario: Scenario,
    demand: pd.DataFrame,
    state: PlanningState | None = None,
    *,
    safety_stock: pd.DataFrame | None = None,
) -> Plan:
    """Plan purchases, production and transfers for ``scenario`` at least total cost.

    Parameters
    ----------
    scenario
        A validated scenario; its ``solver`` settings (time limit, MIP gap, threads) apply.
    demand
        Forecast units per ``bucket, zone, product``, usually
        ``crm_model.DemandModel(scenario).expected_by_bucket()`` (optimize does not import
        crm_model: DESIGN.md's dependency direction). Not modified.
    state
        Where the plan starts; default the scenario's initial inventories, nothing in transit
        and no backlog.
    safety_stock
        Optional soft targets: a table with ``node, item, safety_stock`` (units), e.g. from
        :func:`optimize.safety_stock.safety_stock_table`. On-hand below a target costs half
        the item's backorder cost per unit-day (:meth:`PlanningData.with_safety_stock`).
        Default None: no targets.

    Returns
    -------
    Plan
        Always check ``plan.status``: OPTIMAL or FEASIBLE carry tables; NOT_NEEDED (no stock
        points, e.g. a services company) has empty tables and objective 0; INFEASIBLE,
        UNBOUNDED, NO_SOLUTION and ERROR have empty tables and a message saying why; an
        INFEASIBLE plan also carries ``plan.diagnosis`` from an elastic re-solve (which hard
        constraints had to be broken, where and by how much; :mod:`optimize.elastic`).

    Raises
    ------
    scenarios.errors.DataError
        When ``demand`` or ``state`` do not fit the scenario (every problem listed at once).

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> from crm_model import DemandModel
    >>> scenario = load_scenario("retailer_holiday", {"horizon_days": 56})
    >>> plan = plan_supply(scenario, DemandModel(scenario).expected_by_bucket())
    >>> plan.status
    <SolveStatus.OPTIMAL: 'optimal'>
    >>> list(plan.purchases.columns) == list(PLAN_TABLES["purchases"])
    True
    """
    with PauseGC():  # as in build_plan_model: the collector's passes cost more than they free
        return _plan_supply(scenario, demand, state, safety_stock)


def _plan_supply(
    scenario: Scenario,
    demand: pd.DataFrame,
    state: PlanningState | None,
    safety_stock: pd.DataFrame | None,
) -> Plan:
    start = time.perf_counter()
    network = SupplyNetwork(scenario)
    if not network.stock_points:
        return Plan.without_tables(
            SolveStatus.NOT_NEEDED, "no stock points: nothing to plan", objective=0.0
        )
    data = PlanningData.from_scenario(scenario, demand, state, network=network)
    if safety_stock is not None:
        columns = (safety_stock[c] for c in ("node", "item", "safety_stock"))
        targets = {(str(n), str(i)): float(q) for n, i, q in zip(*columns, strict=True)}
        data = data.with_safety_stock(targets)
    model = build_plan_model(data)
    build_seconds = time.perf_counter() - start
    result = solve(model, scenario.solver)
    plan = extract_plan(model, data, result)
    if is_diagnosable(result.status):
        diagnosis, message = diagnose_infeasibility(data, scenario.solver)
        plan = replace(plan, diagnosis=diagnosis, message=f"{plan.message}; {message}")
    return replace(plan, build_seconds=build_seconds)
