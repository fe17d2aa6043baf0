"""Joint campaign and supply planning: campaign timing and budget as decisions of the supply MILP.

Each campaign ``c`` has a set of options ``o`` (a start shift, a budget level, or not running),
each with a spend ``S_co`` and an uplift table ``u_co[z,i,b]``: the expected extra units of
product ``i`` in zone ``z`` and bucket ``b`` when ``c`` runs with option ``o``. The uplift comes
from the demand model (``crm_model``, through the ``tandem`` layer: optimize does not import it)
and is *additive*: campaigns do not interact. With binaries ``x[c,o]``::

    Σ_o x[c,o] = 1                                   one option per campaign
    Σ_c Σ_o S_co · x[c,o] ≤ budget                   total campaign spend
    demand[z,i,b] = base[z,i,b] + Σ_c Σ_o u_co[z,i,b] · x[c,o]

and the supply model of :mod:`optimize.model` around it (the demand terms enter through the
``extra_demand`` hook of :func:`~optimize.model.build_plan_model`). Its objective becomes::

    min  total supply cost (incl. backorder / lost-sale penalties)
         + Σ S_co · x[c,o]  −  Σ price_i · served[z,i,b]

i.e. the negative of the margin (revenue of units served − cash costs − campaign spend) plus the
planning penalties for units not served in time. Revenue is counted on every unit served, so a
campaign pays where its extra units can be supplied and served: launched into a supply shortage
its units are backlogged or lost, earn nothing in time and cost the shortage penalties.

The big-M bounds of the supply model are computed from the *envelope* demand
``base + Σ_c max_o u_co`` (≥ every reachable demand), so they stay valid for every choice of x.
Fixing ``x`` to one option per campaign (:func:`plan_joint` with ``fixed``) gives the sequential
plan (campaigns first, supply second) in the same model and objective, so the joint optimum is
never worse than it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict

import pandas as pd
import pyomo.environ as pyo

from optimize.data import PlanningData, PlanningState
from optimize.extract import extract_plan
from optimize.model import build_plan_model
from optimize.plan import Plan, SolveStatus
from optimize.solve import solve
from scenarios.errors import DataError, Problem
from scenarios.network import SupplyNetwork
from scenarios.schema import NodeKind, ProductKind, Scenario, SolverSettings, UnmetDemand

__all__ = [
    "SCHEDULE_COLUMNS",
    "CampaignOption",
    "JointData",
    "JointPlan",
    "build_joint_model",
    "plan_joint",
]

SCHEDULE_COLUMNS = (
    "campaign",
    "option",
    "run",
    "shift_days",
    "start_day",
    "end_day",
    "budget",
    "spend",
    "uplift_units",
    "scheduled",
)
"""Columns of :attr:`JointPlan.schedule`: the option chosen per campaign (days are simulation
days; ``budget`` the campaign's total budget with this option and ``spend`` the part of it
spent within the horizon, both in the scenario currency; ``uplift_units`` the expected extra
units over the horizon; ``scheduled`` whether it is the scenario's own schedule)."""

UpliftKey = tuple[str, str, int]
"""(zone, product, bucket)."""


@dataclass(frozen=True)
class CampaignOption:
    """One way to run (or not run) one campaign.

    ``uplift`` maps (zone, product, bucket) to the expected extra units it brings (additive over
    campaigns); ``shift_days`` moves the scenario's schedule (0 = as scheduled), ``start_day`` /
    ``end_day`` are its first and last day of spend (None when it does not run).

    Examples
    --------
    >>> option = CampaignOption("promo", "+7d", spend=1000.0, shift_days=7,
    ...     start_day=14, end_day=20, uplift={("z", "widget", 2): 40.0})
    >>> option.run, option.uplift_units
    (True, 40.0)
    """

    campaign: str
    option: str
    spend: float
    shift_days: int = 0
    start_day: int | None = None
    end_day: int | None = None
    uplift: Mapping[UpliftKey, float] = field(default_factory=dict)
    scheduled: bool = False
    """Whether this is the campaign as the scenario schedules it (the sequential choice)."""
    budget: float | None = None
    """The campaign's total budget with this option (default: ``spend``); ``spend`` is what
    the plan charges (the part spent within the horizon)."""

    @property
    def run(self) -> bool:
        return self.start_day is not None

    @property
    def uplift_units(self) -> float:
        return float(sum(self.uplift.values()))


@dataclass(frozen=True)
class JointData:
    """Planning data with campaign options: the supply data (``planning``: bounds, customer links
    and requirements from the envelope demand, ``planning.demand`` the base demand), the base
    demand without campaigns, the options, prices and the total budget."""

    planning: PlanningData
    base_demand: dict[UpliftKey, float]
    options: tuple[CampaignOption, ...]
    price: dict[str, float]
    budget: float | None
    """Largest total campaign spend (None: no limit)."""
    service_revenue: tuple[float, ...] = ()
    """Per option: price × uplift units of service products (delivered on order, no supply)."""
    base_service_revenue: float = 0.0
    """Price × units of service products in the base demand."""

    @property
    def campaigns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o.campaign for o in self.options))

    def options_of(self, campaign: str) -> list[tuple[int, CampaignOption]]:
        return [(k, o) for k, o in enumerate(self.options) if o.campaign == campaign]

    def scheduled_choice(self) -> dict[str, int]:
        """Campaign → index of its scheduled option."""
        return {o.campaign: k for k, o in enumerate(self.options) if o.scheduled}

    def demand_of(self, choice: Mapping[str, int]) -> dict[UpliftKey, float]:
        """Demand of physical products per (zone, product, bucket) with ``choice`` (campaign →
        option index)."""
        demand = dict(self.base_demand)
        for k in choice.values():
            for key, units in self.options[k].uplift.items():
                if key[1] in self.price:
                    demand[key] = demand.get(key, 0.0) + units
        return demand

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        base_demand: pd.DataFrame,
        options: Sequence[CampaignOption],
        budget: float | None = None,
        state: PlanningState | None = None,
    ) -> JointData:
        """Joint data of ``scenario``: ``base_demand`` (``bucket, zone, product, units``, the
        forecast without campaigns) and the ``options`` of every campaign.

        Raises
        ------
        DataError
            Listing every problem at once: a campaign without exactly one scheduled option, an
            uplift outside the buckets or for an unknown zone or product, negative spend or
            uplift, a budget below zero.
        """
        problems = _option_problems(scenario, options)
        if budget is not None and not budget >= 0:
            problems.append(Problem("budget", f"must be >= 0 (got {budget})"))
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            count = len(problems)
            raise DataError(f"campaign options: {count} problem{'s' * (count != 1)}\n{lines}")
        envelope: dict[UpliftKey, float] = {}
        for campaign in dict.fromkeys(o.campaign for o in options):
            top: dict[UpliftKey, float] = {}
            for option in options:
                if option.campaign == campaign:
                    for key, units in option.uplift.items():
                        top[key] = max(top.get(key, 0.0), float(units))
            for key, units in top.items():
                envelope[key] = envelope.get(key, 0.0) + units
        rows = [(b, z, i, u) for (z, i, b), u in envelope.items() if u > 0]
        extra = pd.DataFrame(rows, columns=["bucket", "zone", "product", "units"])
        table = pd.concat([base_demand.loc[:, ["bucket", "zone", "product", "units"]], extra])
        network = SupplyNetwork(scenario)
        envelope_data = PlanningData.from_scenario(scenario, table, state, network=network)
        base = PlanningData.from_scenario(scenario, base_demand, state, network=network).demand
        # bounds, customer links and requirements from the envelope; the balance rows use the
        # base demand plus the chosen uplift (the extra_demand hook of build_plan_model)
        planning = replace(envelope_data, demand=base)
        price = {
            p: float(spec.price)
            for p, spec in scenario.products.items()
            if spec.kind == ProductKind.FINISHED
        }
        services = {
            p: float(spec.price)
            for p, spec in scenario.products.items()
            if spec.kind == ProductKind.SERVICE
        }
        kept = tuple(
            replace(o, uplift={k: float(v) for k, v in o.uplift.items() if v > 0}) for o in options
        )
        service_revenue = tuple(
            sum(services[k[1]] * float(v) for k, v in o.uplift.items() if k[1] in services)
            for o in options
        )
        base_service_revenue = sum(
            services[str(p)] * float(u)
            for p, u in zip(base_demand["product"], base_demand["units"], strict=True)
            if str(p) in services
        )
        return cls(planning, base, kept, price, budget, service_revenue, base_service_revenue)


