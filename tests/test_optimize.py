"""Supply planning: hand-computed plans, model sizes, status handling and plan conservation."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_model import DemandModel
from optimize import (
    PLAN_TABLES,
    Plan,
    PlanningData,
    PlanningState,
    SolveStatus,
    build_plan_model,
    extract_plan,
    plan_supply,
    solve,
)
from optimize.data import lead_buckets
from optimize.solve import _status_of, model_size
from scenarios import load_scenario, scenario_from_dict
from scenarios.errors import DataError
from scenarios.schema import Scenario

TOL = 1e-6


# ------------------------------------------------------------------------------------ helpers
def chain(**changes: Any) -> dict[str, Any]:
    """Supplier 'sup' → warehouse 'dc' → zone 'zone', one product 'widget', day buckets.

    Lead time sup → dc: 1 day at the supplier + 1 day on the lane = 2 days. Holding costs
    unit_cost 36.5 × rate 1.0 / 365 = 0.1 per unit-day. Purchase price 10, inbound freight 1,
    outbound freight 2 per unit. Backorders cost 5 per unit-day, lost sales 100 (the price).
    """
    data: dict[str, Any] = {
        "name": "chain",
        "start_date": "2027-01-04",
        "horizon_days": 6,
        "bucket": "day",
        "products": {"widget": {"unit_cost": 36.5, "price": 100.0}},
        "nodes": {
            "sup": {
                "kind": "supplier",
                "lead_time": {"dist": "fixed", "mean": 1},
                "supplies": {"widget": {"price": 10.0}},
            },
            "dc": {"kind": "warehouse", "initial_inventory": {"widget": 5}},
            "zone": {"kind": "customer_zone"},
        },
        "lanes": [
            {
                "src": "sup",
                "dst": "dc",
                "lead_time": {"dist": "fixed", "mean": 1},
                "cost_per_unit": 1.0,
            },
            {
                "src": "dc",
                "dst": "zone",
                "lead_time": {"dist": "fixed", "mean": 1},
                "cost_per_unit": 2.0,
            },
        ],
        "costs": {"holding_cost_rate": 1.0, "backorder_cost_per_unit_day": 5.0},
    }
    data.update(changes)
    return data


def scenario(data: dict[str, Any]) -> Scenario:
    return scenario_from_dict(data)


def demand(zone: str, product: str, units: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"bucket": range(len(units)), "zone": zone, "product": product, "units": units}
    )


def rows(frame: pd.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    """Selected columns as a list of tuples, floats rounded to 9 digits."""
    out = []
    for record in frame[list(columns)].itertuples(index=False):
        out.append(tuple(round(v, 9) if isinstance(v, float) else v for v in record))
    return out


def check_tables(plan: Plan) -> None:
    for name, columns in PLAN_TABLES.items():
        assert tuple(plan.table(name).columns) == columns, name


# ------------------------------------------------------------------------------ calendar
def test_lead_time_rounds_up_to_whole_buckets() -> None:
    assert lead_buckets(0, 7) == 0
    assert lead_buckets(1, 7) == 1
    assert lead_buckets(7, 7) == 1
    assert lead_buckets(7 + 1e-12, 7) == 1
    assert lead_buckets(8, 7) == 2
    assert lead_buckets(44, 7) == 7
    assert lead_buckets(2, 1) == 2


def test_partial_last_bucket_has_its_own_length() -> None:
    s = scenario(chain(horizon_days=10, bucket="week"))
    data = PlanningData.from_scenario(s, demand("zone", "widget", [1, 1]))
    assert data.days_in_bucket == (7, 3)
    assert [data.start_day(b) for b in range(2)] == [0, 7]
    assert [data.day_end(b) for b in range(2)] == [6, 9]


# ------------------------------------------------------------------- (1) hand-computed chain
def test_single_chain_matches_hand_computed_plan() -> None:
    """Demand 3, 4, 5, 2, 6, 1 on days 0-5; 5 on hand; a purchase released on day d arrives on
    day d + 2, so days 0-1 live on the initial 5 units: day 0 serves 3, day 1 serves 2 and
    backorders 2. From day 2 every purchase arrives just in time (holding costs more than
    nothing): day 2 needs 5 + the 2 backordered, day 3: 2, day 4: 6, day 5: 1."""
    s = scenario(chain())
    plan = plan_supply(s, demand("zone", "widget", [3, 4, 5, 2, 6, 1]))
    assert plan.status is SolveStatus.OPTIMAL
    check_tables(plan)
    assert rows(
        plan.purchases,
        "lane",
        "supplier",
        "dst",
        "bucket",
        "release_day",
        "due_day",
        "qty",
        "unit_price",
    ) == [
        (0, "sup", "dc", 0, 0, 2, 7.0, 10.0),
        (0, "sup", "dc", 1, 1, 3, 2.0, 10.0),
        (0, "sup", "dc", 2, 2, 4, 6.0, 10.0),
        (0, "sup", "dc", 3, 3, 5, 1.0, 10.0),
    ]
    assert rows(plan.inventory, "node", "bucket", "day_end", "qty") == [
        ("dc", 0, 0, 2.0),
        ("dc", 1, 1, 0.0),
        ("dc", 2, 2, 0.0),
        ("dc", 3, 3, 0.0),
        ("dc", 4, 4, 0.0),
        ("dc", 5, 5, 0.0),
    ]
    service = plan.service
    assert service["served"].tolist() == pytest.approx([3, 2, 7, 2, 6, 1])
    assert service["backlog"].tolist() == pytest.approx([0, 2, 0, 0, 0, 0])
    assert set(service["node"]) == {"dc"}
    bought = 7 + 2 + 6 + 1
    purchase = bought * 10.0
    transport = bought * 1.0 + 21 * 2.0  # inbound freight + outbound on every unit served
    holding = 2 * 0.1 * 1  # 2 units held over day 0
    backorder = 2 * 5.0 * 1  # 2 units backordered over day 1
    assert plan.cost_breakdown["purchase"] == pytest.approx(purchase)
    assert plan.cost_breakdown["transport"] == pytest.approx(transport)
    assert plan.cost_breakdown["holding"] == pytest.approx(holding)
    assert plan.cost_breakdown["backorder"] == pytest.approx(backorder)
    assert plan.objective == pytest.approx(purchase + transport + holding + backorder)
    assert plan.objective == pytest.approx(228.2)
    assert sum(plan.cost_breakdown.values()) == pytest.approx(plan.objective)


def test_plan_numbers_are_plain_python() -> None:
    plan = plan_supply(scenario(chain()), demand("zone", "widget", [3, 4, 5, 2, 6, 1]))
    assert type(plan.objective) is float
    assert all(type(v) is float for v in plan.cost_breakdown.values())
    assert all(type(v) is int for v in plan.model_size.values())


# ------------------------------------------------------------- (2) backorders vs lost sales
def short_supply(unmet: str) -> Scenario:
    """Supplier ships at most 3 a day, arriving the next day; demand is 4 a day for 5 days;
    nothing on hand; holding 0.1, backorders 1 per unit-day; lost sales 50 per unit."""
    data = chain(horizon_days=5, products={"widget": {"unit_cost": 36.5, "price": 50.0}})
    data["nodes"]["sup"] = {
        "kind": "supplier",
        "supplies": {"widget": {"price": 10.0, "capacity_per_day": 3}},
    }
    data["nodes"]["dc"] = {"kind": "warehouse"}
    data["lanes"][0]["cost_per_unit"] = 0.0
    data["lanes"][1]["cost_per_unit"] = 0.0
    data["costs"] = {
        "holding_cost_rate": 1.0,
        "backorder_cost_per_unit_day": 1.0,
        "lost_sale_cost_per_unit": 50.0,
    }
    data["fulfillment"] = {"unmet_demand": unmet}
    return scenario(data)


def test_backorders_accumulate_when_supply_is_short() -> None:
    plan = plan_supply(short_supply("backorder"), demand("zone", "widget", [4] * 5))
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.purchases["qty"].tolist() == pytest.approx([3, 3, 3, 3])  # days 0-3, full cap
    assert plan.service["served"].tolist() == pytest.approx([0, 3, 3, 3, 3])
    backlog = [4, 4 + 4 - 3, 5 + 4 - 3, 6 + 4 - 3, 7 + 4 - 3]
    assert plan.service["backlog"].tolist() == pytest.approx(backlog)
    assert plan.service["lost"].tolist() == pytest.approx([0] * 5)
    assert plan.cost_breakdown["backorder"] == pytest.approx(sum(backlog) * 1.0)
    # backlog still open at the end is valued as lost sales
    assert plan.cost_breakdown["lost_sales"] == pytest.approx(8 * 50.0)
    assert plan.objective == pytest.approx(12 * 10.0 + 30.0 + 400.0)


def test_lost_sales_are_not_carried_over() -> None:
    plan = plan_supply(short_supply("lost_sales"), demand("zone", "widget", [4] * 5))
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.service["served"].tolist() == pytest.approx([0, 3, 3, 3, 3])
    assert plan.service["lost"].tolist() == pytest.approx([4, 1, 1, 1, 1])
    assert plan.service["backlog"].tolist() == pytest.approx([0] * 5)
    assert plan.cost_breakdown["backorder"] == 0.0
    assert plan.objective == pytest.approx(12 * 10.0 + 8 * 50.0)


# ------------------------------------------------------------ (3) plant with a bill of materials
def plant_chain(**plant: Any) -> dict[str, Any]:
    """sup → plant → dc → zone. A 'kit' takes 2 'part's; making takes 1 day; every lane takes
    1 day. Holding: part 0.05, kit 0.2 per unit-day (so parts wait, not kits)."""
    data = chain(
        products={
            "kit": {"unit_cost": 73.0, "price": 100.0, "bom": {"part": 2}},
            "part": {"kind": "component", "unit_cost": 18.25},
        }
    )
    data["nodes"] = {
        "sup": {"kind": "supplier", "supplies": {"part": {"price": 3.0}}},
        "plant": {
            "kind": "plant",
            "production_lead_time_days": 1,
            "produces": {"kit": {"cost_per_unit": 4.0}},
            "initial_inventory": {"part": 4},
            **plant,
        },
        "dc": {"kind": "warehouse"},
        "zone": {"kind": "customer_zone"},
    }
    data["lanes"] = [
        {
            "src": "sup",
            "dst": "plant",
            "lead_time": {"dist": "fixed", "mean": 1},
            "cost_per_unit": 0.5,
        },
        {
            "src": "plant",
            "dst": "dc",
            "lead_time": {"dist": "fixed", "mean": 1},
            "cost_per_unit": 1.0,
            "products": ["kit"],
        },
        {"src": "dc", "dst": "zone", "lead_time": {"dist": "fixed", "mean": 1}},
    ]
    return data


def test_two_echelon_plan_with_bom_and_output_lag() -> None:
    """Kits due at the dc: 5 on day 4, 3 on day 5. Backwards: ship from the plant on days 3 and
    4; make on days 2 and 3 (output a day later); parts in the plant on days 2 (10, of which 4
    on hand) and 3 (6); so buy 6 on day 1 and 6 on day 2."""
    s = scenario(plant_chain())
    plan = plan_supply(s, demand("zone", "kit", [0, 0, 0, 0, 5, 3]))
    assert plan.status is SolveStatus.OPTIMAL
    assert rows(
        plan.production, "plant", "product", "bucket", "start_day", "finish_day", "qty"
    ) == [("plant", "kit", 2, 2, 3, 5.0), ("plant", "kit", 3, 3, 4, 3.0)]
    assert rows(plan.transfers, "lane", "src", "dst", "item", "release_day", "due_day", "qty") == [
        (1, "plant", "dc", "kit", 3, 4, 5.0),
        (1, "plant", "dc", "kit", 4, 5, 3.0),
    ]
    assert rows(plan.purchases, "lane", "item", "release_day", "due_day", "qty") == [
        (0, "part", 1, 2, 6.0),
        (0, "part", 2, 3, 6.0),
    ]
    parts = plan.inventory[(plan.inventory["node"] == "plant") & (plan.inventory["item"] == "part")]
    assert parts["qty"].tolist() == pytest.approx([4, 4, 0, 0, 0, 0])
    assert plan.inventory[plan.inventory["item"] == "kit"]["qty"].abs().max() < TOL
    purchase = 12 * 3.0
    transport = 12 * 0.5 + 8 * 1.0
    production = 8 * 4.0
    holding = 4 * 0.05 * 2  # the 4 parts on hand wait over days 0 and 1
    assert plan.objective == pytest.approx(purchase + transport + production + holding)
    assert plan.objective == pytest.approx(82.4)


def test_plant_capacity_moves_production_earlier() -> None:
    """Capacity 5 a day: 8 kits due on day 4 need 3 made on day 1 (held a day as kits) and 5 on
    day 2."""
    s = scenario(plant_chain(capacity_per_day=5))
    plan = plan_supply(s, demand("zone", "kit", [0, 0, 0, 0, 8, 0]))
    assert plan.status is SolveStatus.OPTIMAL
    assert rows(plan.production, "bucket", "qty") == [(1, 3.0), (2, 5.0)]


def test_production_batches_are_whole() -> None:
    s = scenario(plant_chain(produces={"kit": {"cost_per_unit": 4.0, "batch_size": 4}}))
    plan = plan_supply(s, demand("zone", "kit", [0, 0, 0, 0, 5, 3]))
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.production["qty"].sum() == pytest.approx(8)
    assert all(q % 4 == pytest.approx(0) for q in plan.production["qty"])


# ------------------------------------------------------------------ (4) fixed ordering costs
def batching_chain(order_cost: float) -> Scenario:
    """Lead time 0, demand 10 a day for 6 days, holding 1 per unit-day, price 2."""
    data = chain(products={"widget": {"unit_cost": 365.0, "price": 100.0}})
    data["nodes"]["sup"] = {
        "kind": "supplier",
        "order_cost": order_cost,
        "supplies": {"widget": {"price": 2.0}},
    }
    data["nodes"]["dc"] = {"kind": "warehouse"}
    data["lanes"][0] = {"src": "sup", "dst": "dc", "lead_time": {"dist": "fixed", "mean": 0}}
    data["lanes"][1]["cost_per_unit"] = 0.0
    return scenario(data)


def test_order_cost_batches_orders() -> None:
    """Wagner-Whitin by hand: covering k days with one order costs 50 + 10·(0 + 1 + … + k−1).
    Days 0-5: 3+3 → 2·(50 + 30) = 160; 2+4 → 60 + 110 = 170; 2+2+2 → 180; 6 → 200. So two
    orders of 30 on days 0 and 3."""
    flat = plan_supply(batching_chain(0.0), demand("zone", "widget", [10] * 6))
    batched = plan_supply(batching_chain(50.0), demand("zone", "widget", [10] * 6))
    assert flat.status is SolveStatus.OPTIMAL and batched.status is SolveStatus.OPTIMAL
    assert rows(flat.purchases, "bucket", "qty") == [(b, 10.0) for b in range(6)]
    assert rows(batched.purchases, "bucket", "qty") == [(0, 30.0), (3, 30.0)]
    assert batched.cost_breakdown["ordering"] == pytest.approx(100.0)
    assert batched.cost_breakdown["holding"] == pytest.approx(20 + 10 + 0 + 20 + 10 + 0)
    assert batched.objective == pytest.approx(60 * 2.0 + 160.0)
    assert batched.mip_gap is not None and batched.mip_gap <= 1e-4
    assert flat.mip_gap is None  # a pure LP


def test_lane_shipment_cost_batches_like_an_order_cost() -> None:
    data = copy.deepcopy(batching_chain(0.0).model_dump(mode="json"))
    data["lanes"][0]["cost_per_shipment"] = 50.0
    plan = plan_supply(scenario(data), demand("zone", "widget", [10] * 6))
    assert rows(plan.purchases, "bucket", "qty") == [(0, 30.0), (3, 30.0)]
    assert plan.cost_breakdown["ordering"] == pytest.approx(100.0)


def test_moq_and_order_multiple() -> None:
    """Demand 7 on day 0 only; the supplier sells multiples of 5 with an MOQ of 10: buy 10."""
    data = copy.deepcopy(batching_chain(0.0).model_dump(mode="json"))
    data["nodes"]["sup"]["supplies"]["widget"].update({"moq": 10, "order_multiple": 5})
    plan = plan_supply(scenario(data), demand("zone", "widget", [7, 0, 0, 0, 0, 0]))
    assert plan.status is SolveStatus.OPTIMAL
    assert rows(plan.purchases, "bucket", "qty") == [(0, 10.0)]
    assert plan.model_size["binaries"] == 6 and plan.model_size["integers"] == 6


# ------------------------------------------------------------------------- (5) model size
def size(data: dict[str, Any], units: list[float]) -> dict[str, int]:
    s = scenario(data)
    return model_size(
        build_plan_model(PlanningData.from_scenario(s, demand("zone", "widget", units)))
    )


def test_model_size_of_the_chain() -> None:
    """6 day buckets, lead 2: flows released on days 0-3 (4); inventory, served and backlog per
    day (6 each); balances of stock and backlog per day (6 each). No binaries."""
    units = [3, 4, 5, 2, 6, 1]
    assert size(chain(), units) == {
        "variables": 4 + 6 + 6 + 6,
        "constraints": 6 + 6,
        "binaries": 0,
        "integers": 0,
    }
    lost = chain(fulfillment={"unmet_demand": "lost_sales"})
    assert size(lost, units) == {"variables": 22, "constraints": 12, "binaries": 0, "integers": 0}


def test_model_size_with_fixed_costs_and_storage() -> None:
    """An order cost adds one binary per release day (4) and, per flow, a link flow ≤ M·y and,
    with backorders, flow ≤ M_t·y + backlog (4 + 4). A storage capacity adds one overflow
    variable and one constraint per day (6 + 6). With lost sales there is no backlog link."""
    data = chain()
    data["nodes"]["sup"]["order_cost"] = 20.0
    data["nodes"]["dc"]["storage_capacity"] = 100
    units = [3, 4, 5, 2, 6, 1]
    assert size(data, units) == {
        "variables": 22 + 4 + 6,
        "constraints": 12 + 8 + 6,
        "binaries": 4,
        "integers": 0,
    }
    data["fulfillment"] = {"unmet_demand": "lost_sales"}
    assert size(data, units) == {
        "variables": 32,
        "constraints": 12 + 4 + 6,
        "binaries": 4,
        "integers": 0,
    }


def test_big_m_is_the_demand_still_to_come() -> None:
    data = chain()
    data["nodes"]["sup"]["order_cost"] = 20.0
    s = scenario(data)
    plan_data = PlanningData.from_scenario(s, demand("zone", "widget", [3, 4, 5, 2, 6, 1]))
    model = build_plan_model(plan_data)
    # every flow is bounded by the whole demand (21); released on day b it arrives on b + 2
    assert [model.flow[0, "widget", b].ub for b in range(4)] == [21, 21, 21, 21]
    movement = plan_data.movements[0]
    assert [plan_data.link_bound(movement, b) for b in range(4)] == [14, 9, 7, 1]


# ------------------------------------------------------- (6) a library scenario, end to end
def test_retailer_holiday_plan_conserves_units_and_leaves_inputs_alone() -> None:
    s = load_scenario("retailer_holiday", {"solver.time_limit_s": 4.0})
    forecast = DemandModel(s).expected_by_bucket()
    forecast_before = forecast.copy(deep=True)
    scenario_before = s.model_dump(mode="json")
    plan = plan_supply(s, forecast)
    assert plan.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    check_tables(plan)
    pd.testing.assert_frame_equal(forecast, forecast_before)
    assert s.model_dump(mode="json") == scenario_before
    assert sum(plan.cost_breakdown.values()) == pytest.approx(plan.objective, rel=1e-9)

    days = s.bucket.days
    inventory = plan.inventory.set_index(["node", "item", "bucket"])["qty"]
    assert len(inventory) == 2 * 6 * s.n_buckets
    receipts: dict[tuple[str, str, int], float] = {}
    issues: dict[tuple[str, str, int], float] = {}

    def add(table: dict, key: tuple[str, str, int], qty: float) -> None:
        table[key] = table.get(key, 0.0) + qty

    for row in plan.purchases.itertuples():
        add(receipts, (row.dst, row.item, row.due_day // days), row.qty)
    for row in plan.transfers.itertuples():
        add(receipts, (row.dst, row.item, row.due_day // days), row.qty)
        add(issues, (row.src, row.item, row.release_day // days), row.qty)
    for row in plan.service.itertuples():
        add(issues, (row.node, row.item, row.bucket), row.served)
    for (node, item, b), end in inventory.items():
        start = inventory.get((node, item, b - 1), s.nodes[node].initial_inventory.get(item, 0))
        flow = receipts.get((node, item, b), 0.0) - issues.get((node, item, b), 0.0)
        assert start + flow == pytest.approx(end, abs=1e-6), (node, item, b)
    # every unit demanded is served, still backordered at the end, or lost
    service = plan.service
    last = service[service["bucket"] == s.n_buckets - 1]
    total = service["served"].sum() + last["backlog"].sum() + service["lost"].sum()
    assert total == pytest.approx(service["demand"].sum())
    assert service["demand"].sum() == pytest.approx(forecast["units"].sum())
    assert (plan.purchases["due_day"] - plan.purchases["release_day"] >= 0).all()


# ------------------------------------------------------------------- status and boundaries
def test_services_company_needs_no_plan() -> None:
    data = {
        "name": "consultancy",
        "start_date": "2027-01-04",
        "horizon_days": 28,
        "products": {"advice": {"kind": "service", "price": 100.0}},
        "nodes": {"city": {"kind": "customer_zone"}},
        "crm": {
            "segments": {
                "smb": {
                    "customers": 10,
                    "orders_per_customer_per_year": 12,
                    "product_mix": {"advice": 1},
                    "zone_mix": {"city": 1},
                }
            }
        },
    }
    s = scenario(data)
    plan = plan_supply(s, DemandModel(s).expected_by_bucket())
    assert plan.status is SolveStatus.NOT_NEEDED
    assert plan.objective == 0.0
    assert plan.status.has_plan
    check_tables(plan)
    assert all(plan.table(name).empty for name in PLAN_TABLES)


def test_bad_demand_lists_every_problem() -> None:
    bad = pd.DataFrame(
        {
            "bucket": [0, 1, 99],
            "zone": ["zone", "mars", "zone"],
            "product": ["widget"] * 3,
            "units": [1.0, -2.0, 1.0],
        }
    )
    with pytest.raises(DataError) as error:
        plan_supply(scenario(chain()), bad)
    text = str(error.value)
    assert "3 problems" in text
    assert "demand.units" in text and "demand.bucket" in text and "'mars'" in text


def test_missing_demand_columns_are_an_error() -> None:
    with pytest.raises(DataError, match="missing columns"):
        plan_supply(scenario(chain()), pd.DataFrame({"zone": ["zone"], "units": [1.0]}))


def test_status_mapping_covers_limits_and_failures() -> None:
    from highspy import HighsModelStatus as H

    assert _status_of(H.kOptimal, True)[0] is SolveStatus.OPTIMAL
    assert _status_of(H.kTimeLimit, True)[0] is SolveStatus.FEASIBLE
    assert _status_of(H.kTimeLimit, False)[0] is SolveStatus.NO_SOLUTION
    assert _status_of(H.kIterationLimit, False)[0] is SolveStatus.NO_SOLUTION
    assert _status_of(H.kSolutionLimit, True)[0] is SolveStatus.FEASIBLE
    assert _status_of(H.kInfeasible, False)[0] is SolveStatus.INFEASIBLE
    assert _status_of(H.kUnboundedOrInfeasible, False)[0] is SolveStatus.INFEASIBLE
    assert _status_of(H.kUnbounded, False)[0] is SolveStatus.UNBOUNDED
    assert _status_of(H.kSolveError, False)[0] is SolveStatus.ERROR
    assert _status_of(H.kMemoryLimit, True)[0] is SolveStatus.ERROR
    for condition in H.__members__.values():
        status, message = _status_of(condition, False)
        assert isinstance(status, SolveStatus) and message


def test_solve_keeps_the_objective_constant_the_sense_and_integrality() -> None:
    """max 3x + 2y + 10 with x + y ≤ 3.5, x ≤ 1.5, x, y integer: x = 1, y = 2 → 17; the LP
    relaxation would give x = 1.5, y = 2 → 18.5."""
    model = pyo.ConcreteModel()
    model.x = pyo.Var(within=pyo.NonNegativeIntegers, bounds=(0, 1.5))
    model.y = pyo.Var(within=pyo.NonNegativeIntegers)
    model.c = pyo.Constraint(expr=model.x + model.y <= 3.5)
    model.o = pyo.Objective(expr=3 * model.x + 2 * model.y + 10, sense=pyo.maximize)
    result = solve(model)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(17.0)
    assert (pyo.value(model.x), pyo.value(model.y)) == pytest.approx((1.0, 2.0))
    assert result.mip_gap == pytest.approx(0.0, abs=1e-9)
    model.x.domain = pyo.NonNegativeReals
    model.y.domain = pyo.NonNegativeReals
    relaxed = solve(model)
    assert relaxed.objective == pytest.approx(18.5) and relaxed.mip_gap is None


def test_ranged_rows_and_free_variables_solve() -> None:
    """x ≥ 0, y ≤ 0 free below, 1 ≤ x − y ≤ 4 (one ranged row): min x − y = 1, max = 4."""
    model = pyo.ConcreteModel()
    model.x = pyo.Var(bounds=(0, None))
    model.y = pyo.Var(bounds=(None, 0))
    model.c = pyo.Constraint(expr=pyo.inequality(1, model.x - model.y, 4))
    model.o = pyo.Objective(expr=model.x - model.y)
    result = solve(model)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(1.0)
    assert pyo.value(model.x) - pyo.value(model.y) == pytest.approx(1.0)
    model.o.sense = pyo.maximize
    assert solve(model).objective == pytest.approx(4.0)


def test_infeasible_model_comes_back_as_a_status() -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var(bounds=(0, 1))
    model.c = pyo.Constraint(expr=model.x >= 2)
    model.o = pyo.Objective(expr=model.x)
    result = solve(model)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.objective is None
    data = PlanningData.from_scenario(scenario(chain()), demand("zone", "widget", [1] * 6))
    plan = extract_plan(build_plan_model(data), data, result)
    assert plan.status is SolveStatus.INFEASIBLE and plan.message
    assert all(plan.table(name).empty for name in PLAN_TABLES)


def test_unbounded_model_comes_back_as_a_status() -> None:
    model = pyo.ConcreteModel()
    model.x = pyo.Var()
    model.o = pyo.Objective(expr=model.x)
    model.c = pyo.Constraint(expr=model.x <= 1)
    assert solve(model).status is SolveStatus.UNBOUNDED


# ------------------------------------------------------------------------- starting state
def test_state_pipeline_and_backlog_are_planned_for() -> None:
    """Nothing on hand, 4 units arriving on day 1, 3 open backorders: day 1 serves them and 1 of
    day 1's demand; purchases arrive from day 2 on."""
    state = PlanningState(
        on_hand={}, pipeline=(("dc", "widget", 1, 4.0),), backlog={("zone", "widget"): 3.0}
    )
    plan = plan_supply(scenario(chain()), demand("zone", "widget", [2, 2, 2, 2, 2, 2]), state)
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.service["served"].tolist() == pytest.approx([0, 4, 3 + 2, 2, 2, 2])
    assert plan.service["backlog"].tolist() == pytest.approx([5, 3, 0, 0, 0, 0])
    assert rows(plan.purchases, "bucket", "qty") == [(0, 5.0), (1, 2.0), (2, 2.0), (3, 2.0)]


