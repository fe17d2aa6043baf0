"""The engine against independently known results: closed-form base-stock performance, the
bullwhip ratio of Chen et al. (2000), and conservation over random networks (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from scenarios import load_scenario, scenario_from_dict
from sim import ReleaseSchedule, simulate
from sim.accounting import order_balance, stock_balance


def _base_stock_closed_form(rate: float, lead: float, level: int) -> tuple[float, float, float]:
    """Fill rate, E[backorders], E[on hand] of a base-stock policy with Poisson unit demand."""
    mean = rate * lead
    fill = stats.poisson.cdf(level - 1, mean)
    k = np.arange(level + 1, level + 200)
    backorders = float(np.sum((k - level) * stats.poisson.pmf(k, mean)))
    return float(fill), backorders, level - mean + backorders


def test_closed_form_matches_the_textbook_numbers() -> None:
    fill, backorders, on_hand = _base_stock_closed_form(10 / 30, 30, 15)
    assert (round(fill, 6), round(backorders, 6), round(on_hand, 6)) == (
        0.916542,
        0.103479,
        5.103479,
    )


@pytest.mark.slow
def test_base_stock_poisson_matches_closed_form() -> None:
    scenario = load_scenario("textbook/base_stock_poisson")
    result = simulate(scenario, ReleaseSchedule.empty(), replications=40, seed=2024)
    warm = scenario.simulation.warmup_days
    orders = result.orders[
        (result.orders["order_type"] == "customer") & (result.orders["placed_time"] >= warm)
    ]
    per_rep = orders.groupby("replication")[["filled_immediately", "qty"]].sum()
    fill = per_rep["filled_immediately"] / per_rep["qty"]
    inventory = result.inventory[result.inventory["day"] >= warm]
    levels = inventory.groupby("replication")[["on_hand", "backorders"]].mean()
    expected_fill, expected_b, expected_oh = _base_stock_closed_form(10 / 30, 30, 15)
    for sample, expected in (
        (fill, expected_fill),
        (levels["backorders"], expected_b),
        (levels["on_hand"], expected_oh),
    ):
        standard_error = sample.std(ddof=1) / math.sqrt(len(sample))
        assert abs(sample.mean() - expected) < 4 * standard_error + 1e-3, (sample.mean(), expected)
    # the policy keeps the inventory position at S at every snapshot
    position = inventory["on_hand"] + inventory["on_order"] - inventory["backorders"]
    assert np.allclose(position, 15.0)


@pytest.mark.parametrize(("window", "expected"), [(4, 2.5), (8, 1.625)])
def test_bullwhip_ratio_of_moving_average_order_up_to(window: int, expected: float) -> None:
    # Chen et al. (2000): 1 + 2L/p + 2L²/p² with L = lead time + review period = 2 periods
    scenario = load_scenario(
        "textbook/bullwhip_moving_average", {"policies[0].forecast_window": window}
    )
    assert math.isclose(1 + 2 * 2 / window + 2 * 4 / window**2, expected)
    result = simulate(scenario, ReleaseSchedule.empty(), replications=3, seed=11)
    warm = scenario.simulation.warmup_days
    orders = result.orders[result.orders["placed_time"] >= warm]
    placed = (
        orders[orders["order_type"] == "purchase"]
        .groupby(["replication", "placed_time"])["qty"]
        .sum()
    )
    customer = orders[orders["order_type"] == "customer"]
    demand = (
        customer.assign(day=np.floor(customer["placed_time"]))
        .groupby(["replication", "day"])["qty"]
        .sum()
    )
    ratio = placed.var() / demand.var()
    assert ratio == pytest.approx(expected, rel=0.06)


# ----------------------------------------------------------------------------- properties
_POLICIES = st.sampled_from(
    [
        {"kind": "base_stock", "order_up_to": 12},
        {"kind": "s_S", "reorder_point": 4, "order_up_to": 15},
        {"kind": "r_Q", "reorder_point": 5, "order_quantity": 6},
        {"kind": "order_up_to", "order_up_to": 14, "review_period_days": 3},
        {"kind": "order_up_to", "review_period_days": 2, "forecast": "exponential_smoothing"},
    ]
)
_LEAD = st.sampled_from(
    [
        {"dist": "fixed", "mean": 2},
        {"dist": "uniform", "low": 0.5, "high": 4},
        {"dist": "lognormal", "mean": 3, "cv": 0.5},
        {"dist": "empirical", "values": [1, 2, 6]},
    ]
)


@st.composite
def _random_network(draw: st.DrawFn) -> dict:
    n_wh = draw(st.integers(1, 2))
    products = {f"p{i}": {"unit_cost": 1.0, "price": 2.0} for i in range(draw(st.integers(1, 2)))}
    nodes: dict = {
        "sup": {
            "kind": "supplier",
            "lead_time": draw(_LEAD),
            "reliability": draw(st.sampled_from([1.0, 0.7])),
            "partial_probability": draw(st.sampled_from([0.0, 0.3])),
            "supplies": {
                p: {"price": 1.0, "capacity_per_day": draw(st.sampled_from([None, 5.0]))}
                for p in products
            },
        },
    }
    lanes = []
    for w in range(n_wh):
        nodes[f"wh{w}"] = {
            "kind": "warehouse",
            "initial_inventory": {p: draw(st.integers(0, 10)) for p in products},
        }
        lanes.append(
            {
                "src": "sup",
                "dst": f"wh{w}",
                "lead_time": draw(_LEAD),
                "capacity_per_day": draw(st.sampled_from([None, 6.0])),
            }
        )
    if n_wh == 2:
        lanes.append({"src": "wh0", "dst": "wh1", "lead_time": draw(_LEAD)})
    zones = draw(st.integers(1, 2))
    for z in range(zones):
        nodes[f"z{z}"] = {"kind": "customer_zone"}
        lanes.append({"src": f"wh{z % n_wh}", "dst": f"z{z}", "lead_time": draw(_LEAD)})
    policies = [
        {"node": f"wh{w}", "product": p, **draw(_POLICIES)} for w in range(n_wh) for p in products
    ]
    demand = [
        {
            "zone": f"z{z}",
            "product": p,
            "dist": "poisson",
            "mean_per_day": draw(st.sampled_from([0.5, 2.0])),
        }
        for z in range(zones)
        for p in products
    ]
    disruptions = draw(
        st.lists(
            st.sampled_from(
                [
                    {
                        "name": "outage",
                        "kind": "supplier_outage",
                        "node": "sup",
                        "mtbf_days": 20,
                        "mttr_days": 4,
                    },
                    {
                        "name": "fire",
                        "kind": "stock_loss",
                        "node": "wh0",
                        "start": "2027-01-20",
                        "duration_days": 1,
                        "stock_loss": 0.5,
                    },
                    {
                        "name": "closed",
                        "kind": "lane_closure",
                        "lane": 0,
                        "start": "2027-01-10",
                        "duration_days": 5,
                    },
                    {
                        "name": "slow",
                        "kind": "lane_delay",
                        "lane": 0,
                        "mtbf_days": 15,
                        "mttr_days": 3,
                        "extra_days": 2,
                    },
                    {
                        "name": "surge",
                        "kind": "demand_shock",
                        "start": "2027-01-15",
                        "duration_days": 10,
                        "demand_multiplier": 2.0,
                    },
                ]
            ),
            max_size=3,
            unique_by=lambda d: d["name"],
        )
    )
    return {
        "name": "random",
        "start_date": "2027-01-01",
        "horizon_days": draw(st.integers(20, 60)),
        "products": products,
        "nodes": nodes,
        "lanes": lanes,
        "policies": policies,
        "demand": demand,
        "disruptions": disruptions,
        "fulfillment": {
            "unmet_demand": draw(st.sampled_from(["backorder", "lost_sales"])),
            "allocation": draw(st.sampled_from(["fifo", "priority"])),
        },
        "simulation": {"seed": draw(st.integers(0, 10_000))},
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_network())
def test_units_and_orders_are_conserved_on_random_networks(data: dict) -> None:
    scenario = scenario_from_dict(data)
    result = simulate(scenario, ReleaseSchedule.empty(), replications=1)
    tables = result.tables()
    balance = stock_balance(scenario, tables)
    assert np.allclose(balance["residual"], 0.0, atol=1e-6)
    assert (balance["end"] >= -1e-9).all()
    orders = tables["orders"]
    assert np.allclose(order_balance(orders)["residual"], 0.0, atol=1e-6)
    customer = orders[orders["order_type"] == "customer"]
    assert (
        (customer["filled_immediately"] >= 0)
        & (customer["filled_immediately"] <= customer["qty"] + 1e-9)
    ).all()
    inventory = tables["inventory"]
    assert (inventory["backorders"] >= -1e-9).all() and (inventory["on_order"] >= -1e-9).all()


@pytest.mark.parametrize(("vector_block", "min_block"), [(1, 1), (10**9, 1), (10**9, 3)])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_network())
def test_block_serving_equals_line_by_line_on_random_networks(
    vector_block: int, min_block: int, data: dict
) -> None:
    """Serving customer lines in blocks between SimPy events (numpy or loop decisions) gives
    exactly the tables of one SimPy step per line."""
    from crm_model import DemandModel
    from scenarios import SupplyNetwork
    from sim import Simulation, Streams
    from sim.disruptions import Disruptions, sample_windows

    scenario = scenario_from_dict(data)
    network = SupplyNetwork(scenario)
    tables = []
    for blocks in (True, False):
        streams = Streams.from_seed(np.random.SeedSequence(scenario.simulation.seed))
        disruptions = Disruptions(sample_windows(scenario, streams.disruptions))
        orders = DemandModel(scenario).sample(streams.demand, disruptions.demand_shocks())
        simulation = Simulation(
            scenario, network, ReleaseSchedule.empty(), orders, streams, disruptions
        )
        simulation.block_serving = blocks
        simulation.vector_block = vector_block
        simulation.min_block = min_block
        tables.append(simulation.run())
    for name in ("orders", "events", "inventory"):
        pd.testing.assert_frame_equal(tables[0][name], tables[1][name], check_exact=True)
