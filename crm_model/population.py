"""The customer base as numpy arrays, advanced period by period: purchases, dropout, churn and
win-back of every customer, new customers from the funnel, B2B call-offs, and the order lines
they make. No Python loop per customer and no process per customer.

Sampling is event-driven. Customer i in reach group g keeps a level ℓ_i on the clock
Λ_g(t) = ∫_0^t m_g(s) ds (:mod:`crm_model.drivers`): their next purchase is at Λ_g^{-1}(ℓ_i),
after which ℓ_i += E/λ_i with E ~ Exp(1) — by the time-change theorem these are the events of a
Poisson process with rate λ_i·m_g(t). Each round handles every customer's next event at once
(purchase, time-based churn at an exponential clock, or win-back), so the work is proportional
to the number of events, not to customers × days. The expected counts of exactly this process
are :func:`crm_model.purchasing.expected_purchases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crm_model.drivers import SegmentDrivers
from crm_model.funnel import STAGES, FunnelSampler
from crm_model.purchasing import PurchaseModel
from scenarios.schema import Scenario

__all__ = ["ChurnCause", "CustomerBase", "Population", "empty_lines", "sample_repeat_purchases"]


class ChurnCause:
    """Why a customer churned (codes in :attr:`Population.churn_log`)."""

    DROPOUT = 0
    """BG/NBD dropout after a purchase."""
    TIME = 1
    """Time-based churn (``annual_churn_rate``)."""
    SERVICE = 2
    """After a service ticket (:mod:`crm_model.service`)."""
    NAMES = ("dropout", "time", "service")


_ARRAYS = {
    "segment": np.int32,
    "group": np.int32,
    "zone": np.int32,
    "rate": np.float64,
    "dropout": np.float64,
    "spend_rate": np.float64,
    "hazard": np.float64,
    "winback": np.float64,
    "alive": np.bool_,
    "level": np.float64,
    "death_time": np.float64,
    "winback_time": np.float64,
    "acquired": np.float64,
    "campaign": np.int32,
    "cancelled": np.bool_,
}


class Population:
    """Per-customer state arrays and the event loop over them.

    Parameters
    ----------
    multiplier
        Shape (groups, days): the rate multiplier m_g(d) of each (global) reach group.
    rng
        The demand stream's generator.
    """

    def __init__(self, multiplier: np.ndarray, rng: np.random.Generator) -> None:
        self.multiplier = np.asarray(multiplier, dtype=float)
        self.cumulative = np.concatenate(
            [np.zeros((len(self.multiplier), 1)), np.cumsum(self.multiplier, axis=1)], axis=1
        )
        self.days = self.multiplier.shape[1]
        self.rng = rng
        self.arrays: dict[str, np.ndarray] = {
            name: np.zeros(0, dtype=dtype) for name, dtype in _ARRAYS.items()
        }
        self.churn_log: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        """(customer, time, cause) of every churn, in the order they were processed."""
        self.winback_log: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return len(self.arrays["alive"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    # --------------------------------------------------------------------------- time change
    def level_at(self, group: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Λ_g(t) (t clipped to the horizon)."""
        t = np.clip(t, 0.0, float(self.days))
        day = np.minimum(np.floor(t).astype(np.int64), self.days - 1)
        return self.cumulative[group, day] + (t - day) * self.multiplier[group, day]

    def time_of(self, group: np.ndarray, level: np.ndarray) -> np.ndarray:
        """The t with Λ_g(t) = ``level`` (inf when past the horizon)."""
        out = np.full(len(level), np.inf)
        for g in np.unique(group):
            mask = group == g
            cum = self.cumulative[g]
            lv = level[mask]
            day = np.searchsorted(cum, lv, side="right") - 1
            inside = (day >= 0) & (lv < cum[-1])
            day = np.clip(day, 0, self.days - 1)
            rate = self.multiplier[g, day]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = day + np.where(rate > 0, (lv - cum[day]) / rate, 0.0)
            out[mask] = np.where(inside, np.minimum(t, day + 1.0), np.inf)
        return out

    # ------------------------------------------------------------------------------ customers
    def add(self, time: np.ndarray, **values: Any) -> np.ndarray:
        """Add customers alive at ``time`` (with their first order then); returns their indices.

        ``values`` gives any of the per-customer arrays (rate, dropout, group, …)."""
        n = len(time)
        start = len(self)
        rng = self.rng
        new: dict[str, np.ndarray] = {
            name: np.zeros(n, dtype=dtype) for name, dtype in _ARRAYS.items()
        }
        for name, value in values.items():
            new[name] = np.broadcast_to(np.asarray(value, dtype=_ARRAYS[name]), (n,)).copy()
        new["alive"][:] = True
        new["acquired"] = np.asarray(time, dtype=float)
        new["winback_time"][:] = np.inf
        with np.errstate(divide="ignore"):
            new["level"] = self.level_at(new["group"], time) + rng.exponential(1.0, n) / new["rate"]
            new["death_time"] = time + rng.exponential(1.0, n) / new["hazard"]
        for name in _ARRAYS:
            self.arrays[name] = np.concatenate([self.arrays[name], new[name]])
        return np.arange(start, start + n)

    def kill(self, customers: np.ndarray, times: np.ndarray, cause: int) -> np.ndarray:
        """Churn the alive ones among ``customers`` at ``times``; returns those churned."""
        a = self.arrays
        live = a["alive"][customers]
        customers, times = customers[live], times[live]
        customers, first = np.unique(customers, return_index=True)
        times = times[first]
        self._churn(customers, times, cause)
        return customers

    def _churn(self, customers: np.ndarray, times: np.ndarray, cause: int) -> None:
        if len(customers) == 0:
            return
        a = self.arrays
        a["alive"][customers] = False
        with np.errstate(divide="ignore"):
            a["winback_time"][customers] = (
                times + self.rng.exponential(1.0, len(customers)) / a["winback"][customers]
            )
        self.churn_log.append((customers, times, np.full(len(customers), cause, dtype=np.int8)))

    def run(self, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Process every event before ``end``; returns purchases (customer, time, win-back flag)."""
        a = self.arrays
        rng = self.rng
        if len(self) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros(0), np.zeros(0, dtype=bool)
        level_end = self.level_at(
            np.arange(len(self.multiplier)), np.full(len(self.multiplier), end)
        )
        alive = a["alive"]
        candidate = np.flatnonzero(
            (alive & ((a["level"] < level_end[a["group"]]) | (a["death_time"] < end)))
            | (~alive & (a["winback_time"] < end))
        )
        buyers_all, times_all, winback_all = [], [], []
        while len(candidate):
            live = a["alive"][candidate]
            # alive: next purchase or time-based churn, whichever is first
            idx = candidate[live]
            t_buy = np.full(len(idx), np.inf)
            due = a["level"][idx] < level_end[a["group"][idx]]
            t_buy[due] = self.time_of(a["group"][idx[due]], a["level"][idx[due]])
            t_die = a["death_time"][idx]
            dies = (t_die <= t_buy) & (t_die < end)
            buys = ~dies & (t_buy < end)
            self._churn(idx[dies], t_die[dies], ChurnCause.TIME)
            buyer, t = idx[buys], t_buy[buys]
            buyers_all.append(buyer)
            times_all.append(t)
            winback_all.append(np.zeros(len(buyer), dtype=bool))
            a["level"][buyer] += rng.exponential(1.0, len(buyer)) / a["rate"][buyer]
            drop = rng.random(len(buyer)) < a["dropout"][buyer]
            self._churn(buyer[drop], t[drop], ChurnCause.DROPOUT)
            # churned: win-back with an order
            back = candidate[~live]
            back = back[a["winback_time"][back] < end]
            if len(back):
                t_back = a["winback_time"][back]
                a["alive"][back] = True
                a["winback_time"][back] = np.inf
                with np.errstate(divide="ignore"):
                    a["level"][back] = (
                        self.level_at(a["group"][back], t_back)
                        + rng.exponential(1.0, len(back)) / a["rate"][back]
                    )
                    a["death_time"][back] = (
                        t_back + rng.exponential(1.0, len(back)) / a["hazard"][back]
                    )
                self.winback_log.append((back, t_back))
                buyers_all.append(back)
                times_all.append(t_back)
                winback_all.append(np.ones(len(back), dtype=bool))
            touched = np.concatenate([buyer, back, idx[dies]])
            alive_t = a["alive"][touched]
            still = np.where(
                alive_t,
                (a["level"][touched] < level_end[a["group"][touched]])
                | (a["death_time"][touched] < end),
                a["winback_time"][touched] < end,
            )
            candidate = touched[still]  # buyers, win-backs and deaths are disjoint
        if not buyers_all:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros(0), np.zeros(0, dtype=bool)
        return (
            np.concatenate(buyers_all).astype(np.int64),
            np.concatenate(times_all),
            np.concatenate(winback_all),
        )

    def churn_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every churn so far: customer, time, cause."""
        if not self.churn_log:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int8)
        return tuple(np.concatenate([part[i] for part in self.churn_log]) for i in range(3))  # type: ignore[return-value]


