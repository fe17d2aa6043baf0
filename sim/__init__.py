"""The SimPy supply-chain engine: runs a plan and policies under sampled demand and lead times."""

from __future__ import annotations

from sim.engine import ORDER_TABLE_COLUMNS, Control, ReleaseSchedule, Simulation, Streams
from sim.records import EVENT_COLUMNS, EventType, OrderType
from sim.run import SimulationResult, replication_seed, simulate

__all__ = [
    "EVENT_COLUMNS",
    "ORDER_TABLE_COLUMNS",
    "Control",
    "EventType",
    "OrderType",
    "ReleaseSchedule",
    "Simulation",
    "SimulationResult",
    "Streams",
    "replication_seed",
    "simulate",
]
