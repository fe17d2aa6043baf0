"""The demand interface the simulation pulls from: customer order lines period by period, and the
service outcomes (backorders, lost sales, late deliveries) reported back, which a CRM model with
feedback turns into tickets and churn."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["OUTCOME_COLUMNS", "OrderStream", "WrappedStream"]

OUTCOME_COLUMNS = (
    "time",
    "order_id",
    "customer",
    "segment",
    "zone",
    "product",
    "kind",
    "qty",
    "days_late",
)
"""Columns of the service outcomes the simulation reports: ``kind`` is ``backordered``,
``lost`` or ``late`` (a delivery after the requested date, ``days_late`` > 0); time in days,
qty in units."""


class OrderStream:
    """Order lines for the simulation, one period at a time.

    This base stream serves a pre-sampled order table and ignores outcomes (no feedback).
    Subclasses that model the customer base override :meth:`next_orders`,
    :meth:`record_outcomes` and :meth:`tables`.

    Examples
    --------
    >>> orders = pd.DataFrame({"order_id": ["a", "b"], "time": [0.5, 8.0]})
    >>> OrderStream(orders).next_orders(0, 7)["order_id"].tolist()
    ['a']
    """

    period_days: float = 7.0
    """How often the simulation asks for orders and reports outcomes (days)."""

    def __init__(self, orders: pd.DataFrame) -> None:
        self._orders = orders.sort_values("time", kind="stable").reset_index(drop=True)
        self._times = self._orders["time"].to_numpy()

    def next_orders(self, start: float, end: float) -> pd.DataFrame:
        """Order lines with ``start ≤ time < end``, sorted by time."""
        lo, hi = np.searchsorted(self._times, [start, end], side="left")
        return self._orders.iloc[lo:hi]

    def record_outcomes(self, outcomes: pd.DataFrame) -> None:
        """Service outcomes of the last period (see :data:`OUTCOME_COLUMNS`). Ignored here."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """CRM tables of the run (lifecycle, tickets, churn); none for a plain stream."""
        return {}


class WrappedStream(OrderStream):
    """A stream in front of another: hands out the inner stream's lines and passes outcomes and
    CRM tables through. Subclasses change or watch :meth:`next_orders` (extra lines, observed
    demand) without touching the customer model behind it."""

    def __init__(self, inner: OrderStream) -> None:
        self.inner = inner
        self.period_days = inner.period_days

    def next_orders(self, start: float, end: float) -> pd.DataFrame:
        return self.inner.next_orders(start, end)

    def record_outcomes(self, outcomes: pd.DataFrame) -> None:
        self.inner.record_outcomes(outcomes)

    def tables(self) -> dict[str, pd.DataFrame]:
        return self.inner.tables()
