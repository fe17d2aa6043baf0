"""The ``tandem report`` command: an executive report (HTML, PDF, xlsx or CSV) of run directories
or an experiment batch. Thin: the work is :mod:`tandem.report_builder`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reports.compare import StrategyRun
from scenarios.errors import DataError, TandemError
from tandem.cli import _fail, app, console
from tandem.report_builder import (
    ReportFormat,
    format_from_path,
    load_batch_runs,
    load_run_dir,
    write_report,
)
from tandem.store import BATCHES_DIR

__all__ = ["report"]

_SUFFIX = {
    ReportFormat.HTML: ".html",
    ReportFormat.PDF: ".pdf",
    ReportFormat.XLSX: ".xlsx",
    ReportFormat.CSV: "",
}


def _resolve(source: str, runs_dir: Path) -> tuple[str, Path]:
    """``("run", dir)`` or ``("batch", dir)`` for a path, run id or batch id."""
    for candidate in (Path(source), runs_dir / source, runs_dir / BATCHES_DIR / source):
        if (candidate / "scenario.yaml").exists():
            return "run", candidate
        if (candidate / "batch.json").exists():
            return "batch", candidate
    raise DataError(
        f"'{source}' is neither a run directory nor a batch (looked in ., {runs_dir} and "
        f"{runs_dir / BATCHES_DIR}); `tandem run` writes run directories, `tandem compare` batches"
    )


def _unique(runs: list[StrategyRun], dirs: list[Path]) -> list[StrategyRun]:
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return runs
    return [
        StrategyRun(
            d.name, r.scenario, r.kpis, r.tables, r.plan_summary, r.overrides, r.meta, r.seed
        )
        for r, d in zip(runs, dirs, strict=True)
    ]


@app.command()
def report(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Run directories or run ids (the first is the baseline), or one batch "
            "id / batch directory of `tandem compare`."
        ),
    ],
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format", "-f", help="html, pdf, xlsx or csv (default: from --out, else html)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output file (csv: a directory). Default: "
            "executive_report.<format> in the first source.",
        ),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Strategy to compare with (default: first).")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title.")] = None,
    runs_dir: Annotated[
        Path,
        typer.Option("--runs-dir", envvar="TANDEM_RUNS_DIR", help="Where runs and batches are."),
    ] = Path("runs"),
    detail_replications: Annotated[
        int,
        typer.Option(
            "--detail-replications",
            min=0,
            help="Batches keep KPIs only: re-simulate this many replications per "
            "strategy for the time series (0: none).",
        ),
    ] = 10,
) -> None:
    """Write an executive report comparing strategies: verdict, headline KPIs with 95 % CIs and
    paired differences, service vs cost, costs, time series, where it hurts, risk, appendix."""
    try:
        resolved = [_resolve(source, runs_dir) for source in sources]
        kinds = {kind for kind, _ in resolved}
        if "batch" in kinds and len(resolved) > 1:
            raise DataError("give one batch, or run directories only")
        if kinds == {"batch"}:
            runs = load_batch_runs(resolved[0][1], detail_replications)
        else:
            dirs = [path for _, path in resolved]
            runs = _unique([load_run_dir(path) for path in dirs], dirs)
        kind = fmt or (format_from_path(out) if out is not None else ReportFormat.HTML)
        target = out or resolved[0][1] / f"executive_report{_SUFFIX[kind]}"
        if kind is ReportFormat.CSV and out is None:
            target = resolved[0][1] / "executive_report_tables"
        written = write_report(runs, target, baseline=baseline, fmt=kind, title=title)
    except TandemError as exc:
        _fail(exc)
        return
    except ValueError as exc:  # a baseline that is not a strategy, duplicate names
        _fail(DataError(str(exc)))
        return
    console.print(f"report: {written}", highlight=False)
