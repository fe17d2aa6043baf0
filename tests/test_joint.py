"""Joint campaign + supply planning (optimize.joint, tandem.joint): joint is never worse than
sequential, a campaign scheduled into a supply shortage is moved, and the numbers agree with an
independent enumeration and with the plain supply plan of the rescheduled scenario."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from crm_model import DemandModel
from optimize import plan_supply
from optimize.joint import CampaignOption, JointData, build_joint_model, plan_joint
from optimize.plan import SolveStatus
from scenarios import load_scenario, scenario_from_dict
from scenarios.errors import DataError
from scenarios.schema import Scenario, SolverSettings
from tandem.cli import app
from tandem.joint import (
    additivity_error,
    campaign_options,
    plan_campaigns,
    scenario_with_schedule,
)
from tests.conftest import tiny_scenario_dict

runner = CliRunner()
EXACT = SolverSettings(time_limit_s=60, mip_gap=0.0)

LEAD_DAYS = 28
"""Supplier lead time of the shortage case: nothing ordered arrives before day 28 (week 4)."""


def shortage_dict(**changes: Any) -> dict[str, Any]:
    """12 weeks, one product; stock for the first four weeks of base demand only and a 4-week
    supplier lead time, so nothing beyond base demand can be served before week 4. The campaign
    is scheduled in week 1, into that shortage."""
    data = tiny_scenario_dict(
        name="shortage",
        horizon_days=84,
        bucket="week",
        nodes={
            "sup": {
                "kind": "supplier",
                "lead_time": {"dist": "fixed", "mean": LEAD_DAYS},
                "supplies": {"widget": {"price": 8.0}},
            },
            "wh": {"kind": "warehouse", "initial_inventory": {"widget": 280}},
            "zone": {"kind": "customer_zone"},
        },
        lanes=[
            {
                "src": "sup",
                "dst": "wh",
                "lead_time": {"dist": "fixed", "mean": 0},
                "cost_per_unit": 9.0,
            },
            {
                "src": "wh",
                "dst": "zone",
                "lead_time": {"dist": "fixed", "mean": 0},
                "cost_per_unit": 0.5,
            },
        ],
        crm={
            "segments": {
                "all": {
                    "customers": 1000,
                    "orders_per_customer_per_year": 3.65,  # 10 lines a day, 70 a week
                    "product_mix": {"widget": 1},
                    "zone_mix": {"zone": 1},
                }
            },
            "campaigns": [
                {
                    "name": "launch",
                    "channel": "email",
                    "start": "2027-01-11",
                    "end": "2027-01-17",
                    "budget": 300,
                    "max_lift": 1.0,
                    "half_saturation_spend_per_day": 5,
                    "adstock_decay": 0.3,
                }
            ],
        },
        fulfillment={"unmet_demand": "lost_sales"},
        solver={"time_limit_s": 60, "mip_gap": 0.0},
    )
    data.update(changes)
    return data


@pytest.fixture
def shortage() -> Scenario:
    return scenario_from_dict(shortage_dict())


def _joint_data(scenario: Scenario, **options: Any) -> JointData:
    base, opts = campaign_options(scenario, **options)
    budget = sum(o.spend for o in opts if o.scheduled)
    return JointData.from_scenario(scenario, base, opts, budget=budget)


# ------------------------------------------------------------------------------ options


def test_options_are_shifts_within_the_horizon_plus_skip(shortage: Scenario) -> None:
    base, options = campaign_options(shortage, shift_weeks=4)
    # scheduled in week 1 (day 7): -1w .. +4w stay within the 12 weeks, -2w and earlier do not
    assert [o.option for o in options] == [
        "-1w",
        "as scheduled",
        "+1w",
        "+2w",
        "+3w",
        "+4w",
        "skip",
    ]
    assert [o.start_day for o in options[:-1]] == [0, 7, 14, 21, 28, 35]
    assert sum(o.scheduled for o in options) == 1
    assert options[-1].uplift == {} and options[-1].spend == 0.0
    # 70 units a week without the campaign
    assert base["units"].sum() == pytest.approx(12 * 70.0)


def test_kept_campaigns_have_only_their_schedule() -> None:
    data = shortage_dict()
    second = dict(data["crm"]["campaigns"][0], name="dated", start="2027-02-01", end="2027-02-07")
    data["crm"]["campaigns"].append(second)
    scenario = scenario_from_dict(data)
    _, options = campaign_options(scenario, shift_weeks=2, budget_levels=(0.5,), keep=["dated"])
    dated = [o.option for o in options if o.campaign == "dated"]
    assert dated == ["as scheduled"]
    assert (
        len([o for o in options if o.campaign == "launch"]) == 4 * 2 + 1
    )  # -1w, 0, +1w, +2w at 50 % and 100 %, skip
    with pytest.raises(DataError, match="keep: unknown campaign 'nope'"):
        campaign_options(scenario, keep=["nope"])


def test_uplift_is_the_demand_model_difference(shortage: Scenario) -> None:
    """Uplift of the scheduled option = forecast with the campaign − forecast without it, here
    by hand: lift_t = A/(A+K), A_t = 300/7 + 0.3·A_{t−1} on days 7..13, decaying after."""
    _, options = campaign_options(shortage, shift_weeks=0)
    scheduled = next(o for o in options if o.scheduled)
    adstock, lift = 0.0, []
    for day in range(84):
        adstock = (300 / 7 if 7 <= day <= 13 else 0.0) + 0.3 * adstock
        lift.append(adstock / (adstock + 5.0))
    by_week = [10.0 * sum(lift[7 * w : 7 * w + 7]) for w in range(12)]
    got = [scheduled.uplift.get(("zone", "widget", w), 0.0) for w in range(12)]
    assert got == pytest.approx(by_week, rel=1e-9, abs=1e-9)


def test_additivity_is_exact_for_the_aggregate_model(shortage: Scenario) -> None:
    """Aggregate demand is linear in the summed lifts (crm_model.demand), so adding the
    uplifts of two campaigns reproduces the forecast with both."""
    data = shortage_dict()
    second = dict(
        data["crm"]["campaigns"][0], name="second", start="2027-01-12", end="2027-01-25", budget=200
    )
    data["crm"]["campaigns"].append(second)
    scenario = scenario_from_dict(data)
    base, options = campaign_options(scenario, shift_weeks=0)
    error = additivity_error(scenario, base, options)
    assert error["max_abs_error"] < 1e-9
    assert error["total_units"] > 12 * 70.0 + 50


# ------------------------------------------------------------------- the shortage case


def test_joint_moves_the_campaign_out_of_the_shortage(shortage: Scenario) -> None:
    data = _joint_data(shortage, shift_weeks=4)
    sequential = plan_joint(data, EXACT, fixed=data.scheduled_choice())
    joint = plan_joint(data, EXACT)
    assert sequential.status is SolveStatus.OPTIMAL and joint.status is SolveStatus.OPTIMAL
    # independent enumeration: every option of the campaign fixed, each model solved on its own
    enumerated = {}
    for k, option in data.options_of("launch"):
        fixed = plan_joint(data, EXACT, fixed={"launch": k})
        assert fixed.status is SolveStatus.OPTIMAL
        enumerated[option.option] = fixed.objective
    best = min(enumerated.values())
    assert joint.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert sequential.objective == pytest.approx(enumerated["as scheduled"], rel=1e-9)
    chosen = joint.schedule.iloc[0]
    assert enumerated[chosen["option"]] == pytest.approx(best, rel=1e-9, abs=1e-6)
    # the campaign runs, and starts once purchases can arrive
    assert bool(chosen["run"]) and chosen["start_day"] >= LEAD_DAYS
    # as scheduled, its extra demand is lost; moved, it earns its margin: joint is better by
    # more than the campaign costs
    assert sequential.objective - joint.objective > 300.0
    assert enumerated["as scheduled"] > enumerated["skip"] > best
    assert joint.fill_rate > sequential.fill_rate
    assert joint.revenue > sequential.revenue


def test_objective_agrees_with_the_supply_plan_of_the_rescheduled_scenario(
    shortage: Scenario,
) -> None:
    """For each schedule: joint objective = plain plan_supply cost of the scenario with the
    campaign moved there (its own forecast) + spend − price × units served."""
    data = _joint_data(shortage, shift_weeks=4)
    for k, option in data.options_of("launch"):
        fixed = plan_joint(data, EXACT, fixed={"launch": k})
        moved = scenario_with_schedule(shortage, fixed.schedule)
        if option.run:
            campaign = moved.crm.campaigns[0]
            assert campaign.start == dt.date(2027, 1, 4) + dt.timedelta(days=option.start_day)
        else:
            assert moved.crm.campaigns == []
        plan = plan_supply(moved, DemandModel(moved).expected_by_bucket())
        assert plan.status is SolveStatus.OPTIMAL
        revenue = 25.0 * plan.service["served"].sum()
        expected = plan.objective + option.spend - revenue
        assert fixed.objective == pytest.approx(expected, rel=1e-7, abs=1e-4), option.option


def test_budget_limits_the_joint_choice(shortage: Scenario) -> None:
    """With a budget below the campaign's spend the joint plan cannot run it."""
    base, options = campaign_options(shortage, shift_weeks=4)
    data = JointData.from_scenario(shortage, base, options, budget=299.0)
    joint = plan_joint(data, EXACT)
    assert joint.status is SolveStatus.OPTIMAL
    assert not bool(joint.schedule.iloc[0]["run"]) and joint.campaign_spend == 0.0


