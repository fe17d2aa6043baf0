"""PlanningSession: re-plans reuse the model loaded in HiGHS and give plan_supply's plans."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from crm_model import DemandModel
from optimize import PLAN_TABLES, Plan, PlanningSession, PlanningState, SolveStatus, plan_supply
from optimize.data import PlanningData
from optimize.model import build_plan_model
from optimize.session import _Layout
from optimize.solve import compile_model
from scenarios import load_scenario, scenario_from_dict
from tests.test_optimize import chain, demand, rows


def assert_same_plan(got: Plan, want: Plan, *, tables: bool = True) -> None:
    """Same status, objective and cost breakdown; same tables unless ``tables`` is False (when
    the model has alternative optima a warm-started solve may end at another optimal plan)."""
    assert got.status is want.status
    assert got.objective == pytest.approx(want.objective, rel=1e-9, abs=1e-6)
    assert got.cost_breakdown == pytest.approx(want.cost_breakdown, rel=1e-9, abs=1e-6)
    for name in PLAN_TABLES if tables else ():
        pd.testing.assert_frame_equal(
            got.table(name), want.table(name), check_exact=False, rtol=1e-9, atol=1e-6
        )


# -------------------------------------------------------------- hand-computed, update route
def test_session_replans_the_hand_computed_chain_without_rebuilding() -> None:
    """The two hand-computed cases of tests/test_optimize.py, one after the other in one
    session: the second changes demand and state only, so the loaded LP is updated in place."""
    session = PlanningSession(scenario_from_dict(chain()))
    first = session.plan(demand("zone", "widget", [3, 4, 5, 2, 6, 1]))
    assert first.status is SolveStatus.OPTIMAL
    assert rows(first.purchases, "bucket", "qty") == [(0, 7.0), (1, 2.0), (2, 6.0), (3, 1.0)]
    assert session.last_route == "build"

    state = PlanningState(
        on_hand={}, pipeline=(("dc", "widget", 1, 4.0),), backlog={("zone", "widget"): 3.0}
    )
    second = session.plan(demand("zone", "widget", [2, 2, 2, 2, 2, 2]), state)
    assert second.status is SolveStatus.OPTIMAL
    assert second.service["served"].tolist() == pytest.approx([0, 4, 3 + 2, 2, 2, 2])
    assert second.service["backlog"].tolist() == pytest.approx([5, 3, 0, 0, 0, 0])
    assert rows(second.purchases, "bucket", "qty") == [(0, 5.0), (1, 2.0), (2, 2.0), (3, 2.0)]
    assert (session.last_route, session.builds, session.updates) == ("update", 1, 1)
    assert session.pyomo_builds == 1

    third = session.plan(demand("zone", "widget", [3, 4, 5, 2, 6, 1]))  # back to the first
    assert_same_plan(third, first)
    assert (session.builds, session.updates, session.pyomo_builds) == (1, 2, 1)


def test_update_formulas_reproduce_a_freshly_compiled_model() -> None:
    """The update route's right-hand sides and flow bounds for a new state and demand equal the
    arrays compiled from a model built for them."""
    scenario = scenario_from_dict(chain(horizon_days=8))
    before = PlanningData.from_scenario(scenario, demand("zone", "widget", [1] * 8))
    state = PlanningState(
        on_hand={("dc", "widget"): 7.0},
        pipeline=(("dc", "widget", 3, 2.5),),
        backlog={("zone", "widget"): 1.5},
    )
    after = PlanningData.from_scenario(scenario, demand("zone", "widget", [4, 0, 2, 9] * 2), state)
    compiled = compile_model(build_plan_model(before))
    fresh = compile_model(build_plan_model(after))
    arrays = _Layout.of(compiled).arrays(after, compiled)
    assert not np.array_equal(arrays["row_lower"], compiled.row_lower)  # something changed
    for name, values in arrays.items():
        np.testing.assert_array_equal(values, getattr(fresh, name), err_msg=name)


# ------------------------------------------------------------ library scenario, both routes
def _states(scenario: Any) -> list[tuple[pd.DataFrame, PlanningState | None]]:
    """Three re-plans of a library scenario: other demand, less stock, pipeline, backlog."""
    base = DemandModel(scenario).expected_by_bucket()
    rng = np.random.default_rng(8)
    start = PlanningState.from_scenario(scenario)
    calls: list[tuple[pd.DataFrame, PlanningState | None]] = [(base, None)]
    for k in range(1, 3):
        demand_k = base.assign(units=base["units"] * rng.uniform(0.6, 1.6, len(base)))
        on_hand = {key: qty * (0.5 - 0.2 * k) for key, qty in start.on_hand.items()}
        node, item = next(iter(start.on_hand))
        state = PlanningState(
            on_hand=on_hand,
            pipeline=((node, item, 2 + k, 100.0 * k),),
            backlog={("zone_north", "earbuds"): 40.0 * k},
        )
        calls.append((demand_k, state))
    return calls


@pytest.mark.parametrize(
    ("overrides", "route"),
    [
        ({}, "rebuild-update"),  # order and shipment costs: a MIP, coefficients change
        (
            {
                "nodes.shenzhen_supplier.order_cost": 0,
                "lanes[0].cost_per_shipment": 0,
                "lanes[1].cost_per_shipment": 0,
            },
            "update",  # an LP: bounds only
        ),
    ],
)
def test_session_plans_equal_plan_supply_on_a_library_scenario(
    overrides: dict[str, Any], route: str
) -> None:
    scenario = load_scenario("retailer_holiday", {"horizon_days": 56, **overrides})
    session = PlanningSession(scenario)
    for demand_k, state in _states(scenario):
        got = session.plan(demand_k, state)
        want = plan_supply(scenario, demand_k, state)
        assert got.status is SolveStatus.OPTIMAL
        # retailer_holiday has alternative optima (which zone waits when a DC runs short)
        assert_same_plan(got, want, tables=False)
        for name in PLAN_TABLES:  # the same rows (keys), quantities may be split differently
            keys = [c for c in PLAN_TABLES[name] if c not in {"qty", "served", "backlog", "lost"}]
            if name in ("inventory", "service"):
                pd.testing.assert_frame_equal(got.table(name)[keys], want.table(name)[keys])
        total = sum(got.cost_breakdown.values())
        assert total == pytest.approx(got.objective, rel=1e-9)
    assert not got.purchases.empty and not want.purchases.empty
    assert session.last_route == route
    assert (session.builds, session.updates) == (1, 2)
    assert session.pyomo_builds == (1 if route == "update" else 3)


def test_a_different_structure_is_rebuilt() -> None:
    """Demand for fewer (zone, product) pairs means fewer rows: a fresh hand-off."""
    scenario = scenario_from_dict(chain())
    session = PlanningSession(scenario)
    session.plan(demand("zone", "widget", [3, 4, 5, 2, 6, 1]))
    shorter = session.plan(demand("zone", "widget", [0, 0, 0, 0, 0, 0]).iloc[:0])
    assert session.last_route == "build" and session.builds == 2
    assert_same_plan(shorter, plan_supply(scenario, demand("zone", "widget", [0] * 6).iloc[:0]))


def test_safety_stock_targets_update_in_place_and_new_keys_rebuild() -> None:
    scenario = scenario_from_dict(chain())
    session = PlanningSession(scenario)
    need = demand("zone", "widget", [3, 4, 5, 2, 6, 1])
    targets = pd.DataFrame({"node": ["dc"], "item": ["widget"], "safety_stock": [2.0]})
    session.plan(need, safety_stock=targets)
    higher = targets.assign(safety_stock=4.0)
    got = session.plan(need, safety_stock=higher)
    assert session.last_route == "update"
    assert_same_plan(got, plan_supply(scenario, need, safety_stock=higher))
    got = session.plan(need)  # no targets: fewer rows and columns
    assert session.last_route == "build"
    assert_same_plan(got, plan_supply(scenario, need))


def test_a_session_does_not_modify_its_inputs() -> None:
    scenario = scenario_from_dict(chain())
    need = demand("zone", "widget", [3, 4, 5, 2, 6, 1])
    copy = need.copy()
    session = PlanningSession(scenario)
    session.plan(need)
    session.plan(need.assign(units=2.0))
    pd.testing.assert_frame_equal(need, copy)
    assert scenario == scenario_from_dict(chain())


@pytest.mark.parametrize("unmet", ["backorder", "lost_sales"])
def test_update_route_follows_state_and_demand_in_both_fulfilment_modes(unmet: str) -> None:
    """Four re-plans of the chain (stock, pipeline, open backlog, demand all changing) give
    plan_supply's plans exactly, all through the update route."""
    scenario = scenario_from_dict(chain(fulfillment={"unmet_demand": unmet}))
    session = PlanningSession(scenario)
    calls = [
        (demand("zone", "widget", [3, 4, 5, 2, 6, 1]), None),
        (
            demand("zone", "widget", [1, 0, 7, 2, 0, 4]),
            PlanningState(on_hand={("dc", "widget"): 2.0}, backlog={("zone", "widget"): 3.0}),
        ),
        (
            demand("zone", "widget", [6, 6, 0, 1, 1, 1]),
            PlanningState(pipeline=(("dc", "widget", 2, 9.0),)),
        ),
        (demand("zone", "widget", [3, 4, 5, 2, 6, 1]), None),
    ]
    for need, state in calls:
        got = session.plan(need, state)
        assert_same_plan(got, plan_supply(scenario, need, state))
    assert (session.builds, session.updates, session.pyomo_builds) == (1, 3, 1)
    assert session.last_route == "update"