def _option_problems(scenario: Scenario, options: Sequence[CampaignOption]) -> list[Problem]:
    problems: list[Problem] = []
    n_buckets = scenario.n_buckets
    zones = {n for n, node in scenario.nodes.items() if node.kind == NodeKind.CUSTOMER_ZONE}
    scheduled: dict[str, int] = {}
    for k, option in enumerate(options):
        where = f"options[{k}] ({option.campaign} {option.option})"
        scheduled.setdefault(option.campaign, 0)
        scheduled[option.campaign] += int(option.scheduled)
        if not option.spend >= 0:
            problems.append(Problem(f"{where}.spend", f"must be >= 0 (got {option.spend})"))
        for zone, product, bucket in option.uplift:
            if zone not in zones:
                problems.append(Problem(f"{where}.uplift", f"unknown customer zone '{zone}'"))
            if product not in scenario.products:
                problems.append(Problem(f"{where}.uplift", f"unknown product '{product}'"))
            if not 0 <= bucket < n_buckets:
                problems.append(
                    Problem(f"{where}.uplift", f"bucket {bucket} outside 0..{n_buckets - 1}")
                )
        if any(not units >= 0 for units in option.uplift.values()):
            problems.append(Problem(f"{where}.uplift", "units must be >= 0"))
    for campaign, count in scheduled.items():
        if count != 1:
            problems.append(
                Problem(f"options[{campaign}]", f"needs exactly one scheduled option (has {count})")
            )
    return problems