# ----------------------------------------------------- joint is never worse than sequential


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    backorder = shortage_dict(fulfillment={"unmet_demand": "backorder"})
    late = shortage_dict()
    late["crm"]["campaigns"][0].update(start="2027-02-15", end="2027-02-28", budget=800)
    two = shortage_dict(fulfillment={"unmet_demand": "backorder"})
    two["crm"]["campaigns"].append(
        {
            "name": "second",
            "channel": "social",
            "start": "2027-02-01",
            "end": "2027-02-14",
            "budget": 500,
            "max_lift": 0.5,
            "half_saturation_spend_per_day": 30,
            "adstock_decay": 0.5,
        }
    )
    capped = shortage_dict()
    capped["nodes"]["sup"]["supplies"]["widget"]["capacity_per_day"] = 11
    return [
        ("lost sales, shifts", shortage_dict(), {"shift_weeks": 2}),
        ("backorders, budget levels", backorder, {"shift_weeks": 2, "budget_levels": (0.5, 1.5)}),
        ("late campaign, no skip", late, {"shift_weeks": 3, "allow_skip": False}),
        ("two campaigns", two, {"shift_weeks": 2}),
        ("capacity-capped supplier", capped, {"shift_weeks": 4, "budget_levels": (0.5,)}),
    ]