def sample_repeat_purchases(
    rng: np.random.Generator,
    rate: np.ndarray,
    dropout: np.ndarray,
    first: np.ndarray,
    end: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases (customer, time) before ``end`` of customers who bought first at
    ``first``, buy at ``rate`` per day and drop out after a repeat purchase with ``dropout``
    (BG/NBD), with the population's event loop and no seasonality.

    Examples
    --------
    >>> who, when = sample_repeat_purchases(np.random.default_rng(0), np.array([0.5, 0.0]),
    ...                                     np.zeros(2), np.zeros(2), 10.0)
    >>> set(who.tolist()) <= {0}, bool((when < 10).all())
    (True, True)
    """
    days = max(int(np.ceil(end)), 1)
    population = Population(np.ones((1, days)), rng)
    population.add(np.asarray(first, dtype=float), rate=rate, dropout=dropout)
    who, when, _ = population.run(end)
    return who, when


@dataclass(frozen=True)
class _Segment:
    index: int
    name: str
    drivers: SegmentDrivers
    model: PurchaseModel
    group_offset: int
    promise: np.ndarray
    prices: np.ndarray
    cumulative_products: np.ndarray
    zone_codes: np.ndarray
    product_codes: np.ndarray
    attribution: np.ndarray | None
    """Shape (groups, days, campaigns): cumulative attribution probabilities, or None."""


_LINE_KINDS = ("purchase", "winback", "first", "calloff")


class CustomerBase:
    """Every customer and prospect of a scenario, advanced period by period.

    Parameters
    ----------
    scenario
        The scenario (its CRM block).
    drivers
        :class:`~crm_model.drivers.SegmentDrivers` per segment.
    rng
        The demand stream's generator.
    promise
        Service promise (days) per customer zone id.
    id_offset
        Added to customer indices to make the ``customer`` column.
    """

    def __init__(
        self,
        scenario: Scenario,
        drivers: dict[str, SegmentDrivers],
        rng: np.random.Generator,
        promise: dict[str, float],
        id_offset: int = 0,
    ) -> None:
        self.scenario = scenario
        self.rng = rng
        self.id_offset = id_offset
        self.now = 0.0
        self.segments: list[_Segment] = []
        zones = list(dict.fromkeys(z for d in drivers.values() for z in d.zones))
        products = list(scenario.products)
        self._segment_names = np.asarray(list(scenario.crm.segments), dtype=object)
        self._zone_names = np.asarray(zones, dtype=object)
        self._product_names = np.asarray(products, dtype=object)
        self._prices = np.array([scenario.products[p].price for p in products], dtype=float)
        multipliers = []
        offset = 0
        for index, (name, seg) in enumerate(scenario.crm.segments.items()):
            drv = drivers[name]
            prices = np.array([scenario.products[p].price for p in drv.products], dtype=float)
            self.segments.append(
                _Segment(
                    index=index,
                    name=name,
                    drivers=drv,
                    model=PurchaseModel.from_segment(seg),
                    group_offset=offset,
                    promise=np.array([promise.get(z, 0.0) for z in drv.zones], dtype=float),
                    prices=prices,
                    cumulative_products=np.cumsum(drv.product_probability, axis=1),
                    zone_codes=np.array([zones.index(z) for z in drv.zones], dtype=np.int16),
                    product_codes=np.array(
                        [products.index(p) for p in drv.products], dtype=np.int16
                    ),
                    attribution=_attribution_table(drv),
                )
            )
            multipliers.append(drv.multiplier)
            offset += len(drv.group_probability)
        horizon = scenario.horizon_days
        stacked = np.concatenate(multipliers) if multipliers else np.ones((1, horizon))
        self.population = Population(stacked, rng)
        self.funnels: dict[int, FunnelSampler] = {}
        for s in self.segments:
            seg = scenario.crm.segments[s.name]
            self._add_customers(s, np.zeros(seg.customers))
            if seg.acquisition is not None:
                self.funnels[s.index] = FunnelSampler(
                    seg.acquisition, s.drivers, seg.customers, rng
                )
        # scheduled B2B call-offs: customer, time, product, qty, campaign
        self._calloffs: list[dict[str, np.ndarray]] = []
        self._acquisitions: list[tuple[np.ndarray, ...]] = []
        self._snapshots: list[tuple[float, str, str, int]] = []
        self._pipeline: list[tuple[float, str, str, int, float, float]] = []
        self._snapshot(0.0)

    # ------------------------------------------------------------------------------ helpers
    def _add_customers(
        self, s: _Segment, times: np.ndarray, campaign: np.ndarray | None = None
    ) -> np.ndarray:
        n = len(times)
        rng = self.rng
        drv = s.drivers
        draws = s.model.draw(rng, n)
        group = rng.choice(len(drv.group_probability), size=n, p=drv.group_probability)
        zone = (
            rng.choice(len(drv.zones), size=n, p=drv.zone_weights)
            if len(drv.zones)
            else np.zeros(n)
        )
        return self.population.add(
            np.asarray(times, dtype=float),
            segment=s.index,
            group=s.group_offset + group,
            zone=zone,
            rate=draws.rate,
            dropout=draws.dropout,
            spend_rate=draws.spend_rate,
            hazard=s.model.churn_hazard,
            winback=s.model.winback_rate,
            campaign=-1 if campaign is None else campaign,
        )

    def _extra_units(self, mean: float, cv: float, n: int) -> np.ndarray:
        if mean <= 0:
            return np.zeros(n)
        variance = (cv * mean) ** 2
        if variance <= mean:
            return self.rng.poisson(mean, n).astype(float)
        shape = mean * mean / (variance - mean)
        return self.rng.poisson(self.rng.gamma(shape, mean / shape, n)).astype(float)

    # ------------------------------------------------------------------------------ advance
    def advance(self, end: float) -> pd.DataFrame:
        """Order lines of every customer event in [now, end) (columns time, customer, segment,
        zone, product, qty, campaign, requested_time, kind), sorted by time."""
        end = float(min(end, self.scenario.horizon_days))
        parts: list[dict[str, np.ndarray]] = []
        for s in self.segments:
            funnel = self.funnels.get(s.index)
            if funnel is None:
                continue
            funnel.run_until(int(np.ceil(end)))
            times, campaigns, lead_ids = funnel.wins_before(end)
            if len(times):
                parts += self._win(s, times, campaigns, lead_ids)
        who, when, winback = self.population.run(end)
        parts += self._lines(who, when, np.where(winback, 1, 0))
        parts += self._due_calloffs(end)
        self._snapshot(end)
        self.now = end
        return self._frame(parts)

    def _frame(self, parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
        """One frame, sorted by time, from line arrays. Names are categorical columns (cheap to
        build at a million lines; compare and convert like strings)."""
        parts = [p for p in parts if len(p["time"])]
        if not parts:
            return empty_lines()
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.argsort(merged["time"], kind="stable")
        merged = {k: v[order] for k, v in merged.items()}
        names = (list(self._segment_names), list(self._zone_names), list(self._product_names))
        campaigns = [c.name for c in self.scenario.crm.campaigns] + [""]
        unique = list(dict.fromkeys(campaigns))  # names need not be unique
        code_of = np.array([unique.index(c) for c in campaigns])
        campaign = code_of[
            np.where(merged["campaign"] >= 0, merged["campaign"], len(campaigns) - 1)
        ]
        return pd.DataFrame(
            {
                "time": merged["time"],
                "customer": merged["customer"].astype(np.int64) + self.id_offset,
                "segment": pd.Categorical.from_codes(merged["segment"], pd.Index(names[0])),
                "zone": pd.Categorical.from_codes(merged["zone"], pd.Index(names[1])),
                "product": pd.Categorical.from_codes(merged["product"], pd.Index(names[2])),
                "qty": merged["qty"],
                "campaign": pd.Categorical.from_codes(campaign, pd.Index(unique)),
                "requested_time": merged["requested_time"],
                "kind": pd.Categorical.from_codes(merged["kind"], pd.Index(_LINE_KINDS)),
            }
        )

    def _win(
        self, s: _Segment, times: np.ndarray, campaigns: np.ndarray, lead_ids: np.ndarray
    ) -> list[dict[str, np.ndarray]]:
        """New customers from leads won at ``times``: their first order (or B2B deal call-offs,
        scheduled ahead) and a row each in the acquisitions table."""
        drv = s.drivers
        campaign_ids = np.where(campaigns >= 0, np.asarray((*drv.campaigns, -1))[campaigns], -1)
        customers = self._add_customers(s, times, campaign_ids)
        deal = self.scenario.crm.segments[s.name].acquisition.deal  # type: ignore[union-attr]
        parts: list[dict[str, np.ndarray]] = []
        if deal is None:
            parts = self._lines(customers, times, np.full(len(times), 2), campaign_ids)
            first = parts[0]
            value = first["qty"] * self._prices[first["product"]]
        else:
            rng = self.rng
            n = len(times)
            product = rng.choice(len(drv.products), size=n, p=drv.product_weights)
            k = np.arange(deal.orders)
            when = (times[:, None] + k[None, :] * deal.interval_days).ravel()
            who = np.repeat(customers, deal.orders)
            zone = self.population["zone"][who]
            self._calloffs.append(
                {
                    "time": when,
                    "customer": who,
                    "segment": np.full(len(who), s.index, dtype=np.int16),
                    "zone": s.zone_codes[zone],
                    "product": s.product_codes[np.repeat(product, deal.orders)],
                    "qty": _lognormal(rng, deal.units_mean, deal.units_cv, len(when)),
                    "campaign": np.repeat(campaign_ids, deal.orders).astype(np.int16),
                    "requested_time": when + np.maximum(s.promise[zone], deal.start_after_days),
                    "kind": np.full(len(who), 3, dtype=np.int8),
                }
            )
            value = deal.units_mean * deal.orders * s.prices[product]
        self._acquisitions.append(
            (
                np.full(len(times), s.index),
                customers,
                lead_ids,
                times,
                campaign_ids,
                np.asarray(value, dtype=float),
            )
        )
        return parts

    def _due_calloffs(self, end: float) -> list[dict[str, np.ndarray]]:
        """Scheduled call-offs before ``end`` of customers whose contracts stand."""
        due, keep = [], []
        for part in self._calloffs:
            mask = part["time"] < end
            if mask.any():
                live = mask & ~self.population["cancelled"][part["customer"]]
                due.append({k: v[live] for k, v in part.items()})
            if not mask.all():
                keep.append({k: v[~mask] for k, v in part.items()})
        self._calloffs = keep
        return due

    def _lines(
        self,
        who: np.ndarray,
        when: np.ndarray,
        kind: np.ndarray,
        campaign: np.ndarray | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Order lines of purchases by customers ``who`` at ``when``, one part per segment:
        product by the day's mix, quantity (units per order, or value ÷ price with a spend
        model), the customer's zone and the campaign the line is attributed to."""
        if len(who) == 0:
            return []
        rng = self.rng
        pop = self.population
        segment = pop["segment"][who]
        parts = []
        horizon = self.scenario.horizon_days
        single = len(self.segments) == 1
        for s in self.segments:
            mask = None if single else segment == s.index
            if mask is not None and not mask.any():
                continue
            w, t, k = (who, when, kind) if mask is None else (who[mask], when[mask], kind[mask])
            n = len(w)
            day = np.minimum(t.astype(np.int64), horizon - 1)
            product = np.minimum(_choose(rng, s.cumulative_products[day]), len(s.prices) - 1)
            seg = self.scenario.crm.segments[s.name]
            if s.model.spend is not None:
                qty = rng.gamma(s.model.spend[0], 1.0 / pop["spend_rate"][w]) / s.prices[product]
            else:
                qty = 1.0 + self._extra_units(seg.units_per_order - 1.0, seg.units_per_order_cv, n)
            if campaign is None:
                chosen = self._attribute(s, pop["group"][w] - s.group_offset, day)
            else:
                chosen = campaign if mask is None else campaign[mask]
            zone = pop["zone"][w]
            parts.append(
                {
                    "time": t,
                    "customer": w,
                    "segment": np.full(n, s.index, dtype=np.int16),
                    "zone": s.zone_codes[zone],
                    "product": s.product_codes[product],
                    "qty": qty,
                    "campaign": np.asarray(chosen, dtype=np.int16),
                    "requested_time": t + s.promise[zone],
                    "kind": np.asarray(k, dtype=np.int8),
                }
            )
        return parts

    def _attribute(self, s: _Segment, group: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Campaign (scenario index, −1 none) each line is attributed to: campaign c with
        probability lift_c / (1 + Σ lift) over the campaigns reaching the line's customer."""
        n = len(group)
        if s.attribution is None or n == 0:
            return np.full(n, -1)
        pick = _choose(self.rng, s.attribution[group, day])
        return np.asarray((*s.drivers.campaigns, -1))[pick]

    # ---------------------------------------------------------------------------- reporting
    def _snapshot(self, t: float) -> None:
        pop = self.population
        alive = pop["alive"]
        seg = pop["segment"]
        n_seg = len(self.segments)
        active = np.bincount(seg[alive], minlength=n_seg)
        churned = np.bincount(seg[~alive], minlength=n_seg)
        for s in self.segments:
            funnel = self.funnels.get(s.index)
            prospects = funnel.prospects if funnel is not None else 0
            stages = funnel.stage_counts(t) if funnel is not None else dict.fromkeys(STAGES, 0)
            rows = [
                ("prospect", prospects),
                *stages.items(),
                ("customer", int(active[s.index])),
                ("churned", int(churned[s.index])),
            ]
            for state, count in rows:
                self._snapshots.append((t, s.name, state, int(count)))
            if funnel is not None:
                self._pipeline += self._weighted_pipeline(s, funnel, t, stages)

    def _weighted_pipeline(
        self, s: _Segment, funnel: FunnelSampler, t: float, stages: dict[str, int]
    ) -> list[tuple[float, str, str, int, float, float]]:
        acq = funnel.acquisition
        conversions = [acq.qualify.conversion, acq.propose.conversion, acq.win.conversion]
        value = self.deal_value(s.name)
        rows = []
        for k, name in enumerate(STAGES):
            win = float(np.prod(conversions[k:]))
            count = stages[name]
            rows.append((t, s.name, name, count, count * value, count * value * win))
        return rows

    def deal_value(self, segment: str) -> float:
        """Expected value of a won customer's first order or deal (currency)."""
        s = next(x for x in self.segments if x.name == segment)
        seg = self.scenario.crm.segments[segment]
        price = float(np.dot(s.drivers.product_weights, s.prices)) if len(s.prices) else 0.0
        acq = seg.acquisition
        if acq is not None and acq.deal is not None:
            return acq.deal.units_mean * acq.deal.orders * price
        if s.model.spend is not None:
            p, q, gamma = s.model.spend
            return p * gamma / (q - 1.0)
        return seg.units_per_order * price

    def tables(self) -> dict[str, pd.DataFrame]:
        """``lifecycle`` (customers per state at each period end), ``pipeline`` (open leads and
        weighted pipeline value per stage), ``acquisitions`` (every won customer) and
        ``churn`` (customers churned per period and cause)."""
        lifecycle = pd.DataFrame(self._snapshots, columns=["time", "segment", "state", "customers"])
        lifecycle.attrs["unit"] = {"time": "day", "customers": "customers"}
        pipeline = pd.DataFrame(
            self._pipeline, columns=["time", "segment", "stage", "open", "value", "weighted_value"]
        )
        pipeline.attrs["unit"] = {
            "time": "day",
            "open": "leads",
            "value": self.scenario.currency,
            "weighted_value": self.scenario.currency,
        }
        return {
            "lifecycle": lifecycle,
            "pipeline": pipeline,
            "acquisitions": self._acquisition_table(),
            "churn": self._churn_table(),
            "leads": self._lead_table(),
        }

    def _acquisition_table(self) -> pd.DataFrame:
        columns = [
            "segment",
            "customer",
            "lead",
            "won_time",
            "campaign",
            "deal_value",
            "lead_time",
            "cycle_days",
        ]
        if not self._acquisitions:
            return pd.DataFrame({c: [] for c in columns})
        parts = [np.concatenate([a[i] for a in self._acquisitions]) for i in range(6)]
        seg_index, customer, lead, won, campaign, value = parts
        created = np.zeros(len(lead))
        for s in self.segments:
            funnel = self.funnels.get(s.index)
            mask = seg_index == s.index
            if funnel is not None and mask.any():
                created[mask] = funnel.leads()["created"][lead[mask].astype(np.int64)]
        names = np.asarray([s.name for s in self.segments], dtype=object)
        table = pd.DataFrame(
            {
                "segment": names[seg_index.astype(np.int64)],
                "customer": customer.astype(np.int64) + self.id_offset,
                "lead": lead.astype(np.int64),
                "won_time": won,
                "campaign": _campaign_names(self.scenario, campaign.astype(np.int64)),
                "deal_value": value,
                "lead_time": created,
                "cycle_days": won - created,
            }
        )
        table.attrs["unit"] = {
            "won_time": "day",
            "lead_time": "day",
            "cycle_days": "days",
            "deal_value": self.scenario.currency,
        }
        return table

    def _lead_table(self) -> pd.DataFrame:
        frames = []
        for s in self.segments:
            funnel = self.funnels.get(s.index)
            if funnel is None:
                continue
            leads = funnel.leads()
            campaign = np.asarray(leads["campaign"], dtype=np.int64)
            ids = np.where(campaign >= 0, np.asarray((*s.drivers.campaigns, -1))[campaign], -1)
            frames.append(
                pd.DataFrame(
                    {
                        "segment": s.name,
                        "created": leads["created"],
                        "qualify_exit": leads["qualify_exit"],
                        "propose_exit": leads["propose_exit"],
                        "win_exit": leads["win_exit"],
                        "reached": np.asarray(leads["reached"], dtype=np.int64),
                        "campaign": _campaign_names(self.scenario, ids),
                    }
                )
            )
        columns = [
            "segment",
            "created",
            "qualify_exit",
            "propose_exit",
            "win_exit",
            "reached",
            "campaign",
        ]
        table = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame({c: [] for c in columns})
        )
        table.attrs["unit"] = {
            "created": "day",
            "qualify_exit": "day",
            "propose_exit": "day",
            "win_exit": "day",
        }
        return table

    def _churn_table(self) -> pd.DataFrame:
        customer, time, cause = self.population.churn_table()
        seg = self.population["segment"][customer]
        names = np.asarray([s.name for s in self.segments], dtype=object)
        table = pd.DataFrame(
            {
                "customer": customer.astype(np.int64) + self.id_offset,
                "segment": names[seg],
                "time": time,
                "cause": np.asarray(ChurnCause.NAMES, dtype=object)[cause],
            }
        )
        table.attrs["unit"] = {"time": "day"}
        return table


def _choose(rng: np.random.Generator, table: np.ndarray) -> np.ndarray:
    """Index drawn per row of ``table`` (cumulative probabilities, one row per item; the last
    column may be < 1: then len(columns) means "none")."""
    u = rng.random(len(table))
    if table.shape[1] == 1:
        return (u >= table[:, 0]).astype(np.int64)
    return (u[:, None] >= table).sum(axis=1)


def _attribution_table(drivers: SegmentDrivers) -> np.ndarray | None:
    """Cumulative P(campaign c | group, day) = lift_c / (1 + Σ lift) over reaching campaigns."""
    if not len(drivers.campaigns):
        return None
    lifts = drivers.group_campaigns[:, None, :] * drivers.lifts.T[None, :, :]
    return np.cumsum(lifts, axis=2) / (1.0 + lifts.sum(axis=2))[:, :, None]


def _lognormal(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
    if cv <= 0:
        return np.full(n, mean)
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), n)


def _campaign_names(scenario: Scenario, index: np.ndarray) -> np.ndarray:
    names = np.asarray([c.name for c in scenario.crm.campaigns] + [""], dtype=object)
    return names[np.where(np.asarray(index) >= 0, index, len(names) - 1)]


def empty_lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.Series(dtype=float),
            "customer": pd.Series(dtype=np.int64),
            "segment": pd.Series(dtype=object),
            "zone": pd.Series(dtype=object),
            "product": pd.Series(dtype=object),
            "qty": pd.Series(dtype=float),
            "campaign": pd.Series(dtype=object),
            "requested_time": pd.Series(dtype=float),
            "kind": pd.Series(dtype=object),
        }
    )
