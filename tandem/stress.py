"""Stress test: one plan, solved on the CRM forecast, executed under uncertainty — and compared.

:func:`stress_test` solves the plan once on the expected demand, then simulates it ``replications``
times under sampled demand (with every campaign's lift scaled by a random factor per replication,
so campaigns over- and under-perform), stochastic lead times and a disruption profile. Each
strategy runs on the same random numbers (common random numbers: replication ``r`` of every
strategy sees the same demand, lead-time and disruption streams):

- ``static``: follow the plan as solved before the run;
- ``rolling``: re-solve it from the simulated state every period (:mod:`tandem.loop`);
- ``base_stock`` and ``s_S``: no plan — classical policies at every stock point, sized from the
  same forecast (reorder point = mean lead-time demand + safety stock for a 95 % cycle service
  level, :mod:`optimize.safety_stock`; base-stock S = reorder point + one day of demand; (s, S)
  orders up to s + one bucket of demand);
- ``auto_order``: no plan — every week the early-warning loop (:mod:`tandem.risk`) simulates the
  next four weeks from the state and places the orders it recommends itself.

It reports, per strategy, the KPIs and plan vs realised (service, cost, inventory, backlog,
demand), plan adherence (units released as first planned, re-planned, cancelled, or ordered
outside the plan by safety policies) and which plan assumptions broke first (demand off the
forecast, a supplier late, a transfer late, a disruption), per replication.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

import optimize
import reports
import sim
from crm_model import DemandModel
from optimize.plan import Plan
from optimize.safety_stock import safety_stock_table
from reports.compare import StrategyRun, paired_difference
from reports.kpis import t95
from scenarios import Scenario
from scenarios.errors import PlanError, Problem, ScenarioError
from scenarios.loader import scenario_from_dict, scenario_to_dict
from scenarios.network import SupplyNetwork
from scenarios.schema import NodeKind
from sim.run import simulate_replication
from tandem.loop import ObservedStream, ReplanSpec, RollingPlanner, daily_forecast, window_demand
from tandem.pipeline import plan_summary, run_kpis
from tandem.risk import AutoOrder, auto_order_control

__all__ = [
    "COMPARISON_METRICS",
    "PROFILES",
    "STRATEGIES",
    "StrategyOutcome",
    "StressResult",
    "apply_profile",
    "policy_scenario",
    "stress_test",
]

STRATEGIES = ("static", "rolling", "base_stock", "s_S", "auto_order")
"""Strategies :func:`stress_test` can run; ``static`` always runs (it is the baseline)."""

PROFILES = {
    "scenario": "the scenario's own disruptions",
    "none": "no disruptions",
    "supplier_outage": "the scenario's, plus a 21-day outage of the supplier with the most planned "
    "purchases, starting a third into the horizon",
    "random": "the scenario's, plus random outages of every supplier (MTBF 120 d, MTTR 10 d) and "
    "random 3-day delays on every lane out of a supplier (MTBF 60 d, MTTR 5 d)",
}
"""Built-in disruption profiles (a YAML file's ``disruptions:`` list replaces the scenario's)."""

COMPARISON_METRICS = (
    "fill_rate",
    "otif",
    "total_cost",
    "cost_net_of_ending_stock",
    "margin",
    "avg_inventory",
    "backorders",
    "lost_sales",
)
"""KPIs of :meth:`StressResult.comparison` (scope ``all``)."""

_CAMPAIGN_STREAM = 0xCA4
"""Spawn key of the campaign-performance stream (apart from the simulation's four streams)."""


# --------------------------------------------------------------------------------- inputs
def _main_supplier(scenario: Scenario, plan: Plan | None) -> str | None:
    suppliers = SupplyNetwork(scenario).nodes_of(NodeKind.SUPPLIER)
    if not suppliers:
        return None
    if plan is not None and len(plan.purchases):
        volume = plan.purchases.groupby("supplier")["qty"].sum()
        return str(volume.idxmax())
    return suppliers[0]


def apply_profile(scenario: Scenario, profile: str, plan: Plan | None = None) -> Scenario:
    """``scenario`` with the disruption ``profile`` (a name of :data:`PROFILES` or a YAML file
    with a ``disruptions:`` list, which replaces the scenario's own)."""
    data = scenario_to_dict(scenario)
    disruptions = list(data.get("disruptions") or [])
    if profile == "scenario":
        return scenario
    if profile == "none":
        disruptions = []
    elif profile == "supplier_outage":
        supplier = _main_supplier(scenario, plan)
        if supplier is None:
            raise ScenarioError([Problem("--disruptions", "supplier_outage needs a supplier")])
        start = scenario.start_date + pd.Timedelta(days=scenario.horizon_days // 3).to_pytimedelta()
        disruptions.append(
            {
                "name": f"{supplier} outage (stress)",
                "kind": "supplier_outage",
                "node": supplier,
                "start": start.isoformat(),
                "duration_days": 21.0,
            }
        )
    elif profile == "random":
        net = SupplyNetwork(scenario)
        for supplier in net.nodes_of(NodeKind.SUPPLIER):
            disruptions.append(
                {
                    "name": f"{supplier} random outage",
                    "kind": "supplier_outage",
                    "node": supplier,
                    "mtbf_days": 120.0,
                    "mttr_days": 10.0,
                }
            )
            for lane in net.outbound_lanes(supplier):
                disruptions.append(
                    {
                        "name": f"lane {lane} random delay",
                        "kind": "lane_delay",
                        "lane": lane,
                        "mtbf_days": 60.0,
                        "mttr_days": 5.0,
                        "extra_days": 3.0,
                    }
                )
    else:
        path = Path(profile)
        if not path.is_file():
            known = ", ".join(PROFILES)
            raise ScenarioError(
                [Problem("--disruptions", f"'{profile}' is neither a profile ({known}) nor a file")]
            )
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict) or not isinstance(raw.get("disruptions"), list):
            raise ScenarioError(
                [Problem("disruptions", "the file needs a 'disruptions:' list")], source=str(path)
            )
        disruptions = raw["disruptions"]
    data["disruptions"] = disruptions
    return scenario_from_dict(data, source=f"--disruptions {profile}")


def policy_scenario(scenario: Scenario, forecast: pd.DataFrame, kind: str) -> Scenario:
    """``scenario`` with every stock point under a classical policy sized from ``forecast``:
    ``base_stock`` (S = reorder point + one day of demand) or ``s_S`` (s = reorder point,
    S = s + one bucket of demand); reorder point from
    :func:`optimize.safety_stock.safety_stock_table`
    (95 % cycle service level)."""
    data = optimize.PlanningData.from_scenario(scenario, forecast)
    table = safety_stock_table(scenario, forecast, data.downstream, cycle_service_level=0.95)
    policies = []
    for row in table.itertuples(index=False):
        reorder = float(row.reorder_point)
        if kind == "base_stock":
            level = math.ceil(reorder + row.mean_daily_demand)
            policies.append(
                {"node": row.node, "product": row.item, "kind": "base_stock", "order_up_to": level}
            )
        else:
            low = math.ceil(reorder)
            high = math.ceil(low + row.mean_daily_demand * scenario.bucket.days)
            policies.append(
                {
                    "node": row.node,
                    "product": row.item,
                    "kind": "s_S",
                    "reorder_point": low,
                    "order_up_to": max(high, low + 1),
                }
            )
    raw = scenario_to_dict(scenario)
    raw["policies"] = policies
    return scenario_from_dict(raw, source=f"{scenario.name} ({kind})")


def _with_uncertainty(scenario: Scenario, uncertain: bool) -> Scenario:
    sim_settings = scenario.simulation.model_copy(
        update={"stochastic_demand": uncertain, "stochastic_lead_times": uncertain}
    )
    return scenario.model_copy(update={"simulation": sim_settings})


def campaign_factors(scenario: Scenario, seed: int, replication: int, cv: float) -> list[float]:
    """Lognormal multipliers (mean 1, coefficient of variation ``cv``) of each campaign's lift in
    one replication, from a stream of their own so strategies share them."""
    if cv <= 0 or not scenario.crm.campaigns:
        return [1.0] * len(scenario.crm.campaigns)
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    rng = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(replication, _CAMPAIGN_STREAM))
    )
    draws = rng.normal(-sigma * sigma / 2, sigma, len(scenario.crm.campaigns))
    return [float(x) for x in np.exp(draws)]


