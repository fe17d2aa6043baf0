"""The acquisition funnel: prospects become leads by the generalized Bass model (innovation,
word of mouth, campaign lift) and move lead → qualified → opportunity → customer with stage
conversion probabilities and random dwell times; sampled lead by lead (vectorised per day) and
in expectation by convolving the dwell-time distributions.

Leads on day d (Bass 1969, Management Science 15(5), eq. 1, in its generalized form with
marketing effort, Bass, Krishnan & Jain 1994, Marketing Science 13(3), eq. 4):

    h(d) = (p + q·C(d)/M)·(1 + Σ_c reach_c·leadlift_c(d)) / 365,
    leads(d) ~ Binomial(P(d), 1 − e^{−h(d)}),

with P(d) prospects, C(d) customers at start plus customers won before day d, M the market
(prospects + customers at start), p and q per year. A lead that fails a stage returns to the
prospects when it fails. Lead times are uniform within their day; each stage adds its dwell time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal, stats

from crm_model.drivers import SegmentDrivers
from scenarios.schema import Acquisition, Distribution, DistributionKind

__all__ = ["STAGES", "FunnelSampler", "expected_acquisitions", "stage_kernels"]

STAGES = ("lead", "qualified", "opportunity")
"""Open funnel stages, in order; a lead that passes the last becomes a customer."""

_STEP = 1.0 / 48.0
"""Grid step (days) of the discretised dwell-time distributions."""


def _cdf(dist: Distribution, x: np.ndarray) -> np.ndarray:
    """P(duration ≤ x) of a dwell-time distribution."""
    kind = dist.dist
    if kind is DistributionKind.FIXED:
        return (x >= float(dist.mean or 0.0)).astype(float)
    if kind is DistributionKind.UNIFORM:
        low, high = float(dist.low or 0.0), float(dist.high or 0.0)
        if high <= low:
            return (x >= low).astype(float)
        return np.clip((x - low) / (high - low), 0.0, 1.0)
    if kind is DistributionKind.TRIANGULAR:
        low, mode, high = float(dist.low or 0), float(dist.mode or 0), float(dist.high or 0)
        if high <= low:
            return (x >= low).astype(float)
        return stats.triang.cdf(x, (mode - low) / (high - low), loc=low, scale=high - low)
    if kind is DistributionKind.LOGNORMAL:
        mean, cv = float(dist.mean or 0.0), float(dist.cv or 0.0)
        if cv == 0 or mean == 0:
            return (x >= mean).astype(float)
        sigma2 = math.log1p(cv * cv)
        return stats.lognorm.cdf(x, math.sqrt(sigma2), scale=math.exp(math.log(mean) - sigma2 / 2))
    values = np.asarray(dist.values or (0.0,), dtype=float)
    weights = np.asarray(dist.weights or np.ones(len(values)), dtype=float)
    weights = weights / weights.sum()
    return (x[:, None] >= values[None, :]).astype(float) @ weights


def _pmf(dist: Distribution, bins: int) -> np.ndarray:
    """Mass of the duration in [i·step, (i+1)·step), i < bins (the tail beyond is dropped); a
    point mass on an edge belongs to the bin it starts."""
    edges = np.arange(bins + 1) * _STEP
    return np.clip(np.diff(_cdf(dist, edges - 1e-12)), 0.0, None)


def _convolve(a: np.ndarray, b: np.ndarray, bins: int) -> np.ndarray:
    out = signal.fftconvolve(a, b)[:bins]
    return np.clip(out, 0.0, None)


def _to_days(mass: np.ndarray, days: int) -> np.ndarray:
    """Grid mass → mass per whole-day offset. Arrival bins sit at their midpoints and dwell bins
    at their left edges, so index i of a convolution is at (i + 1/2)·step."""
    position = (np.arange(len(mass)) + 0.5) * _STEP
    day = np.floor(position).astype(np.int64)
    keep = day < days
    return np.bincount(day[keep], weights=mass[keep], minlength=days)[:days]


def stage_kernels(acquisition: Acquisition, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per lead created on day 0 (uniformly within it): expected wins and expected returns to the
    prospects on each day offset 0 … days−1.

    Examples
    --------
    >>> from scenarios.schema import Acquisition, Stage
    >>> acq = Acquisition(prospects=10, innovation_per_year=1,
    ...                   win=Stage(conversion=0.5, dwell={"dist": "fixed", "mean": 2}))
    >>> win, lost = stage_kernels(acq, 5)
    >>> [round(float(x), 3) for x in win], [round(float(x), 3) for x in lost]
    ([0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0])
    """
    bins = math.ceil(days / _STEP) + 1
    arrival = np.zeros(bins)
    arrival[: round(1.0 / _STEP)] = _STEP  # uniform within the day
    stages = [acquisition.qualify, acquisition.propose, acquisition.win]
    reach = arrival
    passed = 1.0
    lost = np.zeros(days)
    win = np.zeros(days)
    for k, stage in enumerate(stages):
        reach = _convolve(reach, _pmf(stage.dwell, bins), bins)
        lost += (1.0 - stage.conversion) * passed * _to_days(reach, days)
        passed *= stage.conversion
        if k == len(stages) - 1:
            win = passed * _to_days(reach, days)
    return win, lost


