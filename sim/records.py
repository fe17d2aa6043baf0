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
    """Append-only event log of plain tuples (one cheap append per event), turned into one
    DataFrame at the end."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

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

    @property
    def records(self) -> list[EventRecord]:
        """The log as :class:`EventRecord` tuples."""
        return [EventRecord(*row) for row in self._rows]

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame with :data:`EVENT_COLUMNS` (time in days, qty in units)."""
        columns = list(zip(*self._rows, strict=True)) if self._rows else [()] * len(EVENT_COLUMNS)
        frame = pd.DataFrame(
            {
                "time": np.asarray(columns[0], dtype=float),
                "event": pd.array(columns[1], dtype=object),
                "order_id": pd.array(columns[2], dtype=object),
                "order_type": pd.array(columns[3], dtype=object),
                "node": pd.array(columns[4], dtype=object),
                "product": pd.array(columns[5], dtype=object),
                "qty": np.asarray(columns[6], dtype=float),
                "expected_arrival": np.asarray(columns[7], dtype=float),
                "lane": np.asarray(columns[8], dtype=np.int64),
            }
        )
        frame.attrs["unit"] = {"time": "day", "qty": "units", "expected_arrival": "day"}
        return frame
