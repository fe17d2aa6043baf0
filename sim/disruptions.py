"""Disruption windows: scheduled or sampled (exponential up and down times), and queries on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from crm_model.demand import DemandShock
from scenarios.schema import Disruption, DisruptionKind, Scenario

__all__ = ["DisruptionWindow", "Disruptions", "sample_windows"]


@dataclass(frozen=True)
class DisruptionWindow:
    """One occurrence of a disruption: ``[start, end)`` in days."""

    index: int
    """Position of the disruption in ``scenario.disruptions``."""
    spec: Disruption
    start: float
    end: float


def sample_windows(scenario: Scenario, rng: np.random.Generator) -> list[DisruptionWindow]:
    """Windows of every disruption over the horizon.

    Scheduled disruptions give one window. Random ones alternate an up time ~ Exp(mean
    ``mtbf_days``) and a down time ~ Exp(mean ``mttr_days``) from day 0 (an alternating renewal
    process; long-run share of time down = MTTR / (MTBF + MTTR)). Draws come from ``rng`` in
    scenario order, so windows are the same for every strategy run on the same replication.
    """
    horizon = float(scenario.horizon_days)
    windows = []
    for index, spec in enumerate(scenario.disruptions):
        if spec.start is not None and spec.duration_days is not None:
            start = float((spec.start - scenario.start_date).days)
            if start < horizon and start + spec.duration_days > 0:
                windows.append(DisruptionWindow(index, spec, start, start + spec.duration_days))
            continue
        t = 0.0
        mtbf, mttr = float(spec.mtbf_days or 0.0), float(spec.mttr_days or 0.0)
        while True:
            t += rng.exponential(mtbf)
            if t >= horizon:
                break
            down = rng.exponential(mttr)
            windows.append(DisruptionWindow(index, spec, t, t + down))
            t += down
    return windows


class Disruptions:
    """The windows of one replication, indexed for the engine's questions."""

    def __init__(self, windows: list[DisruptionWindow]) -> None:
        self.windows = windows
        self._by_node: dict[tuple[DisruptionKind, str], list[DisruptionWindow]] = defaultdict(list)
        self._by_lane: dict[tuple[DisruptionKind, int], list[DisruptionWindow]] = defaultdict(list)
        for w in windows:
            if w.spec.node is not None:
                self._by_node[(w.spec.kind, w.spec.node)].append(w)
            if w.spec.lane is not None:
                self._by_lane[(w.spec.kind, w.spec.lane)].append(w)

    def _active(self, windows: list[DisruptionWindow], t: float) -> list[DisruptionWindow]:
        return [w for w in windows if w.start <= t < w.end]

    def blocked_until(self, kind: DisruptionKind, key: str | int, t: float) -> float:
        """The first time ≥ ``t`` when no ``kind`` window on node/lane ``key`` is active."""
        if not self.windows:
            return t
        table = self._by_lane if isinstance(key, int) else self._by_node
        windows = table.get((kind, key), [])  # type: ignore[call-overload]
        moved = True
        while moved:
            moved = False
            for w in windows:
                if w.start <= t < w.end:
                    t, moved = w.end, True
        return t

    def supplier_down(self, supplier: str, t: float) -> bool:
        return bool(
            self._active(self._by_node.get((DisruptionKind.SUPPLIER_OUTAGE, supplier), []), t)
        )

    def capacity_factor(self, plant: str, day: int) -> float:
        """Share of the plant's capacity available on ``day`` (losses of overlapping windows
        multiply)."""
        factor = 1.0
        for w in self._by_node.get((DisruptionKind.PLANT_CAPACITY_LOSS, plant), []):
            if w.start < day + 1 and w.end > day:
                overlap = min(w.end, day + 1) - max(w.start, day)
                factor *= 1.0 - w.spec.capacity_loss * overlap
        return max(0.0, factor)

    def lane_extra_days(self, lane: int, t: float) -> float:
        if not self.windows:
            return 0.0
        return sum(
            w.spec.extra_days
            for w in self._active(self._by_lane.get((DisruptionKind.LANE_DELAY, lane), []), t)
        )

    def lane_windows(self, kind: DisruptionKind, lane: int) -> list[DisruptionWindow]:
        """The ``kind`` windows (closure or delay) of lane ``lane``."""
        return self._by_lane.get((kind, lane), [])

    def lane_closed(self, lane: int, times: np.ndarray) -> np.ndarray:
        """For each time, whether a closure window of the lane is active then (vectorised
        ``blocked_until(LANE_CLOSURE, lane, t) > t``)."""
        closed = np.zeros(len(times), dtype=bool)
        for w in self.lane_windows(DisruptionKind.LANE_CLOSURE, lane):
            closed |= (times >= w.start) & (times < w.end)
        return closed

    def lane_extra_days_at(self, lane: int, times: np.ndarray) -> np.ndarray:
        """:meth:`lane_extra_days` at each of ``times`` (the same sums, window by window)."""
        extra = np.zeros(len(times), dtype=float)
        for w in self.lane_windows(DisruptionKind.LANE_DELAY, lane):
            extra = extra + np.where((times >= w.start) & (times < w.end), w.spec.extra_days, 0.0)
        return extra

    def stock_losses(self) -> list[DisruptionWindow]:
        return [w for w in self.windows if w.spec.kind == DisruptionKind.STOCK_LOSS]

    def demand_shocks(self) -> list[DemandShock]:
        return [
            DemandShock(w.start, w.end, w.spec.demand_multiplier, w.spec.node, w.spec.product)
            for w in self.windows
            if w.spec.kind == DisruptionKind.DEMAND_SHOCK
        ]