def _hazard(acq: Acquisition, customers: float, market: float, lead_lift: float) -> float:
    imitation = acq.imitation_per_year * customers / market if market > 0 else 0.0
    return (acq.innovation_per_year + imitation) * (1.0 + lead_lift) / 365.0


def expected_acquisitions(
    acquisition: Acquisition, drivers: SegmentDrivers, customers: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected leads and wins per day (mean-field: the Bass recursion on expected counts).

    Returns
    -------
    leads, wins
        Shape (horizon,) each.
    """
    horizon = drivers.horizon
    win_kernel, lost_kernel = stage_kernels(acquisition, horizon)
    market = float(acquisition.prospects) + customers
    prospects = float(acquisition.prospects)
    lead_lift = drivers.mean_lead_lift()
    wins = np.zeros(2 * horizon)
    returns = np.zeros(2 * horizon)
    leads = np.zeros(horizon)
    won_before = 0.0
    for d in range(horizon):
        prospects += returns[d]
        if d > 0:
            won_before += wins[d - 1]
        h = _hazard(acquisition, customers + won_before, market, float(lead_lift[d]))
        new = prospects * -math.expm1(-h)
        prospects -= new
        leads[d] = new
        wins[d : d + horizon] += new * win_kernel
        returns[d + 1 : d + 1 + horizon] += new * lost_kernel
    return leads, wins[:horizon]


@dataclass
class FunnelSampler:
    """The sampled funnel of one segment, advanced day by day.

    Every lead is kept (arrays): creation time, the time it leaves each stage, how far it got
    (0: lost at qualify, 1: lost at propose, 2: lost at win, 3: won) and the campaign it is
    attributed to (−1: none; index into the segment's targeting campaigns).
    """

    acquisition: Acquisition
    drivers: SegmentDrivers
    customers: int
    rng: np.random.Generator
    prospects: int = 0
    day: int = 0
    _returns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _wins_by_day: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _won_before: int = 0
    _chunks: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    _count: int = 0

    def __post_init__(self) -> None:
        horizon = self.drivers.horizon
        self.prospects = int(self.acquisition.prospects)
        self._returns = np.zeros(horizon + 1, dtype=np.int64)
        self._wins_by_day = np.zeros(horizon + 1, dtype=np.int64)
        self._market = float(self.acquisition.prospects + self.customers)
        self._lead_lift = self.drivers.mean_lead_lift()
        reach = self.drivers.campaign_reach
        self._lead_weights = reach[:, None] * self.drivers.lead_lifts  # (campaigns, horizon)
        self._pending = (np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    # ------------------------------------------------------------------------------ sampling
    def run_until(self, end_day: int) -> None:
        """Create the leads of days ``day`` … ``end_day − 1``."""
        horizon = self.drivers.horizon
        stages = [self.acquisition.qualify, self.acquisition.propose, self.acquisition.win]
        rng = self.rng
        new_times, new_campaigns, new_ids = [], [], []
        while self.day < min(end_day, horizon):
            d = self.day
            self.prospects += int(self._returns[d])
            if d > 0:
                self._won_before += int(self._wins_by_day[d - 1])
            h = _hazard(
                self.acquisition,
                self.customers + self._won_before,
                self._market,
                float(self._lead_lift[d]),
            )
            n = int(rng.binomial(self.prospects, -math.expm1(-h))) if self.prospects > 0 else 0
            self.day += 1
            if n == 0:
                continue
            self.prospects -= n
            t0 = d + rng.random(n)
            exits = np.full((3, n), np.inf)
            reached = np.zeros(n, dtype=np.int8)
            t = t0
            alive = np.ones(n, dtype=bool)
            for k, stage in enumerate(stages):
                dwell = np.asarray(stage.dwell.sample(rng, int(alive.sum())), dtype=float)
                exit_time = t[alive] + np.maximum(dwell, 0.0)
                exits[k, alive] = exit_time
                t = exits[k]
                passes = rng.random(int(alive.sum())) < stage.conversion
                index = np.flatnonzero(alive)
                reached[index[passes]] = k + 1
                alive = np.zeros(n, dtype=bool)
                alive[index[passes]] = True
            weights = self._lead_weights[:, d]
            campaign = np.full(n, -1, dtype=np.int64)
            if len(weights) and weights.sum() > 0:
                cumulative = np.cumsum(weights) / (1.0 + weights.sum())
                pick = (rng.random(n)[:, None] >= cumulative[None, :]).sum(axis=1)
                campaign = np.where(pick < len(weights), pick, -1)
            won = reached == 3
            lost_at = np.where(won, -1, reached)
            lost_time = exits[np.clip(lost_at, 0, 2), np.arange(n)]
            lost_day = np.floor(lost_time[~won]).astype(np.int64) + 1
            np.add.at(self._returns, np.minimum(lost_day, horizon), 1)
            win_time = exits[2, won]
            np.add.at(
                self._wins_by_day, np.minimum(np.floor(win_time).astype(np.int64), horizon), 1
            )
            first_id = self._count
            self._count += n
            self._chunks.append((t0, exits[0], exits[1], exits[2], reached, campaign))
            new_times.append(win_time)
            new_campaigns.append(campaign[won])
            new_ids.append(first_id + np.flatnonzero(won))
        if new_times:
            times, campaigns, ids = self._pending
            self._pending = (
                np.concatenate([times, *new_times]),
                np.concatenate([campaigns, *new_campaigns]),
                np.concatenate([ids, *new_ids]),
            )

    def wins_before(self, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Leads won before ``end`` not handed out yet: (win times, campaign, lead id), sorted."""
        times, campaigns, ids = self._pending
        due = times < end
        keep = ~due
        self._pending = (times[keep], campaigns[keep], ids[keep])
        order = np.argsort(times[due], kind="stable")
        return times[due][order], campaigns[due][order], ids[due][order]

    # ------------------------------------------------------------------------------ reporting
    def leads(self) -> dict[str, np.ndarray]:
        """Every lead so far: ``created, qualify_exit, propose_exit, win_exit, reached,
        campaign``."""
        names = ("created", "qualify_exit", "propose_exit", "win_exit", "reached", "campaign")
        if not self._chunks:
            return {n: np.zeros(0) for n in names}
        if len(self._chunks) > 1:  # merge once; later calls reuse the merged arrays
            self._chunks = [tuple(np.concatenate([c[i] for c in self._chunks]) for i in range(6))]
        return dict(zip(names, self._chunks[0], strict=True))

    def stage_counts(self, t: float) -> dict[str, int]:
        """Leads in each open stage at time ``t``."""
        leads = self.leads()
        if len(leads["created"]) == 0:
            return dict.fromkeys(STAGES, 0)
        enter = [leads["created"], leads["qualify_exit"], leads["propose_exit"]]
        leave = [leads["qualify_exit"], leads["propose_exit"], leads["win_exit"]]
        reached = leads["reached"]
        return {
            name: int(((reached >= k) & (enter[k] <= t) & (t < leave[k])).sum())
            for k, name in enumerate(STAGES)
        }
