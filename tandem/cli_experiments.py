"""Experiment commands of the ``tandem`` CLI: compare, sweep, regress, runs, query.

Thin: options are parsed here, the work is :mod:`tandem.experiments`, :mod:`tandem.batch` and
:mod:`tandem.regress`. Errors in the input exit 2 with every problem printed.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from scenarios.errors import DataError, PlanError, Problem, ScenarioError, TandemError
from tandem.batch import BatchProgress, BatchResult, BatchSpec, run_batch
from tandem.cli import _fail, _parse_sets, app, console, err_console
from tandem.executors import DASK_SCHEDULER_ENV, ExecutorKind, make_executor

__all__ = ["compare", "query", "regress", "runs_app", "sweep"]

# ------------------------------------------------------------------------------ shared options
Replications = Annotated[
    int | None,
    typer.Option("--replications", "-n", min=1, help="Replications per scenario (default 10)."),
]
Seed = Annotated[
    int | None,
    typer.Option("--seed", min=0, help="Root seed for every scenario (default: the first's)."),
]
Executor = Annotated[
    ExecutorKind,
    typer.Option("--executor", "-e", help="Where tasks run: local processes, dask, or inline."),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", "-w", min=1,
                 help="Worker processes (local, or a dask LocalCluster; default: one per CPU)."),
]
Scheduler = Annotated[
    str | None,
    typer.Option("--scheduler", envvar=DASK_SCHEDULER_ENV,
                 help="Dask scheduler address (tcp://host:8786); default a LocalCluster."),
]
Retries = Annotated[int, typer.Option("--retries", min=0, help="Extra attempts per failed task.")]
ChunkSize = Annotated[
    int | None,
    typer.Option("--chunk-size", min=1, help="Replications per task (default: automatic)."),
]
Resume = Annotated[
    str | None,
    typer.Option("--resume", metavar="BATCH_ID",
                 help="Finish an interrupted batch of the same command; finished tasks are kept."),
]
RunsDir = Annotated[
    Path,
    typer.Option("--runs-dir", envvar="TANDEM_RUNS_DIR", help="Where runs and batches go."),
]
CiHalfwidth = Annotated[
    float | None,
    typer.Option("--ci-halfwidth", min=0.0,
                 help="Add replications until the 95 % CI half-width of --metric is at most this."),
]
Metric = Annotated[
    str | None,
    typer.Option("--metric", help="KPI of --ci-halfwidth: METRIC or METRIC@SCOPE (fill_rate)."),
]
MaxReplications = Annotated[
    int, typer.Option("--max-replications", min=2, help="Cap of --ci-halfwidth.")
]
Metrics = Annotated[
    str | None,
    typer.Option("--metrics", help="KPIs to print, comma-separated (default: the main ones)."),
]

DEFAULT_METRICS = ("fill_rate", "otif", "revenue", "total_cost", "margin", "lost_sales",
                   "avg_inventory")


# ------------------------------------------------------------------------------ progress
class _RichProgress(BatchProgress):
    """A rich progress bar (replications done, ETA) on stderr; plain notes when not a terminal."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("replications"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=err_console, transient=False,
            disable=not err_console.is_terminal,
        )
        self.task: Any = None

    def start(self, batch_id: str, total: int, done: int) -> None:
        err_console.print(f"batch {batch_id}", highlight=False)
        self.bar.start()
        self.task = self.bar.add_task(self.title, total=total, completed=done)

    def grow(self, total: int) -> None:
        self.bar.update(self.task, total=total)

    def advance(self, replications: int) -> None:
        self.bar.advance(self.task, replications)

    def note(self, message: str) -> None:
        self.bar.console.print(f"[dim]{message}[/]", highlight=False)

    def stop(self) -> None:
        self.bar.stop()


