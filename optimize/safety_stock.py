"""Safety stock and reorder points per stock point and item, from forecast error and lead-time
variability.

Demand during the replenishment lead time ``L`` (days) of a stock point, with daily demand of
mean ``μ_D`` and standard deviation ``σ_D`` independent across days and a lead time of mean
``μ_L`` and standard deviation ``σ_L``, has mean ``μ_D·μ_L`` and standard deviation

    σ_DL = sqrt(μ_L·σ_D² + μ_D²·σ_L²)

(Silver, Pyke & Thomas, *Inventory and Production Management in Supply Chains*, 4th ed., CRC
2017, §6.10 eq. 6.19 / §7.x; Axsäter, *Inventory Control*, 3rd ed., Springer 2015, §5.3).

- Cycle service level ``P1`` (probability of no stockout per replenishment cycle):
  ``SS = z·σ_DL`` with ``z = Φ⁻¹(P1)`` (Silver et al. 2017, eq. 7.2).
- Fill rate ``P2`` (fraction of demand met from stock) with order quantity ``Q``: choose ``k``
  with ``G(k) = Q·(1 − P2) / σ_DL``, where ``G(k) = φ(k) − k·(1 − Φ(k))`` is the standard normal
  loss function, and ``SS = k·σ_DL`` (Silver et al. 2017, eq. 7.21; Axsäter 2015, eq. 5.11).

Reorder point ``s = μ_D·μ_L + SS``.

Daily demand error from the CRM forecast: customers order as a Poisson process with units per
order ``U`` (segment ``units_per_order`` ``m`` and ``units_per_order_cv`` of the part above 1,
so ``Var U = (cv·(m − 1))²``), so daily demand is compound Poisson with
``σ_D² = μ_D · E[U²] / E[U]`` (Axsäter 2015, §5.2). Products bought by several segments use the
share-weighted mean of ``E[U²]/E[U]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import norm

from scenarios.schema import Distribution, DistributionKind, Plant, Scenario, Supplier

__all__ = [
    "SAFETY_STOCK_COLUMNS",
    "demand_dispersion",
    "lead_time_demand_sd",
    "normal_loss",
    "safety_stock_cycle_service",
    "safety_stock_fill_rate",
    "safety_stock_table",
    "variance",
]

SAFETY_STOCK_COLUMNS = (
    "node",
    "item",
    "mean_daily_demand",
    "sd_daily_demand",
    "lead_time_mean",
    "lead_time_sd",
    "safety_stock",
    "reorder_point",
)
"""Columns of :func:`safety_stock_table` (units, units/day, days)."""


def variance(distribution: Distribution) -> float:
    """Variance in days² of a scenario :class:`~scenarios.schema.Distribution`.

    fixed 0; uniform ``(b − a)²/12``; triangular ``(a² + b² + c² − ab − ac − bc)/18``;
    lognormal ``(cv·mean)²``; empirical the weighted variance of ``values``.

    Examples
    --------
    >>> variance(Distribution(dist="uniform", low=2, high=8))
    3.0
    >>> variance(Distribution(dist="lognormal", mean=10, cv=0.3))
    9.0
    """
    kind = distribution.dist
    if kind is DistributionKind.FIXED:
        return 0.0
    if kind is DistributionKind.UNIFORM:
        low, high = float(distribution.low or 0.0), float(distribution.high or 0.0)
        return (high - low) ** 2 / 12.0
    if kind is DistributionKind.TRIANGULAR:
        a, b = float(distribution.low or 0.0), float(distribution.high or 0.0)
        c = float(distribution.mode or 0.0)
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0
    if kind is DistributionKind.LOGNORMAL:
        return (float(distribution.cv or 0.0) * float(distribution.mean or 0.0)) ** 2
    values = np.asarray(distribution.values or (), dtype=float)
    weights = np.asarray(distribution.weights or np.ones(len(values)), dtype=float)
    weights = weights / weights.sum()
    mean = float(weights @ values)
    return float(weights @ (values - mean) ** 2)


def lead_time_demand_sd(
    mean_daily_demand: float, sd_daily_demand: float, lead_time_mean: float, lead_time_sd: float
) -> float:
    """``σ_DL = sqrt(μ_L·σ_D² + μ_D²·σ_L²)`` (Silver et al. 2017, eq. 6.19).

    Examples
    --------
    >>> lead_time_demand_sd(10, 3, 4, 1)
    11.661903789690601
    """
    return math.sqrt(lead_time_mean * sd_daily_demand**2 + mean_daily_demand**2 * lead_time_sd**2)


def safety_stock_cycle_service(
    mean_daily_demand: float,
    sd_daily_demand: float,
    lead_time_mean: float,
    lead_time_sd: float,
    cycle_service_level: float,
) -> float:
    """``SS = Φ⁻¹(P1)·σ_DL`` for a cycle service level ``P1`` in (0, 1).

    Examples
    --------
    >>> round(safety_stock_cycle_service(10, 3, 4, 0, 0.95), 4)  # 1.6449 · 6
    9.8691
    """
    if not 0.0 < cycle_service_level < 1.0:
        raise ValueError(f"cycle_service_level(={cycle_service_level}) must be in (0, 1).")
    sd = lead_time_demand_sd(mean_daily_demand, sd_daily_demand, lead_time_mean, lead_time_sd)
    return float(norm.ppf(cycle_service_level)) * sd


def normal_loss(k: float) -> float:
    """Standard normal loss ``G(k) = φ(k) − k·(1 − Φ(k))`` = E[(Z − k)⁺].

    Examples
    --------
    >>> round(normal_loss(0.0), 6)  # 1/sqrt(2π)
    0.398942
    """
    return float(norm.pdf(k) - k * norm.sf(k))


def safety_stock_fill_rate(
    mean_daily_demand: float,
    sd_daily_demand: float,
    lead_time_mean: float,
    lead_time_sd: float,
    fill_rate: float,
    order_quantity: float,
) -> float:
    """``SS = k·σ_DL`` with ``G(k) = Q·(1 − P2)/σ_DL`` (Silver et al. 2017, eq. 7.21).

    ``k`` may be negative when ``Q`` alone nearly meets the fill rate; it is kept in
    [−4, 8] (``G(−4) ≈ 4``), and 0 is returned without demand uncertainty.

    Examples
    --------
    >>> ss = safety_stock_fill_rate(10, 3, 4, 0, 0.99, 50)  # σ_DL = 6, G(k) = 50·0.01/6
    >>> round(normal_loss(ss / 6), 6) == round(50 * 0.01 / 6, 6)
    True
    """
    if not 0.0 < fill_rate < 1.0:
        raise ValueError(f"fill_rate(={fill_rate}) must be in (0, 1).")
    if order_quantity <= 0:
        raise ValueError(f"order_quantity(={order_quantity}) must be > 0.")
    sd = lead_time_demand_sd(mean_daily_demand, sd_daily_demand, lead_time_mean, lead_time_sd)
    if sd <= 0:
        return 0.0
    target = order_quantity * (1.0 - fill_rate) / sd
    low, high = -4.0, 8.0
    if target >= normal_loss(low):
        return low * sd
    if target <= normal_loss(high):
        return high * sd
    k = brentq(lambda x: normal_loss(x) - target, low, high, xtol=1e-12)
    return float(k) * sd


def demand_dispersion(scenario: Scenario) -> dict[str, float]:
    """Product → ``E[U²]/E[U]`` of units per order, share-weighted over the segments buying it
    (``σ_D² = μ_D ·`` this for compound Poisson demand); 1 for products no segment names.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> all(v >= 1 for v in demand_dispersion(load_scenario("retailer_holiday")).values())
    True
    """
    totals: dict[str, float] = {}
    weights: dict[str, float] = {}
    for segment in scenario.crm.segments.values():
        mean = float(segment.units_per_order)
        var = (float(segment.units_per_order_cv) * (mean - 1.0)) ** 2
        ratio = (var + mean * mean) / mean
        mix_total = sum(segment.product_mix.values()) or 1.0
        for product, share in segment.product_mix.items():
            weight = segment.customers * share / mix_total * mean
            totals[product] = totals.get(product, 0.0) + weight * ratio
            weights[product] = weights.get(product, 0.0) + weight
    return {
        product: (totals.get(product, 0.0) / weights[product] if weights.get(product) else 1.0)
        for product in scenario.products
    }


def _replenishment_lead_time(scenario: Scenario, node: str, item: str) -> tuple[float, float]:
    """(mean, sd) in days of how ``node`` replenishes ``item``: its plant's production lead
    time when it makes it, else the first supplier lane offering it (supplier lead time +
    transit), else the first transfer lane into it (transit only)."""
    spec = scenario.nodes[node]
    if isinstance(spec, Plant) and item in spec.produces:
        return float(spec.production_lead_time_days), 0.0
    for lane in scenario.lanes:
        if lane.dst != node:
            continue
        src = scenario.nodes[lane.src]
        if isinstance(src, Supplier):
            if item not in src.supplies:
                continue
            mean = src.lead_time.expected() + lane.lead_time.expected()
            return mean, math.sqrt(variance(src.lead_time) + variance(lane.lead_time))
    for lane in scenario.lanes:  # a transfer from another stock point
        if lane.dst == node and not isinstance(scenario.nodes[lane.src], Supplier):
            return lane.lead_time.expected(), math.sqrt(variance(lane.lead_time))
    return 0.0, 0.0


def safety_stock_table(
    scenario: Scenario,
    demand: pd.DataFrame,
    downstream: Mapping[tuple[str, str], tuple[tuple[str, str, float], ...]],
    *,
    cycle_service_level: float | None = 0.95,
    fill_rate: float | None = None,
    order_quantity_days: float | None = None,
) -> pd.DataFrame:
    """Safety stock and reorder point per stock point and item (see the module docstring).

    Parameters
    ----------
    scenario
        A validated scenario (lead-time distributions, units per order).
    demand
        Forecast units per ``bucket, zone, product`` (``DemandModel.expected_by_bucket()``).
    downstream
        (stock point, item) → (zone, product, units of item per unit of product) it serves,
        e.g. :attr:`optimize.data.PlanningData.downstream`.
    cycle_service_level
        Target ``P1``; used when ``fill_rate`` is None.
    fill_rate
        Target ``P2``; the order quantity is ``order_quantity_days`` (default one bucket) of
        mean demand.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SAFETY_STOCK_COLUMNS`, one row per stock point and item.
    """
    days = float(scenario.horizon_days)
    per_pair = demand.groupby(["zone", "product"])["units"].sum().to_dict()
    dispersion = demand_dispersion(scenario)
    cover = float(order_quantity_days or scenario.bucket.days)
    rows = []
    for (node, item), pairs in downstream.items():
        mean = sum(factor * per_pair.get((z, p), 0.0) for z, p, factor in pairs) / days
        variance_d = sum(
            factor * factor * dispersion.get(p, 1.0) * per_pair.get((z, p), 0.0) / days
            for z, p, factor in pairs
        )
        sd = math.sqrt(variance_d)
        lead_mean, lead_sd = _replenishment_lead_time(scenario, node, item)
        if fill_rate is not None and mean > 0:
            ss = safety_stock_fill_rate(mean, sd, lead_mean, lead_sd, fill_rate, mean * cover)
        elif cycle_service_level is not None:
            ss = safety_stock_cycle_service(mean, sd, lead_mean, lead_sd, cycle_service_level)
        else:
            raise ValueError("give cycle_service_level or fill_rate")
        ss = max(ss, 0.0)
        rows.append((node, item, mean, sd, lead_mean, lead_sd, ss, mean * lead_mean + ss))
    table = pd.DataFrame.from_records(rows, columns=list(SAFETY_STOCK_COLUMNS))
    table.attrs["unit"] = {
        "mean_daily_demand": "units/day",
        "sd_daily_demand": "units/day",
        "lead_time_mean": "days",
        "lead_time_sd": "days",
        "safety_stock": "units",
        "reorder_point": "units",
    }
    return table