def test_bad_state_is_reported() -> None:
    state = PlanningState(on_hand={("nowhere", "widget"): 1.0, ("dc", "widget"): -1.0})
    with pytest.raises(DataError, match="2 problems"):
        plan_supply(scenario(chain()), demand("zone", "widget", [1] * 6), state)


def test_storage_overflow_is_soft_and_reported() -> None:
    """10 on hand in a store for 6: the plan stays feasible, pays the penalty, reports it."""
    data = chain()
    data["nodes"]["dc"] = {
        "kind": "warehouse",
        "initial_inventory": {"widget": 10},
        "storage_capacity": 6,
    }
    plan = plan_supply(scenario(data), demand("zone", "widget", [2, 0, 0, 0, 0, 0]))
    assert plan.status is SolveStatus.OPTIMAL
    assert rows(plan.storage_overflow, "node", "bucket", "capacity", "on_hand", "overflow") == [
        ("dc", b, 6.0, 8.0, 2.0) for b in range(6)
    ]
    assert plan.cost_breakdown["storage_penalty"] > 0
    assert "storage capacity exceeded" in plan.message


# ----------------------------------------------------------------- property: plans add up
@settings(max_examples=25, deadline=None)
@given(
    horizon=st.integers(3, 10),
    lead=st.integers(0, 3),
    initial=st.integers(0, 20),
    capacity=st.none() | st.integers(1, 15),
    order_cost=st.sampled_from([0.0, 30.0]),
    unmet=st.sampled_from(["backorder", "lost_sales"]),
    seed=st.integers(0, 10_000),
)
def test_random_chains_conserve_units(
    horizon: int,
    lead: int,
    initial: int,
    capacity: int | None,
    order_cost: float,
    unmet: str,
    seed: int,
) -> None:
    """Whatever the data: stock moves only by the plan's own receipts and issues, every unit
    demanded is served, backordered or lost, and the costs add up to the objective."""
    data = chain(horizon_days=horizon, fulfillment={"unmet_demand": unmet})
    offer: dict[str, Any] = {"price": 10.0}
    if capacity is not None:
        offer["capacity_per_day"] = capacity
    data["nodes"]["sup"] = {
        "kind": "supplier",
        "order_cost": order_cost,
        "supplies": {"widget": offer},
    }
    data["nodes"]["dc"] = {"kind": "warehouse", "initial_inventory": {"widget": initial}}
    data["lanes"][0]["lead_time"] = {"dist": "fixed", "mean": lead}
    units = [float(u) for u in np.random.default_rng(seed).integers(0, 12, size=horizon)]
    plan = plan_supply(scenario(data), demand("zone", "widget", units))
    assert plan.status is SolveStatus.OPTIMAL
    stock = plan.inventory["qty"].to_numpy()
    receipts = np.zeros(horizon)
    for row in plan.purchases.itertuples():
        assert row.due_day == row.release_day + lead
        receipts[row.due_day] += row.qty
    served = plan.service["served"].to_numpy()
    start = np.concatenate([[initial], stock[:-1]])
    assert start + receipts - served == pytest.approx(stock, abs=1e-6)
    assert (stock >= -1e-9).all()
    backlog = plan.service["backlog"].to_numpy()
    lost = plan.service["lost"].to_numpy()
    assert served.sum() + backlog[-1] + lost.sum() == pytest.approx(sum(units), abs=1e-6)
    if capacity is not None:
        per_bucket = plan.purchases.groupby("bucket")["qty"].sum()
        assert (per_bucket <= capacity + 1e-6).all()
    assert sum(plan.cost_breakdown.values()) == pytest.approx(plan.objective, abs=1e-6)


