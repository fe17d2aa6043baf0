"""Batches of experiments: plan once per point, simulate replications in chunked tasks on an
executor, store each finished task atomically, resume an interrupted batch.

A *batch* runs a list of *points* (a scenario with its overrides: a strategy of ``tandem compare``,
a design point of ``tandem sweep``, a case of ``tandem regress``) for the same replications and
the same root seed. Replication *r* of every point draws from ``SeedSequence(seed,
spawn_key=(r,))`` (:func:`sim.run.replication_seed`), so points are compared on common random
numbers and the numbers never depend on which worker ran a replication.

Work is split into tasks:

* one **plan task** per point (forecast → optimizer); the plan is stored in the batch directory
  and read back from there, so a resumed batch simulates exactly the same plan;
* **simulation tasks** of ``chunk_size`` consecutive replications of one point; each returns the
  KPIs of its replications (``reports.compute_kpis`` on each replication alone).

Layout of ``<runs>/batches/<batch-id>/``::

    batch.json                      the manifest: kind, seed, points, tasks, precision target
    points/p0000/scenario.yaml      the resolved scenario of point 0
    points/p0000/plan_*.parquet     its plan tables; plan_summary.json last (marks it complete)
    tasks/p0000-r000000-000005.parquet   KPIs of replications 0-4 of point 0
    kpis.parquet                    every KPI: point, label, parameters, replication, metric, …
    summary.parquet                 mean, std, 95 % CI per point, metric and scope

A task's Parquet file is written to a temporary name and renamed; finished tasks are then
registered with their KPI rows in the catalog, a group at a time (at most once a second), each
group in one transaction that replaces any rows the tasks already had. A task is finished when
its file exists, so a resumed batch (``--resume BATCH_ID``) skips it, re-registers it (in case
the driver died before it was registered) and never writes its rows twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports.kpis import t95
from scenarios import Scenario, scenario_hash, scenario_to_yaml
from scenarios.errors import DataError, Problem, ScenarioError, TandemError
from tandem import __version__
from tandem.executors import Executor
from tandem.store import BATCHES_DIR, CATALOG_NAME, Catalog, write_parquet, write_text

__all__ = [
    "BatchError",
    "BatchProgress",
    "BatchResult",
    "BatchSpec",
    "Point",
    "Precision",
    "Task",
    "TaskError",
    "auto_chunk_size",
    "ci_halfwidth",
    "plan_point",
    "replications_needed",
    "run_batch",
    "simulate_chunk",
]

KPI_TASK_COLUMNS = ("point", "replication", "metric", "scope", "value", "unit")
REGISTER_EVERY_S = 1.0
"""Finished tasks are registered in the catalog in groups, at most this often (seconds)."""
MANIFEST = "batch.json"


class BatchError(TandemError):
    """A batch could not finish (a task failed on every attempt, or failed for a reason retrying
    cannot fix). Finished tasks are kept: fix the cause and resume the batch."""


class TaskError(Exception):
    """Raised by a task for a problem in its input (not retried); carries only text, so it
    pickles across processes."""


# ------------------------------------------------------------------------------ specification
@dataclass(frozen=True)
class Point:
    """One scenario of a batch: a strategy, a design point or a regression case."""

    index: int
    label: str
    scenario: Scenario
    ref: str = ""
    """What the user named (library scenario or file path)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Field path → value applied to ``ref`` (what-if overrides, sweep values)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """The swept field paths and their values at this point (empty outside sweeps)."""

    @property
    def key(self) -> str:
        return f"p{self.index:04d}"


@dataclass(frozen=True)
class Precision:
    """Add replications until the 95 % CI half-width of ``metric`` (at ``scope``) is at most
    ``halfwidth`` at every point, or a point reaches ``max_replications``."""

    metric: str
    halfwidth: float
    scope: str = "all"
    max_replications: int = 200


