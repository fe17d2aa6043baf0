"""The pipeline: CRM forecast → supply plan → simulated stress test → KPIs → run directory."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import optimize
import reports
import sim
from crm_model import DemandModel, crm_kpis
from optimize.plan import PLAN_TABLES, Plan
from scenarios import Scenario, scenario_hash, scenario_to_yaml
from scenarios.state import state_to_yaml
from scenarios.errors import PlanError
from tandem import __version__
from tandem.store import CATALOG_NAME, Catalog, write_parquet, write_text

__all__ = ["RunResult", "plan_summary", "run_kpis", "run_scenario", "write_run"]


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced: the resolved scenario, plan, simulation, KPIs and timings."""

    scenario: Scenario
    scenario_hash: str
    seed: int
    replications: int
    plan: Plan
    simulation: sim.SimulationResult
    kpis: pd.DataFrame
    """KPIs per replication (``replication, metric, scope, value, unit``)."""
    summary: pd.DataFrame
    """KPIs over replications (``metric, scope, value, unit, std, ci_halfwidth, replications``)."""
    forecast: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    version: str = __version__


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan's status, objective, costs, size and timings as plain JSON-ready data."""
    return {
        "status": str(plan.status),
        "objective": plan.objective,
        "mip_gap": plan.mip_gap,
        "build_seconds": round(plan.build_seconds, 4),
        "solve_seconds": round(plan.solve_seconds, 4),
        "model_size": dict(plan.model_size),
        "cost_breakdown": {k: float(v) for k, v in plan.cost_breakdown.items()},
        "message": plan.message,
    }


def run_kpis(scenario: Scenario, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Supply-chain KPIs (``reports``) and CRM KPIs (``crm_model``) per replication, one table."""
    supply = reports.compute_kpis(scenario, tables)
    crm = crm_kpis(scenario, tables)
    if crm.empty:
        return supply
    return pd.concat([supply, crm[list(supply.columns)]], ignore_index=True)


def run_scenario(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    snapshot_days: tuple[float, ...] = (),
) -> RunResult:
    """Run the whole loop on a validated scenario. Pure: writes nothing. Replication 0 records
    its state (:mod:`scenarios.state`) at the start of each of ``snapshot_days``.

    Raises
    ------
    PlanError
        When the optimizer finds no usable plan (the message says why).
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    forecast = DemandModel(scenario).expected_by_bucket()
    timings["forecast_s"] = time.perf_counter() - start

    start = time.perf_counter()
    plan = optimize.plan_supply(scenario, demand=forecast)
    timings["plan_s"] = time.perf_counter() - start
    if not plan.status.has_plan:
        raise PlanError(f"no usable supply plan for '{scenario.name}': {plan.status}. {plan.message}")

    start = time.perf_counter()
    releases = sim.ReleaseSchedule.from_tables(plan.tables)
    result = sim.simulate(
        scenario, releases, replications=replications, seed=seed, snapshot_days=snapshot_days
    )
    timings["simulate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    kpis = run_kpis(scenario, result.tables())
    summary = reports.summarize(kpis)
    timings["kpis_s"] = time.perf_counter() - start
    return RunResult(
        scenario=scenario,
        scenario_hash=scenario_hash(scenario),
        seed=result.seed,
        replications=result.replications,
        plan=plan,
        simulation=result,
        kpis=kpis,
        summary=summary,
        forecast=forecast,
        timings=timings,
    )


def new_run_id(scenario: Scenario, runs_root: Path) -> str:
    """A fresh run id: UTC time, scenario name and hash prefix (suffixed if taken)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    base = f"{stamp}-{scenario.name}-{scenario_hash(scenario)[:6]}"
    run_id, k = base, 1
    while (runs_root / run_id).exists():
        k += 1
        run_id = f"{base}-{k}"
    return run_id


def write_run(run: RunResult, run_dir: Path, run_id: str | None = None) -> Path:
    """Write a run directory and register the run in the catalog beside it. Returns the dir."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id or run_dir.name
    scenario = run.scenario
    write_text(run_dir / "scenario.yaml", scenario_to_yaml(scenario))
    kpi_csv = run.summary[["metric", "scope", "value", "unit"]]
    write_text(run_dir / "kpis.csv", kpi_csv.to_csv(index=False, float_format="%.10g"))
    write_parquet(run_dir / "kpis_replications.parquet", run.kpis)
    for name, frame in run.simulation.tables().items():
        write_parquet(run_dir / f"{name}.parquet", frame)
    for name in PLAN_TABLES:
        write_parquet(run_dir / f"plan_{name}.parquet", run.plan.table(name))
    write_parquet(run_dir / "forecast.parquet", run.forecast)
    for state in run.simulation.states.values():
        write_text(run_dir / f"state_{state.as_of.isoformat()}.yaml", state_to_yaml(state))
    summary = plan_summary(run.plan)
    write_text(run_dir / "plan_summary.json", json.dumps(summary, indent=2))
    meta = {
        "run id": run_id,
        "scenario": scenario.name,
        "scenario hash": run.scenario_hash,
        "seed": run.seed,
        "replications": run.replications,
        "horizon": f"{scenario.horizon_days} days from {scenario.start_date} ({scenario.bucket} buckets)",
        "tandem version": run.version,
        **{k: f"{v:.2f} s" for k, v in run.timings.items()},
    }
    write_text(
        run_dir / "report.html",
        reports.render_run_report(
            title=scenario.name,
            description=scenario.description,
            meta=meta,
            kpis=run.summary,
            plan_summary=summary,
            inventory=run.simulation.inventory,
            currency=scenario.currency,
        ),
    )
    write_text(
        run_dir / "run.json",
        json.dumps({"id": run_id, "scenario": scenario.name, "scenario_hash": run.scenario_hash,
                    "seed": run.seed, "replications": run.replications, "version": run.version,
                    "timings": run.timings}, indent=2),
    )
    Catalog(run_dir.parent / CATALOG_NAME).register(
        {
            "id": run_id,
            "scenario": scenario.name,
            "scenario_hash": run.scenario_hash,
            "seed": run.seed,
            "replications": run.replications,
            "created": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "status": "completed",
            "version": run.version,
            "run_dir": str(run_dir.resolve()),
            "plan_status": str(run.plan.status),
            "seconds": float(sum(run.timings.values())),
        }
    )
    return run_dir