def build_joint_model(data: JointData, fixed: Mapping[str, int] | None = None) -> pyo.ConcreteModel:
    """The supply model of ``data.planning`` with the campaign block (pure).

    Adds ``choose[k]`` ∈ {0, 1} per option (set ``OPTIONS``), ``one_option[c]``,
    ``campaign_budget`` (when ``data.budget`` is set and nothing is fixed), the expressions
    ``campaign_spend`` and ``revenue`` (price × units served, plus services: delivered on
    order, so their revenue is price × demand), and replaces the objective by ``joint_objective`` =
    ``total_cost + campaign_spend − revenue``. ``fixed`` (campaign → option index) fixes the
    choice of those campaigns (the sequential plan fixes all of them; the budget row is then
    left out, the schedule being given).
    """
    options = data.options
    by_key: dict[UpliftKey, list[tuple[int, float]]] = {}
    for k, option in enumerate(options):
        for key, units in option.uplift.items():
            if key[1] in data.price:  # physical products; services are in the revenue only
                by_key.setdefault(key, []).append((k, units))

    def campaign_block(m: pyo.ConcreteModel) -> dict[UpliftKey, pyo.Expression]:
        m.OPTIONS = pyo.Set(initialize=range(len(options)), ordered=True)
        m.CAMPAIGNS = pyo.Set(initialize=data.campaigns, ordered=True)
        m.choose = pyo.Var(m.OPTIONS, within=pyo.Binary)
        return {
            key: sum(units * m.choose[k] for k, units in terms) for key, terms in by_key.items()
        }

    model = build_plan_model(data.planning, extra_demand=campaign_block)
    model.name = f"joint[{data.planning.scenario_name}]"

    def one_option(m: pyo.ConcreteModel, campaign: str) -> pyo.Expression:
        return sum(m.choose[k] for k, _ in data.options_of(campaign)) == 1

    model.one_option = pyo.Constraint(model.CAMPAIGNS, rule=one_option)
    model.campaign_spend = pyo.Expression(
        expr=sum(o.spend * model.choose[k] for k, o in enumerate(options))
    )
    if data.budget is not None and not fixed:
        model.campaign_budget = pyo.Constraint(expr=model.campaign_spend <= data.budget)
    services = data.service_revenue or (0.0,) * len(options)
    model.revenue = pyo.Expression(
        expr=sum(data.price.get(i, 0.0) * model.served[z, i, b] for z, i, b in model.SERVED)
        + sum(services[k] * model.choose[k] for k in range(len(options)))
        + data.base_service_revenue
    )
    model.total_cost.deactivate()
    model.joint_objective = pyo.Objective(
        expr=model.total_cost.expr + model.campaign_spend - model.revenue, sense=pyo.minimize
    )
    for campaign, k in (fixed or {}).items():
        for j, _ in data.options_of(campaign):
            model.choose[j].fix(1.0 if j == k else 0.0)
    return model


