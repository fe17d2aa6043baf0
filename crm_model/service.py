"""Customer service and churn feedback: tickets from product problems and from the service
outcomes the simulation reports (backordered, lost, late), their channel and resolution, and the
churn they cause; and the feedback order stream that generates orders period by period from the
customer state, so a stockout costs future orders.

A ticket of customer i raised at time t on channel c is never resolved with probability
``unresolved_probability``, else resolved after a duration drawn from ``resolution_days[c]``;
it counts as unresolved when that exceeds ``resolution_target_days``. At its decision time
(resolution, or the target when unresolved) the customer churns with probability

    π = min(1, π₀ · f^k),   π₀ = churn_if_resolved or churn_if_unresolved,

with k the customer's earlier tickets in the last ``memory_days`` and f = ``repeat_factor``:
service failures, failed recovery and repeated failures drive switching (Keaveney 1995,
J. Marketing 59(2); Knox & van Oest 2014, J. Marketing 78(5)). Churn takes effect at the start of
the first period after the decision, since that period's orders have been drawn already.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from crm_model.population import ChurnCause, CustomerBase
from crm_model.stream import OrderStream
from scenarios.schema import Service

__all__ = ["TICKET_COLUMNS", "CustomerStream", "ServiceDesk", "churn_per_period"]

Finisher = Callable[[pd.DataFrame, float, float], pd.DataFrame]
"""Turns a period's customer lines into order lines: ``finish(lines, start, end)``."""

TICKET_COLUMNS = (
    "ticket_id",
    "time",
    "customer",
    "segment",
    "order_id",
    "reason",
    "channel",
    "resolved",
    "resolution_days",
    "decided_time",
    "churned",
)
"""Columns of the ``tickets`` table: ``reason`` is product, backordered, lost or late;
``resolved`` whether it was resolved within the target; ``resolution_days`` inf when never
resolved; ``churned`` whether it made the customer churn (False while undecided)."""


class ServiceDesk:
    """Tickets and the churn decisions they lead to.

    Examples
    --------
    >>> desk = ServiceDesk(Service(churn_if_resolved=1.0, unresolved_probability=0.0),
    ...                    np.random.default_rng(0))
    >>> desk.open(np.array([1.0]), np.array([7]), np.array(["s"], dtype=object),
    ...           np.array(["CO-1"], dtype=object), "lost", 1.0)
    >>> desk.decide(100.0)[0].tolist()
    [7]
    """

    def __init__(self, service: Service, rng: np.random.Generator) -> None:
        self.service = service
        self.rng = rng
        channels = [c for c, w in service.channel_mix.items() if w > 0]
        weights = np.array([service.channel_mix[c] for c in channels], dtype=float)
        self._channels = channels
        self._channel_p = weights / weights.sum()
        self._open: list[pd.DataFrame] = []
        self._done: list[pd.DataFrame] = []
        self._history_customer = np.zeros(0, dtype=np.int64)
        self._history_time = np.zeros(0)
        self._count = 0

    def open(
        self,
        time: np.ndarray,
        customer: np.ndarray,
        segment: np.ndarray,
        order_id: np.ndarray,
        reason: str,
        probability: float,
    ) -> None:
        """Each event raises a ticket with ``probability``; draw its channel and resolution."""
        rng = self.rng
        service = self.service
        raise_ = (rng.random(len(time)) < probability) & (np.asarray(customer) >= 0)
        n = int(raise_.sum())
        if n == 0:
            return
        channel = rng.choice(len(self._channels), size=n, p=self._channel_p)
        duration = np.full(n, np.inf)
        never = rng.random(n) < service.unresolved_probability
        for c, name in enumerate(self._channels):
            mask = (channel == c) & ~never
            if mask.any():
                draws = service.resolution_days[name].sample(rng, int(mask.sum()))
                duration[mask] = np.maximum(np.asarray(draws, dtype=float), 0.0)
        resolved = duration <= service.resolution_target_days
        t = np.asarray(time, dtype=float)[raise_]
        ids = [f"TK-{self._count + i + 1:07d}" for i in range(n)]
        self._count += n
        self._open.append(
            pd.DataFrame(
                {
                    "ticket_id": ids,
                    "time": t,
                    "customer": np.asarray(customer)[raise_].astype(np.int64),
                    "segment": np.asarray(segment, dtype=object)[raise_],
                    "order_id": np.asarray(order_id, dtype=object)[raise_],
                    "reason": reason,
                    "channel": np.asarray([str(c) for c in self._channels], dtype=object)[channel],
                    "resolved": resolved,
                    "resolution_days": duration,
                    "decided_time": t + np.minimum(duration, service.resolution_target_days),
                    "churned": False,
                }
            )
        )

    def decide(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Churn decisions of the tickets decided before ``now``: (customers, decision times)."""
        if not self._open:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        pending = pd.concat(self._open, ignore_index=True)
        due = pending["decided_time"].to_numpy() < now
        self._open = [pending[~due]] if (~due).any() else []
        batch = pending[due].sort_values("time", kind="stable").reset_index(drop=True)
        if len(batch) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        customer = batch["customer"].to_numpy()
        time = batch["time"].to_numpy()
        earlier = self._earlier_tickets(customer, time)
        service = self.service
        base = np.where(
            batch["resolved"].to_numpy(), service.churn_if_resolved, service.churn_if_unresolved
        )
        probability = np.minimum(1.0, base * service.repeat_factor**earlier)
        churned = self.rng.random(len(batch)) < probability
        batch["churned"] = churned
        self._done.append(batch)
        self._history_customer = np.concatenate([self._history_customer, customer])
        self._history_time = np.concatenate([self._history_time, time])
        return customer[churned], batch["decided_time"].to_numpy()[churned]

    def _earlier_tickets(self, customer: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Per ticket of the batch: the customer's tickets within ``memory_days`` before it
        (from the history and earlier in the batch)."""
        all_c = np.concatenate([self._history_customer, customer])
        all_t = np.concatenate([self._history_time, time])
        order = np.lexsort((all_t, all_c))
        sc, st = all_c[order], all_t[order]
        scale = float(max(st.max(initial=0.0), 0.0) + self.service.memory_days + 1.0)
        key = sc * scale + st
        query = customer * scale + time
        low = np.searchsorted(
            key, customer * scale + (time - self.service.memory_days), side="left"
        )
        high = np.searchsorted(key, query, side="left")
        return (high - low).astype(float)

    def table(self) -> pd.DataFrame:
        """Every ticket raised (see :data:`TICKET_COLUMNS`)."""
        frames = self._done + self._open
        if not frames:
            kinds = {
                "time": float,
                "customer": np.int64,
                "resolved": bool,
                "resolution_days": float,
                "decided_time": float,
                "churned": bool,
            }
            return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, object)) for c in TICKET_COLUMNS})
        table = pd.concat(frames, ignore_index=True).sort_values("time", kind="stable")
        table = table.reset_index(drop=True)[list(TICKET_COLUMNS)]
        table.attrs["unit"] = {"time": "day", "resolution_days": "days", "decided_time": "day"}
        return table