def _batch(
    spec: BatchSpec, executor: ExecutorKind, workers: int | None, scheduler: str | None,
    runs_dir: Path, resume: str | None, retries: int, title: str,
) -> BatchResult:
    """Run a batch with a progress bar; Ctrl-C leaves it resumable (exit 130)."""
    progress = _RichProgress(title)
    try:
        with make_executor(executor, workers, scheduler) as pool:
            try:
                result = run_batch(spec, pool, runs_dir, resume=resume, retries=retries,
                                   progress=progress)
            finally:
                progress.stop()
    except KeyboardInterrupt:
        err_console.print("interrupted; finished tasks are stored — resume with "
                          "--resume BATCH_ID (the id printed above)")
        raise typer.Exit(130) from None
    return result


def _metric_list(metrics: str | None, available: pd.Series) -> list[str]:
    if metrics is None:
        return [m for m in DEFAULT_METRICS if m in set(available)]
    wanted = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in set(available)]
    if unknown:
        raise ScenarioError(
            [Problem("--metrics", f"unknown KPI '{m}'; KPIs: {', '.join(dict.fromkeys(available))}")
             for m in unknown], source="--metrics",
        )
    return wanted


def _fmt(value: float, unit: str, ci: float | None = None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "+" if signed else ""
    if unit == "fraction":
        text = f"{100 * value:{sign}.2f} %"
        ci_text = f"{100 * ci:.2f}" if ci is not None and math.isfinite(ci) else None
    else:
        digits = 0 if abs(value) >= 1000 else 2
        text = f"{value:{sign},.{digits}f}"
        ci_text = f"{ci:,.{digits}f}" if ci is not None and math.isfinite(ci) else None
    return f"{text} ± {ci_text}" if ci_text is not None else text


def _where(result: BatchResult) -> None:
    console.print(
        f"batch {result.batch_id}: {result.tasks_run} tasks run, {result.tasks_reused} reused, "
        f"{result.seconds:.1f} s; results in {result.batch_dir}", highlight=False,
    )


def _plan_failures(result: BatchResult) -> None:
    for point, why in result.failed_points().items():
        label = result.spec.points[point].label
        err_console.print(f"[bold red]no usable plan[/] {label}: {why}", highlight=False)


# ------------------------------------------------------------------------------ compare
@app.command()
def compare(
    scenarios: Annotated[
        list[str], typer.Argument(help="Strategies: library names or YAML files; first = baseline.")
    ],
    replications: Replications = None,
    seed: Seed = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override for every strategy: PATH=VALUE.")
    ] = None,
    metrics: Metrics = None,
    ci_halfwidth: CiHalfwidth = None,
    metric: Metric = None,
    max_replications: MaxReplications = 200,
    executor: Executor = ExecutorKind.LOCAL,
    workers: Workers = None,
    scheduler: Scheduler = None,
    retries: Retries = 2,
    chunk_size: ChunkSize = None,
    resume: Resume = None,
    runs_dir: RunsDir = Path("runs"),
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the executive report here (.html, .pdf, .xlsx; "
                                      "another suffix: a folder of CSV tables)."),
    ] = None,
) -> None:
    """Compare strategies on common random numbers: each KPI with its 95 % CI, and the paired
    difference to the first (baseline) with its CI."""
    from tandem.experiments import (
        DEFAULT_REPLICATIONS,
        compare_points,
        comparison_table,
        precision_target,
    )
    from tandem.store import write_parquet

    try:
        if len(scenarios) < 2:
            raise ScenarioError([Problem("SCENARIOS", "compare needs at least two scenarios")],
                                source="compare")
        points = compare_points(scenarios, _parse_sets(set_))
        spec = BatchSpec(
            "compare", points[0].scenario.name, tuple(points),
            replications or DEFAULT_REPLICATIONS,
            points[0].scenario.simulation.seed if seed is None else seed,
            chunk_size=chunk_size,
            precision=precision_target(ci_halfwidth, metric, max_replications),
        )
        result = _batch(spec, executor, workers, scheduler, runs_dir, resume, retries,
                    "compare")
        _plan_failures(result)
        if result.failed_points():
            raise PlanError("a strategy has no usable plan; nothing to compare")
        table = comparison_table(result.summary(), result.kpis)
        write_parquet(result.batch_dir / "comparison.parquet", table)
        shown = _metric_list(metrics, table["metric"])
    except TandemError as exc:
        _fail(exc)
        return
    labels = [p.label for p in points]
    out = Table(title=f"{len(points)} strategies vs baseline '{labels[0]}': mean ± 95 % CI, "
                      "standard deviation; Δ is the paired difference (common random numbers)")
    for column, justify in (("metric", "left"), ("strategy", "left"), ("mean", "right"),
                            ("sd", "right"), ("Δ ± CI", "right"), ("Δ %", "right")):
        out.add_column(column, justify=justify,  # type: ignore[arg-type]
                       no_wrap=column in ("strategy", "Δ %", "metric"),
                       max_width=20 if column == "strategy" else None)
    rows = table[table["scope"] == "all"].set_index(["point", "metric"])
    for name in shown:
        for index in range(len(points)):
            if (index, name) not in rows.index:
                continue
            row: Any = rows.loc[(index, name)]
            cells = [name if index == 0 else "", labels[index],
                     _fmt(row["value"], row["unit"], row["ci_halfwidth"]),
                     _fmt(row["std"], row["unit"])]
            if index == 0:
                cells += ["base", ""]
            else:
                text = _fmt(row["diff"], row["unit"], row["diff_ci_halfwidth"], signed=True)
                rel = row["rel_diff"]
                cells += [f"[bold]{text}[/]" if bool(row["significant"]) else text,
                          f"{100 * rel:+.2f} %" if pd.notna(rel) and math.isfinite(rel) else "–"]
            out.add_row(*cells, end_section=index == len(points) - 1)
    console.print(out)
    reps = table.groupby("point")["replications"].max().to_dict()
    for strategy in points:
        console.print(f"{'baseline' if strategy.index == 0 else 'strategy'} {strategy.label}: "
                      f"{strategy.ref}, {reps.get(strategy.index, 0)} replications",
                      highlight=False)
    console.print("bold Δ: its 95 % CI excludes 0", highlight=False)
    _where(result)
    if report is not None:
        from tandem.report_builder import build_batch_report

        try:
            written = build_batch_report(result, report)
        except TandemError as exc:
            _fail(exc)
            return
        console.print(f"report: {written}", highlight=False)


