"""The planner reproduces uncapacitated single-item lot sizing, solved independently by the
Wagner-Whitin dynamic program (Wagner & Whitin 1958, Management Science 5(1))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimize import SolveStatus, plan_supply
from scenarios import scenario_from_dict


def wagner_whitin(demand: list[float], order_cost: float, holding: float) -> float:
    """Least ordering + holding cost covering ``demand`` (no backorders, zero lead time).

    ``best[t]`` is the cost of days 0..t−1; an order on day j covers days j..t−1 and a unit for
    day k waits k − j nights: best[t] = min_j best[j] + K·[D(j..t−1) > 0] + h·Σ_k (k − j)·d_k.
    """
    n = len(demand)
    best = [0.0] + [float("inf")] * n
    for t in range(1, n + 1):
        for j in range(t):
            covered = demand[j:t]
            setup = order_cost if sum(covered) > 0 else 0.0
            carry = holding * sum((k - j) * d for k, d in enumerate(demand[j:t], start=j))
            best[t] = min(best[t], best[j] + setup + carry)
    return best[n]


def test_wagner_whitin_by_hand() -> None:
    # 10 a day, K = 50, h = 1: two orders of three days, 2·(50 + 10 + 20) = 160
    assert wagner_whitin([10] * 6, 50.0, 1.0) == 160.0
    assert wagner_whitin([0, 0, 5], 50.0, 1.0) == 50.0
    assert wagner_whitin([0, 0, 0], 50.0, 1.0) == 0.0


def lot_sizing_scenario(horizon: int, order_cost: float, holding: float) -> dict:
    """One supplier → one warehouse → one zone, no lead time, price and freight 0; holding
    unit_cost × rate / 365 = ``holding`` per unit-day; shortages far dearer than anything."""
    return {
        "name": "lot_sizing",
        "start_date": "2027-01-04",
        "horizon_days": horizon,
        "bucket": "day",
        "products": {"item": {"unit_cost": holding, "price": 1000.0}},
        "nodes": {
            "sup": {
                "kind": "supplier",
                "order_cost": order_cost,
                "supplies": {"item": {"price": 0}},
            },
            "dc": {"kind": "warehouse"},
            "zone": {"kind": "customer_zone"},
        },
        "lanes": [
            {"src": "sup", "dst": "dc", "lead_time": {"dist": "fixed", "mean": 0}},
            {"src": "dc", "dst": "zone", "lead_time": {"dist": "fixed", "mean": 0}},
        ],
        "costs": {
            "holding_cost_rate": 365.0,
            "backorder_cost_per_unit_day": 1000.0,
            "lost_sale_cost_per_unit": 10000.0,
        },
    }


@pytest.mark.parametrize("seed", range(30))
def test_plan_equals_wagner_whitin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    horizon = int(rng.integers(3, 13))
    units = rng.integers(0, 21, size=horizon).astype(float)
    units[rng.random(horizon) < 0.2] = 0.0
    order_cost = float(rng.integers(5, 200))
    holding = float(rng.integers(1, 6))
    scenario = scenario_from_dict(lot_sizing_scenario(horizon, order_cost, holding))
    demand = pd.DataFrame(
        {"bucket": range(horizon), "zone": "zone", "product": "item", "units": units}
    )
    plan = plan_supply(scenario, demand)
    assert plan.status is SolveStatus.OPTIMAL
    expected = wagner_whitin(units.tolist(), order_cost, holding)
    assert plan.objective == pytest.approx(expected, rel=1e-7, abs=1e-6)
    assert plan.service["backlog"].max() == pytest.approx(0.0, abs=1e-7)