@dataclass(frozen=True)
class Task:
    """Replications ``start`` … ``stop - 1`` of point ``point``."""

    point: int
    start: int
    stop: int

    @property
    def id(self) -> str:
        return f"p{self.point:04d}-r{self.start:06d}-{self.stop:06d}"

    @property
    def replications(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class BatchSpec:
    """What a batch computes. Two specs with the same :meth:`fingerprint` give the same numbers."""

    kind: str
    """``compare``, ``sweep``, ``regress`` or another name for the catalog."""
    name: str
    points: tuple[Point, ...]
    replications: int
    seed: int
    chunk_size: int | None = None
    """Replications per simulation task (None: :func:`auto_chunk_size`)."""
    precision: Precision | None = None

    def fingerprint(self) -> str:
        """Hash of everything that decides the numbers (not of how they are computed)."""
        content = {
            "kind": self.kind,
            "seed": self.seed,
            "replications": self.replications,
            "precision": None if self.precision is None else vars(self.precision),
            "points": [[p.label, scenario_hash(p.scenario)] for p in self.points],
        }
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def auto_chunk_size(replications: int, points: int, workers: int) -> int:
    """Replications per task: about four tasks per worker in all (load balance), never more
    replications than a point has. Results do not depend on it."""
    total = replications * max(1, points)
    return max(1, min(replications, math.ceil(total / (4 * max(1, workers)))))


def _chunks(point: int, start: int, stop: int, size: int) -> list[Task]:
    return [Task(point, a, min(stop, a + size)) for a in range(start, stop, size)]


# ------------------------------------------------------------------------------- statistics
def ci_halfwidth(values: pd.Series | list[float]) -> float:
    """Half-width of the two-sided 95 % Student-t confidence interval of the mean (NaN values
    left out; NaN for fewer than two values).

    >>> round(ci_halfwidth([1.0, 2.0, 3.0]), 6)
    2.484138
    """
    series = pd.Series(values, dtype=float).dropna()
    n = len(series)
    if n < 2:
        return math.nan
    return t95(n - 1) * float(series.std(ddof=1)) / math.sqrt(n)


def replications_needed(current: int, halfwidth: float, target: float, cap: int) -> int:
    """Replications to reach CI half-width ``target`` from ``halfwidth`` at ``current``
    replications: ``n · (h / h*)²`` (the half-width shrinks as 1/√n; Law, *Simulation Modeling
    and Analysis*, 5th ed., eq. 9.3), at least one more, at most ``cap``.

    >>> replications_needed(10, 0.02, 0.01, 1000)
    40
    """
    if current >= cap or not (halfwidth > target):
        return current
    wanted = math.ceil(current * (halfwidth / target) ** 2 - 1e-9)
    return int(min(cap, max(current + 1, wanted)))


# ------------------------------------------------------------------------------ worker tasks
@dataclass(frozen=True)
class PlannedPoint:
    """What a plan task returns: the plan and how long forecasting and planning took."""

    plan: Any
    seconds: float


@dataclass(frozen=True)
class ChunkResult:
    """What a simulation task returns: KPIs of its replications, the compute time, and when
    and where it ran (wall-clock seconds since the epoch, process id) for diagnostics."""

    kpis: pd.DataFrame
    seconds: float
    started: float = 0.0
    finished: float = 0.0
    worker: int = 0


def plan_point(scenario: Scenario) -> PlannedPoint:
    """Forecast demand and plan supply for one point (a worker task)."""
    import optimize
    from crm_model import DemandModel

    start = time.perf_counter()
    try:
        forecast = DemandModel(scenario).expected_by_bucket()
        plan = optimize.plan_supply(scenario, forecast)
    except TandemError as exc:
        raise TaskError(f"{type(exc).__name__}: {exc}") from None
    return PlannedPoint(plan, time.perf_counter() - start)


def simulate_chunk(
    scenario: Scenario, plan_tables: dict[str, pd.DataFrame], seed: int, start: int, stop: int
) -> ChunkResult:
    """KPIs of replications ``start`` … ``stop - 1`` of ``scenario`` under a plan (a worker task).

    Each replication is simulated and measured on its own (:func:`tandem.pipeline.run_kpis`:
    supply-chain and CRM KPIs), so its KPIs are the same whichever chunk it falls in and
    whichever process runs it.
    """
    import sim
    from crm_model import DemandModel
    from scenarios import SupplyNetwork
    from sim.run import simulate_replication
    from tandem.pipeline import run_kpis

    began, started = time.perf_counter(), time.time()
    try:
        releases = sim.ReleaseSchedule.from_tables(plan_tables)
        network = SupplyNetwork(scenario)
        demand = DemandModel(scenario)
        frames = []
        for replication in range(start, stop):
            tables = simulate_replication(scenario, releases, replication, seed, network, demand)
            frames.append(run_kpis(scenario, tables))
    except TandemError as exc:
        raise TaskError(f"{type(exc).__name__}: {exc}") from None
    kpis = pd.concat(frames, ignore_index=True)
    kpis["replication"] = kpis["replication"].astype("int64")
    return ChunkResult(kpis, time.perf_counter() - began, started, time.time(), os.getpid())


# ------------------------------------------------------------------------------ the store
def _plan_usable(status: str) -> bool:
    return status in ("optimal", "feasible", "not_needed")


class BatchStore:
    """Files of one batch directory and its rows in the catalog."""

    def __init__(self, runs_root: Path, batch_id: str) -> None:
        self.runs_root = Path(runs_root)
        self.batch_id = batch_id
        self.dir = self.runs_root / BATCHES_DIR / batch_id
        self.catalog = Catalog(self.runs_root / CATALOG_NAME)

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def read_manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(
                f"no batch '{self.batch_id}' in {self.runs_root / BATCHES_DIR} "
                "(see `tandem runs`)"
            ) from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{self.manifest_path}: unreadable manifest ({exc})") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_text(self.manifest_path, json.dumps(manifest, indent=1, default=str))

    def point_dir(self, point: int) -> Path:
        return self.dir / "points" / f"p{point:04d}"

    def save_point_scenario(self, point: Point) -> None:
        path = self.point_dir(point.index) / "scenario.yaml"
        if not path.exists():
            write_text(path, scenario_to_yaml(point.scenario))

    def save_plan(self, point: int, plan: Any, seconds: float) -> dict[str, Any]:
        from optimize.plan import PLAN_TABLES
        from tandem.pipeline import plan_summary

        folder = self.point_dir(point)
        for name in PLAN_TABLES:
            write_parquet(folder / f"plan_{name}.parquet", plan.table(name))
        summary = plan_summary(plan)
        summary["seconds"] = round(seconds, 4)
        write_text(folder / "plan_summary.json", json.dumps(summary, indent=2))
        return summary

    def load_plan(self, point: int) -> tuple[dict[str, Any], dict[str, pd.DataFrame]] | None:
        """The stored plan of ``point`` (summary, tables), or None when it was not finished."""
        from optimize.plan import PLAN_TABLES

        folder = self.point_dir(point)
        marker = folder / "plan_summary.json"
        if not marker.exists():
            return None
        summary = json.loads(marker.read_text(encoding="utf-8"))
        tables = {name: pd.read_parquet(folder / f"plan_{name}.parquet") for name in PLAN_TABLES}
        return summary, tables

    def task_path(self, task: Task) -> Path:
        return self.dir / "tasks" / f"{task.id}.parquet"

    def save_task(self, task: Task, kpis: pd.DataFrame) -> None:
        """Write a finished task's KPIs (atomically); :meth:`register` puts them in the
        catalog."""
        write_parquet(self.task_path(task), kpis)

    def catalog_row(self, task: Task, seconds: float | None, attempts: int | None
                    ) -> dict[str, Any]:
        return {"task": task.id, "point": task.point, "rep_start": task.start,
                "rep_stop": task.stop, "file": str(self.task_path(task).resolve()),
                "seconds": seconds, "attempts": attempts,
                "finished": dt.datetime.now(dt.UTC).replace(tzinfo=None)}

    def register(self, finished: list[tuple[dict[str, Any], pd.DataFrame]]) -> None:
        """Register finished tasks (catalog rows and KPIs) in one transaction."""
        self.catalog.register_tasks(self.batch_id, finished)

    def load_task(self, task: Task) -> pd.DataFrame | None:
        path = self.task_path(task)
        if not path.exists():
            return None
        frame = pd.read_parquet(path)
        frame.attrs = {}
        return frame


# ------------------------------------------------------------------------------ progress
class BatchProgress:
    """Callbacks of a running batch (the CLI draws a progress bar from them). No-ops here."""

    def start(self, batch_id: str, total: int, done: int) -> None:
        """The batch starts: ``total`` replications of which ``done`` are already stored."""

    def grow(self, total: int) -> None:
        """The target-precision rule added replications: the new total."""

    def advance(self, replications: int) -> None:
        """A task finished ``replications`` replications."""

    def note(self, message: str) -> None:
        """Something worth a line: a plan finished, a task is retried."""


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class BatchResult:
    """The outcome of a batch: every KPI in one tidy table, and the plans' summaries."""

    batch_id: str
    batch_dir: Path
    spec: BatchSpec
    kpis: pd.DataFrame
    """``point, label, <parameters…>, replication, metric, scope, value, unit``."""
    plans: dict[int, dict[str, Any]]
    """Point → plan summary (``status``, ``objective``, ``mip_gap``, ``seconds`` …)."""
    tasks_run: int
    """Simulation tasks computed by this call (not counting those found finished)."""
    tasks_reused: int
    task_seconds: float
    """Compute time inside the simulation tasks run by this call (seconds)."""
    seconds: float
    """Wall time of this call (seconds)."""
    simulation_seconds: float = 0.0
    """Wall time from the first simulation task submitted to the last one stored (seconds)."""
    timeline: tuple[tuple[int, float, float], ...] = ()
    """(worker process id, start, end) of each simulation task run by this call (wall-clock
    seconds since the epoch): where the time went, for benchmarks."""

    @property
    def parameter_columns(self) -> list[str]:
        names: dict[str, None] = {}
        for point in self.spec.points:
            names.update(dict.fromkeys(point.parameters))
        return list(names)

    def failed_points(self) -> dict[int, str]:
        """Points without a usable plan → why."""
        return {
            p: f"{s['status']}: {s.get('message', '')}".strip()
            for p, s in self.plans.items() if not _plan_usable(s["status"])
        }

    def summary(self) -> pd.DataFrame:
        """Mean, std and 95 % CI per point, metric and scope (``reports.summarize`` per point)."""
        import reports

        parts = []
        for point in self.spec.points:
            frame = self.kpis[self.kpis["point"] == point.index]
            if frame.empty:
                continue
            part = reports.summarize(frame[["replication", "metric", "scope", "value", "unit"]])
            part.insert(0, "label", point.label)
            part.insert(0, "point", point.index)
            parts.append(part)
        if not parts:
            return pd.DataFrame(columns=["point", "label", "metric", "scope", "value", "unit",
                                         "std", "ci_halfwidth", "replications"])
        return pd.concat(parts, ignore_index=True)


def _tidy(spec: BatchSpec, frames: list[pd.DataFrame]) -> pd.DataFrame:
    columns = list(KPI_TASK_COLUMNS)
    kpis = (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame({c: pd.Series(dtype=object) for c in columns}))
    labels = {p.index: p.label for p in spec.points}
    kpis.insert(1, "label", kpis["point"].map(labels))
    names: dict[str, None] = {}
    for point in spec.points:
        names.update(dict.fromkeys(point.parameters))
    for offset, name in enumerate(names):
        values = {p.index: p.parameters.get(name) for p in spec.points}
        kinds = {type(v) for v in values.values() if v is not None}
        if len(kinds) > 1 and kinds != {int, float}:
            values = {k: None if v is None else json.dumps(v) for k, v in values.items()}
        kpis.insert(2 + offset, name, kpis["point"].map(values))
    return kpis


# ------------------------------------------------------------------------------ the driver
@dataclass
class _Job:
    kind: str  # "plan" or "sim"
    point: int
    task: Task | None
    attempts: int = 1


def new_batch_id(spec: BatchSpec) -> str:
    """A fresh batch id: UTC time, kind, name and fingerprint prefix."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{spec.kind}-{spec.name}-{spec.fingerprint()[:6]}"


def _check_resumable(spec: BatchSpec, manifest: dict[str, Any], batch_id: str) -> None:
    if manifest.get("fingerprint") == spec.fingerprint():
        return
    differences = []
    for key in ("kind", "seed", "replications"):
        if manifest.get(key) != getattr(spec, key):
            differences.append(
                f"{key}: batch has {manifest.get(key)!r}, now {getattr(spec, key)!r}"
            )
    stored = [(p["label"], p["scenario_hash"]) for p in manifest.get("points", [])]
    now = [(p.label, scenario_hash(p.scenario)) for p in spec.points]
    if stored != now:
        differences.append(
            "scenarios differ: batch has "
            + ", ".join(f"{label} ({h[:8]})" for label, h in stored)
            + "; now " + ", ".join(f"{label} ({h[:8]})" for label, h in now)
        )
    stored_precision = manifest.get("precision")
    now_precision = None if spec.precision is None else vars(spec.precision)
    if stored_precision != now_precision:
        differences.append(f"precision target: batch has {stored_precision}, now {now_precision}")
    raise DataError(
        f"cannot resume batch {batch_id}: the command does not describe the same batch\n  - "
        + "\n  - ".join(differences or ["different settings"])
    )


def _manifest(spec: BatchSpec, batch_id: str, chunk: int, tasks: list[Task]) -> dict[str, Any]:
    return {
        "id": batch_id,
        "kind": spec.kind,
        "name": spec.name,
        "fingerprint": spec.fingerprint(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "seed": spec.seed,
        "replications": spec.replications,
        "chunk_size": chunk,
        "precision": None if spec.precision is None else vars(spec.precision),
        "points": [
            {"index": p.index, "label": p.label, "ref": p.ref, "scenario": p.scenario.name,
             "scenario_hash": scenario_hash(p.scenario), "overrides": p.overrides,
             "parameters": p.parameters}
            for p in spec.points
        ],
        "tasks": [[t.point, t.start, t.stop] for t in tasks],
    }


def run_batch(
    spec: BatchSpec,
    executor: Executor,
    runs_root: Path,
    *,
    resume: str | None = None,
    retries: int = 2,
    progress: BatchProgress | None = None,
    on_task_done: Callable[[Task], None] | None = None,
) -> BatchResult:
    """Run (or resume) a batch on ``executor``, storing it under ``runs_root``.

    Parameters
    ----------
    spec
        Points, replications, seed, chunking and an optional precision target.
    executor
        Where tasks run (see :mod:`tandem.executors`); results do not depend on it.
    runs_root
        The runs directory (holds ``catalog.duckdb`` and ``batches/``).
    resume
        Id of an interrupted batch of the same ``spec``: its finished plans and tasks are read
        back, not recomputed.
    retries
        Extra attempts for a task that fails (an exception, a worker that died). Problems in the
        input (:class:`TaskError`) are not retried.
    progress, on_task_done
        Callbacks; ``on_task_done(task)`` runs after each task is stored.

    Raises
    ------
    BatchError
        A task failed on every attempt or for a reason retrying cannot fix.
    scenarios.errors.DataError
        ``resume`` names no batch, or one made by a different command.

    Examples
    --------
    >>> import tempfile
    >>> from scenarios import load_scenario
    >>> from tandem.executors import InlineExecutor
    >>> s = load_scenario("textbook/base_stock_poisson", {"horizon_days": 150})
    >>> spec = BatchSpec("compare", "doc", (Point(0, "base", s),), replications=3, seed=1)
    >>> result = run_batch(spec, InlineExecutor(), Path(tempfile.mkdtemp()))
    >>> sorted(result.kpis["replication"].unique().tolist())
    [0, 1, 2]
    """
    began = time.perf_counter()
    progress = progress or BatchProgress()
    points = {p.index: p for p in spec.points}
    if sorted(points) != list(range(len(spec.points))):
        raise ValueError("points must be numbered 0, 1, … in order")

    if resume is not None:
        store = BatchStore(runs_root, resume)
        manifest = store.read_manifest()
        _check_resumable(spec, manifest, resume)
        chunk = int(manifest["chunk_size"])
        tasks = [Task(*t) for t in manifest["tasks"]]
        manifest["resumed"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    else:
        batch_id = new_batch_id(spec)
        store = BatchStore(runs_root, batch_id)
        k = 1
        while store.dir.exists():
            k += 1
            store = BatchStore(runs_root, f"{batch_id}-{k}")
        chunk = spec.chunk_size or auto_chunk_size(spec.replications, len(points), executor.workers)
        tasks = [t for p in points for t in _chunks(p, 0, spec.replications, chunk)]
        manifest = _manifest(spec, store.batch_id, chunk, tasks)
    store.write_manifest(manifest)
    batch_id = store.batch_id

    catalog = store.catalog
    catalog.register_batch({
        "id": batch_id, "kind": spec.kind, "name": spec.name,
        "created": dt.datetime.fromisoformat(manifest["created"]).replace(tzinfo=None),
        "status": "running", "version": __version__, "batch_dir": str(store.dir.resolve()),
        "seed": spec.seed, "points": len(points), "replications": spec.replications,
        "tasks_total": len(tasks), "tasks_done": 0, "executor": executor.describe(),
        "seconds": None, "message": None,
    })
    for point in spec.points:
        store.save_point_scenario(point)

    # what is already done
    frames: dict[str, pd.DataFrame] = {}
    for task in tasks:
        frame = store.load_task(task)
        if frame is not None:
            frames[task.id] = frame
    reused = len(frames)
    if resume is not None:  # the driver may have died between a task's file and its rows
        known = set(catalog.batch_table("batch_tasks", batch_id)["task"])
        store.register([(store.catalog_row(t, None, None), frames[t.id])
                        for t in tasks if t.id in frames and t.id not in known])
    unregistered: list[tuple[dict[str, Any], pd.DataFrame]] = []
    last_flush = [time.monotonic()]

    def flush(force: bool = False) -> None:
        """Register finished tasks in the catalog, at most about once a second (a DuckDB
        transaction costs tens of ms; the Parquet files are already on disk)."""
        if unregistered and (force or time.monotonic() - last_flush[0] >= REGISTER_EVERY_S):
            store.register(unregistered)
            unregistered.clear()
            last_flush[0] = time.monotonic()
    plans: dict[int, dict[str, Any]] = {}
    plan_tables: dict[int, dict[str, pd.DataFrame]] = {}
    point_rows: dict[int, dict[str, Any]] = {
        p.index: {"batch_id": batch_id, "point": p.index, "label": p.label,
                  "scenario": p.scenario.name, "scenario_hash": scenario_hash(p.scenario),
                  "parameters": json.dumps(p.parameters, default=str),
                  "overrides": json.dumps(p.overrides, default=str)}
        for p in spec.points
    }

    inflight: dict[Any, _Job] = {}
    counters = {"tasks_run": 0}
    seconds = {"task": 0.0}
    timeline: list[tuple[int, float, float]] = []
    simulation_window: list[float] = []  # first simulation task submitted, last one stored

    def planned_replications(point: int) -> int:
        return max((t.stop for t in tasks if t.point == point), default=0)

    def submit(job: _Job) -> None:
        point = points[job.point]
        if job.kind == "plan":
            future = executor.submit(plan_point, point.scenario)
        else:
            assert job.task is not None
            if not simulation_window:
                simulation_window.append(time.perf_counter())
            future = executor.submit(simulate_chunk, point.scenario, plan_tables[job.point],
                                     spec.seed, job.task.start, job.task.stop)
        inflight[future] = job

    def start_point(point: int) -> None:
        """The plan of ``point`` is stored: submit its unfinished tasks (or grow it)."""
        todo = [t for t in tasks if t.point == point and t.id not in frames]
        for task in todo:
            submit(_Job("sim", point, task))
        if not todo:
            maybe_grow(point)

    def maybe_grow(point: int) -> None:
        """All tasks of ``point`` are done: add replications if the precision target asks."""
        precision = spec.precision
        if precision is None:
            return
        current = planned_replications(point)
        if current >= precision.max_replications:
            return
        done = pd.concat([frames[t.id] for t in tasks if t.point == point])
        values = done.loc[(done["metric"] == precision.metric)
                          & (done["scope"] == precision.scope), "value"]
        if values.empty:
            known = ", ".join(dict.fromkeys(done.loc[done["scope"] == precision.scope, "metric"]))
            raise ScenarioError(
                [Problem("--metric", f"no KPI '{precision.metric}' at scope "
                                     f"'{precision.scope}'; KPIs: {known}")],
                source="precision target",
            )
        halfwidth = ci_halfwidth(values)
        needed = replications_needed(current, halfwidth, precision.halfwidth,
                                     precision.max_replications)
        if needed <= current:
            return
        new = _chunks(point, current, needed, chunk)
        tasks.extend(new)
        manifest["tasks"] = [[t.point, t.start, t.stop] for t in tasks]
        store.write_manifest(manifest)
        catalog.update_batch(batch_id, tasks_total=len(tasks))
        progress.grow(sum(t.replications for t in tasks))
        progress.note(f"{points[point].label}: {precision.metric} ± "
                      f"{halfwidth:.4g} > {precision.halfwidth:g}; "
                      f"{current} → {needed} replications")
        for task in new:
            submit(_Job("sim", point, task))

    def accept_plan(point: int, summary: dict[str, Any], tables: dict[str, pd.DataFrame]) -> None:
        plans[point] = summary
        point_rows[point].update(plan_status=summary["status"],
                                 plan_objective=summary.get("objective"),
                                 plan_seconds=summary.get("seconds"))
        if _plan_usable(summary["status"]):
            if summary["status"] == "feasible":
                progress.note(
                    f"{points[point].label}: the plan stopped at a solver limit (gap "
                    f"{summary.get('mip_gap')}); this batch keeps it, a new batch may plan "
                    "differently on another machine"
                )
            plan_tables[point] = tables
            start_point(point)
        else:
            progress.note(f"{points[point].label}: no usable plan ({summary['status']})")

    status, message = "failed", None
    try:
        progress.start(batch_id, sum(t.replications for t in tasks),
                       sum(t.replications for t in tasks if t.id in frames))
        for point in spec.points:
            stored = store.load_plan(point.index)
            if stored is None:
                submit(_Job("plan", point.index, None))
            else:
                accept_plan(point.index, *stored)
        while inflight:
            for future in executor.wait_any(list(inflight)):
                job = inflight.pop(future)
                try:
                    value = executor.result(future)
                except TaskError as exc:
                    raise BatchError(f"{points[job.point].label}: {exc}") from None
                except Exception as exc:
                    name = "plan" if job.task is None else f"task {job.task.id}"
                    if job.attempts > retries:
                        raise BatchError(
                            f"{points[job.point].label}: {name} failed after {job.attempts} "
                            f"attempts: {type(exc).__name__}: {exc}"
                        ) from exc
                    progress.note(f"{name} failed ({type(exc).__name__}: {exc}); retrying")
                    job.attempts += 1
                    submit(job)
                    continue
                if job.kind == "plan":
                    store.save_plan(job.point, value.plan, value.seconds)
                    stored = store.load_plan(job.point)  # what a resumed batch would read
                    assert stored is not None
                    accept_plan(job.point, *stored)
                    catalog.register_points([point_rows[job.point]])
                    continue
                finished = job.task
                assert finished is not None
                kpis = value.kpis
                kpis.insert(0, "point", finished.point)
                store.save_task(finished, kpis)
                reread = store.load_task(finished)  # what a resumed batch would read
                assert reread is not None
                frames[finished.id] = reread
                unregistered.append((store.catalog_row(finished, value.seconds, job.attempts),
                                     reread))
                flush()
                counters["tasks_run"] += 1
                seconds["task"] += value.seconds
                timeline.append((value.worker, value.started, value.finished))
                del simulation_window[1:]
                simulation_window.append(time.perf_counter())
                progress.advance(finished.replications)
                if on_task_done is not None:
                    on_task_done(finished)
                if not any(j.point == finished.point for j in inflight.values()):
                    maybe_grow(finished.point)
        status = "completed"
    except KeyboardInterrupt:
        status, message = "interrupted", "interrupted; resume with --resume " + batch_id
        raise
    except BaseException as exc:
        message = str(exc)
        raise
    finally:
        flush(force=True)
        catalog.register_points(list(point_rows.values()))
        catalog.update_batch(batch_id, status=status, message=message,
                             tasks_done=len(frames), tasks_total=len(tasks),
                             seconds=time.perf_counter() - began)

    ordered = sorted((t for t in tasks if t.id in frames), key=lambda t: (t.point, t.start))
    kpis = _tidy(spec, [frames[t.id] for t in ordered])
    result = BatchResult(
        batch_id=batch_id, batch_dir=store.dir, spec=spec, kpis=kpis, plans=plans,
        tasks_run=counters["tasks_run"], tasks_reused=reused,
        task_seconds=seconds["task"], seconds=time.perf_counter() - began,
        simulation_seconds=(simulation_window[-1] - simulation_window[0]
                            if len(simulation_window) > 1 else 0.0),
        timeline=tuple(timeline),
    )
    write_parquet(store.dir / "kpis.parquet", kpis)
    write_parquet(store.dir / "summary.parquet", result.summary())
    return result
