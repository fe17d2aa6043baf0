"""KPIs against values computed by hand on the tiny backorder case of test_sim."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports import compute_kpis, summarize
from scenarios import scenario_from_dict
from tests.conftest import tiny_scenario_dict
from tests.test_sim import _orders, _purchase, _run


@pytest.fixture(scope="module")
def kpis() -> pd.Series:
    scenario = scenario_from_dict(tiny_scenario_dict())
    tables = _run(scenario, _purchase(2, 10, 5), _orders([(0.5, 3), (1.5, 4)]))
    frame = compute_kpis(scenario, tables)
    return frame[frame["scope"] == "all"].set_index("metric")["value"]


def test_service_kpis(kpis: pd.Series) -> None:
    assert kpis["fill_rate"] == pytest.approx(5 / 7)  # 3 + 2 of 7 units from stock
    assert kpis["otif"] == pytest.approx(0.5)  # CO-1 arrives day 6, promised 3.5
    assert kpis["backorders"] == 2
    assert kpis["lost_sales"] == 0
    assert kpis["open_backorders_end"] == 0
    # lead times: CO-0 0.5 → 1.5 (1 day); CO-1 1.5 → 6.0 (4.5 days)
    assert kpis["order_lead_time_mean"] == pytest.approx(2.75)


def test_money_kpis(kpis: pd.Series) -> None:
    holding = 42 * 10.0 * 0.25 / 365  # 42 unit-days at 10/unit, 25 %/yr
    assert kpis["revenue"] == pytest.approx(7 * 25.0)
    assert kpis["purchase_cost"] == pytest.approx(10 * 8.0)
    assert kpis["transport_cost"] == pytest.approx(10 * 1.0 + 7 * 0.5)
    assert kpis["holding_cost"] == pytest.approx(holding)
    assert kpis["avg_inventory"] == pytest.approx(4.2)
    # 5 at the start + 10 received − 7 shipped = 8 left on the last day, at unit cost 10
    assert kpis["ending_inventory_value"] == pytest.approx(80.0)
    assert kpis["total_cost"] == pytest.approx(80 + 13.5 + holding)
    assert kpis["margin"] == pytest.approx(175 - 80 - 13.5 - holding)


def test_summary_confidence_interval() -> None:
    frame = pd.DataFrame(
        {
            "replication": [0, 1, 2, 3],
            "metric": "fill_rate",
            "scope": "all",
            "value": [0.90, 0.92, 0.94, 0.96],
            "unit": "fraction",
        }
    )
    row = summarize(frame).iloc[0]
    sd = float(np.std([0.90, 0.92, 0.94, 0.96], ddof=1))
    assert row["value"] == pytest.approx(0.93)
    assert row["std"] == pytest.approx(sd)
    assert row["ci_halfwidth"] == pytest.approx(
        3.182446 * sd / math.sqrt(4), rel=1e-6
    )  # t(0.975, 3)


def test_inventory_and_shortage_kpis(kpis: pd.Series) -> None:
    assert kpis["order_fill_rate"] == pytest.approx(0.5)  # CO-0 complete, CO-1 partial
    assert kpis["backorder_age_mean"] == pytest.approx(3.5)  # 2 units waited 1.5 → 5.0
    assert kpis["avg_on_order"] == pytest.approx(3.0)  # 10 units on order days 2–4
    assert kpis["days_of_supply"] == pytest.approx(4.2 / 0.7)  # 7 units over 10 days
    # 2 units backordered at the ends of days 1–4, at 2 % of the price (0.5) per unit-day
    assert kpis["shortage_cost"] == pytest.approx(8 * 0.5)
    assert kpis["inventory_turns"] == pytest.approx(70 * 36.5 / 42)
    assert math.isnan(kpis["cycle_service_level"])  # one receipt: no full cycle


def test_kpis_when_the_warm_up_leaves_no_orders() -> None:
    scenario = scenario_from_dict(tiny_scenario_dict(simulation={"seed": 7, "warmup_days": 9}))
    tables = _run(scenario, _purchase(2, 10, 5), _orders([(0.5, 3), (1.5, 4)]))
    kpis = compute_kpis(scenario, tables)
    values = kpis[kpis["scope"] == "all"].set_index("metric")["value"]
    assert values["orders"] == 0 and values["revenue"] == 0
    assert math.isnan(values["fill_rate"])
    assert values["avg_inventory"] == pytest.approx(8.0)  # day 9 only: 8 on hand
