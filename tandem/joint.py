"""Joint campaign + supply planning for a scenario: campaign options from the demand model, the
sequential and the joint plan, and the chosen schedule as a scenario.

``crm_model`` owns the response model, ``optimize`` the MILP and neither imports the other, so
this module turns the scenario's campaigns into :class:`optimize.joint.CampaignOption` s (uplift
tables from :meth:`crm_model.DemandModel.expected_by_bucket`) and hands them to
:func:`optimize.joint.plan_joint`. See docs/planning-model.md, "Joint campaign and supply
planning".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from crm_model import DemandModel
from optimize.joint import CampaignOption, JointData, JointPlan, plan_joint
from scenarios import Scenario, scenario_from_dict
from scenarios.errors import DataError, Problem
from scenarios.loader import scenario_to_dict
from scenarios.schema import Campaign, SolverSettings

__all__ = [
    "CampaignPlanning",
    "additivity_error",
    "campaign_options",
    "plan_campaigns",
    "scenario_with_schedule",
]

SKIP = "skip"
"""Label of the option that does not run a campaign."""


def _with_campaigns(scenario: Scenario, campaigns: Sequence[Campaign]) -> Scenario:
    """``scenario`` with another campaign list (internal variants: dates stay within the
    horizon, so no re-validation is needed)."""
    crm = scenario.crm.model_copy(update={"campaigns": list(campaigns)})
    return scenario.model_copy(update={"crm": crm})


def _by_key(table: pd.DataFrame) -> dict[tuple[str, str, int], float]:
    keys = zip(table["zone"], table["product"], table["bucket"].astype(int), strict=True)
    return {
        (str(z), str(p), int(b)): float(u)
        for (z, p, b), u in zip(keys, table["units"], strict=True)
    }


def _uplift(
    variant: dict[tuple[str, str, int], float], base: dict[tuple[str, str, int], float]
) -> dict[tuple[str, str, int], float]:
    """Variant − base per key, clipped at 0 (see :func:`campaign_options`)."""
    return {k: v - base.get(k, 0.0) for k, v in variant.items() if v - base.get(k, 0.0) > 1e-9}


def _spend_within(campaign: Campaign, first_day: dt.date, last_day: dt.date) -> float:
    """The part of the budget spent within the horizon (spend is spread evenly over the days)."""
    days = (campaign.end - campaign.start).days + 1
    inside = (min(campaign.end, last_day) - max(campaign.start, first_day)).days + 1
    return float(campaign.budget) * max(inside, 0) / days if days > 0 else 0.0


def _label(shift_weeks: int, level: float) -> str:
    shift = "as scheduled" if shift_weeks == 0 else f"{shift_weeks:+d}w"
    return shift if math.isclose(level, 1.0) else f"{shift} @{100 * level:.0f}%"


def campaign_options(
    scenario: Scenario,
    shift_weeks: int = 4,
    budget_levels: Sequence[float] = (1.0,),
    allow_skip: bool = True,
    keep: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[CampaignOption]]:
    """The forecast without campaigns and the options of every campaign of ``scenario``.

    Options of a campaign: its schedule moved by −``shift_weeks`` … +``shift_weeks`` whole weeks
    (only moves that keep it within the horizon; the schedule itself always stays), at each
    budget level (× the campaign's budget; 1.0 is always there), and not running it
    (``allow_skip``). Campaigns named in ``keep`` (e.g. tied to a date) have only their
    schedule as option. Campaigns that spend nothing within the horizon are no decision here and
    get no options; an option's spend is the part of its budget spent within the horizon.
    The uplift of an option is
    ``expected_by_bucket(scenario with only that campaign) − expected_by_bucket(no campaigns)``,
    so campaigns add up (no interaction; :func:`additivity_error` measures the error). Uplift
    below zero (possible in the customer-level model, never in the aggregate one) is left out.

    Raises
    ------
    DataError
        Negative ``shift_weeks``, a budget level that is not a positive number, or a name in
        ``keep`` that is no campaign of the scenario.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> base, options = campaign_options(load_scenario("retailer_holiday"), shift_weeks=1)
    >>> sorted({o.option for o in options if o.campaign == "black_friday"})
    ['+1w', '-1w', 'as scheduled', 'skip']
    """
    problems = []
    if shift_weeks < 0:
        problems.append(Problem("shift_weeks", f"must be >= 0 (got {shift_weeks})"))
    for k, level in enumerate(budget_levels):
        if not (isinstance(level, int | float) and math.isfinite(level) and level > 0):
            problems.append(Problem(f"budget_levels[{k}]", f"must be a number > 0 (got {level})"))
    names = [c.name for c in scenario.crm.campaigns]
    for name in keep:
        if name not in names:
            known = ", ".join(names) or "none"
            problems.append(Problem("keep", f"unknown campaign '{name}' (campaigns: {known})"))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise DataError(f"campaign options: {len(problems)} problem(s)\n{lines}")
    levels = sorted({1.0, *(float(x) for x in budget_levels)})
    base_table = DemandModel(_with_campaigns(scenario, [])).expected_by_bucket()
    base = _by_key(base_table)
    first_day, last_day = scenario.start_date, scenario.date_of(scenario.horizon_days - 1)
    options: list[CampaignOption] = []
    for index, campaign in enumerate(scenario.crm.campaigns):
        name = campaign.name if names.count(campaign.name) == 1 else f"{campaign.name}#{index}"
        if campaign.end < first_day or campaign.start > last_day:
            continue  # spends nothing within the horizon: not a decision of this plan
        kept = campaign.name in keep
        for weeks in range(-shift_weeks, shift_weeks + 1) if not kept else (0,):
            shift = dt.timedelta(days=7 * weeks)
            start, end = campaign.start + shift, campaign.end + shift
            if weeks != 0 and (start < first_day or end > last_day):
                continue
            for level in levels if not kept else (1.0,):
                variant = campaign.model_copy(
                    update={"start": start, "end": end, "budget": campaign.budget * level}
                )
                demand = DemandModel(_with_campaigns(scenario, [variant])).expected_by_bucket()
                options.append(
                    CampaignOption(
                        campaign=name,
                        option=_label(weeks, level),
                        spend=_spend_within(variant, first_day, last_day),
                        budget=float(variant.budget),
                        shift_days=7 * weeks,
                        start_day=(start - first_day).days,
                        end_day=(end - first_day).days,
                        uplift=_uplift(_by_key(demand), base),
                        scheduled=weeks == 0 and math.isclose(level, 1.0),
                    )
                )
        if allow_skip and not kept:
            options.append(CampaignOption(campaign=name, option=SKIP, spend=0.0, budget=0.0))
    return base_table, options


def additivity_error(
    scenario: Scenario, base: pd.DataFrame, options: Sequence[CampaignOption]
) -> dict[str, float]:
    """How far the additive demand of the scheduled options is from the demand model's own
    forecast with every campaign as scheduled.

    Returns ``total_units`` (the model's forecast), ``additive_units`` (base + Σ uplift),
    ``relative_total_error`` and ``max_abs_error`` (units, worst zone-product-bucket).
    """
    exact = _by_key(DemandModel(scenario).expected_by_bucket())
    additive = _by_key(base)
    for option in options:
        if option.scheduled:
            for key, units in option.uplift.items():
                additive[key] = additive.get(key, 0.0) + units
    keys = set(exact) | set(additive)
    diff = np.array([exact.get(k, 0.0) - additive.get(k, 0.0) for k in keys])
    total = sum(exact.values())
    return {
        "total_units": float(total),
        "additive_units": float(sum(additive.values())),
        "relative_total_error": float(abs(total - sum(additive.values())) / max(total, 1e-12)),
        "max_abs_error": float(np.abs(diff).max()) if len(diff) else 0.0,
    }


@dataclass(frozen=True)
class CampaignPlanning:
    """Sequential (campaigns as scheduled, then supply) and joint plans of one scenario.

    ``fell_back`` is True when the joint solve, stopped by a limit, ended with a worse incumbent
    than the sequential plan; the joint plan is then the sequential one (which the joint model
    contains), so joint is never reported worse than sequential.
    """

    sequential: JointPlan
    joint: JointPlan
    data: JointData
    additivity: dict[str, float]
    fell_back: bool = False

    def comparison(self) -> pd.DataFrame:
        """One row per measure, columns ``measure, sequential, joint, difference``."""
        rows = []
        seq, joint = self.sequential.summary(), self.joint.summary()
        for measure in (
            "objective",
            "revenue",
            "supply_cost",
            "campaign_spend",
            "margin",
            "penalties",
            "demand_units",
            "served_units",
            "fill_rate",
            "backlog_unit_days",
            "unserved_units",
            "mip_gap",
            "seconds",
        ):
            a, b = seq[measure], joint[measure]
            both = isinstance(a, int | float) and isinstance(b, int | float)
            rows.append((measure, a, b, (b - a) if both else None))  # type: ignore[operator]
        return pd.DataFrame(rows, columns=["measure", "sequential", "joint", "difference"])


def plan_campaigns(
    scenario: Scenario,
    *,
    shift_weeks: int = 4,
    budget_levels: Sequence[float] = (1.0,),
    allow_skip: bool = True,
    keep: Sequence[str] = (),
    budget: float | None = None,
    settings: SolverSettings | None = None,
) -> CampaignPlanning:
    """Plan campaigns and supply of ``scenario`` sequentially and jointly.

    Options as in :func:`campaign_options`; ``budget`` caps the total campaign spend of the
    joint plan (default: the scenario's total campaign budget spent within the horizon);
    ``settings`` default to the scenario's solver settings. Check both plans' ``status``.

    Raises
    ------
    DataError
        No campaign spends within the horizon, a budget below the cheapest option of every
        campaign (the joint model would be infeasible), or bad options (see
        :func:`campaign_options`).

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> s = load_scenario("retailer_holiday", {"start_date": "2027-11-01", "horizon_days": 56})
    >>> result = plan_campaigns(s, shift_weeks=1)
    >>> result.joint.objective <= result.sequential.objective + 1e-6
    True
    """
    settings = settings or scenario.solver
    base, options = campaign_options(scenario, shift_weeks, budget_levels, allow_skip, keep)
    if not options:
        raise DataError(
            "crm.campaigns: no campaign spends within the horizon "
            f"({scenario.start_date} + {scenario.horizon_days} days); nothing to plan jointly"
        )
    if budget is None:
        budget = float(sum(o.spend for o in options if o.scheduled))
    cheapest = sum(
        min(o.spend for o in options if o.campaign == name)
        for name in dict.fromkeys(o.campaign for o in options)
    )
    if budget < cheapest - 1e-9:
        raise DataError(
            f"budget: {budget:,.2f} is below the cheapest choice of every campaign "
            f"({cheapest:,.2f}); allow skipping, add lower budget levels or raise it"
        )
    data = JointData.from_scenario(scenario, base, options, budget=budget)
    additivity = additivity_error(scenario, base, options)
    sequential = plan_joint(data, settings, fixed=data.scheduled_choice())
    joint = plan_joint(data, settings)
    fell_back = False
    if (
        sequential.objective is not None
        and joint.objective is not None
        and joint.objective > sequential.objective
        and sum(sequential.schedule["spend"]) <= budget + 1e-9
    ):
        message = (
            f"joint incumbent {joint.objective:,.2f} worse than the sequential plan "
            f"{sequential.objective:,.2f} (solver limits); kept the sequential plan"
        )
        joint = replace(sequential, seconds=joint.seconds, message=message)
        fell_back = True
    return CampaignPlanning(sequential, joint, data, additivity, fell_back)


def scenario_with_schedule(scenario: Scenario, schedule: pd.DataFrame) -> Scenario:
    """``scenario`` with its campaigns moved, re-budgeted or dropped as in ``schedule``
    (:data:`optimize.joint.SCHEDULE_COLUMNS`, e.g. ``plan_campaigns(...).joint.schedule``),
    validated again, so simulation and stress tests can run the planned campaigns.

    Campaigns not in the schedule stay as they are; those with ``run`` False are removed.

    Raises
    ------
    DataError
        A schedule row names no campaign of the scenario.
    """
    names = [c.name for c in scenario.crm.campaigns]
    keyed = {
        (c.name if names.count(c.name) == 1 else f"{c.name}#{i}"): i
        for i, c in enumerate(scenario.crm.campaigns)
    }
    unknown = [str(n) for n in schedule["campaign"] if n not in keyed]
    if unknown:
        raise DataError(f"schedule.campaign: unknown campaign(s) {', '.join(unknown)}")
    rows = {str(r["campaign"]): r for r in schedule.to_dict("records")}
    data = scenario_to_dict(scenario)
    campaigns = []
    for name, index in keyed.items():
        raw = data["crm"]["campaigns"][index]
        row = rows.get(name)
        if row is None:
            campaigns.append(raw)
            continue
        if not row["run"]:
            continue
        campaign = scenario.crm.campaigns[index]
        shift = dt.timedelta(days=int(row["shift_days"]))
        raw = {
            **raw,
            "start": (campaign.start + shift).isoformat(),
            "end": (campaign.end + shift).isoformat(),
            "budget": float(row["budget"]),
        }
        campaigns.append(raw)
    data["crm"]["campaigns"] = campaigns
    return scenario_from_dict(data, source=f"{scenario.name} (joint campaign schedule)")
