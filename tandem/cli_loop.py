"""``tandem stress`` (plan under uncertainty, re-planned, vs policies) and ``tandem risk``."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from scenarios import load_scenario
from scenarios.errors import TandemError
from tandem.cli import _fail, _output_dir, _parse_sets, app, console
from tandem.cli_experiments import Executor, Scheduler, Workers
from tandem.executors import ExecutorKind

__all__ = ["stress"]



def _fmt(value: float, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "fraction":
        return f"{100 * value:.2f} %"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _comparison_table(comparison: pd.DataFrame) -> Table:
    from tandem.stress import COMPARISON_METRICS

    table = Table(title="strategies on common random numbers (mean ± 95 % CI; Δ vs static, paired)")
    table.add_column("metric")
    strategies = list(dict.fromkeys(comparison["strategy"]))
    for name in strategies:
        table.add_column(name, justify="right")
    units = {"fill_rate": "fraction", "otif": "fraction"}
    for metric in [*COMPARISON_METRICS, "replans_per_run", "seconds_per_replan"]:
        rows = comparison[comparison["metric"] == metric].set_index("strategy")
        if rows.empty:
            continue
        cells = []
        for name in strategies:
            if name not in rows.index:
                cells.append("-")
                continue
            row = rows.loc[name]
            unit = units.get(metric, "")
            text = _fmt(row["mean"], unit)
            half = row.get("ci_halfwidth", math.nan)
            if isinstance(half, float) and not math.isnan(half):
                text += f" ± {_fmt(half, unit)}"
            diff = row.get("diff_vs_static", math.nan)
            if name != "static" and isinstance(diff, float) and not math.isnan(diff):
                text += f" (Δ {'+' if diff >= 0 else ''}{_fmt(diff, unit)})"
            cells.append(text)
        table.add_row(metric, *cells)
    return table


def _frame_table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="left" if frame[column].dtype == object else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*[v if isinstance(v, str) else _fmt(float(v)) for v in row])
    return table


@app.command()
def stress(
    scenario: Annotated[str, typer.Argument(help="Library scenario name or path to a YAML file.")],
    replications: Annotated[int, typer.Option("--replications", "-n", help="Replications.")] = 20,
    disruptions: Annotated[
        str,
        typer.Option(
            "--disruptions",
            help="Disruption profile: scenario, none, supplier_outage, random, or a YAML file "
            "with a 'disruptions:' list.",
        ),
    ] = "scenario",
    replan: Annotated[
        str | None,
        typer.Option("--replan", help="Also run a rolling plan, e.g. every=7d,horizon=12w."),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option("--compare", help="Run static plan, rolling plan, base-stock and (s,S)."),
    ] = False,
    strategies_: Annotated[
        str | None,
        typer.Option(
            "--strategies",
            help="Comma-separated strategies to run instead: static, "
            "rolling, base_stock, s_S, auto_order (static always runs).",
        ),
    ] = None,
    uncertainty: Annotated[
        bool,
        typer.Option("--uncertainty/--no-uncertainty", help="Sample demand and lead times."),
    ] = True,
    campaign_cv: Annotated[
        float,
        typer.Option("--campaign-cv", help="Coefficient of variation of campaign lift per run."),
    ] = 0.3,
    seed: Annotated[int | None, typer.Option("--seed", help="Root seed.")] = None,
    executor: Executor = ExecutorKind.LOCAL,
    workers: Workers = None,
    scheduler: Scheduler = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output directory.")] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the executive report here (.html/.pdf/.xlsx)."),
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override: PATH=VALUE.")] = None,
) -> None:
    """Solve the plan once on the CRM forecast, then run it under uncertainty and disruptions:
    plan vs realised, plan adherence, which assumptions broke first — and, with --replan or
    --compare, a rolling re-plan and classical policies on the same random numbers.

    Writes comparison.csv, plan_vs_realised.csv, adherence.csv, breaks.csv, replans.csv,
    stress_summary.json and report.html (executive report) to --out.
    """
    from tandem.loop import ReplanSpec
    from tandem.report_builder import write_report
    from tandem.store import write_parquet, write_text
    from tandem.stress import stress_test

    try:
        resolved = load_scenario(scenario, _parse_sets(set_))
        spec = ReplanSpec.parse(replan) if replan else ReplanSpec()
        strategies = ["static"]
        if replan or compare:
            strategies.append("rolling")
        if compare:
            strategies += ["base_stock", "s_S"]
        if strategies_:
            strategies = ["static", *[x.strip() for x in strategies_.split(",") if x.strip()]]
        with console.status(f"stress-testing {resolved.name} ({', '.join(strategies)}) …"):
            result = stress_test(
                resolved,
                replications=replications,
                profile=disruptions,
                strategies=strategies,
                replan=spec,
                seed=seed,
                uncertainty=uncertainty,
                campaign_cv=campaign_cv,
                executor=str(executor),
                workers=workers,
                scheduler=scheduler,
            )
    except TandemError as exc:
        _fail(exc)
        return
    out = _output_dir(out, f"stress-{resolved.name}")
    comparison = result.comparison()
    per = {
        "plan_vs_realised": [
            o.plan_vs_realised.assign(strategy=n) for n, o in result.outcomes.items()
        ],
        "adherence": [o.adherence.assign(strategy=n) for n, o in result.outcomes.items()],
        "breaks": [o.breaks.assign(strategy=n) for n, o in result.outcomes.items()],
        "replans": [
            pd.DataFrame(o.solves).assign(strategy=n)
            for n, o in result.outcomes.items()
            if o.solves
        ],
    }
    write_text(out / "comparison.csv", comparison.to_csv(index=False, float_format="%.10g"))
    for name, frames in per.items():
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        write_text(out / f"{name}.csv", frame.to_csv(index=False, float_format="%.10g"))
    for name, outcome in result.outcomes.items():
        write_parquet(out / f"kpis_{name}.parquet", outcome.kpis)
    for name, frame in result.plan.tables.items():
        write_parquet(out / f"plan_{name}.parquet", frame)
    summary = {
        "scenario": resolved.name,
        "profile": disruptions,
        "replications": replications,
        "seed": result.seed,
        "strategies": list(result.outcomes),
        "replan": {"every_days": spec.every_days, "horizon_days": spec.horizon_days}
        if "rolling" in result.outcomes
        else None,
        "plan_status": str(result.plan.status),
        "plan_objective": result.plan.objective,
        "replan_cost": {n: o.replan_cost() for n, o in result.outcomes.items()},
    }
    write_text(out / "stress_summary.json", json.dumps(summary, indent=2))
    runs = result.strategy_runs()
    write_report(runs, out / "report.html", title=f"Stress test: {resolved.name} ({disruptions})")
    if report is not None:
        write_report(runs, report, title=f"Stress test: {resolved.name} ({disruptions})")

    console.print(
        f"plan: {result.plan.status}, "
        f"objective {_fmt(result.plan.objective or 0.0)} {resolved.currency}"
    )
    static = result.outcomes["static"]
    console.print(
        _frame_table(
            "plan vs realised (static plan, mean over replications)",
            static.plan_vs_realised[["measure", "planned", "realised", "difference"]],
        )
    )
    console.print(
        _frame_table(
            "which plan assumptions broke first (static plan)",
            static.breaks[["assumption", "broke_share", "median_first_date"]],
        )
    )
    for name, outcome in result.outcomes.items():
        if len(outcome.adherence):
            mean = outcome.adherence.drop(columns="replication").mean()
            console.print(
                f"plan adherence ({name}): {100 * mean['adherence']:.1f} % of planned units "
                f"released as planned; {mean['cancelled_units']:,.0f} cancelled, "
                f"{mean['replanned_units']:,.0f} "
                f"re-planned, {mean['outside_plan_units']:,.0f} ordered outside the plan (per run)",
                highlight=False,
            )
    if len(result.outcomes) > 1:
        console.print(_comparison_table(comparison))
    console.print(f"written: {out}")


@app.command()
def risk(
    scenario: Annotated[str, typer.Argument(help="Library scenario name or path to a YAML file.")],
    state: Annotated[
        Path, typer.Option("--state", help="State file (YAML); see docs/state-format.md.")
    ],
    horizon: Annotated[
        str, typer.Option("--horizon", help="How far to look ahead: 8w, 30d.")
    ] = "8w",
    replications: Annotated[int, typer.Option("--replications", "-n", help="Replications.")] = 50,
    target: Annotated[
        float, typer.Option("--target", help="Largest acceptable stockout probability.")
    ] = 0.05,
    verify: Annotated[
        bool,
        typer.Option("--verify/--no-verify", help="Re-run with the recommended orders placed."),
    ] = True,
    seed: Annotated[int | None, typer.Option("--seed", help="Root seed.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output directory.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override: PATH=VALUE.")] = None,
) -> None:
    """From a state (on-hand, open orders, open customer orders, deals, known outages), simulate
    forward: stockout probability and expected shortage per stock point, item and week, who is
    responsible, and the purchase orders to place now to bring each probability under --target.

    Writes risk_items.csv, risk_weekly.csv, recommended_orders.csv, risk_summary.json and
    state_with_orders.yaml (the state with the recommendations placed) to --out.
    """
    from scenarios.errors import Problem, ScenarioError
    from scenarios.state import load_state, state_to_yaml
    from tandem.loop import parse_days
    from tandem.risk import assess_risk, recommend_orders, risk_reduction, with_orders
    from tandem.store import write_text

    try:
        resolved = load_scenario(scenario, _parse_sets(set_))
        days = parse_days(horizon, "--horizon")
        if not 0 < target < 1:
            raise ScenarioError([Problem("--target", f"must be between 0 and 1 (got {target})")])
        current = load_state(state, resolved)
        with console.status(f"simulating {days} days from {current.as_of} ({replications} runs) …"):
            result = assess_risk(resolved, current, days, replications, seed)
            orders = recommend_orders(result, target)
            after = None
            if verify and len(orders):
                after = assess_risk(
                    resolved, with_orders(current, orders), days, replications, seed
                )
    except TandemError as exc:
        _fail(exc)
        return
    out = _output_dir(out, f"risk-{resolved.name}-{current.as_of}")
    write_text(out / "risk_items.csv", result.by_item.to_csv(index=False, float_format="%.6g"))
    write_text(out / "risk_weekly.csv", result.weekly.to_csv(index=False, float_format="%.6g"))
    write_text(out / "recommended_orders.csv", orders.to_csv(index=False, float_format="%.6g"))
    write_text(out / "state_with_orders.yaml", state_to_yaml(with_orders(current, orders)))
    summary = {
        "scenario": resolved.name,
        "as_of": current.as_of.isoformat(),
        "horizon_days": days,
        "replications": replications,
        "target": target,
        "at_risk": int((result.by_item["stockout_probability"] > target).sum()),
        "recommended_orders": len(orders),
    }
    if after is not None:
        reduction = risk_reduction(result, after)
        write_text(
            out / "risk_after_orders.csv", reduction.to_csv(index=False, float_format="%.6g")
        )
        summary["at_risk_after_orders"] = int(
            (after.by_item["stockout_probability"] > target).sum()
        )
    write_text(out / "risk_summary.json", json.dumps(summary, indent=2))

    shown = result.by_item[result.by_item["stockout_probability"] > 0].head(15)
    table = Table(
        title=f"stockout risk over {days} days from {current.as_of} ({replications} runs)"
    )
    for column in (
        "stock point",
        "item",
        "P(stockout)",
        "exp. shortage",
        "first at risk",
        "most responsible",
    ):
        table.add_column(column, justify="right" if column.startswith(("P", "exp")) else "left")
    for row in shown.itertuples(index=False):
        first = (
            "-"
            if math.isnan(row.first_risk_day)
            else (current.as_of + dt.timedelta(days=int(row.first_risk_day))).isoformat()
        )
        table.add_row(
            row.node,
            row.item,
            f"{100 * row.stockout_probability:.0f} %",
            f"{row.expected_shortage:,.0f}",
            first,
            f"{row.most_responsible} ({100 * row.responsible_share:.0f} %)",
        )
    if len(shown):
        console.print(table)
    else:
        console.print(f"no stockout in any of {replications} runs over {days} days")
    if len(orders):
        console.print(
            f"recommended orders (target P(stockout) ≤ {100 * target:.0f} %), by value at risk:"
        )
        for row in orders.itertuples(index=False):
            late = (
                "" if row.arrives_in_time else " — cannot arrive before the risk starts; expedite"
            )
            console.print(
                f"  order {row.qty:,.0f} units of {row.item} from {row.source} by {row.order_by} "
                f"(into {row.node}, expected {row.expected_arrival}; "
                f"{resolved.currency} {row.value_at_risk:,.0f} at risk){late}",
                highlight=False,
            )
    if after is not None:
        late = int((~orders["arrives_in_time"]).sum())
        console.print(
            f"with these orders: {summary['at_risk_after_orders']} of {summary['at_risk']} "
            f"stock point-items still above the target over the whole horizon (same random "
            f"numbers); {late} of the orders cannot arrive before the risk starts",
            highlight=False,
        )
    console.print(f"written: {out}")
