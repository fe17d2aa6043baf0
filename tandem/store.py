"""The results store: run directories of Parquet tables and the DuckDB catalog of runs.

A run directory holds ``scenario.yaml`` (the resolved scenario), ``kpis.csv``, ``orders.parquet``,
``events.parquet``, ``inventory.parquet``, ``plan_*.parquet``, ``plan_summary.json`` and
``report.html``. Files are written to a temporary name and renamed, so a reader never sees a
half-written file. The catalog (``catalog.duckdb``, next to the run directories) has one row per
run in table ``runs``.

Batches of experiments (``tandem compare``, ``sweep``, ``regress``) live in
``batches/<batch-id>/`` beside the run directories: one Parquet file of KPIs per finished task,
registered in the same catalog (tables ``batches``, ``batch_points``, ``batch_tasks``,
``batch_kpis``) together with its KPI rows in one transaction, so a task is either wholly in the
catalog or not at all. :func:`query_connection` opens the catalog read-only with views over the
Parquet files of single runs, for ``tandem query``.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

__all__ = [
    "BATCHES_DIR",
    "CATALOG_NAME",
    "Catalog",
    "atomic_write",
    "query_connection",
    "write_parquet",
    "write_text",
]

CATALOG_NAME = "catalog.duckdb"
BATCHES_DIR = "batches"
"""Sub-directory of the runs directory that holds one directory per batch."""

_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY,
    scenario VARCHAR NOT NULL,
    scenario_hash VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    replications INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    run_dir VARCHAR NOT NULL,
    plan_status VARCHAR,
    seconds DOUBLE
)
"""

_BATCH_DDL = (
    """
    CREATE TABLE IF NOT EXISTS batches (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        created TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        batch_dir VARCHAR NOT NULL,
        seed BIGINT NOT NULL,
        points INTEGER NOT NULL,
        replications INTEGER NOT NULL,
        tasks_total INTEGER NOT NULL,
        tasks_done INTEGER NOT NULL,
        executor VARCHAR,
        seconds DOUBLE,
        message VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS batch_points (
        batch_id VARCHAR NOT NULL,
        point INTEGER NOT NULL,
        label VARCHAR NOT NULL,
        scenario VARCHAR NOT NULL,
        scenario_hash VARCHAR NOT NULL,
        parameters VARCHAR NOT NULL,
        overrides VARCHAR NOT NULL,
        plan_status VARCHAR,
        plan_objective DOUBLE,
        plan_seconds DOUBLE,
        PRIMARY KEY (batch_id, point)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS batch_tasks (
        batch_id VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        point INTEGER NOT NULL,
        rep_start INTEGER NOT NULL,
        rep_stop INTEGER NOT NULL,
        file VARCHAR NOT NULL,
        seconds DOUBLE,
        attempts INTEGER,
        finished TIMESTAMP NOT NULL,
        PRIMARY KEY (batch_id, task)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS batch_kpis (
        batch_id VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        point INTEGER NOT NULL,
        replication INTEGER NOT NULL,
        metric VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        value DOUBLE,
        unit VARCHAR
    )
    """,
)
_BATCH_COLUMNS = ("id", "kind", "name", "created", "status", "version", "batch_dir", "seed",
                  "points", "replications", "tasks_total", "tasks_done", "executor", "seconds",
                  "message")
_POINT_COLUMNS = ("batch_id", "point", "label", "scenario", "scenario_hash", "parameters",
                  "overrides", "plan_status", "plan_objective", "plan_seconds")
_LOCK_WAIT_S = 60.0


def _connect_with_retry(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, waiting (up to a minute) while another process holds its lock."""
    deadline = time.monotonic() + _LOCK_WAIT_S
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(0.5, delay * 2)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        # mkstemp makes the file private (0600); results are ordinary files: honour the umask
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` to ``path`` as Parquet (zstd) atomically; units go into the metadata.
    Categorical string columns (the simulation tables' keys) are written as plain strings."""
    frame = frame.copy()
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
            dtype.categories.dtype
        ):
            frame[name] = frame[name].astype("str")
    units = frame.attrs.get("unit")
    frame.attrs = {"unit": json.dumps(units)} if units else {}
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, compression="zstd", index=False))