def _campaign_scenario(scenario: Scenario, factors: Sequence[float]) -> Scenario:
    if all(f == 1.0 for f in factors):
        return scenario
    campaigns = tuple(
        c.model_copy(
            update={
                "max_lift": c.max_lift * f,
                "lead_lift": None if c.lead_lift is None else c.lead_lift * f,
            }
        )
        for c, f in zip(scenario.crm.campaigns, factors, strict=True)
    )
    crm = scenario.crm.model_copy(update={"campaigns": campaigns})
    return scenario.model_copy(update={"crm": crm})


# -------------------------------------------------------------------------------- results
@dataclass
class StrategyOutcome:
    """One strategy's replications: KPIs, stacked tables and the stress tables."""

    name: str
    scenario: Scenario
    kpis: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    plan_vs_realised: pd.DataFrame
    adherence: pd.DataFrame
    breaks: pd.DataFrame
    solves: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> pd.DataFrame:
        return reports.summarize(self.kpis)

    def replan_cost(self) -> dict[str, float]:
        """Re-plans per run and seconds per re-plan (0 for strategies that do not re-plan)."""
        runs = max(1, int(self.kpis["replication"].nunique()))
        n = len(self.solves)
        seconds = float(sum(s["seconds"] for s in self.solves))
        return {"solves_per_run": n / runs, "seconds_per_solve": seconds / n if n else 0.0}


