"""Order tracking over a run directory: one order's timeline, and the orders still open."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import yaml

from scenarios.errors import DataError

__all__ = ["open_orders", "order_timeline"]

_DONE = {"delivered", "received", "lost"}


def _read(run_dir: Path, name: str) -> pd.DataFrame:
    path = Path(run_dir) / f"{name}.parquet"
    if not path.is_file():
        raise DataError(f"{run_dir}: not a run directory (no {name}.parquet)")
    return pd.read_parquet(path)


def _start_date(run_dir: Path) -> dt.date | None:
    path = Path(run_dir) / "scenario.yaml"
    if not path.is_file():
        return None
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    value = raw.get("start_date")
    return dt.date.fromisoformat(str(value)) if value else None


def _date(start: dt.date | None, day: float) -> str:
    if start is None or day is None or (isinstance(day, float) and math.isnan(day)):
        return ""
    return (start + dt.timedelta(days=math.floor(day))).isoformat()


def order_timeline(run_dir: Path, order_id: str, replication: int = 0) -> pd.DataFrame:
    """Every event of ``order_id`` in one replication, in order, with calendar dates.

    Columns ``time, date, event, node, product, qty, expected_arrival, expected_date``.
    """
    events = _read(run_dir, "events")
    mine = events[(events["order_id"] == order_id) & (events["replication"] == replication)]
    if mine.empty:
        known = events.loc[events["replication"] == replication, "order_id"]
        hint = ", ".join(known.drop_duplicates().head(3).tolist())
        raise DataError(
            f"no order '{order_id}' in replication {replication} (ids look like {hint})"
        )
    start = _start_date(run_dir)
    frame = mine[["time", "event", "node", "product", "qty", "expected_arrival"]].copy()
    frame.insert(1, "date", [_date(start, t) for t in frame["time"]])
    frame["expected_date"] = [_date(start, t) for t in frame["expected_arrival"]]
    return frame.reset_index(drop=True)


def open_orders(run_dir: Path, replication: int = 0) -> pd.DataFrame:
    """Orders not fully delivered at the end of the run, with their expected arrival.

    Columns ``order_id, order_type, product, source, destination, qty, open_qty,
    in_transit_qty, status, placed_time, expected_arrival, expected_date``.
    """
    orders = _read(run_dir, "orders")
    mine = orders[(orders["replication"] == replication) & ~orders["status"].isin(_DONE)]
    start = _start_date(run_dir)
    frame = mine[
        [
            "order_id",
            "order_type",
            "product",
            "source",
            "destination",
            "qty",
            "open_qty",
            "in_transit_qty",
            "status",
            "placed_time",
            "expected_arrival",
        ]
    ].copy()
    frame["expected_date"] = [_date(start, t) for t in frame["expected_arrival"]]
    return frame.reset_index(drop=True)
