"""Safety stock: formulas against hand-computed values, and the per-stock-point table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from optimize.safety_stock import (
    SAFETY_STOCK_COLUMNS,
    demand_dispersion,
    lead_time_demand_sd,
    normal_loss,
    safety_stock_cycle_service,
    safety_stock_fill_rate,
    safety_stock_table,
    variance,
)
from scenarios import scenario_from_dict
from scenarios.schema import Distribution
from tests.conftest import tiny_scenario_dict


def test_variance_of_each_distribution_family() -> None:
    assert variance(Distribution(dist="fixed", mean=4)) == 0.0
    assert variance(Distribution(dist="uniform", low=2, high=8)) == pytest.approx(3.0)
    # triangular(0, 3, 6): (0 + 36 + 9 − 0 − 0 − 18) / 18 = 1.5
    assert variance(Distribution(dist="triangular", low=0, mode=3, high=6)) == pytest.approx(1.5)
    assert variance(Distribution(dist="lognormal", mean=10, cv=0.2)) == pytest.approx(4.0)
    # values 1, 3 weighted 3:1 → mean 1.5, variance 0.75·0.25 + 0.25·2.25 = 0.75
    empirical = Distribution(dist="empirical", values=(1, 3), weights=(3, 1))
    assert variance(empirical) == pytest.approx(0.75)


def test_cycle_service_safety_stock_by_hand() -> None:
    # μ_D 20, σ_D² 20, L 3, σ_L 0: σ_DL = √60 = 7.745967; z(0.95) = 1.644854 → 12.740981
    assert lead_time_demand_sd(20, math.sqrt(20), 3, 0) == pytest.approx(7.745967, abs=1e-6)
    assert safety_stock_cycle_service(20, math.sqrt(20), 3, 0, 0.95) == pytest.approx(
        12.740981, abs=1e-5
    )
    # with σ_L = 1: σ_DL = √(60 + 400) = 21.447611; z(0.9) = 1.281552 → 27.486219
    assert safety_stock_cycle_service(20, math.sqrt(20), 3, 1, 0.9) == pytest.approx(
        27.486219, abs=1e-5
    )
    assert safety_stock_cycle_service(20, math.sqrt(20), 3, 0, 0.5) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="must be in"):
        safety_stock_cycle_service(1, 1, 1, 0, 1.0)


def test_fill_rate_safety_stock_by_hand() -> None:
    # G(1) = φ(1) − (1 − Φ(1)) = 0.241971 − 0.158655 = 0.083316 (Silver et al. 2017, table)
    assert normal_loss(1.0) == pytest.approx(0.083316, abs=1e-6)
    # σ_DL = 6; Q chosen so that G(k) = Q·0.01/6 = G(1) → k = 1, SS = 6
    q = normal_loss(1.0) * 6 / 0.01
    assert safety_stock_fill_rate(10, 3, 4, 0, 0.99, q) == pytest.approx(6.0, abs=1e-6)
    # G(0) = 0.398942 → k = 0
    q0 = normal_loss(0.0) * 6 / 0.01
    assert safety_stock_fill_rate(10, 3, 4, 0, 0.99, q0) == pytest.approx(0.0, abs=1e-6)
    # a higher fill rate needs more stock
    assert safety_stock_fill_rate(10, 3, 4, 0, 0.999, q) > 6.0


def test_dispersion_from_units_per_order() -> None:
    data = tiny_scenario_dict()
    data["crm"]["segments"]["all"]["units_per_order"] = 3
    data["crm"]["segments"]["all"]["units_per_order_cv"] = 0.5
    # Var U = (0.5·2)² = 1, E[U²] = 10, E[U²]/E[U] = 10/3
    assert demand_dispersion(scenario_from_dict(data))["widget"] == pytest.approx(10 / 3)


def test_table_per_stock_point_by_hand() -> None:
    """tiny: sup (fixed 1 day) → wh (lane fixed 2 days): L = 3, σ_L = 0; 200 units over 10
    days → μ_D = 20; units per order 1 → Poisson, σ_D² = 20; SS(0.95) = 12.740981."""
    scenario = scenario_from_dict(tiny_scenario_dict())
    demand = pd.DataFrame({"bucket": range(10), "zone": "zone", "product": "widget", "units": 20.0})
    table = safety_stock_table(scenario, demand, {("wh", "widget"): (("zone", "widget", 1.0),)})
    assert list(table.columns) == list(SAFETY_STOCK_COLUMNS)
    row = table.iloc[0]
    assert (row["node"], row["item"]) == ("wh", "widget")
    assert row["mean_daily_demand"] == pytest.approx(20.0)
    assert row["sd_daily_demand"] == pytest.approx(math.sqrt(20.0))
    assert (row["lead_time_mean"], row["lead_time_sd"]) == (3.0, 0.0)
    assert row["safety_stock"] == pytest.approx(12.740981, abs=1e-5)
    assert row["reorder_point"] == pytest.approx(60 + 12.740981, abs=1e-5)


def test_table_with_variable_lane_lead_time_and_fill_rate() -> None:
    data = tiny_scenario_dict()
    data["lanes"][0]["lead_time"] = {"dist": "uniform", "low": 1, "high": 3}  # mean 2, var 1/3
    scenario = scenario_from_dict(data)
    demand = pd.DataFrame({"bucket": range(10), "zone": "zone", "product": "widget", "units": 20.0})
    pairs = {("wh", "widget"): (("zone", "widget", 1.0),)}
    table = safety_stock_table(scenario, demand, pairs, fill_rate=0.99)
    row = table.iloc[0]
    assert row["lead_time_sd"] == pytest.approx(math.sqrt(1 / 3))
    sd_dl = math.sqrt(3 * 20 + 400 / 3)
    expected = safety_stock_fill_rate(20, math.sqrt(20), 3, math.sqrt(1 / 3), 0.99, 20.0)
    assert row["safety_stock"] == pytest.approx(expected)
    assert normal_loss(expected / sd_dl) == pytest.approx(20 * 0.01 / sd_dl, abs=1e-9)


def test_soft_targets_in_the_plan_are_off_by_default_and_hold_a_buffer() -> None:
    from crm_model import DemandModel
    from optimize import PlanningData, plan_supply
    from optimize.model import build_plan_model
    from optimize.solve import model_size

    scenario = scenario_from_dict(tiny_scenario_dict(horizon_days=20))
    demand = DemandModel(scenario).expected_by_bucket()
    data = PlanningData.from_scenario(scenario, demand)
    assert data.safety_stock == {}
    base_size = model_size(build_plan_model(data))
    with_targets = data.with_safety_stock({("wh", "widget"): 10.0, ("nowhere", "widget"): 5.0})
    assert data.safety_stock == {}  # not modified
    assert with_targets.safety_stock == {("wh", "widget"): 10.0}
    size = model_size(build_plan_model(with_targets))
    assert size["variables"] == base_size["variables"] + 20
    assert size["constraints"] == base_size["constraints"] + 20

    plain = plan_supply(scenario, demand)
    targets = pd.DataFrame({"node": ["wh"], "item": ["widget"], "safety_stock": [10.0]})
    buffered = plan_supply(scenario, demand, safety_stock=targets)
    assert plain.cost_breakdown["safety_stock_penalty"] == 0.0
    stock = buffered.inventory.set_index("bucket")["qty"]
    # the first receipt can arrive in bucket 3 (1 + 2 days of lead time): from then on the
    # buffer is held while it still pays (penalty 0.25/unit-day against buying it)
    assert (stock.loc[3:9] >= 10.0 - 1e-6).all()
    assert (stock.loc[3:9] > plain.inventory.set_index("bucket")["qty"].loc[3:9]).all()
    below = 10.0 - stock.clip(upper=10.0)
    assert buffered.cost_breakdown["safety_stock_penalty"] == pytest.approx(0.25 * below.sum())