def _with_net_cost(kpis: pd.DataFrame) -> pd.Series:
    """KPI values (scope ``all``) by ``metric, replication``, with ``cost_net_of_ending_stock``."""
    values = kpis[kpis["scope"] == "all"].set_index(["metric", "replication"])["value"]
    metrics = values.index.get_level_values(0)
    if "total_cost" in metrics and "ending_inventory_value" in metrics:
        net = values.loc["total_cost"] - values.loc["ending_inventory_value"]
        net.index = pd.MultiIndex.from_product(
            [["cost_net_of_ending_stock"], net.index], names=values.index.names
        )
        values = pd.concat([values, net])
    return values


@dataclass
class StressResult:
    """Everything a stress test produced."""

    scenario: Scenario
    profile: str
    seed: int
    replications: int
    plan: Plan
    forecast: pd.DataFrame
    outcomes: dict[str, StrategyOutcome]

    def comparison(self, metrics: Sequence[str] = COMPARISON_METRICS) -> pd.DataFrame:
        """One row per strategy and metric: mean, 95 % CI half-width and the paired difference
        to the static plan on the same random numbers; plus re-planning cost.

        ``cost_net_of_ending_stock`` is ``total_cost`` less the value (at unit cost) of the stock
        left at the end: strategies that end with more stock paid for it but still own it."""
        base = _with_net_cost(self.outcomes["static"].kpis)
        rows = []
        for name, outcome in self.outcomes.items():
            kpis = _with_net_cost(outcome.kpis)
            for metric in metrics:
                if metric not in kpis.index.get_level_values(0):
                    continue
                values = kpis.loc[metric]
                diff = paired_difference(values, base.loc[metric]) if name != "static" else {}
                rows.append(
                    {
                        "strategy": name,
                        "metric": metric,
                        "mean": float(values.mean()),
                        "ci_halfwidth": float(
                            t95(len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
                        )
                        if len(values) > 1
                        else math.nan,
                        "diff_vs_static": diff.get("diff", 0.0 if name == "static" else math.nan),
                        "diff_ci_halfwidth": diff.get("ci_halfwidth", math.nan),
                    }
                )
            cost = outcome.replan_cost()
            rows.append(
                {"strategy": name, "metric": "replans_per_run", "mean": cost["solves_per_run"]}
            )
            rows.append(
                {
                    "strategy": name,
                    "metric": "seconds_per_replan",
                    "mean": cost["seconds_per_solve"],
                }
            )
        return pd.DataFrame(rows)

    def strategy_runs(self) -> list[StrategyRun]:
        """Each strategy as an executive-report strategy (stress tables included)."""
        runs = []
        for name, outcome in self.outcomes.items():
            tables = dict(outcome.tables)
            tables.update({f"plan_{k}": v for k, v in self.plan.tables.items()})
            tables["forecast"] = self.forecast
            tables["stress_plan_vs_realised"] = outcome.plan_vs_realised
            tables["stress_adherence"] = outcome.adherence
            tables["stress_breaks"] = outcome.breaks
            cost = outcome.replan_cost()
            runs.append(
                StrategyRun(
                    name=name,
                    scenario=outcome.scenario,
                    kpis=outcome.kpis[list(reports.KPI_COLUMNS)],
                    tables=tables,
                    plan_summary=plan_summary(self.plan),
                    meta={
                        "disruption profile": self.profile,
                        "re-plans per run": f"{cost['solves_per_run']:.1f}",
                        "seconds per re-plan": f"{cost['seconds_per_solve']:.2f}",
                    },
                    seed=self.seed,
                )
            )
        return runs


# ----------------------------------------------------------------------------------- run
def stress_test(
    scenario: Scenario,
    *,
    replications: int = 20,
    profile: str = "scenario",
    strategies: Sequence[str] = ("static",),
    replan: ReplanSpec | None = None,
    seed: int | None = None,
    uncertainty: bool = True,
    campaign_cv: float = 0.3,
    auto_replications: int = 20,
    executor: str = "inline",
    workers: int | None = None,
    scheduler: str | None = None,
) -> StressResult:
    """Solve the plan once on the forecast and run it (and the other ``strategies``) under
    uncertainty. ``uncertainty=False`` runs expected demand and mean lead times with no
    campaign noise — the plan should then be reproduced exactly (day buckets).
    ``auto_replications`` is the number of look-ahead runs of each weekly auto-order decision.
    Replications of every strategy run as independent tasks on ``executor`` (``inline``,
    ``local`` processes or ``dask``; :mod:`tandem.executors`) with identical results whichever
    runs them.

    Raises
    ------
    ScenarioError
        For an unknown strategy or disruption profile.
    PlanError
        When the optimizer finds no usable plan.
    """
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ScenarioError(
            [Problem("--strategies", f"unknown {unknown}; choose from {list(STRATEGIES)}")]
        )
    if replications < 1:
        raise ScenarioError([Problem("--replications", "must be at least 1")])
    if not campaign_cv >= 0:
        raise ScenarioError([Problem("--campaign-cv", f"must be >= 0 (got {campaign_cv})")])
    order = ["static", *[s for s in STRATEGIES if s in strategies and s != "static"]]
    seed = scenario.simulation.seed if seed is None else int(seed)
    daily = daily_forecast(scenario)  # the CRM forecast once, per day and per bucket
    forecast = window_demand(daily, 0, scenario.horizon_days, scenario.bucket.days)
    plan = optimize.plan_supply(scenario, forecast)
    if not plan.status.has_plan:
        raise PlanError(
            f"no usable supply plan for '{scenario.name}': {plan.status}. {plan.message}"
        )
    stressed = _with_uncertainty(apply_profile(scenario, profile, plan), uncertainty)
    cv = campaign_cv if uncertainty else 0.0
    releases = sim.ReleaseSchedule.from_tables(plan.tables)
    scenarios = {
        name: policy_scenario(stressed, forecast, name)
        if name in ("base_stock", "s_S")
        else stressed
        for name in order
    }
    tasks = [
        _StrategyTask(
            name,
            scenarios[name],
            releases,
            rep,
            seed,
            cv,
            replan or ReplanSpec() if name == "rolling" else None,
            daily,
            auto_replications,
        )
        for name in order
        for rep in range(replications)
    ]
    results = _run_tasks(tasks, executor, workers, scheduler)
    outcomes = {}
    for name in order:
        mine = [r for t, r in zip(tasks, results, strict=True) if t.name == name]
        outcomes[name] = _outcome(name, scenarios[name], mine, seed, daily, plan, forecast)
    return StressResult(
        scenario=stressed,
        profile=profile,
        seed=seed,
        replications=replications,
        plan=plan,
        forecast=forecast,
        outcomes=outcomes,
    )


@dataclass(frozen=True)
class _StrategyTask:
    """One replication of one strategy: everything a worker needs (picklable)."""

    name: str
    scenario: Scenario
    releases: sim.ReleaseSchedule
    replication: int
    seed: int
    campaign_cv: float
    replan: ReplanSpec | None
    daily: pd.DataFrame
    auto_replications: int


def _run_tasks(
    tasks: list[_StrategyTask], executor: str, workers: int | None, scheduler: str | None
) -> list[tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]]:
    """Run the tasks on the executor; results in task order (so they do not depend on which
    worker ran what). Tasks are independent: each carries its seed and replication."""
    from tandem.executors import make_executor

    if executor == "inline" or len(tasks) == 1:
        return [_run_task(task) for task in tasks]
    results: dict[int, Any] = {}
    with make_executor(executor, workers, scheduler) as pool:
        futures = {pool.submit(_run_task, task): k for k, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            for future in pool.wait_any(pending):
                pending.discard(future)
                results[futures[future]] = pool.result(future)
    return [results[k] for k in range(len(tasks))]


def _run_task(task: _StrategyTask) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """One replication of one strategy: its tables and its re-plan / auto-order decisions."""
    name, scenario, rep, seed = task.name, task.scenario, task.replication, task.seed
    rep_scenario = _campaign_scenario(
        scenario, campaign_factors(scenario, seed, rep, task.campaign_cv)
    )
    planners: list[RollingPlanner] = []
    autos: list[AutoOrder] = []

    def control(simulation: sim.Simulation) -> sim.Control:
        observed = ObservedStream(simulation.stream)
        simulation.stream = observed
        if name == "auto_order":
            auto = AutoOrder(scenario, replications=task.auto_replications, seed=seed * 1000 + rep)
            autos.append(auto)
            return auto_order_control(auto)
        if task.replan is None:  # only record the releases
            return sim.Control(every_days=math.inf, decide=lambda d, s: None)
        planner = RollingPlanner(scenario, task.replan, task.daily, observed)
        planners.append(planner)
        return planner.control()

    follows_plan = name in ("static", "rolling")
    tables = simulate_replication(
        rep_scenario,
        task.releases if follows_plan else sim.ReleaseSchedule.empty(),
        rep,
        seed,
        SupplyNetwork(rep_scenario),
        DemandModel(rep_scenario),
        control=control,
    )
    solves = [{**s, "replication": rep} for p in planners for s in p.solves]
    solves += [{**d, "replication": rep} for a in autos for d in a.decisions]
    return tables, solves


def _outcome(
    name: str,
    scenario: Scenario,
    results: list[tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]],
    seed: int,
    daily: pd.DataFrame,
    plan: Plan,
    forecast: pd.DataFrame,
) -> StrategyOutcome:
    parts = [tables for tables, _ in results]
    solves = [s for _, decisions in results for s in decisions]
    stacked = {key: sim.concat_tables([p[key] for p in parts]) for key in parts[0]}
    kpis = run_kpis(scenario, stacked)
    follows_plan = name in ("static", "rolling")
    return StrategyOutcome(
        name=name,
        scenario=scenario,
        kpis=kpis,
        tables=stacked,
        plan_vs_realised=plan_vs_realised(plan, forecast, kpis, stacked),
        adherence=adherence(plan, stacked) if follows_plan else _empty_adherence(),
        breaks=assumption_breaks(scenario, plan, daily, stacked, seed),
        solves=solves,
    )


