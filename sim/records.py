"""The simulation's event log: append-only small records, turned into a DataFrame once."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["EVENT_COLUMNS", "EventLog", "EventRecord", "EventType", "OrderType"]


class OrderType(StrEnum):
    """Kinds of order the simulation tracks."""

    CUSTOMER = "customer"
    PURCHASE = "purchase"
    TRANSFER = "transfer"
    PRODUCTION = "production"
    ADJUSTMENT = "adjustment"
    """Not an order: a stock adjustment (write-off by a stock-loss disruption)."""


class EventType(StrEnum):
    """Steps in an order's life (and stock movements), in the order they usually happen."""

    PLACED = "placed"
    ALLOCATED = "allocated"
    BACKORDERED = "backordered"
    LOST = "lost"
    WAITING_COMPONENTS = "waiting_components"
    CONSUMED = "consumed"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    RECEIVED = "received"
    DELIVERED = "delivered"
    WRITTEN_OFF = "written_off"


class EventRecord(NamedTuple):
    """One step of one order: what happened, when (day), where, how many units.

    ``expected_arrival`` is the arrival time known at that step (NaN where not applicable);
    ``lane`` is the lane index of a shipment (−1 otherwise).
    """

    time: float
    event: str
    order_id: str
    order_type: str
    node: str
    product: str
    qty: float
    expected_arrival: float
    lane: int


EVENT_COLUMNS = EventRecord._fields


class EventLog:
    """Append-only event log: plain tuples (one cheap append per event) and columnar blocks of
    many events at once (:meth:`extend`), kept in insertion order and turned into one DataFrame
    at the end."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._blocks: list[tuple[np.ndarray, ...]] = []
        self._length = 0

    def __len__(self) -> int:
        return self._length + len(self._rows)

    def add(
        self,
        time: float,
        event: str,
        order_id: str,
        order_type: str,
        node: str,
        product: str,
        qty: float,
        expected_arrival: float = math.nan,
        lane: int = -1,
    ) -> None:
        """Append one record; ``event`` and ``order_type`` are :class:`EventType` /
        :class:`OrderType` values (plain strings are accepted)."""
        self._rows.append(
            (time, event, order_id, order_type, node, product, qty, expected_arrival, lane)
        )

    def extend(self, columns: tuple[np.ndarray, ...]) -> None:
        """Append a block of records given as one array per column of :data:`EVENT_COLUMNS`
        (equal lengths; string columns as object arrays), after every record added so far."""
        self._flush()
        self._blocks.append(columns)
        self._length += len(columns[0])

    def _flush(self) -> None:
        if not self._rows:
            return
        columns = list(zip(*self._rows, strict=True))
        self._blocks.append(
            (
                np.asarray(columns[0], dtype=float),
                np.asarray(columns[1], dtype=object),
                np.asarray(columns[2], dtype=object),
                np.asarray(columns[3], dtype=object),
                np.asarray(columns[4], dtype=object),
                np.asarray(columns[5], dtype=object),
                np.asarray(columns[6], dtype=float),
                np.asarray(columns[7], dtype=float),
                np.asarray(columns[8], dtype=np.int64),
            )
        )
        self._length += len(self._rows)
        self._rows = []

    def _columns(self) -> list[np.ndarray]:
        self._flush()
        dtypes = (float, object, object, object, object, object, float, float, np.int64)
        if not self._blocks:
            return [np.asarray([], dtype=d) for d in dtypes]
        return [
            np.concatenate([np.asarray(b[k], dtype=d) for b in self._blocks])
            for k, d in enumerate(dtypes)
        ]

    @property
    def records(self) -> list[EventRecord]:
        """The log as :class:`EventRecord` tuples."""
        columns = self._columns()
        return [EventRecord(*row) for row in zip(*(c.tolist() for c in columns), strict=True)]

    def to_frame(self, sort_by_time: bool = False) -> pd.DataFrame:
        """The log as a DataFrame with :data:`EVENT_COLUMNS` (time in days, qty in units), in
        insertion order, or stably sorted by time."""
        columns = self._columns()
        if sort_by_time and len(columns[0]):
            order = np.argsort(columns[0], kind="stable")
            columns = [c[order] for c in columns]
        frame = pd.DataFrame(
            {
                "time": columns[0],
                "event": pd.array(columns[1], dtype=object),
                "order_id": pd.array(columns[2], dtype=object),
                "order_type": pd.array(columns[3], dtype=object),
                "node": pd.array(columns[4], dtype=object),
                "product": pd.array(columns[5], dtype=object),
                "qty": columns[6],
                "expected_arrival": columns[7],
                "lane": columns[8],
            }
        )
        frame.attrs["unit"] = {"time": "day", "qty": "units", "expected_arrival": "day"}
        return frame
