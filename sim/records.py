"""The simulation's event log: append-only small records, turned into a DataFrame once."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CATEGORY_COLUMNS",
    "EVENT_COLUMNS",
    "EventLog",
    "EventRecord",
    "EventType",
    "OrderType",
    "concat_tables",
]


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


CATEGORY_COLUMNS = frozenset(
    {
        "event",
        "order_type",
        "node",
        "product",
        "source",
        "destination",
        "segment",
        "campaign",
        "status",
    }
)
"""Low-cardinality string columns of the ``events`` and ``orders`` tables, kept as pandas
``Categorical`` (sorted categories) in memory and written as plain strings (``order_id`` stays a
``str`` column)."""

_STRING_COLUMNS = (1, 2, 3, 4, 5)
"""Positions of the string columns in :data:`EVENT_COLUMNS` (event … product)."""

Coded = tuple[np.ndarray, pa.Array]
"""A string column as integer codes into labels (an Arrow string array)."""


def arrow_strings(values: Any) -> pa.Array:
    """Strings (a list, an object array or a pandas Series) as an Arrow ``large_string``
    array, the storage of pandas' ``str`` dtype."""
    return pa.array(values, type=pa.large_string())


def coded(values: Any) -> Coded:
    """Strings as (codes, labels): one Arrow label per distinct value."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return codes, arrow_strings(np.asarray(uniques, dtype=object))


def string_column(codes: np.ndarray, labels: pa.Array) -> pd.api.extensions.ExtensionArray:
    """A pandas ``str`` column decoded from codes into Arrow labels (no Python strings)."""
    values = pc.take(labels, pa.array(codes))
    return pd.arrays.ArrowStringArray(  # type: ignore[call-arg]  # dtype is in pandas ≥ 3
        pa.chunked_array([values]), dtype=_STR
    )


_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def category_column(codes: np.ndarray, labels: pa.Array) -> pd.Categorical:
    """A pandas ``Categorical`` from codes into Arrow labels (which may repeat): categories are
    the distinct labels the codes use, sorted, so grouping by the column keeps the order of the
    strings and the same values give the same dtype (a label registered but never used is not a
    category); only the labels become Python strings, never the rows."""
    codes = np.asarray(codes, dtype=np.int64)
    valid = codes[codes >= 0]
    present = (
        np.bincount(valid, minlength=len(labels)) > 0 if len(valid) else np.zeros(len(labels), bool)
    )
    values = np.asarray(labels.to_pylist(), dtype=object)
    label_codes, distinct = pd.factorize(np.where(present, values, None))
    rank = np.argsort(np.argsort(np.asarray(distinct, dtype=object)))
    # a missing label (code −1) picks the last entry: a missing value
    recode = np.append(rank, -1)[label_codes]
    return pd.Categorical.from_codes(
        recode[codes], categories=pd.Index(np.sort(np.asarray(distinct, dtype=object)), dtype="str")
    )


def join_coded(
    parts: list[Coded], order: np.ndarray | None = None, categorical: bool = False
) -> pd.api.extensions.ExtensionArray:
    """Coded string parts joined into one pandas ``str`` column, or a ``Categorical`` if
    ``categorical`` (labels shared by several parts are joined once), optionally reordered by
    ``order``."""
    offsets: dict[int, int] = {}
    labels: list[pa.Array] = []
    codes = []
    size = 0
    for part_codes, part_labels in parts:
        start = offsets.get(id(part_labels))
        if start is None:
            start = offsets[id(part_labels)] = size
            labels.append(part_labels)
            size += len(part_labels)
        codes.append(np.asarray(part_codes, dtype=np.int64) + start)
    joined = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    if order is not None:
        joined = joined[order]
    label_array = (
        pa.concat_arrays([lab.cast(pa.large_string()) for lab in labels])
        if labels
        else pa.array([], type=pa.large_string())
    )
    if categorical:
        return category_column(joined, label_array)
    return string_column(joined, label_array)


def concat_tables(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of several replications stacked (``pd.concat``), with each categorical column's
    categories united and sorted first, so the column stays categorical (``pd.concat`` decodes
    categoricals with different categories into a string column, row by row)."""
    columns = (
        [
            name
            for name in frames[0].columns
            if all(
                name in f.columns and isinstance(f[name].dtype, pd.CategoricalDtype) for f in frames
            )
        ]
        if frames
        else []
    )
    aligned = frames
    if len(frames) > 1 and columns:
        categories = {
            name: pd.Index(
                sorted(set().union(*(f[name].cat.categories for f in frames))), dtype="str"
            )
            for name in columns
        }
        aligned = [
            f.assign(**{name: f[name].cat.set_categories(categories[name]) for name in columns})
            for f in frames
        ]
    return pd.concat(aligned, ignore_index=True)


class EventLog:
    """Append-only event log: plain tuples (one cheap append per event) and columnar blocks of
    many events at once (:meth:`extend`), kept in insertion order and turned into one DataFrame
    at the end."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._blocks: list[tuple[Any, ...]] = []
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

    def extend(self, columns: tuple[Any, ...]) -> None:
        """Append a block of records after every record added so far: one entry per column of
        :data:`EVENT_COLUMNS`, numeric columns as arrays, string columns as :data:`Coded`."""
        self._flush()
        self._blocks.append(columns)
        self._length += len(columns[0])

    def _flush(self) -> None:
        if not self._rows:
            return
        columns = list(zip(*self._rows, strict=True))
        block: list[Any] = [
            np.asarray(columns[0], dtype=float),
            *(coded(columns[k]) for k in _STRING_COLUMNS),
            np.asarray(columns[6], dtype=float),
            np.asarray(columns[7], dtype=float),
            np.asarray(columns[8], dtype=np.int64),
        ]
        self._blocks.append(tuple(block))
        self._length += len(self._rows)
        self._rows = []

    def _columns(self, sort_by_time: bool) -> dict[str, Any]:
        """All blocks joined: numeric columns as arrays, string columns as pandas
        ``Categorical`` (:data:`CATEGORY_COLUMNS`) or ``str`` arrays (``order_id``); stably sorted
        by time if asked."""
        self._flush()
        blocks = self._blocks
        numeric = {0: float, 6: float, 7: float, 8: np.int64}
        out: dict[str, Any] = {}
        order = None
        if blocks and sort_by_time:
            order = np.argsort(np.concatenate([b[0] for b in blocks]), kind="stable")
        for k, name in enumerate(EVENT_COLUMNS):
            if k in numeric:
                if not blocks:
                    out[name] = np.asarray([], dtype=numeric[k])
                    continue
                values = np.concatenate([np.asarray(b[k], dtype=numeric[k]) for b in blocks])
                out[name] = values if order is None else values[order]
            else:
                out[name] = join_coded(
                    [b[k] for b in blocks], order, categorical=name in CATEGORY_COLUMNS
                )
        return out

    @property
    def records(self) -> list[EventRecord]:
        """The log as :class:`EventRecord` tuples."""
        frame = self.to_frame()
        return [EventRecord(*row) for row in frame.itertuples(index=False, name=None)]

    def to_frame(self, sort_by_time: bool = False) -> pd.DataFrame:
        """The log as a DataFrame with :data:`EVENT_COLUMNS` (time in days, qty in units), in
        insertion order, or stably sorted by time."""
        frame = pd.DataFrame(self._columns(sort_by_time))
        frame.attrs["unit"] = {"time": "day", "qty": "units", "expected_arrival": "day"}
        return frame
