"""The result types of planning: the solver status enum and the :class:`Plan` of tidy tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

__all__ = [
    "DIAGNOSIS_COLUMNS",
    "PLAN_TABLES",
    "STORAGE_OVERFLOW_COLUMNS",
    "Plan",
    "SolveStatus",
    "empty_table",
]


class SolveStatus(StrEnum):
    """Outcome of one solve. Callers must check it: only OPTIMAL and FEASIBLE carry a plan."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    """Stopped (time limit, gap) with a feasible incumbent."""
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"
    """Stopped by a limit before any feasible solution was found."""
    ERROR = "error"
    NOT_NEEDED = "not_needed"
    """Nothing to plan (e.g. a CRM-only scenario with no stock points)."""

    @property
    def has_plan(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.NOT_NEEDED)


PLAN_TABLES: dict[str, tuple[str, ...]] = {
    # purchase orders: released to `supplier` at release_day, received at `dst` on due_day
    "purchases": (
        "lane",
        "supplier",
        "dst",
        "item",
        "bucket",
        "release_day",
        "due_day",
        "qty",
        "unit_price",
    ),
    # production orders: components consumed at start_day, output in stock on finish_day
    "production": ("plant", "product", "bucket", "start_day", "finish_day", "qty"),
    # transfers between stock points along a lane
    "transfers": ("lane", "src", "dst", "item", "bucket", "release_day", "due_day", "qty"),
    # planned on-hand at the end of each bucket (day_end = last day of the bucket)
    "inventory": ("node", "item", "bucket", "day_end", "qty"),
    # customer side per zone: forecast demand, units served from stock, end-of-bucket backlog, lost
    "service": ("zone", "node", "item", "bucket", "demand", "served", "backlog", "lost"),
}
"""Columns of each plan table. Quantities are in units, days are simulation days (0 = start)."""

STORAGE_OVERFLOW_COLUMNS = ("node", "bucket", "day_end", "capacity", "on_hand", "overflow")
"""Columns of :attr:`Plan.storage_overflow`: planned stock above a storage capacity (units)."""

DIAGNOSIS_COLUMNS = ("constraint", "key", "bucket", "day", "violation", "description")
"""Columns of :attr:`Plan.diagnosis`: hard constraints an elastic re-solve had to break
(``violation`` in units; see :mod:`optimize.elastic`)."""


def empty_table(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty table with ``columns``."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass(frozen=True)
class Plan:
    """A supply plan: status, objective, cost breakdown and tidy tables (see :data:`PLAN_TABLES`).

    Tables are DataFrames with exactly the columns listed in :data:`PLAN_TABLES`, one row per
    non-zero decision, sorted by bucket. ``cost_breakdown`` maps cost type (purchase, transport,
    production, holding, backorder, lost_sales, ordering, storage_penalty) to its amount in the
    scenario currency.
    """

    status: SolveStatus
    objective: float | None
    tables: dict[str, pd.DataFrame]
    cost_breakdown: dict[str, float] = field(default_factory=dict)
    model_size: dict[str, int] = field(default_factory=dict)
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    mip_gap: float | None = None
    message: str = ""
    storage_overflow: pd.DataFrame = field(
        default_factory=lambda: empty_table(STORAGE_OVERFLOW_COLUMNS)
    )
    """Node-buckets where planned stock exceeds the storage capacity (see
    :data:`STORAGE_OVERFLOW_COLUMNS`); capacities are soft and overflow is penalised
    (``cost_breakdown["storage_penalty"]``), so it only appears when starting stock is above one."""
    diagnosis: pd.DataFrame = field(default_factory=lambda: empty_table(DIAGNOSIS_COLUMNS))
    """For an INFEASIBLE plan: the constraints an elastic re-solve had to break, where and by
    how much (see :data:`DIAGNOSIS_COLUMNS` and :mod:`optimize.elastic`); empty otherwise."""

    @classmethod
    def without_tables(
        cls,
        status: SolveStatus,
        message: str,
        objective: float | None = None,
        **fields: object,
    ) -> Plan:
        """A plan with ``status`` and empty tables (no plan, or nothing to plan)."""
        tables = {name: empty_table(columns) for name, columns in PLAN_TABLES.items()}
        return cls(status=status, objective=objective, tables=tables, message=message, **fields)  # type: ignore[arg-type]

    def table(self, name: str) -> pd.DataFrame:
        """Plan table ``name`` (empty with the right columns when there is nothing in it)."""
        if name not in PLAN_TABLES:
            raise KeyError(f"unknown plan table '{name}'; tables: {', '.join(PLAN_TABLES)}")
        frame = self.tables.get(name)
        if frame is None:
            return empty_table(PLAN_TABLES[name])
        return frame

    @property
    def purchases(self) -> pd.DataFrame:
        return self.table("purchases")

    @property
    def production(self) -> pd.DataFrame:
        return self.table("production")

    @property
    def transfers(self) -> pd.DataFrame:
        return self.table("transfers")

    @property
    def inventory(self) -> pd.DataFrame:
        return self.table("inventory")

    @property
    def service(self) -> pd.DataFrame:
        return self.table("service")