# ------------------------------------------------------------------------------ sweep
@app.command()
def sweep(
    scenario: Annotated[str, typer.Argument(help="Library scenario name or YAML file.")],
    set_: Annotated[
        list[str],
        typer.Option("--set", help="PATH=V1,V2,… (levels) or PATH=LOW..HIGH (a range, lhs only). "
                                   "A single value is a fixed override."),
    ],
    design: Annotated[
        str, typer.Option("--design", help="grid (every combination) or lhs (Latin hypercube).")
    ] = "grid",
    samples: Annotated[int, typer.Option("--samples", min=1, help="Points of an lhs design.")] = 10,
    replications: Replications = None,
    seed: Seed = None,
    metrics: Metrics = None,
    ci_halfwidth: CiHalfwidth = None,
    metric: Metric = None,
    max_replications: MaxReplications = 200,
    executor: Executor = ExecutorKind.LOCAL,
    workers: Workers = None,
    scheduler: Scheduler = None,
    retries: Retries = 2,
    chunk_size: ChunkSize = None,
    resume: Resume = None,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Run a scenario over a grid or Latin hypercube of field values; one tidy table of
    parameters, replication and KPIs (kpis.parquet in the batch directory)."""
    from scenarios import load_scenario
    from tandem.experiments import (
        DEFAULT_REPLICATIONS,
        Levels,
        grid_design,
        lhs_design,
        parse_sweep_sets,
        precision_target,
        sweep_points,
    )

    try:
        if design not in ("grid", "lhs"):
            raise ScenarioError([Problem("--design", f"'{design}' is not grid or lhs")],
                                source="sweep")
        factors = parse_sweep_sets(set_)
        fixed = {path: f.values[0] for path, f in factors.items()
                 if isinstance(f, Levels) and len(f.values) == 1}
        varied = {path: f for path, f in factors.items() if path not in fixed}
        if not varied:
            raise ScenarioError([Problem("--set", "nothing to sweep: give some PATH two or "
                                                  "more values, or a range")], source="sweep")
        root_seed = load_scenario(scenario, fixed).simulation.seed if seed is None else seed
        points_design = (grid_design(varied) if design == "grid"
                         else lhs_design(varied, samples, root_seed))
        points = sweep_points(scenario, points_design, fixed)
        spec = BatchSpec(
            "sweep", points[0].scenario.name, tuple(points),
            replications or DEFAULT_REPLICATIONS, root_seed, chunk_size=chunk_size,
            precision=precision_target(ci_halfwidth, metric, max_replications),
        )
        result = _batch(spec, executor, workers, scheduler, runs_dir, resume, retries,
                    f"sweep ({len(points)} points)")
        _plan_failures(result)
        summary = result.summary()
        shown = _metric_list(metrics, summary["metric"]) if len(summary) else []
    except TandemError as exc:
        _fail(exc)
        return
    out = Table(title=f"sweep of {scenario}: {len(points)} points ({design}), mean ± 95 % CI")
    out.add_column("point")
    for name in varied:
        out.add_column(name, justify="right")
    out.add_column("plan")
    for name in shown:
        out.add_column(name, justify="right")
    rows = summary[summary["scope"] == "all"].set_index(["point", "metric"])
    failed = result.failed_points()
    for point in points:
        cells = [point.label] + [str(point.parameters[name]) for name in varied]
        cells.append(str(result.plans.get(point.index, {}).get("status", "–")))
        for name in shown:
            if (point.index, name) in rows.index:
                row: Any = rows.loc[(point.index, name)]
                cells.append(_fmt(row["value"], row["unit"], row["ci_halfwidth"]))
            else:
                cells.append("–")
        out.add_row(*cells)
    console.print(out)
    _where(result)
    if len(failed) == len(points):
        _fail(PlanError("no point of the sweep has a usable plan"))


# ------------------------------------------------------------------------------ regress
@app.command()
def regress(
    suite_file: Annotated[
        Path, typer.Argument(help="Suite YAML (cases, replications, tolerances).")
    ],
    baseline: Annotated[Path, typer.Option("--baseline", help="Baseline JSON file.")],
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Write the results as the new baseline.")
    ] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML here (for CI).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on moves beyond tolerance in either direction.")
    ] = False,
    executor: Executor = ExecutorKind.LOCAL,
    workers: Workers = None,
    scheduler: Scheduler = None,
    retries: Retries = 2,
    chunk_size: ChunkSize = None,
    resume: Resume = None,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Run a regression suite and check its KPIs against a baseline. Exit 0 when every KPI is
    within tolerance, 1 when any regressed, 2 on bad input."""
    from tandem.regress import (
        Outcome,
        baseline_from_result,
        checks_frame,
        evaluate,
        junit_xml,
        load_baseline,
        load_suite,
        suite_spec,
        write_baseline,
    )
    from tandem.store import write_parquet, write_text

    began = time.perf_counter()
    try:
        suite, points = load_suite(suite_file)
        stored = None if update_baseline else load_baseline(baseline)
        spec = suite_spec(suite, points, chunk_size)
        result = _batch(spec, executor, workers, scheduler, runs_dir, resume, retries,
                    f"regress {suite.name}")
        if update_baseline:
            _plan_failures(result)
            if result.failed_points():
                raise PlanError("a case has no usable plan; baseline not written")
            write_baseline(baseline, baseline_from_result(suite, result))
            console.print(f"baseline written: {baseline} ({len(points)} cases, "
                          f"{suite.replications} replications)", highlight=False)
            _where(result)
            return
        assert stored is not None
        checks = evaluate(suite, result, stored, strict=strict)
        write_parquet(result.batch_dir / "regress.parquet", checks_frame(checks))
        if junit is not None:
            write_text(junit, junit_xml(suite, checks, time.perf_counter() - began))
    except TandemError as exc:
        _fail(exc)
        return
    out = Table(title=f"regression suite {suite.name}: {suite.replications} replications, "
                      "mean ± 95 % CI")
    for column in ("case", "kpi", "baseline", "current", "Δ", "allowed", "result"):
        out.add_column(column, justify="right" if column in ("baseline", "current", "Δ",
                                                            "allowed") else "left")
    style = {Outcome.PASSED: "green", Outcome.IMPROVED: "cyan", Outcome.REGRESSED: "bold red",
             Outcome.FAILED: "bold red"}
    for check in checks:
        delta = _fmt(check.delta, check.unit, signed=True)
        if math.isfinite(check.relative):
            delta += f" ({100 * check.relative:+.1f} %)"
        out.add_row(check.case, check.kpi, _fmt(check.baseline, check.unit, check.baseline_ci),
                    _fmt(check.current, check.unit, check.current_ci), delta,
                    _fmt(check.allowed, check.unit), f"[{style[check.outcome]}]{check.outcome}[/]")
    console.print(out)
    bad = [c for c in checks if c.outcome in (Outcome.REGRESSED, Outcome.FAILED)]
    for check in bad:
        err_console.print(f"[bold red]{check.outcome}[/] {check.describe()}", highlight=False)
    improved = [c for c in checks if c.outcome == Outcome.IMPROVED]
    if improved:
        console.print(f"{len(improved)} KPI(s) improved beyond tolerance; consider "
                      "--update-baseline", highlight=False)
    if junit is not None:
        console.print(f"JUnit XML: {junit}", highlight=False)
    _where(result)
    if bad:
        err_console.print(f"[bold red]{len(bad)} of {len(checks)} checks failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(checks)} checks within tolerance[/]")


# ------------------------------------------------------------------------------ runs, query
runs_app = typer.Typer(
    name="runs", help="List runs and batches (`tandem runs`), or show one (`tandem runs show ID`).",
    invoke_without_command=True, no_args_is_help=False,
)
app.add_typer(runs_app, name="runs")


def _listing(runs_dir: Path) -> pd.DataFrame:
    from tandem.store import CATALOG_NAME, Catalog

    path = runs_dir / CATALOG_NAME
    columns = ["id", "kind", "name", "replications", "status", "created", "seconds"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    catalog = Catalog(path)
    single = catalog.runs()
    single = single.assign(kind="run", name=single["scenario"])
    batches = catalog.batches()
    frame = pd.concat([single.reindex(columns=columns), batches.reindex(columns=columns)],
                      ignore_index=True)
    return frame.sort_values(["created", "id"], ascending=[False, True]).reset_index(drop=True)


@runs_app.callback()
def runs_main(
    ctx: typer.Context,
    runs_dir: RunsDir = Path("runs"),
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N.")] = 30,
) -> None:
    """List runs and batches, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    frame = _listing(runs_dir)
    table = Table(title=f"runs and batches in {runs_dir} ({len(frame)})")
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("reps", justify="right")
    table.add_column("status", no_wrap=True)
    table.add_column("s", justify="right")
    for row in frame.head(limit).to_dict("records"):
        seconds = "" if pd.isna(row["seconds"]) else f"{row['seconds']:.0f}"
        table.add_row(str(row["id"]), str(row["kind"]), str(row["replications"]),
                      str(row["status"]), seconds)
    console.print(table)


def _resolve_id(frame: pd.DataFrame, wanted: str) -> pd.Series:
    exact = frame[frame["id"] == wanted]
    matches = exact if len(exact) else frame[frame["id"].str.startswith(wanted)]
    if len(matches) == 0:
        raise DataError(f"no run or batch '{wanted}' (see `tandem runs`)")
    if len(matches) > 1:
        raise DataError(f"'{wanted}' matches {len(matches)} ids: "
                        + ", ".join(matches["id"].head(5)))
    return matches.iloc[0]


@runs_app.command("show")
def runs_show(
    run_id: Annotated[
        str, typer.Argument(metavar="ID", help="Run or batch id (or a unique prefix).")
    ],
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Show one run (its KPIs) or one batch (points, parameters, plans, progress, KPIs)."""
    from tandem.store import CATALOG_NAME, Catalog

    try:
        row = _resolve_id(_listing(runs_dir), run_id)
    except TandemError as exc:
        _fail(exc)
        return
    catalog = Catalog(runs_dir / CATALOG_NAME)
    if row["kind"] == "run":
        record = catalog.runs().set_index("id").loc[row["id"]]
        for key, value in record.items():
            console.print(f"[bold]{key}[/]: {value}", highlight=False)
        kpis = Path(str(record["run_dir"])) / "kpis.csv"
        if kpis.exists():
            frame = pd.read_csv(kpis)
            table = Table(title="KPIs (scope all, mean over replications)")
            for column in ("metric", "value", "unit"):
                table.add_column(column)
            for item in frame[frame["scope"] == "all"].to_dict("records"):
                table.add_row(str(item["metric"]), f"{item['value']:,.6g}", str(item["unit"]))
            console.print(table)
        return
    record = catalog.batches().set_index("id").loc[row["id"]]
    for key, value in record.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False)
    points = catalog.batch_table("batch_points", row["id"])
    tasks = catalog.batch_table("batch_tasks", row["id"])
    summary_path = Path(str(record["batch_dir"])) / "summary.parquet"
    summary = pd.read_parquet(summary_path) if summary_path.exists() else None
    table = Table(title="points")
    for column in ("point", "label", "scenario", "parameters", "plan", "replications done"):
        table.add_column(column)
    for point in points.to_dict("records"):
        done = tasks[tasks["point"] == point["point"]]
        reps = int((done["rep_stop"] - done["rep_start"]).sum())
        parameters = json.loads(point["parameters"]) if point["parameters"] else {}
        table.add_row(str(point["point"]), str(point["label"]), str(point["scenario"]),
                      ", ".join(f"{k}={v}" for k, v in parameters.items()),
                      str(point["plan_status"]), str(reps))
    console.print(table)
    if summary is not None and len(summary):
        shown = [m for m in DEFAULT_METRICS if m in set(summary["metric"])]
        kpi_table = Table(title="KPIs (scope all), mean ± 95 % CI")
        kpi_table.add_column("point")
        for name in shown:
            kpi_table.add_column(name, justify="right")
        rows = summary[summary["scope"] == "all"].set_index(["point", "metric"])
        for point in points.to_dict("records"):
            cells = [str(point["label"])]
            for name in shown:
                if (point["point"], name) in rows.index:
                    cell: Any = rows.loc[(point["point"], name)]
                    cells.append(_fmt(cell["value"], cell["unit"], cell["ci_halfwidth"]))
                else:
                    cells.append("–")
            kpi_table.add_row(*cells)
        console.print(kpi_table)
    console.print(f"files: {record['batch_dir']}", highlight=False)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the catalog and result tables.")],
    runs_dir: RunsDir = Path("runs"),
    output: Annotated[
        str, typer.Option("--format", "-f", help="table, csv or json.")
    ] = "table",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to print at most.")] = 1000,
) -> None:
    """Run DuckDB SQL over the catalog (runs, batches, batch_points, batch_tasks, batch_kpis,
    batch_summary) and the run tables (run_kpis, orders, events, inventory)."""
    import duckdb

    from tandem.store import query_connection

    try:
        if output not in ("table", "csv", "json"):
            raise ScenarioError([Problem("--format", f"'{output}' is not table, csv or json")],
                                source="query")
        con = query_connection(runs_dir)
        try:
            frame = con.execute(sql).df()
        except duckdb.Error as exc:
            raise DataError(f"query failed: {exc}") from None
        finally:
            con.close()
    except TandemError as exc:
        _fail(exc)
        return
    shown = frame.head(limit)
    if output == "csv":
        typer.echo(shown.to_csv(index=False), nl=False)
    elif output == "json":
        typer.echo(shown.to_json(orient="records", date_format="iso"))
    else:
        table = Table(title=f"{len(frame)} row{'s' * (len(frame) != 1)}"
                            + (f" (first {limit})" if len(frame) > limit else ""))
        for column in shown.columns:
            table.add_column(str(column), justify="right" if shown[column].dtype.kind in "fiu"
                             else "left")
        for values in shown.itertuples(index=False):
            table.add_row(*[
                "" if v is None or (isinstance(v, float) and math.isnan(v))
                else (f"{v:.6g}" if isinstance(v, float) else str(v))
                for v in values
            ])
        console.print(table)
