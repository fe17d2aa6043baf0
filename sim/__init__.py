"""The SimPy supply-chain engine: runs a plan and policies under sampled demand and lead times."""

from __future__ import annotations

from sim.engine import ORDER_TABLE_COLUMNS, Control, ReleaseSchedule, Simulation, Streams
from sim.records import CATEGORY_COLUMNS, EVENT_COLUMNS, EventType, OrderType, concat_tables
from sim.run import SimulationResult, replication_seed, simulate

__all__ = [
    "CATEGORY_COLUMNS",
    "EVENT_COLUMNS",
    "ORDER_TABLE_COLUMNS",
    "Control",
    "EventType",
    "OrderType",
    "ReleaseSchedule",
    "Simulation",
    "SimulationResult",
    "Streams",
    "concat_tables",
    "replication_seed",
    "simulate",
]