@pytest.mark.parametrize(
    ("raw", "options"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()]
)
def test_joint_is_never_worse_than_sequential(raw: dict[str, Any], options: dict[str, Any]) -> None:
    scenario = scenario_from_dict(raw)
    data = _joint_data(scenario, **options)
    sequential = plan_joint(data, EXACT, fixed=data.scheduled_choice())
    joint = plan_joint(data, EXACT)
    assert sequential.status is SolveStatus.OPTIMAL and joint.status is SolveStatus.OPTIMAL
    assert joint.objective <= sequential.objective + 1e-6 * max(1.0, abs(sequential.objective))
    assert joint.campaign_spend <= data.budget + 1e-9
    # the reported parts add up to the objective: penalties − margin
    for result in (sequential, joint):
        assert result.objective == pytest.approx(result.penalties - result.margin, abs=1e-5)
        assert 0.0 <= result.fill_rate <= 1.0 + 1e-12


def test_plan_campaigns_on_the_library_scenario() -> None:
    """retailer_holiday over its last 20 weeks (Black Friday and the holidays in view)."""
    scenario = load_scenario("retailer_holiday", {"start_date": "2027-08-16", "horizon_days": 140})
    result = plan_campaigns(scenario, shift_weeks=2)
    assert result.sequential.status.has_plan and result.joint.status.has_plan
    assert result.joint.objective <= result.sequential.objective + 1e-6
    assert set(result.joint.schedule["campaign"]) == {
        "black_friday",
        "holiday_social",
        "loyalty_email",
    }
    assert result.additivity["max_abs_error"] < 1e-6
    moved = scenario_with_schedule(scenario, result.joint.schedule)
    # spring_email (March) spends nothing in the horizon: no decision, left as it is
    kept = [c.name for c in moved.crm.campaigns]
    assert "spring_email" in kept
    assert len(kept) == 1 + int(result.joint.schedule["run"].sum())
    for row in result.joint.schedule.itertuples():
        if row.run:
            campaign = next(c for c in moved.crm.campaigns if c.name == row.campaign)
            assert campaign.start == scenario.date_of(row.start_day)
            assert campaign.budget == pytest.approx(row.budget)
    table = result.comparison()
    assert list(table["measure"])[:5] == [
        "objective",
        "revenue",
        "supply_cost",
        "campaign_spend",
        "margin",
    ]


