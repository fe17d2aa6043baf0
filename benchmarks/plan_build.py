"""Planning LP: Tandem's path (PlanningData → Pyomo → HiGHS) against highspy fed numpy arrays.

A generated scenario with no fixed costs, MOQs or order multiples (so the plan is a pure LP):
``--skus`` products, 2 suppliers each offering every product to 2 DCs, 4 customer zones each
served by one DC, day buckets over ``--days`` days, backorders. Defaults give ~100 k variables;
``--skus 600`` gives ~1 M.

- ``tandem``: :func:`optimize.plan_supply` end to end (planning data, Pyomo model, compile
  with Pyomo's standard-form compiler and ``Highs.passModel``, HiGHS, plan tables); its split
  is measured in a second pass of the same steps (data + Pyomo build / compile / passModel /
  HiGHS run / load values + extract).
- ``highspy_direct``: the identical LP built from the same :class:`~optimize.data.PlanningData`
  as CSC arrays with numpy/scipy (build), ``Highs.passModel`` (hand-off), ``Highs.run`` (solve).
- re-plan: a second plan with other demand (every zone-product-day × a random factor in
  0.8–1.2) and 30 % less stock on hand, through :class:`optimize.PlanningSession` (model kept
  loaded in HiGHS, bounds changed, warm start) against highspy direct doing the same (new
  arrays, ``changeRowsBounds`` / ``changeColsBounds`` on the loaded LP, warm start).

Objectives are printed and must agree. Last two lines:
``replan_s=… highspy_direct_replan_s=… replan_ratio=…`` and
``tandem_s=… highspy_direct_s=… ratio=…`` (wall seconds; ratio = tandem ÷ direct).
``--split-only`` runs just the split pass (for the 1 M case, where each solve takes minutes)
and prints ``build_handoff_s=… solve_s=… share=…``.

Usage: ``python benchmarks/plan_build.py [--skus 60] [--days 120] [--split-only]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

# measure the checkout this script lives in, not whichever copy of the packages is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optimize
from optimize.data import PlanningData, PlanningState
from optimize.model import build_plan_model
from optimize.solve import (
    compile_model,
    load_values,
    new_highs,
    pass_model,
    run_highs,
)
from scenarios import scenario_from_dict
from scenarios.schema import Scenario, UnmetDemand

ZONES = ("zone_n", "zone_e", "zone_s", "zone_w")
DCS = ("dc_a", "dc_b")
SUPPLIERS = ("sup_1", "sup_2")


def scenario_dict(skus: int, days: int) -> dict:
    """A generated LP-only planning scenario (no fixed costs)."""
    rng = np.random.default_rng(20261128)
    products = {
        f"sku{k:04d}": {"unit_cost": float(rng.uniform(5, 50)), "price": 80.0} for k in range(skus)
    }
    nodes: dict = {}
    for s, supplier in enumerate(SUPPLIERS):
        nodes[supplier] = {
            "kind": "supplier",
            "lead_time": {"dist": "fixed", "mean": 2 + 3 * s},
            "supplies": {
                p: {"price": spec["unit_cost"] * (0.8 - 0.1 * s), "capacity_per_day": 40.0}
                for p, spec in products.items()
            },
        }
    for dc in DCS:
        nodes[dc] = {"kind": "warehouse", "initial_inventory": {p: 20 for p in products}}
    for zone in ZONES:
        nodes[zone] = {"kind": "customer_zone", "service_promise_days": 2}
    lanes = [
        {"src": s, "dst": d, "lead_time": {"dist": "fixed", "mean": 1 + k}, "cost_per_unit": 1.0}
        for s in SUPPLIERS
        for k, d in enumerate(DCS)
    ]
    lanes += [
        {
            "src": DCS[k // 2],
            "dst": z,
            "lead_time": {"dist": "fixed", "mean": 1},
            "cost_per_unit": 0.5,
        }
        for k, z in enumerate(ZONES)
    ]
    return {
        "name": "plan_benchmark",
        "start_date": "2027-01-04",
        "horizon_days": days,
        "bucket": "day",
        "products": products,
        "nodes": nodes,
        "lanes": lanes,
        "crm": {
            "segments": {
                "all": {
                    "customers": 1000,
                    "orders_per_customer_per_year": 3.65,
                    "product_mix": dict.fromkeys(products, 1.0),
                    "zone_mix": dict.fromkeys(ZONES, 1.0),
                }
            }
        },
        "solver": {"time_limit_s": 600, "mip_gap": 1e-4},
    }


def demand_table(scenario: Scenario) -> pd.DataFrame:
    """Random daily demand per zone and product (Poisson around a product-specific mean)."""
    rng = np.random.default_rng(7)
    rows = []
    for p in scenario.products:
        rate = rng.uniform(2, 12)
        for z in ZONES:
            units = rng.poisson(rate, scenario.n_buckets)
            rows += [(b, z, p, float(u)) for b, u in enumerate(units)]
    return pd.DataFrame(rows, columns=["bucket", "zone", "product", "units"])


# ------------------------------------------------------------------------------------------
# The same LP as arrays
# ------------------------------------------------------------------------------------------


def direct_arrays(data: PlanningData) -> dict[str, np.ndarray | sp.csc_matrix]:
    """Column bounds, costs, row bounds and the CSC matrix of the plan LP of ``data``.

    Covers the LP subset of :func:`optimize.model.build_plan_model`: flows, inventory, served,
    backlog (backorders), inventory and backlog balances, supplier capacity, end-of-horizon
    backlog valued as lost sales. Raises when ``data`` has anything else.
    """
    if (
        data.productions
        or data.storage_capacity
        or data.lane_capacity_per_day
        or data.supplier_order_cost
        or data.lane_shipment_cost
        or data.moq
        or data.order_multiple
        or data.unmet_demand is not UnmetDemand.BACKORDER
    ):
        raise ValueError("direct_arrays covers LP plans with backorders only")
    T = data.n_buckets
    days = np.asarray(data.days_in_bucket, dtype=float)
    cost: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    # column blocks ----------------------------------------------------------------------
    moves = data.movements
    flow_col: dict[tuple[int, str], np.ndarray] = {}
    n = 0
    for mv in moves:
        count = len(data.release_buckets(mv.lead_buckets))
        flow_col[(mv.lane, mv.item)] = n + np.arange(count)
        cost.append(np.full(count, mv.unit_price + mv.freight_per_unit))
        upper.append(np.array([data.flow_bound(mv, b) for b in range(count)]))
        n += count
    inv_col = {}
    for node, item in data.stock_items:
        inv_col[(node, item)] = n + np.arange(T)
        cost.append(data.holding_cost_per_unit_day[item] * days)
        upper.append(np.full(T, np.inf))
        n += T
    served_col, backlog_col = {}, {}
    for c in data.customers:
        if c.node is not None:
            served_col[(c.zone, c.item)] = n + np.arange(T)
            cost.append(np.full(T, c.freight_per_unit))
            upper.append(np.full(T, np.inf))
            n += T
    for c in data.customers:
        backlog_col[(c.zone, c.item)] = n + np.arange(T)
        per_day = data.backorder_cost_per_unit_day[c.item] * days
        per_day[-1] += data.lost_sale_cost[c.item]
        cost.append(per_day)
        upper.append(np.full(T, np.inf))
        n += T
    # rows ---------------------------------------------------------------------------------
    rows_i: list[np.ndarray] = []
    cols_j: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower_r: list[np.ndarray] = []
    upper_r: list[np.ndarray] = []
    r = 0

    def put(rows: np.ndarray, cols: np.ndarray, value: float) -> None:
        rows_i.append(rows)
        cols_j.append(cols)
        vals.append(np.full(len(rows), value))

    t = np.arange(T)
    # inventory balance: inv[b] − inv[b−1] − arrivals + releases + served = pipeline (+ on_hand)
    inv_row = {}
    for node, item in data.stock_items:
        rows = r + t
        inv_row[(node, item)] = rows
        put(rows, inv_col[(node, item)], 1.0)
        put(rows[1:], inv_col[(node, item)][:-1], -1.0)
        rhs = np.array([data.pipeline.get((node, item, b), 0.0) for b in t])
        rhs[0] += data.on_hand.get((node, item), 0.0)
        lower_r.append(rhs)
        upper_r.append(rhs)
        r += T
    for mv in moves:
        cols = flow_col[(mv.lane, mv.item)]
        release = np.arange(len(cols))
        put(inv_row[(mv.dst, mv.item)][release + mv.lead_buckets], cols, -1.0)
        if mv.supplier is None:
            put(inv_row[(mv.src, mv.item)][release], cols, 1.0)
    for c in data.customers:
        if c.node is not None:
            put(inv_row[(c.node, c.item)], served_col[(c.zone, c.item)], 1.0)
    # backlog balance: backlog[b] − backlog[b−1] + served[b] = demand[b] (+ initial backlog)
    for c in data.customers:
        rows = r + t
        put(rows, backlog_col[(c.zone, c.item)], 1.0)
        put(rows[1:], backlog_col[(c.zone, c.item)][:-1], -1.0)
        if c.node is not None:
            put(rows, served_col[(c.zone, c.item)], 1.0)
        rhs = np.array([data.demand.get((c.zone, c.item, b), 0.0) for b in t])
        rhs[0] += data.initial_backlog.get((c.zone, c.item), 0.0)
        lower_r.append(rhs)
        upper_r.append(rhs)
        r += T
    # supplier capacity: Σ flows of (supplier, item) released in b ≤ cap·days
    by_offer: dict[tuple[str, str], list[np.ndarray]] = {}
    for mv in moves:
        if mv.supplier is not None and (mv.supplier, mv.item) in data.supplier_capacity_per_day:
            by_offer.setdefault((mv.supplier, mv.item), []).append(flow_col[(mv.lane, mv.item)])
    for (supplier, item), blocks in by_offer.items():
        span = max(len(b) for b in blocks)
        rows = r + np.arange(span)
        for cols in blocks:
            put(rows[: len(cols)], cols, 1.0)
        lower_r.append(np.full(span, -np.inf))
        upper_r.append(data.supplier_capacity_per_day[(supplier, item)] * days[:span])
        r += span
    matrix = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_j))), shape=(r, n)
    )
    return {
        "cost": np.concatenate(cost),
        "col_lower": np.zeros(n),
        "col_upper": np.concatenate(upper),
        "row_lower": np.concatenate(lower_r),
        "row_upper": np.concatenate(upper_r),
        "matrix": matrix,
    }


def _lp_of(arrays: dict[str, np.ndarray | sp.csc_matrix]) -> highspy.HighsLp:
    matrix = arrays["matrix"]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = arrays["cost"]
    lp.col_lower_, lp.col_upper_ = arrays["col_lower"], arrays["col_upper"]
    lp.row_lower_, lp.row_upper_ = arrays["row_lower"], arrays["row_upper"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    return lp


def solve_direct(
    data: PlanningData, threads: int | None
) -> tuple[float, dict[str, float], highspy.Highs, dict]:
    start = time.perf_counter()
    arrays = direct_arrays(data)
    matrix = arrays["matrix"]
    build = time.perf_counter() - start
    start = time.perf_counter()
    lp = _lp_of(arrays)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    if threads:
        highs.setOptionValue("threads", threads)
    highs.passModel(lp)
    handoff = time.perf_counter() - start
    start = time.perf_counter()
    highs.run()
    solve = time.perf_counter() - start
    objective = highs.getInfo().objective_function_value
    size = {"variables": matrix.shape[1], "constraints": matrix.shape[0]}
    return objective, {"build": build, "handoff": handoff, "solve": solve, **size}, highs, arrays


def replan_direct(
    highs: highspy.Highs, before: dict, data: PlanningData
) -> tuple[float, dict[str, float]]:
    """The direct route's re-plan: new arrays, bounds that differ changed in place, warm run."""
    start = time.perf_counter()
    after = direct_arrays(data)
    build = time.perf_counter() - start
    start = time.perf_counter()
    rows = np.flatnonzero(
        (before["row_lower"] != after["row_lower"]) | (before["row_upper"] != after["row_upper"])
    ).astype(np.int32)
    highs.changeRowsBounds(len(rows), rows, after["row_lower"][rows], after["row_upper"][rows])
    cols = np.flatnonzero(before["col_upper"] != after["col_upper"]).astype(np.int32)
    highs.changeColsBounds(len(cols), cols, after["col_lower"][cols], after["col_upper"][cols])
    handoff = time.perf_counter() - start
    start = time.perf_counter()
    highs.run()
    solve = time.perf_counter() - start
    objective = highs.getInfo().objective_function_value
    return objective, {"build": build, "handoff": handoff, "solve": solve}