class CustomerStream(OrderStream):
    """Orders generated period by period from the customer base; with a service desk, the
    service outcomes reported by the simulation become tickets and churn.

    Parameters
    ----------
    base
        The customer base to advance.
    finish
        Turns a period's lines into order lines (shocks, plain demand, order ids).
    desk
        The service desk, or None for a stream without feedback.
    """

    def __init__(self, base: CustomerBase, finish: Finisher, desk: ServiceDesk | None) -> None:
        self.base = base
        self.finish = finish
        self.desk = desk
        self._issued = 0.0

    def next_orders(self, start: float, end: float) -> pd.DataFrame:
        """Order lines with ``start ≤ time < end``; periods must follow one another."""
        if self.desk is not None:
            customers, _ = self.desk.decide(start)
            churned = self.base.population.kill(
                customers, np.full(len(customers), start), ChurnCause.SERVICE
            )
            self.base.population["cancelled"][churned] = True
        lines = self.base.advance(end)
        orders = self.finish(lines, start, end)
        if self.desk is not None and self.desk.service.product_issue_probability > 0:
            mine = orders["customer"].to_numpy() >= 0
            self.desk.open(
                orders["requested_time"].to_numpy()[mine],
                orders["customer"].to_numpy()[mine],
                orders["segment"].to_numpy()[mine],
                orders["order_id"].to_numpy()[mine],
                "product",
                self.desk.service.product_issue_probability,
            )
        return orders

    def record_outcomes(self, outcomes: pd.DataFrame) -> None:
        """Tickets from the period's backordered, lost and late lines."""
        if self.desk is None or len(outcomes) == 0:
            return
        service = self.desk.service
        chance = {
            "backordered": service.ticket_if_backordered,
            "lost": service.ticket_if_lost,
            "late": service.ticket_if_late,
        }
        kinds = outcomes["kind"].to_numpy()
        for kind, probability in chance.items():
            rows = outcomes[kinds == kind]
            if len(rows):
                self.desk.open(
                    rows["time"].to_numpy(dtype=float),
                    rows["customer"].to_numpy(),
                    rows["segment"].to_numpy(),
                    rows["order_id"].to_numpy(),
                    kind,
                    probability,
                )

    def tables(self) -> dict[str, pd.DataFrame]:
        """``lifecycle``, ``pipeline``, ``acquisitions``, ``leads``, ``churn`` and, with
        service, ``tickets``; plus ``churn_rate`` per period and segment."""
        tables = self.base.tables()
        if self.desk is not None:
            tables["tickets"] = self.desk.table()
        tables["churn_rate"] = churn_per_period(tables["lifecycle"], tables["churn"])
        return tables


def churn_per_period(lifecycle: pd.DataFrame, churn: pd.DataFrame) -> pd.DataFrame:
    """Customers churned per period, segment and cause, and the churn rate (churned ÷ customers
    at the start of the period).

    Columns ``period_start, period_end, segment, customers_start, churned, churned_service,
    churn_rate``.
    """
    columns = [
        "period_start",
        "period_end",
        "segment",
        "customers_start",
        "churned",
        "churned_service",
        "churn_rate",
    ]
    customers = lifecycle[lifecycle["state"] == "customer"]
    if len(customers) == 0:
        return pd.DataFrame({c: [] for c in columns})
    rows = []
    for segment, frame in customers.groupby("segment", sort=False):
        times = frame["time"].to_numpy()
        counts = frame["customers"].to_numpy()
        mine = churn[churn["segment"] == segment]
        t = mine["time"].to_numpy()
        service = (mine["cause"] == "service").to_numpy()
        for k in range(1, len(times)):
            lo, hi = times[k - 1], times[k]
            inside = (t >= lo) & (t < hi)
            n = int(inside.sum())
            rows.append(
                (
                    lo,
                    hi,
                    segment,
                    int(counts[k - 1]),
                    n,
                    int((inside & service).sum()),
                    n / counts[k - 1] if counts[k - 1] > 0 else np.nan,
                )
            )
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["unit"] = {"period_start": "day", "period_end": "day", "churn_rate": "fraction"}
    return table
