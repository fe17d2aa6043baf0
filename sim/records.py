"""The simulation's event log: append-only small records, turned into a DataFrame once."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

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
    """Append-only list of :class:`EventRecord`."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []

    def add(
        self,
        time: float,
        event: EventType,
        order_id: str,
        order_type: OrderType,
        node: str,
        product: str,
        qty: float,
        expected_arrival: float = np.nan,
        lane: int = -1,
    ) -> None:
        self.records.append(
            EventRecord(time, event.value, order_id, order_type.value, node, product, float(qty),
                        float(expected_arrival), lane)
        )

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame with :data:`EVENT_COLUMNS` (time in days, qty in units)."""
        frame = pd.DataFrame.from_records(self.records, columns=list(EVENT_COLUMNS))
        frame = frame.astype({"time": float, "qty": float, "expected_arrival": float, "lane": np.int64})
        frame.attrs["unit"] = {"time": "day", "qty": "units", "expected_arrival": "day"}
        return frame
