"""Executive reports from what the application produced: pipeline results, run directories and
experiment batches become :class:`reports.StrategyRun` values, rendered as HTML, PDF, xlsx or CSV.

``reports`` takes plain data only; this module knows where the data lives.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.compare import StrategyRun
from scenarios import load_scenario
from scenarios.errors import DataError, Problem, ScenarioError
from scenarios.schema import Scenario
from sim.records import concat_tables
from tandem import __version__

if TYPE_CHECKING:
    from tandem.pipeline import RunResult

__all__ = [
    "ReportFormat",
    "build_batch_report",
    "build_comparison_report",
    "disruption_windows",
    "format_from_path",
    "load_batch_runs",
    "load_run_dir",
    "strategy_from_result",
    "write_report",
]

KPI_COLUMNS = ["replication", "metric", "scope", "value", "unit"]


class ReportFormat(StrEnum):
    """Output formats of a report."""

    HTML = "html"
    PDF = "pdf"
    XLSX = "xlsx"
    CSV = "csv"


def format_from_path(path: Path) -> ReportFormat:
    """The format a file name asks for (``.html``/``.htm``, ``.pdf``, ``.xlsx``; anything else,
    e.g. a directory, is CSV)."""
    suffix = Path(path).suffix.lower()
    return {
        ".html": ReportFormat.HTML,
        ".htm": ReportFormat.HTML,
        ".pdf": ReportFormat.PDF,
        ".xlsx": ReportFormat.XLSX,
    }.get(suffix, ReportFormat.CSV)


# ------------------------------------------------------------------------------ conversions
def disruption_windows(scenario: Scenario, seed: int, replications: Sequence[int]) -> pd.DataFrame:
    """The disruption windows each replication saw (scheduled and sampled random ones), drawn
    from the same streams as the simulation: ``replication, index, name, kind, start, end``."""
    from sim.disruptions import sample_windows
    from sim.engine import Streams
    from sim.run import replication_seed

    rows = []
    if scenario.disruptions:
        for rep in replications:
            streams = Streams.from_seed(replication_seed(seed, int(rep)))
            for w in sample_windows(scenario, streams.disruptions):
                rows.append((int(rep), w.index, w.spec.name, str(w.spec.kind), w.start, w.end))
    return pd.DataFrame(rows, columns=["replication", "index", "name", "kind", "start", "end"])


def _replications(kpis: pd.DataFrame) -> list[int]:
    return sorted(int(r) for r in kpis["replication"].unique())


def strategy_from_result(
    name: str,
    result: RunResult,
    *,
    overrides: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> StrategyRun:
    """A pipeline :class:`~tandem.pipeline.RunResult` as a report strategy (all its tables)."""
    from tandem.pipeline import plan_summary

    tables: dict[str, pd.DataFrame] = dict(result.simulation.tables())
    tables.update({f"plan_{k}": v for k, v in result.plan.tables.items()})
    tables["forecast"] = result.forecast
    tables["disruption_windows"] = disruption_windows(
        result.scenario, result.seed, _replications(result.kpis)
    )
    info = {
        "scenario hash": result.scenario_hash[:12],
        "tandem version": result.version,
        **{k: f"{v:.2f} s" for k, v in result.timings.items()},
        **(meta or {}),
    }
    return StrategyRun(
        name=name,
        scenario=result.scenario,
        kpis=result.kpis[KPI_COLUMNS],
        tables=tables,
        plan_summary=plan_summary(result.plan),
        overrides=dict(overrides or {}),
        meta=info,
        seed=result.seed,
    )


def load_run_dir(run_dir: Path, name: str | None = None) -> StrategyRun:
    """A run directory written by ``tandem run`` as a report strategy.

    Raises
    ------
    DataError
        When ``run_dir`` is not a run directory (the message names the missing file).
    """
    run_dir = Path(run_dir)
    for required in ("scenario.yaml", "kpis_replications.parquet"):
        if not (run_dir / required).exists():
            raise DataError(
                f"{run_dir} is not a run directory: no {required} (write one with `tandem run`)"
            )
    scenario = load_scenario(str(run_dir / "scenario.yaml"))
    kpis = pd.read_parquet(run_dir / "kpis_replications.parquet")[KPI_COLUMNS]
    kpis.attrs = {}
    tables: dict[str, pd.DataFrame] = {}
    for path in sorted(run_dir.glob("*.parquet")):
        if path.stem not in ("kpis_replications",):
            frame = pd.read_parquet(path)
            frame.attrs = {}
            tables[path.stem] = frame
    info: dict[str, Any] = {}
    if (run_dir / "run.json").exists():
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    seed = int(info.get("seed", scenario.simulation.seed))
    tables["disruption_windows"] = disruption_windows(scenario, seed, _replications(kpis))
    plan = {}
    if (run_dir / "plan_summary.json").exists():
        plan = json.loads((run_dir / "plan_summary.json").read_text(encoding="utf-8"))
    meta = {"run id": info.get("id", run_dir.name), "tandem version": info.get("version", "?")}
    meta.update({k: f"{v:.2f} s" for k, v in (info.get("timings") or {}).items()})
    return StrategyRun(
        name=name or scenario.name,
        scenario=scenario,
        kpis=kpis,
        tables=tables,
        plan_summary=plan,
        meta=meta,
        seed=seed,
    )


def load_batch_runs(batch_dir: Path, detail_replications: int = 0) -> list[StrategyRun]:
    """The strategies of a finished batch directory (``tandem compare`` / ``sweep``): its KPIs
    (``kpis.parquet``), each point's resolved scenario, plan summary and overrides.

    A batch keeps KPIs, not simulation tables. With ``detail_replications`` > 0 the first that
    many replications of each point are simulated again under the stored plan (same seeds, so
    the same numbers) to draw the over-time, disruption and CRM sections.
    """
    batch_dir = Path(batch_dir)
    manifest_path = batch_dir / "batch.json"
    if not manifest_path.exists() or not (batch_dir / "kpis.parquet").exists():
        raise DataError(f"{batch_dir} is not a finished batch (needs batch.json and kpis.parquet)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    kpis = pd.read_parquet(batch_dir / "kpis.parquet")
    seed = int(manifest["seed"])
    runs = []
    for point in manifest["points"]:
        index = int(point["index"])
        folder = batch_dir / "points" / f"p{index:04d}"
        scenario = load_scenario(str(folder / "scenario.yaml"))
        mine = kpis[kpis["point"] == index][KPI_COLUMNS].reset_index(drop=True)
        plan = {}
        if (folder / "plan_summary.json").exists():
            plan = json.loads((folder / "plan_summary.json").read_text(encoding="utf-8"))
        tables: dict[str, pd.DataFrame] = {}
        if detail_replications > 0 and len(mine):
            tables = _resimulate(scenario, folder, seed, _replications(mine)[:detail_replications])
        meta = {
            "batch": manifest.get("id", batch_dir.name),
            "ref": point.get("ref", ""),
            "tandem version": manifest.get("version", "?"),
        }
        if tables:
            meta["time series from"] = f"replications 0–{detail_replications - 1} re-simulated"
        runs.append(
            StrategyRun(
                name=str(point["label"]),
                scenario=scenario,
                kpis=mine,
                tables=tables,
                plan_summary=plan,
                overrides=dict(point.get("overrides") or {}),
                meta=meta,
                seed=seed,
            )
        )
    return runs


def _resimulate(
    scenario: Scenario, point_dir: Path, seed: int, replications: Sequence[int]
) -> dict[str, pd.DataFrame]:
    import sim
    from crm_model import DemandModel
    from optimize.plan import PLAN_TABLES
    from scenarios import SupplyNetwork
    from sim.run import simulate_replication

    plan_tables = {
        name: pd.read_parquet(point_dir / f"plan_{name}.parquet")
        for name in PLAN_TABLES
        if (point_dir / f"plan_{name}.parquet").exists()
    }
    releases = sim.ReleaseSchedule.from_tables(plan_tables)
    network, demand = SupplyNetwork(scenario), DemandModel(scenario)
    parts = [
        simulate_replication(scenario, releases, r, seed, network, demand) for r in replications
    ]
    tables = {name: concat_tables([p[name] for p in parts]) for name in parts[0]}
    tables.update({f"plan_{k}": v for k, v in plan_tables.items()})
    tables["disruption_windows"] = disruption_windows(scenario, seed, replications)
    return tables


# ------------------------------------------------------------------------------ writing
def write_report(
    runs: Sequence[StrategyRun],
    path: Path,
    *,
    baseline: str | None = None,
    fmt: ReportFormat | str | None = None,
    title: str | None = None,
    chromium: str | None = None,
) -> Path:
    """Render ``runs`` (baseline first unless named) to ``path`` in ``fmt`` (default: from the
    file name). CSV writes a directory with one file per table. Returns what was written.

    Raises
    ------
    reports.ChromiumNotFoundError
        For PDF without Chromium installed.
    """
    from reports.chromium import html_to_pdf
    from reports.executive import build_report_data, render_report_data, report_tables
    from reports.export import write_csv_tables, write_xlsx
    from tandem.store import write_text

    path = Path(path)
    kind = ReportFormat(fmt) if fmt is not None else format_from_path(path)
    versions = {"tandem": __version__, **_library_versions()}
    data = build_report_data(runs, baseline, title=title, versions=versions)
    if kind is ReportFormat.HTML:
        write_text(path, render_report_data(data))
    elif kind is ReportFormat.PDF:
        from reports.chromium import find_chromium

        find_chromium(chromium)  # fail before rendering when there is none
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="tandem-report-") as tmp:
            page = Path(tmp) / "report.html"
            page.write_text(render_report_data(data), encoding="utf-8")
            html_to_pdf(page, path, chromium=chromium)
    elif kind is ReportFormat.XLSX:
        write_xlsx(report_tables(data), path)
    else:
        write_csv_tables(report_tables(data), path)
    return path


def _library_versions() -> dict[str, str]:
    import platform

    import numpy
    import plotly

    return {
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "numpy": numpy.__version__,
        "plotly": plotly.__version__,
    }


def build_comparison_report(
    run_results: Mapping[str, RunResult],
    baseline: str | None,
    path: Path,
    fmt: ReportFormat | str | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    title: str | None = None,
) -> Path:
    """Write the executive report comparing pipeline results.

    Parameters
    ----------
    run_results
        Strategy label → :class:`~tandem.pipeline.RunResult` (same seed for common random
        numbers); insertion order is the order shown.
    baseline
        Label of the baseline (default: the first).
    path
        Output file (CSV: a directory).
    fmt
        ``html``, ``pdf``, ``xlsx`` or ``csv``; default from ``path``'s suffix.
    overrides
        Label → the what-if's field overrides, shown in the appendix.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> from tandem.pipeline import run_scenario
    >>> base = load_scenario("retailer_holiday", {"horizon_days": 28})  # doctest: +SKIP
    >>> build_comparison_report({"base": run_scenario(base, replications=3)}, None,
    ...                         Path("r.html"))  # doctest: +SKIP
    """
    if not run_results:
        raise ScenarioError([Problem("run_results", "nothing to report")], source="report")
    runs = [
        strategy_from_result(label, result, overrides=(overrides or {}).get(label))
        for label, result in run_results.items()
    ]
    return write_report(runs, path, baseline=baseline, fmt=fmt, title=title)


def build_batch_report(
    batch: Any,
    path: Path,
    fmt: ReportFormat | str | None = None,
    *,
    detail_replications: int = 10,
    title: str | None = None,
) -> Path:
    """Write the executive report of a finished ``tandem compare`` batch.

    ``batch`` is a :class:`tandem.batch.BatchResult` (or its directory). Headline, frontier,
    costs, SKU-locations and risk use every stored replication; the over-time, disruption and
    CRM sections re-simulate the first ``detail_replications`` replications of each strategy
    under its stored plan (0: leave those sections out). The first point is the baseline.
    """
    batch_dir = Path(getattr(batch, "batch_dir", batch))
    runs = load_batch_runs(batch_dir, detail_replications)
    return write_report(runs, path, baseline=runs[0].name, fmt=fmt, title=title)
