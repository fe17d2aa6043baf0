"""``tandem campaign-plan``: choose campaign timing and budget together with the supply plan,
compare with planning campaigns first and supply second, write the schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from optimize.plan import PLAN_TABLES
from scenarios import Scenario, ScenarioError, load_scenario
from scenarios.errors import Problem, TandemError
from scenarios.loader import scenario_to_yaml
from tandem.cli import _fail, _output_dir, _parse_sets, app, console

if TYPE_CHECKING:
    from tandem.joint import CampaignPlanning

__all__ = ["campaign_plan", "parse_budget_levels"]


def parse_budget_levels(text: str) -> tuple[float, ...]:
    """Budget levels from ``"50,100,150"`` (percent) or ``"0.5,1,1.5"`` (fractions; any value
    above 5 is read as percent).

    Examples
    --------
    >>> parse_budget_levels("50,100,150")
    (0.5, 1.0, 1.5)
    >>> parse_budget_levels("1")
    (1.0,)
    """
    levels = []
    problems = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            value = float(part.rstrip("%"))
        except ValueError:
            problems.append(Problem("--budget-levels", f"'{part}' is not a number"))
            continue
        if not (math.isfinite(value) and value > 0):
            problems.append(Problem("--budget-levels", f"'{part}' must be > 0"))
            continue
        levels.append(value / 100.0 if value > 5 or part.endswith("%") else value)
    if not levels and not problems:
        problems.append(Problem("--budget-levels", "give at least one level"))
    if problems:
        raise ScenarioError(problems, source="--budget-levels")
    return tuple(levels)


def _money(value: float | None, currency: str = "") -> str:
    return "–" if value is None else f"{value:,.0f}{' ' + currency if currency else ''}"


def _schedule_table(scenario: Scenario, planning: CampaignPlanning) -> Table:
    table = Table(title="campaign schedule (joint; choice = shift from the schedule)")
    table.add_column("campaign", no_wrap=True)
    table.add_column("choice", no_wrap=True)
    table.add_column("start", no_wrap=True)
    table.add_column("budget (scheduled)", justify="right", no_wrap=True)
    table.add_column("uplift units", justify="right")
    scheduled = {r["campaign"]: r for r in planning.sequential.schedule.to_dict("records")}
    for row in planning.joint.schedule.to_dict("records"):
        before = scheduled[row["campaign"]]
        start = scenario.date_of(row["start_day"]).isoformat() if row["run"] else "not run"
        table.add_row(
            str(row["campaign"]),
            str(row["option"]),
            start,
            f"{_money(row['budget'])} ({_money(before['budget'])})",
            f"{row['uplift_units']:,.0f}",
        )
    return table


_LABELS = {
    "objective": "objective (penalties − margin)",
    "revenue": "expected revenue",
    "supply_cost": "supply cost (cash)",
    "campaign_spend": "campaign spend",
    "margin": "margin",
    "penalties": "shortage penalties",
    "demand_units": "demand (units)",
    "served_units": "served (units)",
    "fill_rate": "fill rate (in bucket)",
    "backlog_unit_days": "backlog (unit-days)",
    "unserved_units": "unserved at end (units)",
    "mip_gap": "MIP gap",
    "seconds": "solve (s)",
}


def _comparison_table(planning: CampaignPlanning, currency: str) -> Table:
    table = Table(title=f"sequential vs joint ({currency})")
    table.add_column("measure")
    for column in ("sequential", "joint", "joint − sequential"):
        table.add_column(column, justify="right")
    for row in planning.comparison().to_dict("records"):
        measure = str(row["measure"])
        cells = []
        for value in (row["sequential"], row["joint"], row["difference"]):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("–")
            elif measure in ("fill_rate", "mip_gap"):
                cells.append(f"{100 * value:.2f} %")
            elif measure == "seconds":
                cells.append(f"{value:.1f}")
            else:
                cells.append(f"{value:,.0f}")
        table.add_row(_LABELS.get(measure, measure), *cells)
    return table


@app.command("campaign-plan")
def campaign_plan(
    scenario: Annotated[str, typer.Argument(help="Library scenario name or path to a YAML file.")],
    shift_weeks: Annotated[
        int, typer.Option("--shift-weeks", min=0, help="Move each campaign up to this many weeks.")
    ] = 4,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget", min=0.0, help="Total campaign spend allowed (default: the scheduled spend)."
        ),
    ] = None,
    budget_levels: Annotated[
        str,
        typer.Option("--budget-levels", help="Budget levels per campaign, e.g. 50,100,150 (%)."),
    ] = "100",
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep", help="Keep this campaign as scheduled (repeatable), e.g. a dated event."
        ),
    ] = None,
    skip: Annotated[
        bool, typer.Option("--skip/--no-skip", help="Allow not running a campaign.")
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output directory (default: runs/campaign-plan-<scenario>-<time>)."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: PATH=VALUE (e.g. solver.time_limit_s=60)."),
    ] = None,
    replications: Annotated[
        int,
        typer.Option("--replications", "-n", min=0,
                     help="Simulate both schedules this many times (common random numbers) and "
                     "write the executive report (0: plan only)."),
    ] = 5,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Executive report file (default OUT/report.html; .pdf/.xlsx too)."),
    ] = None,
) -> None:
    """Plan campaign timing and budget together with supply; compare with sequential planning.

    Writes joint_schedule.csv, joint_summary.json, joint_scenario.yaml (the scenario with the
    planned campaigns, ready for `tandem run`) and the joint plan's plan_*.parquet. Exit 0 with
    plans, 2 for invalid input, 3 without a usable plan.
    """
    from tandem.joint import plan_campaigns, scenario_with_schedule
    from tandem.store import write_parquet, write_text

    try:
        levels = parse_budget_levels(budget_levels)
        resolved = load_scenario(scenario, _parse_sets(set_))
        with console.status(f"planning campaigns and supply of {resolved.name} …"):
            planning = plan_campaigns(
                resolved,
                shift_weeks=shift_weeks,
                budget_levels=levels,
                allow_skip=skip,
                keep=tuple(keep or ()),
                budget=budget,
            )
        if not planning.joint.status.has_plan or not planning.sequential.status.has_plan:
            console.print(
                f"no usable plan: sequential {planning.sequential.status} "
                f"({planning.sequential.message}), joint {planning.joint.status} "
                f"({planning.joint.message})",
                highlight=False,
            )
            raise typer.Exit(3)
        moved = scenario_with_schedule(resolved, planning.joint.schedule)
    except TandemError as exc:
        _fail(exc)
        return
    out = _output_dir(out, f"campaign-plan-{resolved.name}")
    chosen = planning.joint.schedule
    runs = chosen["run"]
    schedule = chosen.assign(
        start=[
            _date_or_blank(resolved, d, r) for d, r in zip(chosen["start_day"], runs, strict=True)
        ],
        end=[_date_or_blank(resolved, d, r) for d, r in zip(chosen["end_day"], runs, strict=True)],
    )
    write_text(out / "joint_schedule.csv", schedule.to_csv(index=False))
    summary = {
        "scenario": resolved.name,
        "settings": {
            "shift_weeks": shift_weeks,
            "budget_levels": list(levels),
            "allow_skip": skip,
            "keep": list(keep or ()),
            "budget": planning.data.budget,
        },
        "sequential": planning.sequential.summary(),
        "joint": planning.joint.summary(),
        "joint_fell_back_to_sequential": planning.fell_back,
        "additivity": planning.additivity,
        "schedule": json.loads(schedule.to_json(orient="records")),
    }
    write_text(out / "joint_summary.json", json.dumps(summary, indent=2))
    write_text(out / "joint_scenario.yaml", scenario_to_yaml(moved))
    for name in PLAN_TABLES:
        write_parquet(out / f"plan_{name}.parquet", planning.joint.plan.table(name))
    console.print(_schedule_table(resolved, planning))
    console.print(_comparison_table(planning, resolved.currency))
    error = planning.additivity
    console.print(
        f"additive uplift vs the demand model with every campaign as scheduled: "
        f"{100 * error['relative_total_error']:.3g} % of units "
        f"(worst zone-product-bucket {error['max_abs_error']:.3g} units)",
        highlight=False,
    )
    if planning.fell_back:
        console.print(f"note: {planning.joint.message}", highlight=False)
    if replications > 0:
        from tandem.pipeline import run_scenario
        from tandem.report_builder import build_comparison_report

        try:
            with console.status(f"simulating both schedules ({replications} replications) …"):
                results = {
                    "campaigns first": run_scenario(resolved, replications=replications),
                    "joint campaign + supply": run_scenario(moved, replications=replications),
                }
        except TandemError as exc:
            _fail(exc)
            return
        path = report or out / "report.html"
        build_comparison_report(
            results, "campaigns first", path,
            title=f"Campaigns first vs joint campaign + supply planning: {resolved.name}",
        )
        for label, result in results.items():
            summary_kpis = result.summary
            kpis = summary_kpis.set_index(["metric", "scope"])["value"]
            spend = float(summary_kpis.loc[summary_kpis["metric"] == "campaign_cost", "value"].sum())
            margin = float(kpis.get(("margin", "all"), float("nan")))
            console.print(
                f"simulated {label}: fill rate {100 * kpis.get(('fill_rate', 'all'), float('nan')):.2f} %, "
                f"margin {_money(margin, resolved.currency)} − campaign spend "
                f"{_money(spend, resolved.currency)} = {_money(margin - spend, resolved.currency)}",
                highlight=False,
            )
        console.print(f"report: {path}")
    console.print(f"written: {out}")


def _date_or_blank(scenario: Scenario, day: object, run: object) -> str:
    """ISO date of simulation day ``day`` (empty when the campaign does not run)."""
    if not run or day is None or (isinstance(day, float) and math.isnan(day)):
        return ""
    return scenario.date_of(float(day)).isoformat()  # type: ignore[arg-type]