# ------------------------------------------------------------------------------ bad input


def test_bad_options_list_every_problem(shortage: Scenario) -> None:
    base = pd.DataFrame({"bucket": [0], "zone": ["zone"], "product": ["widget"], "units": [1.0]})
    options = [
        CampaignOption("a", "x", spend=-1.0, uplift={("nowhere", "widget", 99): 1.0}),
        CampaignOption("b", "y", spend=1.0, scheduled=True, uplift={("zone", "gadget", 0): -2.0}),
    ]
    with pytest.raises(DataError) as info:
        JointData.from_scenario(shortage, base, options, budget=-5.0)
    text = str(info.value)
    for needle in (
        "options[0] (a x).spend",
        "unknown customer zone 'nowhere'",
        "bucket 99 outside 0..11",
        "unknown product 'gadget'",
        "units must be >= 0",
        "options[a]",
        "budget",
    ):
        assert needle in text
    with pytest.raises(DataError, match="shift_weeks"):
        campaign_options(shortage, shift_weeks=-1)
    with pytest.raises(DataError, match=r"budget_levels\[0\]"):
        campaign_options(shortage, budget_levels=(0.0,))


def test_model_size_of_the_campaign_block(shortage: Scenario) -> None:
    data = _joint_data(shortage, shift_weeks=4)
    model = build_joint_model(data)
    assert len(model.choose) == len(data.options) == 7
    assert len(model.one_option) == 1
    assert model.campaign_budget is not None
    assert not model.total_cost.active and model.joint_objective.active


# ------------------------------------------------------------------------------------ CLI


def test_cli_campaign_plan_writes_schedule_summary_and_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "shortage.yaml"
    scenario.write_text(yaml.safe_dump(shortage_dict(), sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["campaign-plan", str(scenario), "--out", str(out), "-n", "2"])
    assert result.exit_code == 0, result.output
    # both schedules simulated on common random numbers, compared in the executive report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "campaigns first" in page and "joint campaign + supply" in page
    assert "simulated joint campaign + supply: fill rate" in " ".join(result.output.split())
    schedule = pd.read_csv(out / "joint_schedule.csv")
    row = schedule.iloc[0]
    assert row["campaign"] == "launch" and bool(row["run"])
    assert row["start_day"] >= LEAD_DAYS
    assert (
        row["start"] == (dt.date(2027, 1, 4) + dt.timedelta(days=int(row["start_day"]))).isoformat()
    )
    summary = json.loads((out / "joint_summary.json").read_text())
    assert summary["joint"]["objective"] < summary["sequential"]["objective"]
    assert summary["settings"]["budget"] == pytest.approx(300.0)
    moved = load_scenario(str(out / "joint_scenario.yaml"))
    assert moved.crm.campaigns[0].start.isoformat() == row["start"]
    flat = " ".join(result.output.split())
    assert "launch" in flat and row["start"] in flat and "sequential vs joint" in flat


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--budget-levels", "0,abc"], "'abc' is not a number"),
        (["--set", "horizon_days=5"], "no campaign spends within the horizon"),
        (["--set", "crm.campaigns[0].budget=-1"], "crm.campaigns[0].budget"),
        (["--no-skip", "--budget", "100"], "budget: 100.00 is below the cheapest choice"),
    ],
)
def test_cli_campaign_plan_bad_input_exits_2(tmp_path: Path, args: list[str], needle: str) -> None:
    scenario = tmp_path / "shortage.yaml"
    scenario.write_text(yaml.safe_dump(shortage_dict(), sort_keys=False), encoding="utf-8")
    result = runner.invoke(
        app, ["campaign-plan", str(scenario), "--out", str(tmp_path), "-n", "0", *args]
    )
    assert result.exit_code == 2, result.output
    assert needle in " ".join(result.output.split())