class Catalog:
    """The DuckDB catalog of runs.

    Examples
    --------
    >>> import tempfile, datetime
    >>> cat = Catalog(Path(tempfile.mkdtemp()) / "catalog.duckdb")
    >>> cat.register({"id": "r1", "scenario": "s", "scenario_hash": "h", "seed": 1,
    ...               "replications": 1, "created": datetime.datetime(2026, 1, 1), "status": "ok",
    ...               "version": "0", "run_dir": "/tmp/r1", "plan_status": "optimal", "seconds": 1.0})
    >>> cat.runs()["id"].tolist()
    ['r1']
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect_with_retry(self.path)
        con.execute(_RUNS_DDL)
        for ddl in _BATCH_DDL:
            con.execute(ddl)
        return con

    @contextmanager
    def _session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    def register(self, row: dict[str, Any]) -> None:
        """Insert or replace one run row."""
        columns = ["id", "scenario", "scenario_hash", "seed", "replications", "created", "status",
                   "version", "run_dir", "plan_status", "seconds"]
        con = self._connect()
        try:
            con.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                [row.get(c) for c in columns],
            )
        finally:
            con.close()

    def runs(self) -> pd.DataFrame:
        """All runs, newest first."""
        con = self._connect()
        try:
            return con.execute("SELECT * FROM runs ORDER BY created DESC, id").df()
        finally:
            con.close()

    # ------------------------------------------------------------------------------ batches
    def register_batch(self, row: dict[str, Any]) -> None:
        """Insert or replace one batch row (columns of table ``batches``)."""
        with self._session() as con:
            con.execute(
                f"INSERT OR REPLACE INTO batches ({', '.join(_BATCH_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _BATCH_COLUMNS)})",
                [row.get(c) for c in _BATCH_COLUMNS],
            )

    def update_batch(self, batch_id: str, **fields: Any) -> None:
        """Set some columns of one batch row (e.g. ``status``, ``tasks_done``)."""
        unknown = set(fields) - set(_BATCH_COLUMNS)
        if unknown:
            raise KeyError(f"unknown batch columns {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._session() as con:
            con.execute(
                f"UPDATE batches SET {assignments} WHERE id = ?", [*fields.values(), batch_id]
            )

    def register_points(self, rows: list[dict[str, Any]]) -> None:
        """Insert or replace the points (scenarios and parameters) of a batch."""
        if not rows:
            return
        with self._session() as con:
            con.executemany(
                f"INSERT OR REPLACE INTO batch_points ({', '.join(_POINT_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _POINT_COLUMNS)})",
                [[row.get(c) for c in _POINT_COLUMNS] for row in rows],
            )

    def register_task(self, batch_id: str, task: dict[str, Any], kpis: pd.DataFrame) -> None:
        """Register one finished task and its KPI rows (see :meth:`register_tasks`)."""
        self.register_tasks(batch_id, [(task, kpis)])

    def register_tasks(
        self, batch_id: str, finished: list[tuple[dict[str, Any], pd.DataFrame]]
    ) -> None:
        """Register finished tasks and their KPI rows in one transaction, and count the batch's
        finished tasks in ``batches.tasks_done``.

        Registering a task again replaces its rows, so a resumed batch never duplicates them.
        Each task is a dict with keys ``task, point, rep_start, rep_stop, file, seconds,
        attempts, finished`` and its KPIs a frame with columns ``point, replication, metric,
        scope, value, unit``.
        """
        if not finished:
            return
        with self._session() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for task, kpis in finished:
                    rows = kpis[["point", "replication", "metric", "scope", "value", "unit"]]
                    con.execute("DELETE FROM batch_kpis WHERE batch_id = ? AND task = ?",
                                [batch_id, task["task"]])
                    con.register("_task_kpis", rows)
                    con.execute(
                        "INSERT INTO batch_kpis SELECT ?, ?, point, replication, metric, scope, "
                        "value, unit FROM _task_kpis", [batch_id, task["task"]],
                    )
                    con.unregister("_task_kpis")
                    con.execute(
                        "INSERT OR REPLACE INTO batch_tasks (batch_id, task, point, rep_start, "
                        "rep_stop, file, seconds, attempts, finished) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [batch_id, task["task"], task["point"], task["rep_start"],
                         task["rep_stop"], task["file"], task.get("seconds"),
                         task.get("attempts"), task["finished"]],
                    )
                con.execute(
                    "UPDATE batches SET tasks_done = (SELECT count(*) FROM batch_tasks "
                    "WHERE batch_id = ?) WHERE id = ?", [batch_id, batch_id],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def batches(self) -> pd.DataFrame:
        """All batches, newest first."""
        with self._session() as con:
            return con.execute("SELECT * FROM batches ORDER BY created DESC, id").df()

    def batch_table(self, table: str, batch_id: str) -> pd.DataFrame:
        """Rows of ``batch_points``, ``batch_tasks`` or ``batch_kpis`` for one batch."""
        order = {"batch_points": "point", "batch_tasks": "point, rep_start",
                 "batch_kpis": "point, replication"}
        if table not in order:
            raise KeyError(f"unknown batch table '{table}'")
        with self._session() as con:
            return con.execute(
                f"SELECT * FROM {table} WHERE batch_id = ? ORDER BY {order[table]}", [batch_id]
            ).df()


def _glob_view(con: duckdb.DuckDBPyConnection, name: str, pattern: Path, id_column: str) -> None:
    """Create view ``name`` over the Parquet files matching ``pattern`` (if there are any), with
    the id of the run (the file's directory name) in column ``id_column``."""
    if not glob.glob(str(pattern)):
        return
    quoted = str(pattern).replace("'", "''")
    con.execute(
        f"CREATE VIEW {name} AS SELECT parse_dirname(filename) AS {id_column}, "
        f"* EXCLUDE (filename) FROM read_parquet('{quoted}', filename = true, union_by_name = true)"
    )


def query_connection(runs_root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for ad-hoc SQL over everything under ``runs_root``.

    Views: ``runs``, ``batches``, ``batch_points``, ``batch_tasks``, ``batch_kpis`` (the catalog,
    attached read-only), ``batch_summary`` (mean, std and replications per batch, point, metric
    and scope), and ``run_kpis``, ``orders``, ``events``, ``inventory`` over the Parquet files of
    single run directories (with a ``run_id`` column). The catalog is read only.
    """
    runs_root = Path(runs_root)
    con = duckdb.connect()
    catalog = runs_root / CATALOG_NAME
    if catalog.exists():
        # make sure the batch tables exist (older catalogs have only `runs`)
        Catalog(catalog)._connect().close()
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                con.execute(f"ATTACH '{str(catalog).replace(chr(39), chr(39) * 2)}' AS catalog "
                            "(READ_ONLY)")
                break
            except duckdb.Error as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for table in ("runs", "batches", "batch_points", "batch_tasks", "batch_kpis"):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM catalog.main.{table}")
        con.execute(
            "CREATE VIEW batch_summary AS SELECT batch_id, point, metric, scope, any_value(unit) "
            "AS unit, avg(value) AS mean, stddev_samp(value) AS std, count(value) AS replications "
            "FROM batch_kpis GROUP BY ALL"
        )
    _glob_view(con, "run_kpis", runs_root / "*" / "kpis_replications.parquet", "run_id")
    for table in ("orders", "events", "inventory"):
        _glob_view(con, table, runs_root / "*" / f"{table}.parquet", "run_id")
    return con
