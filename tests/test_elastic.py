"""Infeasibility diagnosis: the elastic re-solve names the broken constraints, where, how much."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crm_model import DemandModel
from optimize import PlanningData, SolveStatus, plan_supply
from optimize.elastic import diagnose_infeasibility, elastic_model
from optimize.model import build_plan_model
from optimize.solve import solve
from scenarios import scenario_from_dict
from scenarios.schema import Scenario
from tests.conftest import tiny_scenario_dict


def _tiny(**changes: object) -> tuple[Scenario, PlanningData]:
    scenario = scenario_from_dict(tiny_scenario_dict(**changes))
    data = PlanningData.from_scenario(scenario, DemandModel(scenario).expected_by_bucket())
    return scenario, data


def test_negative_starting_stock_is_diagnosed_where_and_how_much() -> None:
    _, data = _tiny()
    broken = replace(data, on_hand={("wh", "widget"): -5.0})
    assert solve(build_plan_model(broken)).status is SolveStatus.INFEASIBLE
    table, message = diagnose_infeasibility(broken)
    assert list(table["constraint"]) == ["inventory_balance"]
    row = table.iloc[0]
    assert (row["key"], row["bucket"], row["day"]) == ("wh, widget, 0", 0, 0)
    assert row["violation"] == pytest.approx(5.0)
    assert "stock balance" in message and "widget at wh in bucket 0" in message
    assert "by 5 units" in message


def test_elastic_model_of_a_feasible_plan_breaks_nothing() -> None:
    _, data = _tiny()
    model = elastic_model(data)
    assert model.violation.active and not model.total_cost.active
    result = solve(model)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(0.0, abs=1e-9)
    table, message = diagnose_infeasibility(data)
    assert table.empty and "broke no constraint" in message


def test_plan_supply_attaches_the_diagnosis(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, data = _tiny()
    broken = replace(data, on_hand={("wh", "widget"): -7.0})
    monkeypatch.setattr(PlanningData, "from_scenario", classmethod(lambda *a, **k: broken))
    plan = plan_supply(scenario, DemandModel(scenario).expected_by_bucket())
    assert plan.status is SolveStatus.INFEASIBLE
    assert not plan.status.has_plan
    assert plan.diagnosis["violation"].sum() == pytest.approx(7.0)
    assert "widget at wh in bucket 0 (day 0) broken by 7 units" in plan.message


def test_moq_above_capacity_is_not_infeasible_the_supplier_is_just_unusable() -> None:
    """MOQ 100 with 5 units/day in day buckets: no order can satisfy both, so the plan buys
    nothing there and backlogs instead — the model stays feasible by construction."""
    supplies = {"widget": {"price": 8.0, "moq": 100, "capacity_per_day": 5}}
    nodes = tiny_scenario_dict()["nodes"]
    nodes["sup"]["supplies"] = supplies
    scenario, _ = _tiny(nodes=nodes)
    plan = plan_supply(scenario, DemandModel(scenario).expected_by_bucket())
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.purchases.empty
    assert plan.diagnosis.empty
