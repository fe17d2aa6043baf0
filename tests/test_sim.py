"""Simulation engine: exact event sequences on hand-computed cases, and conservation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scenarios import SupplyNetwork, scenario_from_dict
from sim import ReleaseSchedule, Simulation, Streams
from sim.accounting import order_balance, stock_balance
from tests.conftest import tiny_scenario_dict


def _orders(
    rows: list[tuple[float, float]],
    zone: str = "zone",
    product: str = "widget",
    promise: float = 2.0,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"CO-{i}" for i in range(len(rows))],
            "time": [t for t, _ in rows],
            "customer": np.arange(len(rows), dtype=np.int64),
            "segment": "all",
            "zone": zone,
            "product": product,
            "qty": [float(q) for _, q in rows],
            "campaign": "",
            "requested_time": [t + promise for t, _ in rows],
        }
    )


def _run(scenario, releases, orders):
    streams = Streams.from_seed(np.random.SeedSequence(1))
    tables = Simulation(scenario, SupplyNetwork(scenario), releases, orders, streams).run()
    for frame in tables.values():
        frame.insert(0, "replication", 0)
    return tables


def _purchase(day: float, qty: float, due: float) -> ReleaseSchedule:
    purchases = pd.DataFrame(
        {
            "lane": [0],
            "dst": ["wh"],
            "item": ["widget"],
            "release_day": [day],
            "due_day": [due],
            "qty": [qty],
        }
    )
    return ReleaseSchedule.from_tables({"purchases": purchases})


def _events(tables) -> list[tuple[float, str, str, float]]:
    ev = tables["events"]
    return [
        (round(t, 4), e, o, q)
        for t, e, o, q in zip(ev["time"], ev["event"], ev["order_id"], ev["qty"], strict=True)
    ]


def test_backorder_exact_event_sequence() -> None:
    scenario = scenario_from_dict(tiny_scenario_dict())
    tables = _run(scenario, _purchase(2, 10, 5), _orders([(0.5, 3), (1.5, 4)]))
    assert _events(tables) == [
        (0.5, "placed", "CO-0", 3.0),
        (0.5, "allocated", "CO-0", 3.0),
        (0.5, "shipped", "CO-0", 3.0),
        (1.5, "delivered", "CO-0", 3.0),
        (1.5, "placed", "CO-1", 4.0),
        (1.5, "allocated", "CO-1", 2.0),
        (1.5, "shipped", "CO-1", 2.0),
        (1.5, "backordered", "CO-1", 2.0),
        (2.0, "placed", "PO-000001", 10.0),
        (2.5, "delivered", "CO-1", 2.0),
        (3.0, "shipped", "PO-000001", 10.0),  # supplier lead time 1 day
        (5.0, "received", "PO-000001", 10.0),  # lane transit 2 days
        (5.0, "allocated", "CO-1", 2.0),
        (5.0, "shipped", "CO-1", 2.0),
        (6.0, "delivered", "CO-1", 2.0),
    ]
    orders = tables["orders"].set_index("order_id")
    assert orders.loc["CO-0", "status"] == "delivered" and orders.loc["CO-0", "on_time"]
    # CO-1 requested by 3.5, last unit delivered on day 6: delivered, late
    assert orders.loc["CO-1", "status"] == "delivered" and not orders.loc["CO-1", "on_time"]
    assert orders.loc["CO-1", "filled_immediately"] == 2.0
    assert orders.loc["PO-000001", "status"] == "received"
    inventory = tables["inventory"].set_index("day")["on_hand"]
    assert inventory.tolist() == [2, 0, 0, 0, 0, 8, 8, 8, 8, 8]
    balance = stock_balance(scenario, tables)
    assert balance[["initial", "receipts", "issues", "end"]].iloc[0].tolist() == [5, 10, 7, 8]


def test_lost_sales_loses_the_unfilled_part() -> None:
    scenario = scenario_from_dict(tiny_scenario_dict(fulfillment={"unmet_demand": "lost_sales"}))
    tables = _run(scenario, ReleaseSchedule.empty(), _orders([(0.5, 3), (1.5, 4), (2.5, 1)]))
    orders = tables["orders"].set_index("order_id")
    assert orders["status"].tolist() == ["delivered", "partially_delivered", "lost"]
    assert orders["lost_qty"].tolist() == [0, 2, 1]
    assert orders["delivered_qty"].tolist() == [3, 2, 0]


def test_open_orders_at_horizon_end_are_explicit() -> None:
    scenario = scenario_from_dict(tiny_scenario_dict(horizon_days=4))
    # purchase arrives on day 5, after the horizon: still in transit at the end
    tables = _run(scenario, _purchase(2, 10, 5), _orders([(0.5, 3), (1.5, 4)]))
    orders = tables["orders"].set_index("order_id")
    assert orders.loc["CO-1", "status"] == "backordered"
    assert orders.loc["CO-1", "open_qty"] == 2.0
    assert orders.loc["PO-000001", "status"] == "in_transit"
    assert (order_balance(tables["orders"])["residual"].abs() < 1e-9).all()


def _plant_scenario(**changes):
    data = tiny_scenario_dict(
        products={
            "widget": {"unit_cost": 10.0, "price": 25.0, "bom": {"steel": 2.0}},
            "steel": {"kind": "component", "unit_cost": 1.0},
        },
        nodes={
            "sup": {
                "kind": "supplier",
                "lead_time": {"dist": "fixed", "mean": 0},
                "supplies": {"steel": {"price": 1.0}},
            },
            "plant": {
                "kind": "plant",
                "production_lead_time_days": 2,
                "produces": {"widget": {"cost_per_unit": 3.0}},
                "initial_inventory": {"steel": 6},
            },
            "zone": {"kind": "customer_zone", "service_promise_days": 5},
        },
        lanes=[
            {"src": "sup", "dst": "plant", "lead_time": {"dist": "fixed", "mean": 3}},
            {"src": "plant", "dst": "zone", "lead_time": {"dist": "fixed", "mean": 1}},
        ],
    )
    data.update(changes)
    return scenario_from_dict(data)


def test_production_waits_for_components() -> None:
    scenario = _plant_scenario()
    production = pd.DataFrame(
        {
            "plant": ["plant"],
            "product": ["widget"],
            "start_day": [0],
            "finish_day": [2],
            "qty": [5.0],
        }
    )
    purchases = pd.DataFrame(
        {
            "lane": [0],
            "dst": ["plant"],
            "item": ["steel"],
            "release_day": [1],
            "due_day": [4],
            "qty": [4.0],
        }
    )
    releases = ReleaseSchedule.from_tables({"production": production, "purchases": purchases})
    tables = _run(scenario, releases, _orders([(6.5, 5)]))
    mo = [e for e in _events(tables) if e[2] == "MO-000001"]
    assert mo == [
        (0.0, "placed", "MO-000001", 5.0),
        (0.0, "consumed", "MO-000001", 6.0),  # 6 steel → 3 widgets now
        (0.0, "in_production", "MO-000001", 3.0),
        (0.0, "waiting_components", "MO-000001", 2.0),
        (2.0, "received", "MO-000001", 3.0),
        (4.0, "consumed", "MO-000001", 4.0),  # the steel purchase lands on day 4
        (4.0, "in_production", "MO-000001", 2.0),
        (6.0, "received", "MO-000001", 2.0),
    ]
    balance = stock_balance(scenario, tables).set_index("product")
    assert balance.loc["steel", ["initial", "receipts", "issues", "end"]].tolist() == [6, 4, 10, 0]
    assert balance.loc["widget", ["initial", "receipts", "issues", "end"]].tolist() == [0, 5, 5, 0]


@pytest.mark.parametrize(
    ("policy", "expected_orders"),
    [
        # (s, S) = (3, 10): position 5 → 3 after the 2-unit order (≤ s) → order 7; then 9 > s
        ({"kind": "s_S", "reorder_point": 3, "order_up_to": 10}, [7.0]),
        # (r, Q) = (3, 4): position 3 after the 2-unit order (≤ r) → one lot of 4; then 6 > r
        ({"kind": "r_Q", "reorder_point": 3, "order_quantity": 4}, [4.0]),
        # base stock S = 6: position 5 at the start → order 1; then replace every unit sold
        ({"kind": "base_stock", "order_up_to": 6}, [1.0, 2.0, 1.0]),
    ],
)
def test_continuous_review_policies(policy, expected_orders) -> None:
    data = tiny_scenario_dict(policies=[{"node": "wh", "product": "widget", **policy}])
    scenario = scenario_from_dict(data)
    tables = _run(scenario, ReleaseSchedule.empty(), _orders([(0.5, 2), (1.5, 1)]))
    purchases = tables["orders"][tables["orders"]["order_type"] == "purchase"]
    assert purchases["qty"].tolist() == expected_orders
    assert (purchases["status"] == "received").all()


def test_periodic_order_up_to_reviews_every_period() -> None:
    policy = {"kind": "order_up_to", "order_up_to": 8, "review_period_days": 3}
    scenario = scenario_from_dict(
        tiny_scenario_dict(policies=[{"node": "wh", "product": "widget", **policy}])
    )
    tables = _run(scenario, ReleaseSchedule.empty(), _orders([(0.5, 2), (1.5, 1), (4.5, 4)]))
    purchases = tables["orders"][tables["orders"]["order_type"] == "purchase"]
    # reviews on days 0, 3, 6, 9: positions 5, 5, 4, 8 → orders 3, 3, 4, none
    assert purchases["placed_time"].tolist() == [0.0, 3.0, 6.0]
    assert purchases["qty"].tolist() == [3.0, 3.0, 4.0]


def _run_with(scenario, releases, orders):
    from sim.disruptions import Disruptions, sample_windows

    streams = Streams.from_seed(np.random.SeedSequence(1))
    disruptions = Disruptions(sample_windows(scenario, streams.disruptions))
    tables = Simulation(
        scenario, SupplyNetwork(scenario), releases, orders, streams, disruptions
    ).run()
    for frame in tables.values():
        frame.insert(0, "replication", 0)
    return tables


def test_supplier_outage_holds_dispatch_until_it_ends() -> None:
    outage = {
        "name": "strike",
        "kind": "supplier_outage",
        "node": "sup",
        "start": "2027-01-05",
        "duration_days": 3,
    }  # days 1 to 4
    scenario = scenario_from_dict(tiny_scenario_dict(disruptions=[outage]))
    tables = _run_with(scenario, _purchase(0, 10, 3), _orders([]))
    po = [e for e in _events(tables) if e[2] == "PO-000001"]
    # ready on day 1 (lead time 1) but the supplier is down until day 4; transit 2 days
    assert po == [
        (0.0, "placed", "PO-000001", 10.0),
        (4.0, "shipped", "PO-000001", 10.0),
        (6.0, "received", "PO-000001", 10.0),
    ]


def test_lane_closure_delay_and_capacity() -> None:
    data = tiny_scenario_dict(
        disruptions=[
            {
                "name": "flood",
                "kind": "lane_closure",
                "lane": 0,
                "start": "2027-01-05",
                "duration_days": 2,
            },
            {
                "name": "jam",
                "kind": "lane_delay",
                "lane": 0,
                "start": "2027-01-07",
                "duration_days": 1,
                "extra_days": 3,
            },
        ]
    )
    data["lanes"][0]["capacity_per_day"] = 6
    scenario = scenario_from_dict(data)
    tables = _run_with(scenario, _purchase(0, 10, 3), _orders([]))
    po = [e for e in _events(tables) if e[2] == "PO-000001"]
    # ready day 1, lane closed days 1–3; on day 3 it departs 6 (capacity) with a 3-day delay,
    # the other 4 on day 4 without delay
    assert po == [
        (0.0, "placed", "PO-000001", 10.0),
        (3.0, "shipped", "PO-000001", 6.0),
        (4.0, "shipped", "PO-000001", 4.0),
        (6.0, "received", "PO-000001", 4.0),
        (8.0, "received", "PO-000001", 6.0),
    ]


def test_stock_loss_is_written_off_and_accounted() -> None:
    fire = {
        "name": "fire",
        "kind": "stock_loss",
        "node": "wh",
        "start": "2027-01-06",
        "duration_days": 1,
        "stock_loss": 0.5,
    }
    scenario = scenario_from_dict(tiny_scenario_dict(disruptions=[fire]))
    tables = _run_with(scenario, ReleaseSchedule.empty(), _orders([(0.5, 1)]))
    written = tables["events"].query("event == 'written_off'")
    assert written[["time", "order_id", "qty"]].values.tolist() == [[2.0, "fire", 2.0]]
    balance = stock_balance(scenario, tables).iloc[0]
    assert balance[["initial", "receipts", "issues", "end"]].tolist() == [5, 0, 3, 2]


def test_plant_capacity_spreads_production_over_days() -> None:
    scenario = _plant_scenario()
    data = scenario.model_dump(mode="json")
    data["nodes"]["plant"]["capacity_per_day"] = 2
    data["nodes"]["plant"]["initial_inventory"] = {"steel": 10}
    data["disruptions"] = [
        {
            "name": "breakdown",
            "kind": "plant_capacity_loss",
            "node": "plant",
            "start": "2027-01-05",
            "duration_days": 1,
            "capacity_loss": 1.0,
        }
    ]
    scenario = scenario_from_dict(data)
    production = pd.DataFrame(
        {
            "plant": ["plant"],
            "product": ["widget"],
            "start_day": [0],
            "finish_day": [2],
            "qty": [5.0],
        }
    )
    tables = _run_with(
        scenario, ReleaseSchedule.from_tables({"production": production}), _orders([])
    )
    received = tables["events"].query("event == 'received' and order_id == 'MO-000001'")
    # 2 on day 0 (ready day 2), none on day 1 (breakdown), 2 on day 2, 1 on day 3; lead 2 days
    assert received[["time", "qty"]].values.tolist() == [[2.0, 2.0], [4.0, 2.0], [5.0, 1.0]]


def test_waiting_lists_queued_demand_in_service_order() -> None:
    # 5 on hand: CO-0 takes 3, CO-1 gets 2 and waits for 2, CO-2 waits for all 4; the purchase
    # lands on day 5, after this 4-day horizon
    scenario = scenario_from_dict(tiny_scenario_dict(horizon_days=4))
    streams = Streams.from_seed(np.random.SeedSequence(1))
    simulation = Simulation(
        scenario,
        SupplyNetwork(scenario),
        _purchase(2, 10, 5),
        _orders([(0.5, 3), (1.5, 4), (2.5, 4)]),
        streams,
    )
    tables = simulation.run()
    assert simulation.waiting("wh", "widget") == [("zone", "CO-1", 2.0), ("zone", "CO-2", 4.0)]
    assert simulation.stocks[("wh", "widget")].backlog == 6.0
    open_qty = tables["orders"].set_index("order_id")["open_qty"]
    assert open_qty[["CO-0", "CO-1", "CO-2"]].tolist() == [0.0, 2.0, 4.0]