# ------------------------------------------------------------------------- stress tables
def planned_service(plan: Plan) -> dict[str, float]:
    """The plan's own service numbers: demand, fill rate (new demand of a bucket served in it,
    after older backlog — FIFO), average backlog and lost units."""
    service = plan.service
    if service.empty:
        return {"demand_units": 0.0, "fill_rate": 1.0, "backorders": 0.0, "lost_sales": 0.0}
    filled = 0.0
    for _, rows in service.groupby(["zone", "item"]):
        rows = rows.sort_values("bucket")
        previous = 0.0
        for demand, served, backlog in zip(
            rows["demand"], rows["served"], rows["backlog"], strict=True
        ):
            filled += min(demand, max(0.0, served - previous))
            previous = backlog
    demand = float(service["demand"].sum())
    per_bucket = service.groupby("bucket")["backlog"].sum()
    return {
        "demand_units": demand,
        "fill_rate": filled / demand if demand > 0 else 1.0,
        "backorders": float(per_bucket.mean()),
        "lost_sales": float(service["lost"].sum()),
    }


def plan_vs_realised(
    plan: Plan, forecast: pd.DataFrame, kpis: pd.DataFrame, tables: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Planned value, realised mean over replications and the difference, per measure.

    Inventory compares the plan's average end-of-bucket on-hand with the simulation's average
    end-of-day on-hand summed over stock points; costs compare the plan's cost breakdown with the
    simulated costs of the same kind."""
    planned = planned_service(plan)
    inventory = plan.inventory
    planned["avg_inventory"] = (
        float(inventory.groupby("bucket")["qty"].sum().mean()) if len(inventory) else 0.0
    )
    costs = plan.cost_breakdown
    planned["purchase_cost"] = float(costs.get("purchase", 0.0))
    planned["holding_cost"] = float(costs.get("holding", 0.0))
    planned["transport_cost"] = float(costs.get("transport", 0.0))
    planned["ordering_cost"] = float(costs.get("ordering", 0.0))
    planned["purchased_units"] = float(plan.purchases["qty"].sum()) if len(plan.purchases) else 0.0
    realised = kpis[kpis["scope"] == "all"].groupby("metric")["value"].mean().to_dict()
    inv = tables.get("inventory")
    if inv is not None and len(inv):
        realised["avg_inventory"] = float(
            inv.groupby(["replication", "day"])["on_hand"].sum().groupby(level=0).mean().mean()
        )
        realised["backorders"] = float(
            inv.groupby(["replication", "day"])["backorders"].sum().groupby(level=0).mean().mean()
        )
    orders = tables["orders"]
    purchases = orders[orders["order_type"] == "purchase"]
    reps = max(1, int(kpis["replication"].nunique()))
    realised["purchased_units"] = float(purchases["qty"].sum()) / reps
    units = {
        "fill_rate": "fraction",
        "avg_inventory": "units",
        "backorders": "units",
        "demand_units": "units",
        "lost_sales": "units",
        "purchased_units": "units",
    }
    rows = []
    for measure in (
        "demand_units",
        "fill_rate",
        "backorders",
        "lost_sales",
        "avg_inventory",
        "purchased_units",
        "purchase_cost",
        "holding_cost",
        "transport_cost",
        "ordering_cost",
    ):
        p, r = planned.get(measure, math.nan), realised.get(measure, math.nan)
        rows.append(
            {
                "measure": measure,
                "planned": p,
                "realised": r,
                "difference": r - p,
                "unit": units.get(measure, "currency"),
            }
        )
    return pd.DataFrame(rows)


_DEMAND_GRACE_DAYS = 7
"""Cumulative demand is compared with the forecast from this day on (one week of history)."""

_RELEASE_KEY = ["day", "kind", "where", "item"]


def _plan_releases(plan: Plan) -> pd.DataFrame:
    """The plan's releases as ``day, kind, where, item, qty`` (``where``: lane or plant)."""
    frames = [
        table.assign(kind=kind, where=table[where].astype(str), item=table[item], day=table[day])
        for table, kind, where, item, day in (
            (plan.purchases, "purchase", "lane", "item", "release_day"),
            (plan.transfers, "transfer", "lane", "item", "release_day"),
            (plan.production, "production", "plant", "product", "start_day"),
        )
        if len(table)
    ]
    if not frames:
        return _release_frame(pd.DataFrame({c: [] for c in [*_RELEASE_KEY, "qty"]}))
    frame = pd.concat([f[[*_RELEASE_KEY, "qty"]] for f in frames], ignore_index=True)
    frame = frame[frame["qty"] > 1e-9]
    return _release_frame(frame).groupby(_RELEASE_KEY, as_index=False)["qty"].sum()


def _release_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({"day": float, "kind": str, "where": str, "item": str, "qty": float})


def _empty_adherence() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "replication",
            "planned_units",
            "as_planned_units",
            "cancelled_units",
            "replanned_units",
            "outside_plan_units",
            "adherence",
        ]
    )


