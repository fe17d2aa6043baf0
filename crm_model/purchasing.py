"""Repeat purchasing of individual customers: drawing their heterogeneous rates, dropout and spend,
and the exact expected purchases of a population, from one set of formulas.

Customer i, while alive, buys as a Poisson process with rate λ_i·m(t), λ_i ~ Gamma(r, α)
(shape r, rate α); after each repeat purchase they drop out for good with probability
p_i ~ Beta(a, b) (BG/NBD: Fader, Hardie & Lee 2005, Marketing Science 24(2), section 2). On top,
a time-based churn hazard h (``annual_churn_rate``) ends them at any time, and a churned
customer comes back with an order at rate w (``winback_per_year``). The value of a purchase is
z ~ Gamma(p, ν_i) with ν_i ~ Gamma(q, γ) (Gamma-Gamma: Fader & Hardie 2013).

Given (λ, p) a customer is a two-state Markov chain, alive → churned at rate μ(t) = λ·p·m(t) + h
and churned → alive at rate w; purchases come at rate λ·m(t) while alive and win-backs at rate w
while churned. With rates constant within a day the chain has the closed form

    A(t) = A∞ + (A(0) − A∞)·e^{−k t},   k = μ + w,   A∞ = N·w/k,

so :func:`expected_purchases` integrates it day by day and averages over (λ, p) by Gauss
quadrature (generalised Gauss-Laguerre for the gamma, Gauss-Jacobi for the beta): this is the
expectation of exactly the process :mod:`crm_model.population` samples. With w = h = 0 and
m = 1 it reduces to the BG/NBD mean E[X(t)] (Fader, Hardie & Lee 2005, eq. 9).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from scenarios.schema import Purchasing, Segment

__all__ = [
    "CustomerDraws",
    "PurchaseModel",
    "bgnbd_expected_count",
    "expected_purchases",
    "simulate_transactions",
]


@dataclass(frozen=True)
class PurchaseModel:
    """The purchase behaviour of one segment's customers, in days.

    ``rate_shape``/``rate_rate`` give λ ~ Gamma(shape, rate) per day (``rate_shape`` None: every
    customer buys at ``rate_rate``... see :meth:`from_segment`); ``dropout`` (a, b) or None;
    ``churn_hazard`` h and ``winback_rate`` w per day; ``spend`` (p, q, γ) or None.
    """

    mean_rate: float
    rate_shape: float | None
    dropout: tuple[float, float] | None
    churn_hazard: float
    winback_rate: float
    spend: tuple[float, float, float] | None

    @classmethod
    def from_segment(cls, segment: Segment) -> PurchaseModel:
        """The model of ``segment``: BG/NBD when it has ``purchasing``, else every customer at
        ``orders_per_customer_per_year`` with no dropout.

        Examples
        --------
        >>> seg = Segment(customers=10, orders_per_customer_per_year=36.5, product_mix={"a": 1},
        ...               zone_mix={"z": 1}, annual_churn_rate=0.5)
        >>> m = PurchaseModel.from_segment(seg)
        >>> round(m.mean_rate, 3), round(m.churn_hazard * 365, 4)
        (0.1, 0.6931)
        """
        hazard = -math.log1p(-segment.annual_churn_rate) / 365.0
        winback = segment.winback_per_year / 365.0
        buying: Purchasing | None = segment.purchasing
        if buying is None:
            rate = float(segment.orders_per_customer_per_year or 0.0) / 365.0
            return cls(rate, None, None, hazard, winback, None)
        spend = None
        if buying.spend is not None:
            spend = (buying.spend.p, buying.spend.q, buying.spend.gamma)
        return cls(
            mean_rate=buying.mean_rate_per_day(),
            rate_shape=buying.r,
            dropout=(buying.a, buying.b),
            churn_hazard=hazard,
            winback_rate=winback,
            spend=spend,
        )

    def nodes(
        self, n_rate: int = 40, n_dropout: int = 24
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quadrature nodes (λ per day, p) and weights (summing to 1) over the population.

        λ ~ Gamma(r, rate r/mean): generalised Gauss-Laguerre with weight x^{r−1}e^{−x};
        p ~ Beta(a, b): Gauss-Jacobi with p = (1 + x)/2.
        """
        if self.rate_shape is None:
            rates, rate_w = np.array([self.mean_rate]), np.array([1.0])
        else:
            x, w = special.roots_genlaguerre(n_rate, self.rate_shape - 1.0)
            rates = x * self.mean_rate / self.rate_shape
            rate_w = w / w.sum()
        if self.dropout is None:
            drops, drop_w = np.array([0.0]), np.array([1.0])
        else:
            a, b = self.dropout
            x, w = special.roots_jacobi(n_dropout, b - 1.0, a - 1.0)
            drops = (1.0 + x) / 2.0
            drop_w = w / w.sum()
        lam = np.repeat(rates, len(drops))
        p = np.tile(drops, len(rates))
        weight = np.repeat(rate_w, len(drops)) * np.tile(drop_w, len(rates))
        return lam, p, weight

    def draw(self, rng: np.random.Generator, n: int) -> CustomerDraws:
        """Rates, dropout probabilities and spend rates of ``n`` new customers."""
        if self.rate_shape is None:
            lam = np.full(n, self.mean_rate)
        else:
            lam = rng.gamma(self.rate_shape, self.mean_rate / self.rate_shape, n)
        dropout = np.zeros(n) if self.dropout is None else rng.beta(*self.dropout, n)
        if self.spend is None:
            nu = np.zeros(n)
        else:
            _, q, gamma = self.spend
            nu = rng.gamma(q, 1.0 / gamma, n)
        return CustomerDraws(lam, dropout, nu)