# ------------------------------------------------------------------------ compile to arrays
def _as_pyomo_compiles_it(model: pyo.ConcreteModel) -> dict[str, Any]:
    from optimize.solve import _flat_arrays, _pyomo_arrays

    flat = _flat_arrays(model)
    assert flat is not None, "the planning model's rows are flat sums"
    out = {}
    for name, arrays in (("flat", flat), ("pyomo", _pyomo_arrays(model))):
        columns, rows, cost, offset, matrix, rhs, sense = arrays
        order = np.argsort([v.name for v in columns])  # the same columns, in name order
        dense = matrix.toarray()[:, order]
        out[name] = (
            [v.name for v in np.asarray(columns, dtype=object)[order]],
            [(row.name, side) for row, side in rows],
            cost[order],
            offset,
            dense,
            rhs,
            sense,
        )
    return out


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_plan_model(
            PlanningData.from_scenario(scenario(chain()), demand("zone", "widget", [3, 4, 5]))
        ),
        lambda: build_plan_model(
            PlanningData.from_scenario(
                load_scenario("retailer_holiday", {"horizon_days": 56}),
                DemandModel(
                    load_scenario("retailer_holiday", {"horizon_days": 56})
                ).expected_by_bucket(),
            ).with_safety_stock({("dc_north", "earbuds"): 50.0})
        ),
    ],
    ids=["chain", "retailer_holiday_with_targets"],
)
def test_flat_compile_matches_pyomos_standard_form(build: Any) -> None:
    compiled = _as_pyomo_compiles_it(build())
    flat, reference = compiled["flat"], compiled["pyomo"]
    assert flat[0] == reference[0] and flat[1] == reference[1]
    for got, want in zip(flat[2:], reference[2:], strict=True):
        np.testing.assert_array_equal(got, want)


def test_non_flat_models_fall_back_to_pyomos_compiler() -> None:
    """A product of sums and a maximisation with a constant: the same optimum either way."""
    model = pyo.ConcreteModel()
    model.x = pyo.Var([1, 2], bounds=(0, 4))
    model.p = pyo.Param(initialize=2.0, mutable=True)
    model.c = pyo.Constraint(expr=model.p * (model.x[1] + model.x[2]) <= 6)
    model.o = pyo.Objective(expr=model.x[1] + 2 * model.x[2] + 1, sense=pyo.maximize)
    from optimize.solve import _flat_arrays

    assert _flat_arrays(model) is None
    result = solve(model)
    assert result.objective == pytest.approx(7.0)  # x2 = 3