def adherence(plan: Plan, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per replication: units the first plan released, units released as planned (same day,
    lane or plant, item; up to the planned units), cancelled (planned, never released), released
    by a re-plan beyond that, and supply ordered outside any plan (safety policies);
    ``adherence`` = as planned ÷ planned."""
    planned = _plan_releases(plan)
    total = float(planned["qty"].sum())
    released = tables.get("plan_releases")
    orders = tables["orders"]
    supply = orders[orders["order_type"].isin(["purchase", "transfer", "production"])]
    rows = []
    for rep in sorted(orders["replication"].unique()):
        made = (
            released[released["replication"] == rep] if released is not None else planned.iloc[0:0]
        )
        made = (
            _release_frame(made[[*_RELEASE_KEY, "qty"]])
            .groupby(_RELEASE_KEY, as_index=False)["qty"]
            .sum()
        )
        both = planned.merge(
            made, on=_RELEASE_KEY, how="outer", suffixes=("_plan", "_made")
        ).fillna(0.0)
        as_planned = float(np.minimum(both["qty_plan"], both["qty_made"]).sum())
        made_total = float(made["qty"].sum())
        ordered = float(supply.loc[supply["replication"] == rep, "qty"].sum())
        rows.append(
            {
                "replication": int(rep),
                "planned_units": total,
                "as_planned_units": as_planned,
                "cancelled_units": total - as_planned,
                "replanned_units": made_total - as_planned,
                "outside_plan_units": max(0.0, ordered - made_total),
                "adherence": as_planned / total if total > 0 else 1.0,
            }
        )
    return pd.DataFrame(rows)


def assumption_breaks(
    scenario: Scenario, plan: Plan, daily: pd.DataFrame, tables: dict[str, pd.DataFrame], seed: int
) -> pd.DataFrame:
    """Which plan assumptions broke, in how many replications, and how early (first day).

    - demand above / below forecast: from the second week on, cumulative demand of a product (all
      zones) leaves the forecast by more than max(10 %, 3 Poisson standard deviations) + 1 unit;
    - supplier late: a purchase order received (or still open at the end) more than half a day
      after its due day — it broke on its due day;
    - transfer late: the same for transfers between stock points;
    - disruption: the first disruption window that starts within the horizon.
    """
    from tandem.report_builder import disruption_windows

    orders = tables["orders"]
    reps = sorted(orders["replication"].unique())
    horizon = scenario.horizon_days
    firsts: dict[str, list[float]] = {
        k: []
        for k in (
            "demand above forecast",
            "demand below forecast",
            "supplier late",
            "transfer late",
            "disruption",
        )
    }
    fc = daily.groupby(["day", "product"])["units"].sum().unstack(fill_value=0.0)
    fc = fc.reindex(range(horizon), fill_value=0.0)
    cum_fc = fc.cumsum()
    customer = orders[orders["order_type"] == "customer"]
    windows = disruption_windows(scenario, seed, reps)
    for rep in reps:
        lines = customer[customer["replication"] == rep]
        real = (
            lines.assign(day=np.floor(lines["placed_time"]).astype(int))
            .groupby(["day", "product"])["qty"]
            .sum()
        )
        real = real.unstack(fill_value=0.0).reindex(
            index=range(horizon), columns=fc.columns, fill_value=0.0
        )
        gap = real.cumsum() - cum_fc
        band = np.maximum(0.1 * cum_fc, 3 * np.sqrt(cum_fc)) + 1.0
        settled = (np.arange(horizon) >= _DEMAND_GRACE_DAYS)[:, None]
        for label, mask in (
            ("demand above forecast", gap > band),
            ("demand below forecast", -gap > band),
        ):
            hit = (mask.to_numpy() & settled).any(axis=1)
            if hit.any():
                firsts[label].append(float(np.argmax(hit)))
        rep_orders = orders[orders["replication"] == rep]
        for label, kind in (("supplier late", "purchase"), ("transfer late", "transfer")):
            o = rep_orders[rep_orders["order_type"] == kind]
            done = o["delivered_qty"] >= o["qty"] - 1e-9
            late = (done & (o["last_delivery_time"] > o["requested_time"] + 0.5)) | (
                ~done & (o["requested_time"] + 0.5 < horizon)
            )
            if late.any():
                firsts[label].append(float(o.loc[late, "requested_time"].min()))
        w = windows[windows["replication"] == rep] if len(windows) else windows
        if len(w):
            firsts["disruption"].append(float(max(0.0, w["start"].min())))
    rows = []
    for label, days in firsts.items():
        share = len(days) / len(reps) if reps else 0.0
        median = float(np.median(days)) if days else math.nan
        rows.append(
            {
                "assumption": label,
                "broke_share": share,
                "median_first_day": median,
                "median_first_date": (scenario.date_of(median).isoformat() if days else ""),
            }
        )
    frame = pd.DataFrame(rows)
    return frame.sort_values(["median_first_day", "assumption"], na_position="last").reset_index(
        drop=True
    )