@dataclass(frozen=True)
class CustomerDraws:
    """Per-customer parameters: purchase rate λ (per day), dropout p and spend rate ν."""

    rate: np.ndarray
    dropout: np.ndarray
    spend_rate: np.ndarray


def expected_purchases(
    model: PurchaseModel,
    multiplier: np.ndarray,
    group_probability: np.ndarray,
    start_customers: float,
    arrivals: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases per day and expected alive customers at each day's end.

    Parameters
    ----------
    multiplier
        Shape (groups, days): m_g(d), the rate multiplier of each reach group.
    group_probability
        Share of customers in each group.
    start_customers
        Customers alive at the start of day 0.
    arrivals
        New customers per day (shape (days,)), arriving uniformly within the day (counted here
        from mid-day); their first order is counted by the caller.

    Returns
    -------
    purchases, alive
        Shape (days,) each: purchases (repeat purchases and win-back orders) and alive customers.
    """
    lam, p, weight = model.nodes()
    days = multiplier.shape[1]
    shares = group_probability[:, None] * weight[None, :]  # (groups, nodes)
    alive = start_customers * shares
    total = alive.copy()  # customers ever acquired, alive or churned
    h, w = model.churn_hazard, model.winback_rate
    purchases = np.zeros(days)
    alive_end = np.zeros(days)
    for d in range(days):
        m = multiplier[:, d][:, None]
        mu = lam[None, :] * p[None, :] * m + h
        k = mu + w
        new = None if arrivals is None or arrivals[d] <= 0 else arrivals[d] * shares
        # customers of the day before, over the whole day; new ones from mid-day (their arrival
        # times are uniform within the day)
        for length, start, everyone in ((1.0, alive, total), (0.5, new, new)):
            if start is None or everyone is None:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                steady = np.where(k > 0, everyone * w / k, start)
                kt = k * length
                mean_factor = np.where(kt > 1e-12, -np.expm1(-kt) / kt, 1.0 - kt / 2.0)
            alive_time = length * (steady + (start - steady) * mean_factor)
            churned_time = length * everyone - alive_time
            purchases[d] += float((lam[None, :] * m * alive_time).sum() + w * churned_time.sum())
            end_state = steady + (start - steady) * np.exp(-kt)
            if everyone is total:
                alive = end_state
            else:
                alive = alive + end_state
                total = total + everyone
        alive_end[d] = float(alive.sum())
    return purchases, alive_end


def bgnbd_expected_count(
    t: np.ndarray | float, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """E[X(t)], repeat purchases of a new customer in (0, t] (Fader, Hardie & Lee 2005, eq. 9).

    Examples
    --------
    >>> round(float(bgnbd_expected_count(39.0, 0.243, 4.414, 0.793, 2.426)), 4)
    1.1967
    """
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    head = (a + b - 1.0) / (a - 1.0)
    return head * (1.0 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1.0, z))


def simulate_transactions(
    rng: np.random.Generator,
    purchasing: Purchasing,
    customers: int,
    start_date: dt.date,
    days: int,
    acquisition_days: int = 0,
) -> pd.DataFrame:
    """Transactions of ``customers`` new customers of a BG/NBD + Gamma-Gamma ``purchasing`` model:
    ``customer, date, amount`` (amount 1.0 without ``spend``).

    Each customer makes a first purchase on a day drawn uniformly from the first
    ``acquisition_days`` days (day 0 when 0), then repeat purchases as in
    :mod:`crm_model.population` (the same draws and time-change sampler), until day ``days``.
    Purchases on one day count as one transaction in the analytics, so keep λ well below one a
    day for faithful parameter recovery.

    Examples
    --------
    >>> from scenarios.schema import Purchasing
    >>> model = Purchasing(r=0.5, alpha=5.0, a=0.8, b=2.5)
    >>> tx = simulate_transactions(np.random.default_rng(1), model, 100, dt.date(2027, 1, 4), 364)
    >>> list(tx.columns), int(tx["customer"].nunique())
    (['customer', 'date', 'amount'], 100)
    """
    from crm_model.population import sample_repeat_purchases

    model = PurchaseModel(
        mean_rate=purchasing.mean_rate_per_day(),
        rate_shape=purchasing.r,
        dropout=(purchasing.a, purchasing.b),
        churn_hazard=0.0,
        winback_rate=0.0,
        spend=None
        if purchasing.spend is None
        else (purchasing.spend.p, purchasing.spend.q, purchasing.spend.gamma),
    )
    draws = model.draw(rng, customers)
    first = rng.integers(0, max(acquisition_days, 1), customers) + rng.random(customers)
    if acquisition_days == 0:
        first = np.zeros(customers)
    who, when = sample_repeat_purchases(rng, draws.rate, draws.dropout, first, float(days))
    who = np.concatenate([np.arange(customers), who])
    when = np.concatenate([first, when])
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    if purchasing.spend is None:
        amount = np.ones(len(who))
    else:
        amount = rng.gamma(purchasing.spend.p, 1.0 / draws.spend_rate[who])
    dates = pd.Timestamp(start_date) + pd.to_timedelta(np.floor(when).astype(np.int64), unit="D")
    return pd.DataFrame({"customer": who.astype(np.int64), "date": dates, "amount": amount})
