"""Deterministic drivers of a segment's demand per day: seasonality, promotions, and campaign
lifts by reach group (the multipliers whose integral Λ(t) gives the time change).

A customer of segment s in reach group g buys, while alive, at rate λ·m_sg(d) on day d, with

    m_sg(d) = season(d) · promo_s(d) · (1 + Σ_{c ∈ C_s, channel(c) ∈ g} lift_c(d)),
    promo_s(d) = Σ_k w_sk · (1 − δ_sk(d))^(−ε_s),

where w_sk is the product mix, δ_sk(d) the discount of product k offered to s on day d and ε_s
the price elasticity (constant-elasticity response). A *reach group* is the set of channels that
reach a customer; a customer is reached by channel c with probability ``channel_mix[c]``,
independently across channels, so the group probabilities are products of reaches. By the
time-change theorem a Poisson process with rate λ·m(t) has its n-th event where
Λ(t) = Σ_{d < t} m(d) reaches the n-th event of a unit-rate process divided by λ, which is how the
population model samples purchases without a loop over days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios.schema import Campaign, Scenario

__all__ = ["SegmentDrivers", "campaign_lift", "campaign_spend", "segment_drivers"]


def campaign_spend(campaign: Campaign, start_date: dt.date, horizon_days: int) -> np.ndarray:
    """Spend per day of ``campaign`` over the horizon (budget spread evenly over its days)."""
    spend = np.zeros(horizon_days)
    first = (campaign.start - start_date).days
    last = (campaign.end - start_date).days
    days = last - first + 1
    lo, hi = max(first, 0), min(last, horizon_days - 1)
    if days > 0 and lo <= hi:
        spend[lo : hi + 1] = campaign.budget / days
    return spend


def campaign_lift(
    campaign: Campaign, start_date: dt.date, horizon_days: int, max_lift: float | None = None
) -> np.ndarray:
    """Daily relative uplift of one campaign over the horizon.

    Spend is spread evenly from ``start`` to ``end``; adstock A_t = x_t + λ·A_{t−1};
    lift_t = max_lift · A_t^s / (A_t^s + K^s) (Jin et al. 2017, eqs. 1 and 3). ``max_lift``
    overrides the campaign's (used for the lead lift).

    Examples
    --------
    >>> c = Campaign(name="c", channel="email", start="2027-01-01", end="2027-01-01", budget=1000,
    ...              max_lift=0.5, half_saturation_spend_per_day=1000, adstock_decay=0.5)
    >>> [round(float(x), 4) for x in campaign_lift(c, dt.date(2027, 1, 1), 3)]
    [0.25, 0.1667, 0.1]
    """
    spend = campaign_spend(campaign, start_date, horizon_days)
    first = (campaign.start - start_date).days
    last = (campaign.end - start_date).days
    days = last - first + 1
    adstock = np.zeros(horizon_days)
    carry = 0.0
    # carry-over from spend before the horizon start
    if first < 0 and days > 0:
        for _ in range(first, min(0, last + 1)):
            carry = campaign.budget / days + campaign.adstock_decay * carry
        for _ in range(min(0, last + 1), 0):
            carry = campaign.adstock_decay * carry
    for t in range(horizon_days):
        carry = spend[t] + campaign.adstock_decay * carry
        adstock[t] = carry
    shape = campaign.hill_shape
    k = campaign.half_saturation_spend_per_day
    powered = np.power(adstock, shape)
    top = campaign.max_lift if max_lift is None else max_lift
    return top * powered / (powered + k**shape)


def _season(scenario: Scenario) -> np.ndarray:
    days = np.arange(scenario.horizon_days)
    dates = pd.to_datetime(scenario.start_date) + pd.to_timedelta(days, unit="D")
    monthly = np.asarray(scenario.crm.seasonality.monthly, dtype=float)
    return monthly[dates.month.to_numpy() - 1]


@dataclass(frozen=True)
class SegmentDrivers:
    """Everything deterministic about one segment's demand, per day of the horizon.

    Attributes
    ----------
    products, product_weights
        The segment's products and their mix weights (normalised).
    product_probability
        Shape (horizon, products): chance a line of day d is for each product (promotions tilt
        it towards discounted products).
    base
        Shape (horizon,): season(d) · promo(d), the rate multiplier without campaigns.
    campaigns
        Indices (into ``scenario.crm.campaigns``) of the campaigns targeting the segment.
    channels, reach
        The distinct channels of those campaigns and the share of the segment each reaches.
    campaign_reach
        Shape (campaigns,): the reach of each targeting campaign's channel.
    group_probability
        Shape (groups,): share of customers in each reach group.
    group_campaigns
        Shape (groups, campaigns): whether the group is reached by each targeting campaign.
    lifts
        Shape (campaigns, horizon): purchase-rate lift of each targeting campaign.
    lead_lifts
        Shape (campaigns, horizon): lead-rate lift of each targeting campaign.
    multiplier
        Shape (groups, horizon): m_g(d); :class:`crm_model.population.Population` integrates it
        into the cumulative intensity Λ_g.
    """

    name: str
    products: tuple[str, ...]
    product_weights: np.ndarray
    product_probability: np.ndarray
    zones: tuple[str, ...]
    zone_weights: np.ndarray
    base: np.ndarray
    campaigns: tuple[int, ...]
    channels: tuple[str, ...]
    reach: np.ndarray
    campaign_reach: np.ndarray
    group_probability: np.ndarray
    group_campaigns: np.ndarray
    lifts: np.ndarray
    lead_lifts: np.ndarray
    multiplier: np.ndarray

    @property
    def horizon(self) -> int:
        return len(self.base)

    def mean_lift(self) -> np.ndarray:
        """Population-average purchase-rate lift per day: Σ_c reach_c · lift_c(d)."""
        reach = self.campaign_reach
        return (reach[:, None] * self.lifts).sum(axis=0) if len(reach) else np.zeros(self.horizon)

    def mean_lead_lift(self) -> np.ndarray:
        """Average lead-rate lift per day over the segment's prospects."""
        reach = self.campaign_reach
        if not len(reach):
            return np.zeros(self.horizon)
        return (reach[:, None] * self.lead_lifts).sum(axis=0)


