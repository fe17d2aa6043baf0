"""The results store: run directories of Parquet tables and the DuckDB catalog of runs.

A run directory holds ``scenario.yaml`` (the resolved scenario), ``kpis.csv``, ``orders.parquet``,
``events.parquet``, ``inventory.parquet``, ``plan_*.parquet``, ``plan_summary.json`` and
``report.html``. Files are written to a temporary name and renamed, so a reader never sees a
half-written file. The catalog (``catalog.duckdb``, next to the run directories) has one row per
run in table ``runs``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

__all__ = ["CATALOG_NAME", "Catalog", "atomic_write", "write_parquet", "write_text"]

CATALOG_NAME = "catalog.duckdb"

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


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` to ``path`` as Parquet (zstd) atomically; units go into the metadata."""
    frame = frame.copy()
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
        con = duckdb.connect(str(self.path))
        con.execute(_RUNS_DDL)
        return con

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
