"""Plan, stress-test, re-plan: stress test, rolling horizon, risk and the engine's control hook."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import optimize
import sim
from crm_model import DemandModel
from scenarios import load_scenario, scenario_from_dict
from scenarios.errors import ScenarioError
from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario
from scenarios.state import SupplyState
from sim.run import simulate_replication
from tandem.cli import app
from tandem.loop import ReplanSpec, planning_state, window_demand
from tandem.stress import apply_profile, policy_scenario, stress_test
from tests.conftest import tiny_scenario_dict


def two_supplier_dict(**changes: Any) -> dict[str, Any]:
    """The tiny network with a cheap supplier ``sup`` (down days 21–56) and a dearer ``backup``;
    1,000 customers ordering about 10 widgets a day over 12 weeks."""
    data = tiny_scenario_dict()
    data["horizon_days"] = 84
    data["bucket"] = "week"
    data["nodes"]["backup"] = {
        "kind": "supplier",
        "lead_time": {"dist": "fixed", "mean": 1},
        "supplies": {"widget": {"price": 12.0}},
    }
    data["nodes"]["wh"]["initial_inventory"] = {"widget": 40}
    data["lanes"].append(
        {
            "src": "backup",
            "dst": "wh",
            "lead_time": {"dist": "fixed", "mean": 2},
            "cost_per_unit": 1.0,
        }
    )
    data["crm"]["segments"]["all"]["customers"] = 1000
    data["disruptions"] = [
        {
            "name": "sup down",
            "kind": "supplier_outage",
            "node": "sup",
            "start": "2027-01-25",
            "duration_days": 35,
        }
    ]
    data.update(changes)
    return data


def two_supplier(**changes: Any) -> Scenario:
    return scenario_from_dict(two_supplier_dict(**changes))


# ------------------------------------------------------------------------------ stress test
def test_stress_without_uncertainty_reproduces_the_plan_exactly() -> None:
    scenario = two_supplier(bucket="day", disruptions=[])
    result = stress_test(
        scenario,
        replications=1,
        strategies=("static", "rolling"),
        uncertainty=False,
        profile="none",
    )
    for name in ("static", "rolling"):
        table = result.outcomes[name].plan_vs_realised.set_index("measure")
        assert np.allclose(table["realised"], table["planned"], rtol=1e-9, atol=1e-6), (name, table)
        assert result.outcomes[name].adherence["adherence"].tolist() == [1.0]
    # the plan bought from the cheap supplier only, 10 a day after the 40 on hand are used up
    assert result.plan.purchases["supplier"].unique().tolist() == ["sup"]
    assert result.outcomes["static"].plan_vs_realised.set_index("measure").loc[
        "demand_units", "planned"
    ] == pytest.approx(840.0)


def test_rolling_replan_beats_the_static_plan_under_a_supplier_outage() -> None:
    result = stress_test(two_supplier(), replications=4, strategies=("static", "rolling"))
    fill = {
        name: o.kpis.query("metric == 'fill_rate' and scope == 'all'").set_index("replication")[
            "value"
        ]
        for name, o in result.outcomes.items()
    }
    # same random numbers: the rolling plan is better in every replication, and by a lot
    assert (fill["rolling"] > fill["static"] + 0.1).all(), fill
    comparison = result.comparison().set_index(["strategy", "metric"])
    diff = comparison.loc[("rolling", "fill_rate")]
    assert diff["diff_vs_static"] - diff["diff_ci_halfwidth"] > 0
    # the re-plans knew the outage: they bought from the backup supplier during it
    orders = result.outcomes["rolling"].tables["orders"]
    backup = orders[(orders["order_type"] == "purchase") & (orders["source"] == "backup")]
    assert len(backup) > 0 and (backup["placed_time"] >= 21).all()
    assert comparison.loc[("rolling", "replans_per_run"), "mean"] == 11  # days 7, 14, …, 77
    # the static plan's assumptions broke: the supplier was late in every replication
    breaks = result.outcomes["static"].breaks.set_index("assumption")
    assert breaks.loc["supplier late", "broke_share"] == 1.0
    assert breaks.loc["disruption", "median_first_day"] == 21.0


def test_adherence_counts_cancelled_and_replanned_units() -> None:
    scenario = two_supplier(bucket="day", disruptions=[])
    forecast = DemandModel(scenario).expected_by_bucket()
    plan = optimize.plan_supply(scenario, forecast)
    releases = sim.ReleaseSchedule.from_tables(plan.tables)
    planned = plan.purchases
    before = planned.loc[planned["release_day"] < 30, "qty"].sum()

    def stop_buying(simulation: sim.Simulation) -> sim.Control:
        return sim.Control(
            every_days=1000, first_day=30, decide=lambda day, state: sim.ReleaseSchedule.empty()
        )

    tables = simulate_replication(scenario, releases, 0, 1, control=stop_buying)
    made = tables["plan_releases"]
    assert made["day"].max() < 30
    assert made["qty"].sum() == pytest.approx(before)
    assert set(made["generation"]) == {0}
    from tandem.stress import adherence

    row = adherence(
        plan,
        {k: v.assign(replication=0) if "replication" not in v else v for k, v in tables.items()},
    ).iloc[0]
    assert row["as_planned_units"] == pytest.approx(before)
    assert row["cancelled_units"] == pytest.approx(planned["qty"].sum() - before)
    assert row["replanned_units"] == pytest.approx(0.0)


def test_policy_scenario_sizes_classical_policies_from_the_forecast() -> None:
    scenario = two_supplier(disruptions=[])
    forecast = DemandModel(scenario).expected_by_bucket()
    base = policy_scenario(scenario, forecast, "base_stock").policies
    ss = policy_scenario(scenario, forecast, "s_S").policies
    mean = forecast["units"].sum() / 84  # 10 a day
    assert mean == pytest.approx(10.0)
    # lead time sup 1 + lane 2 days (cheapest source), Poisson demand: z·√(3·10) at 95 %
    reorder = 3 * mean + 1.6448536 * np.sqrt(3 * mean)
    assert base[0].kind == "base_stock" and base[0].order_up_to == np.ceil(reorder + mean)
    assert ss[0].reorder_point == np.ceil(reorder)
    assert ss[0].order_up_to == np.ceil(np.ceil(reorder) + 7 * mean)


def test_disruption_profiles() -> None:
    scenario = two_supplier(disruptions=[])
    outage = apply_profile(scenario, "supplier_outage").disruptions
    assert [(d.kind, d.node, d.duration_days) for d in outage] == [("supplier_outage", "sup", 21.0)]
    assert outage[0].start == scenario.start_date + dt.timedelta(days=28)
    random = apply_profile(scenario, "random").disruptions
    assert {d.kind for d in random} == {"supplier_outage", "lane_delay"}
    assert len(apply_profile(two_supplier(), "none").disruptions) == 0
    with pytest.raises(ScenarioError, match="--disruptions: 'nope' is neither a profile"):
        apply_profile(scenario, "nope")


# --------------------------------------------------------------------------------- re-plan
def test_replan_spec_parses_days_and_weeks() -> None:
    assert ReplanSpec.parse("every=7d,horizon=12w") == ReplanSpec(7, 84, 28)
    assert ReplanSpec.parse("every=2w, horizon=20, lookback=1w") == ReplanSpec(14, 20, 7)
    with pytest.raises(
        ScenarioError, match="--replan horizon: must be at least the re-plan period"
    ):
        ReplanSpec.parse("every=14d,horizon=7d")
    with pytest.raises(ScenarioError, match="is not a duration"):
        ReplanSpec.parse("every=weekly")


def test_snapshot_state_becomes_the_planning_state() -> None:
    """A purchase of 30 released on day 1 (supplier 1 day + lane 2 days) is open on day 2 and
    expected on day 4; on-hand is the initial 5 less what customers took on days 0 and 1."""
    scenario = scenario_from_dict(
        tiny_scenario_dict(
            simulation={"seed": 7, "stochastic_demand": False, "stochastic_lead_times": False}
        )
    )
    purchases = pd.DataFrame(
        {
            "lane": [0],
            "dst": ["wh"],
            "item": ["widget"],
            "release_day": [1],
            "due_day": [4],
            "qty": [30.0],
        }
    )
    releases = sim.ReleaseSchedule.from_tables({"purchases": purchases})
    states: dict[float, SupplyState] = {}
    tables = simulate_replication(scenario, releases, 0, 7, snapshot_days=(2.0,), states=states)
    state = states[2.0]
    assert state.as_of == dt.date(2027, 1, 6)
    customer = tables["orders"].query("order_type == 'customer' and placed_time < 2")
    taken = min(5.0, customer["qty"].sum())
    assert state.on_hand.get("wh", {}).get("widget", 0.0) == pytest.approx(5.0 - taken)
    (order,) = state.open_orders
    assert (order.kind, order.source, order.destination, order.qty) == (
        "purchase",
        "sup",
        "wh",
        30.0,
    )
    assert order.expected_arrival == dt.date(2027, 1, 8)
    planning = planning_state(state, bucket_days=1)
    assert planning.pipeline == (("wh", "widget", 2, 30.0),)


def test_planning_state_carries_backlog_and_known_outages() -> None:
    state = SupplyState.model_validate(
        {
            "as_of": "2027-02-01",
            "on_hand": {"wh": {"widget": 3}},
            "open_orders": [
                {
                    "kind": "purchase",
                    "source": "sup",
                    "destination": "wh",
                    "item": "widget",
                    "qty": 12,
                    "expected_arrival": "2027-01-30",
                }
            ],
            "open_customer_orders": [
                {"zone": "zone", "product": "widget", "qty": 4},
                {"zone": "zone", "product": "widget", "qty": 6},
            ],
            "disruptions": [{"kind": "supplier_outage", "node": "sup", "until": "2027-02-15"}],
        }
    )
    planning = planning_state(state, bucket_days=7)
    assert planning.on_hand == {("wh", "widget"): 3.0}
    assert planning.pipeline == (("wh", "widget", 0, 12.0),)  # overdue: expected now
    assert planning.backlog == {("zone", "widget"): 10.0}
    assert planning.supplier_down_until == {"sup": 14.0}


def test_known_outage_blocks_planned_purchases_until_it_ends() -> None:
    scenario = two_supplier(disruptions=[], bucket="day", horizon_days=28)
    demand = DemandModel(scenario).expected_by_bucket()
    state = optimize.PlanningState(
        on_hand={("wh", "widget"): 40.0}, supplier_down_until={"sup": 10.0}
    )
    plan = optimize.plan_supply(scenario, demand, state)
    bought = plan.purchases
    # sup needs 1 day to have an order ready: nothing released before day 9 is ready after it
    assert (bought.loc[bought["supplier"] == "sup", "release_day"] >= 9).all()
    # what was needed earlier came from the backup supplier
    assert bought.loc[bought["supplier"] == "backup", "qty"].sum() > 0


def test_window_demand_rebuckets_and_corrects() -> None:
    daily = pd.DataFrame(
        {"day": [5, 6, 7, 8, 20], "zone": "z", "product": "p", "units": [1.0, 2, 3, 4, 5]}
    )
    frame = window_demand(daily, start_day=6, n_days=7, bucket_days=2, correction={("z", "p"): 1.5})
    assert frame[["bucket", "units"]].values.tolist() == [[0, 7.5], [1, 6.0]]


# ------------------------------------------------------------------------------------ CLI
def test_stress_cli_writes_the_comparison(tmp_path) -> None:
    out = tmp_path / "stress"
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(two_supplier_dict()), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["stress", str(path), "-n", "2", "--replan", "every=7d,horizon=4w", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    comparison = pd.read_csv(out / "comparison.csv")
    assert set(comparison["strategy"]) == {"static", "rolling"}
    summary = json.loads((out / "stress_summary.json").read_text())
    assert summary["replan"] == {"every_days": 7, "horizon_days": 28}
    assert (out / "report.html").stat().st_size > 10_000
    assert "Plan vs realised" in (out / "report.html").read_text()
    bad = CliRunner().invoke(app, ["stress", str(path), "--replan", "every=0d"])
    assert bad.exit_code == 2
    assert "--replan every: must be at least 1 day" in bad.output


# ------------------------------------------------------------------------------------ risk
def _state(**fields: Any) -> SupplyState:
    return SupplyState.model_validate({"as_of": "2027-02-01", **fields})


def _deterministic(**changes: Any) -> Scenario:
    data = two_supplier_dict(disruptions=[], **changes)
    data["simulation"] = {"seed": 3, "stochastic_demand": False, "stochastic_lead_times": False}
    return scenario_from_dict(data)


def test_risk_is_certain_without_stock_and_zero_when_stock_covers() -> None:
    from tandem.risk import assess_risk

    scenario = _deterministic()
    empty = assess_risk(scenario, _state(), horizon_days=28, replications=3)
    weekly = empty.weekly.set_index("week")
    assert weekly["stockout_probability"].tolist() == [1.0, 1.0, 1.0, 1.0]
    # known demand: 10 a day, every unit short (backordered)
    assert weekly["expected_shortage"].tolist() == pytest.approx([70.0, 70.0, 70.0, 70.0])
    assert empty.probability("wh", "widget") == 1.0
    assert empty.by_item.iloc[0]["most_responsible"] == "demand"
    covered = assess_risk(scenario, _state(on_hand={"wh": {"widget": 281}}), 28, 3)
    assert covered.weekly["stockout_probability"].max() == 0.0
    assert covered.probability("wh", "widget") == 0.0


def test_recommended_orders_remove_a_constructed_risk() -> None:
    from tandem.risk import assess_risk, recommend_orders, with_orders

    scenario = two_supplier(disruptions=[])  # sampled demand, about 10 a day
    state = _state(on_hand={"wh": {"widget": 120}})  # 12 days of stock, 28 to cover
    before = assess_risk(scenario, state, 28, 40, seed=5)
    assert before.probability("wh", "widget") > 0.9
    orders = recommend_orders(before, target=0.05)
    (order,) = orders.itertuples(index=False)
    assert (order.source, order.kind, bool(order.arrives_in_time)) == ("sup", "purchase", True)
    # the cheap supplier (3 days), arriving by the day before which at most 5 % of runs (here
    # 1 of 40) ran short, and ordered as late as that allows
    second_earliest = np.sort(before.shortages["first_day"].to_numpy())[1]
    assert (order.expected_arrival - state.as_of).days == second_earliest
    assert (order.order_by - state.as_of).days == second_earliest - 3
    assert 160 <= order.qty <= 260  # about 28 × 10 − 120, with a margin for the 95th percentile
    after = assess_risk(scenario, with_orders(state, orders), 28, 40, seed=5)
    assert after.probability("wh", "widget") <= 0.05


def test_risk_blames_the_late_supplier_and_counts_won_deals() -> None:
    from tandem.risk import assess_risk

    data = two_supplier_dict(disruptions=[])
    data["nodes"]["sup"]["reliability"] = 0.0  # always late …
    data["nodes"]["sup"]["late_delay"] = {"dist": "fixed", "mean": 10}  # … by 10 days
    data["simulation"] = {"seed": 3, "stochastic_demand": False}
    scenario = scenario_from_dict(data)
    state = _state(
        on_hand={"wh": {"widget": 70}},
        open_orders=[
            {
                "kind": "purchase",
                "source": "sup",
                "destination": "wh",
                "item": "widget",
                "qty": 300,
                "expected_arrival": "2027-02-06",
            }
        ],
    )
    risk = assess_risk(scenario, state, 28, 2)
    row = risk.by_item.iloc[0]
    assert (row["most_responsible"], row["responsible_share"]) == ("sup", 1.0)
    # the 300 arrive on day 15 instead of 5: days 7–14 are short (8 days × 10)
    assert row["expected_shortage"] == pytest.approx(80.0)
    assert row["first_risk_day"] == 7.0
    deal = _state(
        on_hand={"wh": {"widget": 1000}},
        deals=[
            {
                "zone": "zone",
                "product": "widget",
                "qty": 900,
                "probability": 1.0,
                "expected_close": "2027-02-03",
            }
        ],
    )
    risk = assess_risk(scenario, deal, 28, 2)
    # 1,000 on hand: the deal's 900 on day 2 and 10 a day leave nothing after day 11
    assert risk.probability("wh", "widget") == 1.0
    assert risk.by_item.iloc[0]["first_risk_day"] == 10.0


def test_state_errors_name_the_field() -> None:
    from tandem.risk import assess_risk

    state = _state(
        on_hand={"nowhere": {"widget": 1}, "wh": {"gizmo": 2}},
        open_orders=[
            {
                "kind": "transfer",
                "source": "sup",
                "destination": "wh",
                "item": "widget",
                "qty": 1,
                "expected_arrival": "2027-02-03",
            }
        ],
        disruptions=[{"kind": "supplier_outage", "node": "wh", "until": "2027-01-01"}],
    )
    with pytest.raises(ScenarioError) as info:
        assess_risk(two_supplier(), state, 28, 1)
    text = str(info.value)
    for expected in (
        "on_hand.nowhere: not a stock point",
        "on_hand.wh.gizmo: 'gizmo' is not stocked",
        "open_orders[0].kind: purchases come from suppliers",
        "disruptions[0].node: a supplier_outage needs the supplier's id",
        "disruptions[0].until: must be after as_of",
    ):
        assert expected in text


def test_snapshot_cli_and_risk_cli_round_trip(tmp_path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(two_supplier_dict()), encoding="utf-8")
    run = CliRunner().invoke(
        app,
        [
            "run",
            str(path),
            "-n",
            "1",
            "--snapshot-at",
            "2027-02-01",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert run.exit_code == 0, run.output
    state_file = tmp_path / "run" / "state_2027-02-01.yaml"
    from scenarios.state import load_state

    state = load_state(state_file, two_supplier())
    assert state.as_of == dt.date(2027, 2, 1)
    assert state.disruptions[0].node == "sup"  # the outage (days 21–56) is under way on day 28
    risk = CliRunner().invoke(
        app,
        [
            "risk",
            str(path),
            "--state",
            str(state_file),
            "--horizon",
            "3w",
            "-n",
            "5",
            "--out",
            str(tmp_path / "risk"),
        ],
    )
    assert risk.exit_code == 0, risk.output
    items = pd.read_csv(tmp_path / "risk" / "risk_items.csv")
    assert items.loc[0, "stockout_probability"] > 0.5  # the cheap supplier is down
    orders = pd.read_csv(tmp_path / "risk" / "recommended_orders.csv")
    assert orders.loc[0, "source"] == "backup"  # the known outage rules out the cheap one
    bad = CliRunner().invoke(app, ["run", str(path), "--snapshot-at", "2031-01-01"])
    assert bad.exit_code == 2 and "--snapshot-at: 2031-01-01 is outside the horizon" in bad.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("as_of: 2027-02-01\non_hand: {wh: {widget: -3}}\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["risk", str(path), "--state", str(broken)])
    assert bad.exit_code == 2 and "on_hand.wh.widget: must be >= 0" in bad.output


def test_auto_order_places_the_recommended_orders_itself() -> None:
    result = stress_test(
        two_supplier(), replications=1, strategies=("static", "auto_order"), auto_replications=8
    )
    auto = result.outcomes["auto_order"]
    fill = {
        n: o.kpis.query("metric == 'fill_rate' and scope == 'all'")["value"].iloc[0]
        for n, o in result.outcomes.items()
    }
    assert fill["auto_order"] > fill["static"] + 0.2
    # no plan was followed: every purchase came from a weekly decision (days 0, 7, …, 77),
    # placed on its order-by date within the week after it
    purchases = auto.tables["orders"].query("order_type == 'purchase'")
    assert len(purchases) > 0
    assert len(auto.solves) == 12
    assert sum(d["orders"] for d in auto.solves) == len(purchases)
    # during the known outage (days 21–56) it bought from the backup supplier only
    during = purchases[(purchases["placed_time"] >= 21) & (purchases["placed_time"] < 56)]
    assert set(during["source"]) == {"backup"}


def test_state_format_docs_are_current_and_the_example_loads() -> None:
    from pathlib import Path

    from scenarios.docs import REGENERATE_STATE, STATE_EXAMPLE, render_state_format
    from scenarios.state import state_from_dict

    committed = (Path(__file__).parent.parent / "docs" / "state-format.md").read_text(
        encoding="utf-8"
    )
    assert committed == render_state_format(), f"docs are stale: run `{REGENERATE_STATE}`"
    state = state_from_dict(yaml.safe_load(STATE_EXAMPLE), load_scenario("retailer_holiday"))
    assert state.day_of(state.open_orders[0].expected_arrival) == 17.0
    assert state.total_on_hand() == 420 + 35 + 610


# ------------------------------------------------------------------------- library scenarios
SUPPLY_LIBRARY = (
    "retailer_holiday",
    "autoparts_supplier_foundry_strike",
    "integrated_manufacturer",
    "b2b_services",
    "textbook/base_stock_poisson",
)


@pytest.mark.slow
@pytest.mark.parametrize("name", SUPPLY_LIBRARY)
def test_stress_and_risk_on_library_scenarios_conserve_every_unit(name: str) -> None:
    from sim.accounting import order_balance, stock_balance
    from tandem.risk import assess_risk, recommend_orders

    scenario = load_scenario(name, {"horizon_days": 91})
    result = stress_test(
        scenario,
        replications=1,
        strategies=("static", "rolling"),
        profile="supplier_outage" if SupplyNetwork(scenario).nodes_of("supplier") else "none",
    )
    for outcome in result.outcomes.values():
        tables = outcome.tables
        assert np.allclose(stock_balance(outcome.scenario, tables)["residual"], 0.0, atol=1e-6)
        assert np.allclose(order_balance(tables["orders"])["residual"], 0.0, atol=1e-6)
        assert outcome.kpis["value"].notna().any()
    rolling = result.outcomes["rolling"]
    assert len(rolling.solves) == 91 // 7 - (91 % 7 == 0)  # days 7, 14, …, 84
    start = SupplyState(
        as_of=scenario.start_date,
        on_hand={
            node: dict(spec.initial_inventory)
            for node, spec in scenario.nodes.items()
            if getattr(spec, "initial_inventory", None)
        },
    )
    risk = assess_risk(scenario, start, horizon_days=28, replications=3)
    assert risk.weekly["stockout_probability"].between(0, 1).all()
    orders = recommend_orders(risk)
    assert (orders["qty"] > 0).all()


def test_stress_results_do_not_depend_on_the_executor() -> None:
    runs = [
        stress_test(
            two_supplier(),
            replications=2,
            strategies=("static", "rolling"),
            executor=kind,
            workers=workers,
        )
        for kind, workers in (("inline", None), ("local", 2))
    ]
    a, b = (r.comparison().query("metric != 'seconds_per_replan'") for r in runs)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    for name in ("static", "rolling"):
        pd.testing.assert_frame_equal(
            runs[0].outcomes[name].tables["orders"], runs[1].outcomes[name].tables["orders"]
        )


def test_observed_stream_counts_units_per_zone_product_and_day() -> None:
    from crm_model.stream import OrderStream
    from sim.run import WithExtraLines
    from tandem.loop import ObservedStream

    lines = pd.DataFrame({"order_id": ["a", "b", "c", "d"], "time": [0.2, 1.5, 1.9, 8.0],
                          "zone": ["z", "z", "y", "z"], "product": "p", "qty": [1.0, 2, 4, 8]})
    deal = pd.DataFrame({"order_id": ["deal"], "time": [1.0], "zone": ["y"], "product": ["p"],
                         "qty": [16.0]})
    observed = ObservedStream(WithExtraLines(OrderStream(lines), deal))
    assert observed.next_orders(0, 7)["order_id"].tolist() == ["a", "deal", "b", "c"]
    observed.next_orders(7, 14)
    assert observed.units(0, 7) == {("y", "p"): 20.0, ("z", "p"): 3.0}
    assert observed.units(1, 2) == {("y", "p"): 20.0, ("z", "p"): 2.0}
    assert observed.units(7, 14) == {("z", "p"): 8.0}


def test_stress_rejects_a_negative_campaign_cv() -> None:
    with pytest.raises(ScenarioError, match="--campaign-cv: must be >= 0"):
        stress_test(two_supplier(), replications=1, campaign_cv=-0.1)


def test_cumulative_lead_time_in_whole_buckets() -> None:
    from tandem.loop import RollingPlanner, cumulative_lead_days, daily_forecast

    # supplier 1 day + lane 2 days to the warehouse, then 1 day to the zone
    assert cumulative_lead_days(two_supplier(bucket="day")) == 3 + 1
    assert cumulative_lead_days(two_supplier()) == 7 + 7  # each step rounds up to a week
    scenario = two_supplier()
    planner = RollingPlanner(scenario, ReplanSpec(7, 14), daily_forecast(scenario))
    assert planner.horizon_days == 14 + 7 + 7  # extended: lead time + period + one bucket