@dataclass(frozen=True)
class JointPlan:
    """A joint (or, with every campaign fixed, sequential) campaign and supply plan.

    ``plan`` is the supply plan (its ``service`` table shows the demand of the chosen options;
    its ``objective`` is the joint objective); ``schedule`` the chosen option per campaign
    (:data:`SCHEDULE_COLUMNS`); money in the scenario currency.
    """

    status: SolveStatus
    objective: float | None
    plan: Plan
    schedule: pd.DataFrame
    revenue: float = 0.0
    """Price × units served over the horizon (services: × units demanded)."""
    campaign_spend: float = 0.0
    supply_cost: float = 0.0
    """Cash cost of the supply plan: purchase, transport, production, holding, ordering."""
    penalties: float = 0.0
    """Planning penalties: backorder, lost sales (incl. backlog open at the end), storage and
    safety stock."""
    demand_units: float = 0.0
    """Demand of physical products over the horizon (services are not in the supply plan)."""
    served_units: float = 0.0
    fill_rate: float | None = None
    """Share of demand served in the bucket it arises (backorders: FIFO, so the unfilled part of
    bucket b is min(backlog_b, demand_b); lost sales: 1 − lost / demand)."""
    backlog_unit_days: float = 0.0
    unserved_units: float = 0.0
    """Backlog open at the end (backorders) or units lost (lost sales)."""
    choice: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""

    @property
    def margin(self) -> float:
        """Revenue − supply cash cost − campaign spend (penalties are not cash)."""
        return self.revenue - self.supply_cost - self.campaign_spend

    def summary(self) -> dict[str, float | str | None]:
        """The headline numbers as a flat dict (JSON-ready)."""
        return {
            "status": str(self.status),
            "objective": self.objective,
            "revenue": self.revenue,
            "supply_cost": self.supply_cost,
            "campaign_spend": self.campaign_spend,
            "margin": self.margin,
            "penalties": self.penalties,
            "demand_units": self.demand_units,
            "served_units": self.served_units,
            "fill_rate": self.fill_rate,
            "backlog_unit_days": self.backlog_unit_days,
            "unserved_units": self.unserved_units,
            "mip_gap": self.plan.mip_gap,
            "seconds": self.seconds,
        }


_CASH = ("purchase", "transport", "production", "holding", "ordering")


