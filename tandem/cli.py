"""The ``tandem`` command line: run, plan, validate, list. Thin: it parses, calls, prints.

Exit codes: 0 success; 1 a run failed; 2 invalid input (every problem printed, no traceback);
3 no usable supply plan.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from scenarios import (
    ScenarioError,
    library_descriptions,
    load_scenario,
)
from scenarios.errors import DataError, PlanError, Problem, TandemError
from tandem import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="tandem",
    help="Tandem: customers, campaigns and the supply chain simulated as one loop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"tandem {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Tandem: customers, campaigns and the supply chain simulated as one loop."""


def _parse_sets(values: list[str] | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    problems = []
    for item in values or []:
        if "=" not in item:
            problems.append(Problem(item, "--set needs PATH=VALUE"))
            continue
        path, raw = item.split("=", 1)
        try:
            overrides[path.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            problems.append(Problem(path.strip(), f"cannot read value {raw!r}"))
    if problems:
        raise ScenarioError(problems, source="--set")
    return overrides


def _output_dir(out: Path | None, label: str) -> Path:
    """``out``, or ``runs/<label>-<UTC time>``; created either way."""
    if out is None:
        import datetime as dt

        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        out = Path("runs") / f"{label}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _fail(exc: TandemError) -> None:
    if isinstance(exc, ScenarioError | DataError):
        err_console.print(f"[bold red]invalid input[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2)
    if isinstance(exc, PlanError):
        err_console.print(f"[bold red]planning failed[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(3)
    err_console.print(f"[bold red]error[/] {exc}", markup=True, highlight=False)
    raise typer.Exit(1)


def _kpi_table(summary: Any, title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    show_ci = bool((summary["replications"] > 1).any())
    if show_ci:
        table.add_column("± 95 % CI", justify="right")
    for row in summary[summary["scope"] == "all"].itertuples(index=False):
        if row.value != row.value:  # NaN: the metric is undefined for this run
            value, ci, unit = "–", "", ""
        elif row.unit == "fraction":
            value, ci = f"{100 * row.value:.2f} %", f"{100 * row.ci_halfwidth:.2f} %"
            unit = ""
        else:
            value, ci, unit = f"{row.value:,.2f}", f"{row.ci_halfwidth:,.2f}", row.unit
        cells = [row.metric, value, unit] + ([ci] if show_ci else [])
        table.add_row(*cells)
    return table


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Library scenario name or path to a YAML file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default: RUNS_DIR/<run-id>).")
    ] = None,
    runs_dir: Annotated[
        Path, typer.Option("--runs-dir", envvar="TANDEM_RUNS_DIR", help="Where run directories go.")
    ] = Path("runs"),
    replications: Annotated[
        int | None, typer.Option("--replications", "-n", min=1, help="Replications.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: PATH=VALUE (e.g. crm.campaigns[0].budget=5000)."),
    ] = None,
    ci_halfwidth: Annotated[
        float | None,
        typer.Option("--ci-halfwidth", min=0.0,
                     help="Add replications until the 95 % CI of --metric is this narrow."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="KPI of --ci-halfwidth: METRIC or METRIC@SCOPE.")
    ] = None,
    max_replications: Annotated[
        int, typer.Option("--max-replications", min=2, help="Cap of --ci-halfwidth.")
    ] = 200,
    snapshot_at: Annotated[
        list[str] | None,
        typer.Option("--snapshot-at", help="Write the state of replication 0 on this date "
                     "(YYYY-MM-DD) to state_<date>.yaml, for `tandem risk --state`."),
    ] = None,
) -> None:
    """Forecast demand, plan supply, simulate the plan, compute KPIs, write a run directory."""
    from tandem.pipeline import new_run_id, run_scenario, write_run

    try:
        resolved = load_scenario(scenario, _parse_sets(set_))
        snapshot_days = _snapshot_days(resolved, snapshot_at or [])
        with console.status(f"running {resolved.name} …"):
            if ci_halfwidth is None and metric is None:
                result = run_scenario(
                    resolved, replications=replications, seed=seed, snapshot_days=snapshot_days
                )
            else:
                from tandem.experiments import run_to_precision_cli

                result = run_to_precision_cli(resolved, ci_halfwidth, metric, replications,
                                              max_replications, seed)
        if out is None:
            run_id = new_run_id(resolved, runs_dir)
            run_dir = runs_dir / run_id
        else:
            run_dir, run_id = out, out.name
        write_run(result, run_dir, run_id)
    except TandemError as exc:
        _fail(exc)
        return
    reps = result.replications
    console.print(_kpi_table(result.summary, f"{resolved.name} — {reps} replication{'s' * (reps > 1)}"))
    console.print(
        f"plan: {result.plan.status} (objective {result.plan.objective:,.2f} {resolved.currency})"
        if result.plan.objective is not None else f"plan: {result.plan.status}"
    )
    console.print(f"results: {run_dir}  (report: {run_dir / 'report.html'})")


def _snapshot_days(scenario: Any, dates: list[str]) -> tuple[float, ...]:
    """Days after the scenario's start of ``--snapshot-at`` dates (every problem at once)."""
    import datetime as dt

    days, problems = [], []
    for text in dates:
        try:
            day = (dt.date.fromisoformat(text) - scenario.start_date).days
        except ValueError:
            problems.append(Problem("--snapshot-at", f"'{text}' is not a date (YYYY-MM-DD)"))
            continue
        if not 0 <= day < scenario.horizon_days:
            problems.append(
                Problem("--snapshot-at", f"{text} is outside the horizon ({scenario.start_date} "
                        f"+ {scenario.horizon_days} days)")
            )
        days.append(float(day))
    if problems:
        raise ScenarioError(problems, source="--snapshot-at")
    return tuple(days)


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Scenario files or library names.")],
) -> None:
    """Check scenarios; print every problem with its field path. Exit 2 if any is invalid."""
    bad = 0
    for ref in files:
        try:
            scenario = load_scenario(ref)
        except ScenarioError as exc:
            bad += 1
            err_console.print(f"[bold red]invalid[/] {exc}", markup=True, highlight=False)
            continue
        console.print(f"[green]valid[/] {ref} ({scenario.name})")
    if bad:
        raise typer.Exit(2)


@app.command("list")
def list_scenarios() -> None:
    """List the built-in scenarios with one-line descriptions."""
    table = Table(title="Library scenarios")
    table.add_column("name")
    table.add_column("description")
    for name, description in library_descriptions().items():
        table.add_row(name, description)
    console.print(table)


@app.command()
def track(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    order_id: Annotated[str | None, typer.Argument(help="Order id, e.g. CO-0000042.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="List orders not yet delivered.")] = False,
    replication: Annotated[int, typer.Option("--replication", "-r", min=0)] = 0,
) -> None:
    """Print an order's timeline, or (--open) the orders still open at the end of the run."""
    from tandem.track import open_orders, order_timeline

    try:
        if open_:
            frame = open_orders(run_dir, replication)
            title = f"open orders at the end of the run ({len(frame)})"
        elif order_id is None:
            raise ScenarioError([Problem("ORDER_ID", "give an order id or --open")], source="track")
        else:
            frame = order_timeline(run_dir, order_id, replication)
            title = f"order {order_id}"
    except TandemError as exc:
        _fail(exc)
        return
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="right" if frame[column].dtype.kind in "fi" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[
            "" if isinstance(v, float) and v != v else (f"{v:,.2f}" if isinstance(v, float) else str(v))
            for v in row
        ])
    console.print(table)


# Command groups that live in their own modules register themselves on `app` when imported.
# Add one import per module below (each module does `from tandem.cli import app`).
# --- command modules ---
import tandem.cli_experiments  # noqa: E402, F401
import tandem.cli_reports  # noqa: E402, F401
import tandem.cli_crm  # noqa: E402, F401
import tandem.cli_plan  # noqa: E402, F401
import tandem.cli_loop  # noqa: E402, F401
import tandem.cli_campaigns  # noqa: E402, F401
# --- end command modules ---


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