def segment_drivers(scenario: Scenario, segment: str) -> SegmentDrivers:
    """The :class:`SegmentDrivers` of ``segment``.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> d = segment_drivers(load_scenario("retailer_holiday"), "loyal")
    >>> d.multiplier.shape, float(d.group_probability.sum())
    ((1, 364), 1.0)
    """
    seg = scenario.crm.segments[segment]
    horizon = scenario.horizon_days
    season = _season(scenario)
    products = tuple(k for k, w in seg.product_mix.items() if w > 0)
    weights = np.array([seg.product_mix[k] for k in products], dtype=float)
    weights = weights / weights.sum() if weights.sum() > 0 else weights
    zones = tuple(k for k, w in seg.zone_mix.items() if w > 0)
    zone_w = np.array([seg.zone_mix[k] for k in zones], dtype=float)
    zone_w = zone_w / zone_w.sum() if zone_w.sum() > 0 else zone_w

    # promotions: per-product rate multipliers (1 − discount)^(−ε)
    product_mult = np.ones((horizon, len(products)))
    for promo in scenario.crm.promotions:
        if promo.target_segments and segment not in promo.target_segments:
            continue
        first = max((promo.start - scenario.start_date).days, 0)
        last = min((promo.end - scenario.start_date).days, horizon - 1)
        if first > last:
            continue
        factor = (1.0 - promo.discount) ** (-seg.price_elasticity)
        for k, product in enumerate(products):
            if not promo.products or product in promo.products:
                product_mult[first : last + 1, k] *= factor
    tilted = product_mult * weights[None, :]
    promo_rate = tilted.sum(axis=1) if len(products) else np.ones(horizon)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(promo_rate[:, None] > 0, tilted / promo_rate[:, None], 0.0)

    targeting = tuple(
        i
        for i, c in enumerate(scenario.crm.campaigns)
        if not c.target_segments or segment in c.target_segments
    )
    campaigns = [scenario.crm.campaigns[i] for i in targeting]
    channels = tuple(dict.fromkeys(str(c.channel) for c in campaigns))
    reach = np.array([seg.reach(c.channel) for c in campaigns], dtype=float)
    channel_reach = np.array(
        [seg.reach(next(c.channel for c in campaigns if str(c.channel) == ch)) for ch in channels],
        dtype=float,
    )
    lifts = np.array([campaign_lift(c, scenario.start_date, horizon) for c in campaigns]).reshape(
        len(campaigns), horizon
    )
    lead_lifts = np.array(
        [
            campaign_lift(
                c, scenario.start_date, horizon, c.max_lift if c.lead_lift is None else c.lead_lift
            )
            for c in campaigns
        ]
    ).reshape(len(campaigns), horizon)

    # reach groups: every subset of channels with positive probability
    n_channels = len(channels)
    groups = []
    probabilities = []
    for bits in range(2**n_channels):
        prob = 1.0
        for j in range(n_channels):
            on = (bits >> j) & 1
            prob *= channel_reach[j] if on else 1.0 - channel_reach[j]
        if prob > 0:
            groups.append(bits)
            probabilities.append(prob)
    channel_bit = {ch: j for j, ch in enumerate(channels)}
    group_campaigns = np.array(
        [[(bits >> channel_bit[str(c.channel)]) & 1 for c in campaigns] for bits in groups],
        dtype=bool,
    ).reshape(len(groups), len(campaigns))
    base = season * promo_rate
    multiplier = base[None, :] * (1.0 + group_campaigns.astype(float) @ lifts)
    drivers = SegmentDrivers(
        name=segment,
        products=products,
        product_weights=weights,
        product_probability=probability,
        zones=zones,
        zone_weights=zone_w,
        base=base,
        campaigns=targeting,
        channels=channels,
        reach=channel_reach,
        campaign_reach=reach,
        group_probability=np.asarray(probabilities, dtype=float),
        group_campaigns=group_campaigns,
        lifts=lifts,
        lead_lifts=lead_lifts,
        multiplier=multiplier,
    )
    return drivers
