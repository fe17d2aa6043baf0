"""``tandem plan``: forecast demand, plan supply, write the plan tables and print what to order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from optimize.plan import PLAN_TABLES, Plan
from scenarios import Scenario, load_scenario
from scenarios.errors import TandemError
from tandem.cli import _fail, _output_dir, _parse_sets, app, console, err_console

__all__ = ["next_orders_in_words", "plan"]

NEXT_BUCKETS = 2
"""Buckets of recommended orders printed (the rest are in ``plan_purchases.parquet``)."""


def next_orders_in_words(
    scenario: Scenario, purchases: pd.DataFrame, buckets: int = NEXT_BUCKETS
) -> list[str]:
    """Purchase orders released in the first ``buckets`` buckets, one sentence each.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> s = load_scenario("retailer_holiday")
    >>> frame = pd.DataFrame({"supplier": ["sup"], "dst": ["dc"], "item": ["steel"],
    ...     "bucket": [0], "release_day": [0], "due_day": [7], "qty": [4000.0]})
    >>> next_orders_in_words(s, frame)[0].startswith("order 4,000 units of steel from sup by ")
    True
    """
    if purchases.empty:
        return []
    first = int(purchases["bucket"].min())
    soon = purchases[purchases["bucket"] < first + buckets]
    soon = soon.sort_values(["release_day", "supplier", "item"], kind="stable")
    lines = []
    for row in soon.itertuples(index=False):
        release = scenario.date_of(float(row.release_day))
        due = scenario.date_of(float(row.due_day))
        lines.append(
            f"order {row.qty:,.0f} units of {row.item} from {row.supplier} by "
            f"{release.isoformat()} (into {row.dst}, due {due.isoformat()})"
        )
    return lines


def _summary_table(plan: Plan, currency: str) -> Table:
    table = Table(title="plan")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("status", str(plan.status))
    if plan.objective is not None:
        table.add_row("objective", f"{plan.objective:,.2f} {currency}")
    for name, amount in plan.cost_breakdown.items():
        if abs(amount) > 1e-9:
            table.add_row(f"  {name}", f"{amount:,.2f}")
    size = plan.model_size
    if size:
        table.add_row(
            "model size",
            f"{size.get('variables', 0):,} vars, {size.get('constraints', 0):,} cons, "
            f"{size.get('binaries', 0):,} bin, {size.get('integers', 0):,} int",
        )
    table.add_row("build / solve", f"{plan.build_seconds:.2f} s / {plan.solve_seconds:.2f} s")
    table.add_row("MIP gap", "-" if plan.mip_gap is None else f"{100 * plan.mip_gap:.3f} %")
    return table


@app.command()
def plan(
    scenario: Annotated[str, typer.Argument(help="Library scenario name or path to a YAML file.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default: runs/plan-<scenario>-<time>)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: PATH=VALUE (e.g. horizon_days=56)."),
    ] = None,
) -> None:
    """Forecast demand and plan supply; write plan_*.parquet and plan_summary.json.

    Exit 0 with a plan, 2 for invalid input, 3 when there is no usable plan (the diagnosis is
    printed).
    """
    from crm_model import DemandModel
    from optimize import plan_supply
    from tandem.pipeline import plan_summary
    from tandem.store import write_parquet, write_text

    try:
        resolved = load_scenario(scenario, _parse_sets(set_))
        with console.status(f"planning {resolved.name} …"):
            demand = DemandModel(resolved).expected_by_bucket()
            result = plan_supply(resolved, demand)
    except TandemError as exc:
        _fail(exc)
        return
    out = _output_dir(out, f"plan-{resolved.name}")
    for name in PLAN_TABLES:
        write_parquet(out / f"plan_{name}.parquet", result.table(name))
    if len(result.diagnosis):
        write_parquet(out / "plan_diagnosis.parquet", result.diagnosis)
    write_text(out / "plan_summary.json", json.dumps(plan_summary(result), indent=2))
    console.print(_summary_table(result, resolved.currency))
    if not result.status.has_plan:
        err_console.print(
            f"[bold red]no usable plan[/] ({result.status}): {result.message}",
            markup=True,
            highlight=False,
        )
        console.print(f"written: {out}")
        raise typer.Exit(3)
    if result.message:
        console.print(f"solver: {result.message}", highlight=False)
    lines = next_orders_in_words(resolved, result.purchases)
    if lines:
        console.print(f"recommended orders of the next {NEXT_BUCKETS} buckets:")
        for line in lines:
            console.print(f"  {line}", highlight=False)
    else:
        console.print("no purchase orders in the next buckets")
    console.print(f"written: {out}")