def tandem_split(scenario: Scenario, demand: pd.DataFrame) -> tuple[float, dict[str, float]]:
    """plan_supply's steps, timed one by one."""
    start = time.perf_counter()
    data = PlanningData.from_scenario(scenario, demand)
    model = build_plan_model(data)
    build = time.perf_counter() - start
    start = time.perf_counter()
    compiled = compile_model(model)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    highs = new_highs(scenario.solver)
    pass_model(highs, compiled)
    handoff = time.perf_counter() - start
    outcome = run_highs(highs, compiled)
    start = time.perf_counter()
    assert outcome.values is not None, outcome.message
    load_values(compiled, outcome.values)
    result = optimize.SolveResult(
        outcome.status, outcome.objective, None, outcome.seconds, outcome.message
    )
    optimize.extract_plan(model, data, result)
    extract = time.perf_counter() - start
    rows, columns = compiled.shape
    print(f"{columns:,} variables, {rows:,} rows, {compiled.matrix.nnz:,} nonzeros")
    return float(outcome.objective or 0.0), {
        "build": build,
        "compile": compile_s,
        "passModel": handoff,
        "solve": outcome.seconds,
        "extract": extract,
    }


def changed(scenario: Scenario, demand: pd.DataFrame) -> tuple[pd.DataFrame, PlanningState]:
    """The re-plan's input: demand × U(0.8, 1.2) per row, 30 % less stock on hand."""
    rng = np.random.default_rng(11)
    demand = demand.assign(units=demand["units"] * rng.uniform(0.8, 1.2, len(demand)))
    start = PlanningState.from_scenario(scenario)
    state = PlanningState(on_hand={k: 0.7 * q for k, q in start.on_hand.items()})
    return demand, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=60)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--split-only", action="store_true")
    args = parser.parse_args()
    scenario = scenario_from_dict(scenario_dict(args.skus, args.days))
    demand = demand_table(scenario)

    if args.split_only:
        objective_split, split = tandem_split(scenario, demand)
        print("tandem split: " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()))
        print(f"objective {objective_split:,.2f}")
        overhead = split["build"] + split["compile"] + split["passModel"]
        print(
            f"build_handoff_s={overhead:.3f} solve_s={split['solve']:.3f} "
            f"share={overhead / split['solve']:.3f}"
        )
        return

    start = time.perf_counter()
    plan = optimize.plan_supply(scenario, demand)
    tandem_s = time.perf_counter() - start
    print(
        f"tandem plan_supply: {plan.status}, objective {plan.objective:,.2f}, "
        f"{plan.model_size['variables']:,} variables, {plan.model_size['constraints']:,} "
        f"constraints, {tandem_s:.2f} s"
    )
    objective_split, split = tandem_split(scenario, demand)
    print("tandem split: " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()))

    data = PlanningData.from_scenario(scenario, demand)
    objective, direct, highs, arrays = solve_direct(data, scenario.solver.threads)
    direct_s = direct["build"] + direct["handoff"] + direct["solve"]
    print(
        f"highspy direct: objective {objective:,.2f}, {direct['variables']:,} variables, "
        f"{direct['constraints']:,} constraints; build {direct['build']:.2f} s, hand-off "
        f"{direct['handoff']:.2f} s, solve {direct['solve']:.2f} s"
    )
    gap = abs(objective - float(plan.objective or 0.0)) / max(abs(objective), 1.0)
    print(f"objectives agree to {gap:.2e} (split run {objective_split:,.2f})")

    # re-plan ---------------------------------------------------------------------------
    demand_2, state_2 = changed(scenario, demand)
    session = optimize.PlanningSession(scenario)
    session.plan(demand)
    start = time.perf_counter()
    replan = session.plan(demand_2, state_2)
    replan_s = time.perf_counter() - start
    print(
        f"session re-plan: {replan.status} ({session.last_route}), objective "
        f"{replan.objective:,.2f}, {replan_s:.2f} s (build {replan.build_seconds:.2f} s, "
        f"solve {replan.solve_seconds:.2f} s)"
    )
    data_2 = PlanningData.from_scenario(scenario, demand_2, state_2)
    objective_2, direct_2 = replan_direct(highs, arrays, data_2)
    direct_replan_s = direct_2["build"] + direct_2["handoff"] + direct_2["solve"]
    print(
        f"highspy direct re-plan: objective {objective_2:,.2f}; build {direct_2['build']:.2f} s, "
        f"hand-off {direct_2['handoff']:.2f} s, solve {direct_2['solve']:.2f} s"
    )
    _, cold = solve_direct(data_2, scenario.solver.threads)[:2]
    cold_s = cold["build"] + cold["handoff"] + cold["solve"]
    gap_2 = abs(objective_2 - float(replan.objective or 0.0)) / max(abs(objective_2), 1.0)
    print(
        f"re-plan objectives agree to {gap_2:.2e}; highspy direct cold solve of the re-plan "
        f"{cold_s:.2f} s (re-plan ÷ cold direct {replan_s / cold_s:.2f})"
    )
    print(
        f"replan_s={replan_s:.3f} highspy_direct_replan_s={direct_replan_s:.3f} "
        f"replan_ratio={replan_s / direct_replan_s:.2f}"
    )
    print(
        f"tandem_s={tandem_s:.3f} highspy_direct_s={direct_s:.3f} ratio={tandem_s / direct_s:.2f}"
    )


if __name__ == "__main__":
    main()