def plan_joint(
    data: JointData,
    settings: SolverSettings | None = None,
    fixed: Mapping[str, int] | None = None,
) -> JointPlan:
    """Choose campaign options and the supply plan together (build → solve → extract).

    Parameters
    ----------
    data
        Supply data, base demand and campaign options (:meth:`JointData.from_scenario`).
    settings
        Solver time limit, MIP gap, threads (default :class:`SolverSettings`).
    fixed
        Campaign → option index to fix; ``data.scheduled_choice()`` gives the sequential plan.

    Returns
    -------
    JointPlan
        Always check ``status``: only OPTIMAL and FEASIBLE carry a plan and a schedule.
    """
    start = time.perf_counter()
    model = build_joint_model(data, fixed)
    build_seconds = time.perf_counter() - start
    result = solve(model, settings)
    plan = replace(extract_plan(model, data.planning, result), build_seconds=build_seconds)
    seconds = time.perf_counter() - start
    if not result.status.has_plan:
        return JointPlan(
            result.status,
            None,
            plan,
            pd.DataFrame(columns=list(SCHEDULE_COLUMNS)),
            seconds=seconds,
            message=result.message,
        )
    choice = {}
    for campaign in data.campaigns:
        values = [(pyo.value(model.choose[k]), k) for k, _ in data.options_of(campaign)]
        choice[campaign] = max(values)[1]
    demand = data.demand_of(choice)
    service = plan.service.copy()
    if len(service):
        keys = zip(service["zone"], service["item"], service["bucket"], strict=True)
        service["demand"] = [demand.get((z, i, int(b)), 0.0) for z, i, b in keys]
    plan = replace(plan, tables={**plan.tables, "service": service})
    costs = plan.cost_breakdown
    stats = _service_stats(service, data.planning)
    rows = []
    for campaign in data.campaigns:
        option = data.options[choice[campaign]]
        rows.append(
            (
                campaign,
                option.option,
                option.run,
                option.shift_days,
                option.start_day,
                option.end_day,
                option.spend if option.budget is None else option.budget,
                option.spend,
                option.uplift_units,
                option.scheduled,
            )
        )
    schedule = pd.DataFrame(rows, columns=list(SCHEDULE_COLUMNS))
    schedule.attrs["unit"] = {"spend": "currency", "uplift_units": "units", "start_day": "day"}
    return JointPlan(
        status=result.status,
        objective=result.objective,
        plan=plan,
        schedule=schedule,
        revenue=float(pyo.value(model.revenue)),
        campaign_spend=float(pyo.value(model.campaign_spend)),
        supply_cost=sum(costs.get(name, 0.0) for name in _CASH),
        penalties=sum(v for name, v in costs.items() if name not in _CASH),
        choice=choice,
        seconds=seconds,
        message=result.message,
        **stats,
    )


class _ServiceStats(TypedDict, total=False):
    demand_units: float
    served_units: float
    fill_rate: float | None
    backlog_unit_days: float
    unserved_units: float


def _service_stats(service: pd.DataFrame, data: PlanningData) -> _ServiceStats:
    demand = float(service["demand"].sum()) if len(service) else 0.0
    served = float(service["served"].sum()) if len(service) else 0.0
    if not len(service) or demand <= 0:
        return {"demand_units": demand, "served_units": served, "fill_rate": None}
    if data.unmet_demand is UnmetDemand.BACKORDER:
        unfilled = float(service[["backlog", "demand"]].astype(float).min(axis=1).sum())
        days = [data.days_in_bucket[int(b)] for b in service["bucket"]]
        backlog_days = float((service["backlog"].astype(float) * days).sum())
        last = service[service["bucket"] == data.n_buckets - 1]
        unserved = float(last["backlog"].sum())
    else:
        unfilled = float(service["lost"].sum())
        backlog_days = 0.0
        unserved = unfilled
    return {
        "demand_units": demand,
        "served_units": served,
        "fill_rate": 1.0 - unfilled / demand,
        "backlog_unit_days": backlog_days,
        "unserved_units": unserved,
    }
