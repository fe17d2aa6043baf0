"""Demand from customers and campaigns: the expected forecast for the optimizer and sampled orders
for the simulation, both from one model so the plan and its stress test see the same demand.

Expected order lines of segment s on day d (d = 0 … horizon−1):

    E[orders_sd] = N_s · (1 − c_s)^(d/365) · (f_s / 365) · season(month(d)) · (1 + lift_sd)

with N_s customers, annual churn c_s, f_s orders per customer per year, the monthly seasonality
multiplier, and lift_sd the summed uplift of the campaigns targeting s (geometric adstock and Hill
saturation, see :class:`scenarios.schema.Campaign`). Lines split over zones and products by the
segment's mixes. Sampled counts are Poisson with these means; units per line are
1 + NegBin with mean (u_s − 1) and coefficient of variation ``units_per_order_cv`` (Poisson where
that CV is below the Poisson floor), so E[units] = u_s exactly.

That aggregate model is used as long as the scenario needs nothing more. A scenario with
customer-level features — a ``purchasing`` model (BG/NBD), an ``acquisition`` funnel, win-back,
promotions or a ``service`` block — is simulated customer by customer instead
(:mod:`crm_model.population`), and its forecast is the exact expectation of that process
(:func:`crm_model.purchasing.expected_purchases`, :func:`crm_model.funnel.expected_acquisitions`),
which for a plain segment is N_s·e^{−h d}·(f_s/365)·m(d) integrated over each day, with
h = −ln(1 − c_s)/365. ``stream`` then returns a :class:`crm_model.service.CustomerStream` that
generates orders period by period, with churn feedback from service when there is a ``service``
block. The forecast assumes perfect service: ticket-driven churn is what the stress test adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_model.drivers import SegmentDrivers, campaign_lift, segment_drivers
from crm_model.funnel import expected_acquisitions
from crm_model.population import CustomerBase, empty_lines
from crm_model.purchasing import PurchaseModel, expected_purchases
from crm_model.service import CustomerStream, ServiceDesk
from crm_model.stream import OrderStream
from scenarios.schema import DemandDistribution, NodeKind, Scenario, ZoneDemand

__all__ = [
    "ORDER_COLUMNS",
    "DemandModel",
    "DemandShock",
    "campaign_lift",
    "needs_customer_model",
]

ORDER_COLUMNS = (
    "order_id",
    "time",
    "customer",
    "segment",
    "zone",
    "product",
    "qty",
    "campaign",
    "requested_time",
)
"""Columns of :meth:`DemandModel.sample` (time and requested_time in days, qty in units)."""


@dataclass(frozen=True)
class DemandShock:
    """Demand multiplied by ``multiplier`` on days [start, end), optionally only in one zone and
    for one product."""

    start: float
    end: float
    multiplier: float
    zone: str | None = None
    product: str | None = None

    def matches(self, zone: str, product: str) -> bool:
        return (self.zone is None or self.zone == zone) and (
            self.product is None or self.product == product
        )

    def day_mask(self, horizon: int) -> np.ndarray:
        """Days whose start lies in the window."""
        days = np.arange(horizon)
        return (days >= np.floor(self.start)) & (days < self.end)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Lines of ``frame`` (with time, zone, product) hit by the shock."""
        hit = (frame["time"].to_numpy() >= self.start) & (frame["time"].to_numpy() < self.end)
        if self.zone is not None:
            hit &= frame["zone"].to_numpy() == self.zone
        if self.product is not None:
            hit &= frame["product"].to_numpy() == self.product
        return hit


class DemandModel:
    """The demand side of a scenario, from its CRM block.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> model = DemandModel(load_scenario("retailer_holiday"))
    >>> table = model.expected()
    >>> list(table.columns)
    ['day', 'segment', 'zone', 'product', 'orders', 'units']
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.segments = list(scenario.crm.segments)
        self.horizon = scenario.horizon_days
        days = np.arange(self.horizon)
        dates = pd.to_datetime(scenario.start_date) + pd.to_timedelta(days, unit="D")
        monthly = np.asarray(scenario.crm.seasonality.monthly, dtype=float)
        self._season = monthly[dates.month.to_numpy() - 1]
        self._campaign_lifts = np.array(
            [campaign_lift(c, scenario.start_date, self.horizon) for c in scenario.crm.campaigns]
        ).reshape(len(scenario.crm.campaigns), self.horizon)
        self.drivers: dict[str, SegmentDrivers] = {
            name: segment_drivers(scenario, name) for name in self.segments
        }
        self.customer_level = needs_customer_model(scenario)
        """Whether demand is simulated customer by customer (see the module docstring)."""

    # ----------------------------------------------------------------------------- rates
    def campaign_lifts(self) -> np.ndarray:
        """Uplift per campaign and day, shape (campaigns, horizon)."""
        return self._campaign_lifts.copy()

    def _targets(self, segment: str) -> np.ndarray:
        return np.array(
            [
                not c.target_segments or segment in c.target_segments
                for c in self.scenario.crm.campaigns
            ],
            dtype=bool,
        )

    def segment_lift(self, segment: str) -> np.ndarray:
        """Average uplift on ``segment`` per day: Σ over campaigns targeting it of
        reach × lift (reach 1 without a ``channel_mix``)."""
        drivers = self.drivers[segment]
        if not len(drivers.campaigns):
            return np.zeros(self.horizon)
        return (drivers.campaign_reach[:, None] * drivers.lifts).sum(axis=0)

    def expected_orders(self) -> np.ndarray:
        """Expected order lines per segment and day, shape (segments, horizon)."""
        if self.customer_level:
            return np.array(
                [self._customer_expectation(name)[0].sum(axis=1) for name in self.segments]
            ).reshape(len(self.segments), self.horizon)
        days = np.arange(self.horizon)
        rows = []
        for name in self.segments:
            seg = self.scenario.crm.segments[name]
            active = seg.customers * np.power(1.0 - seg.annual_churn_rate, days / 365.0)
            rate = float(seg.orders_per_customer_per_year or 0.0) / 365.0
            rows.append(active * rate * self._season * (1.0 + self.segment_lift(name)))
        return np.array(rows).reshape(len(self.segments), self.horizon)

    def _mix(self, weights: dict[str, float]) -> tuple[list[str], np.ndarray]:
        keys = [k for k, w in weights.items() if w > 0]
        values = np.array([weights[k] for k in keys], dtype=float)
        return keys, values / values.sum()

    # ------------------------------------------------------------------------- forecast
    def expected(self) -> pd.DataFrame:
        """Expected demand per day, segment, zone and product.

        Columns ``day`` (int), ``segment``, ``zone``, ``product``, ``orders`` (expected order
        lines) and ``units`` (expected units). Rows with zero expectation are left out.
        """
        frames = []
        days = np.arange(self.horizon)
        if self.customer_level:
            frames += [self._expected_customer_segment(name) for name in self.segments]
        orders = np.zeros((0, self.horizon)) if self.customer_level else self.expected_orders()
        for s, name in enumerate(self.segments if not self.customer_level else []):
            seg = self.scenario.crm.segments[name]
            zones, zone_p = self._mix(seg.zone_mix)
            products, product_p = self._mix(seg.product_mix)
            share = np.outer(zone_p, product_p).ravel()
            n_pairs = len(share)
            lines = (orders[s][:, None] * share[None, :]).ravel()
            frames.append(
                pd.DataFrame(
                    {
                        "day": np.repeat(days, n_pairs),
                        "segment": name,
                        "zone": np.tile(np.repeat(zones, len(products)), self.horizon),
                        "product": np.tile(np.tile(products, len(zones)), self.horizon),
                        "orders": lines,
                        "units": lines * seg.units_per_order,
                    }
                )
            )
        days_index = np.arange(self.horizon)
        for entry in self.scenario.demand:
            mean = self._plain_mean(entry)
            orders_per_day = mean if entry.dist == DemandDistribution.POISSON else float(mean > 0)
            frames.append(
                pd.DataFrame(
                    {
                        "day": days_index,
                        "segment": "",
                        "zone": entry.zone,
                        "product": entry.product,
                        "orders": np.full(self.horizon, orders_per_day),
                        "units": np.full(self.horizon, mean),
                    }
                )
            )
        columns = ["day", "segment", "zone", "product", "orders", "units"]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        table = pd.concat(frames, ignore_index=True)
        table = table[table["orders"] > 0].reset_index(drop=True)
        table.attrs["unit"] = {"orders": "order lines", "units": "units", "day": "day"}
        return table

    # ------------------------------------------------------------ customer-level forecast
    def _customer_expectation(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Expected order lines and units per day and product of a customer-level segment,
        shape (horizon, products) each: repeat purchases and win-backs, first orders of new
        customers, and B2B call-offs."""
        seg = self.scenario.crm.segments[name]
        drivers = self.drivers[name]
        model = PurchaseModel.from_segment(seg)
        acquisition = seg.acquisition
        wins = np.zeros(self.horizon)
        if acquisition is not None:
            _, wins = expected_acquisitions(acquisition, drivers, float(seg.customers))
        purchases, _ = expected_purchases(
            model, drivers.multiplier, drivers.group_probability, float(seg.customers), wins
        )
        prices = np.array([self.scenario.products[p].price for p in drivers.products], dtype=float)
        if model.spend is not None:
            p, q, gamma = model.spend
            with np.errstate(divide="ignore"):
                per_line = np.where(prices > 0, p * gamma / (q - 1.0) / prices, 0.0)
        else:
            per_line = np.full(len(drivers.products), seg.units_per_order)
        deal = None if acquisition is None else acquisition.deal
        first = wins if deal is None else np.zeros(self.horizon)
        lines = (purchases + first)[:, None] * drivers.product_probability
        units = lines * per_line[None, :]
        if deal is not None:
            calloffs = np.zeros(self.horizon)
            for k in range(deal.orders):
                calloffs += _shift(wins, k * deal.interval_days)
            deal_lines = calloffs[:, None] * drivers.product_weights[None, :]
            lines = lines + deal_lines
            units = units + deal_lines * deal.units_mean
        return lines, units

    def _expected_customer_segment(self, name: str) -> pd.DataFrame:
        drivers = self.drivers[name]
        lines, units = self._customer_expectation(name)
        zones, zone_p = list(drivers.zones), drivers.zone_weights
        products = list(drivers.products)
        n_zones, n_products = len(zones), len(products)
        return pd.DataFrame(
            {
                "day": np.repeat(np.arange(self.horizon), n_zones * n_products),
                "segment": name,
                "zone": np.tile(np.repeat(zones, n_products), self.horizon),
                "product": np.tile(np.tile(products, n_zones), self.horizon),
                "orders": (lines[:, None, :] * zone_p[None, :, None]).ravel(),
                "units": (units[:, None, :] * zone_p[None, :, None]).ravel(),
            }
        )

    @staticmethod
    def _plain_mean(entry: ZoneDemand) -> float:
        """Expected units per day of a plain demand entry. For ``normal`` the truncation at zero
        is ignored (it matters only when sd is not small against the mean)."""
        if entry.dist == DemandDistribution.EMPIRICAL:
            return float(np.mean(entry.values)) if entry.values else 0.0
        return float(entry.mean_per_day or 0.0)

    def expected_by_bucket(self) -> pd.DataFrame:
        """Expected units per planning bucket, zone and product (``bucket, zone, product,
        units``)."""
        table = self.expected()
        table = table.assign(bucket=table["day"] // self.scenario.bucket.days)
        grouped = table.groupby(["bucket", "zone", "product"], as_index=False)["units"].sum()
        grouped.attrs["unit"] = {"units": "units"}
        return grouped

    # --------------------------------------------------------------------------- sampling
    def _promise(self) -> dict[str, float]:
        return {
            node_id: float(getattr(node, "service_promise_days", 0.0))
            for node_id, node in self.scenario.nodes.items()
            if node.kind == NodeKind.CUSTOMER_ZONE
        }

    def sample(self, rng: np.random.Generator, shocks: Sequence[DemandShock] = ()) -> pd.DataFrame:
        """A sampled stream of customer order lines, sorted by time (see :data:`ORDER_COLUMNS`).

        ``campaign`` is the campaign the line is attributed to (drawn with probability
        lift / (1 + lift), proportional to each campaign's lift), or empty. ``shocks`` multiply
        demand in their windows: a multiplier m < 1 keeps each matching line with probability m;
        m > 1 adds an independent stream with (m − 1) times the matching rate, so the result is
        again a Poisson stream with m times the rate.
        """
        if self.customer_level:
            base = CustomerBase(self.scenario, self.drivers, rng, self._promise())
            lines = _shock_lines(rng, base.advance(float(self.horizon)), shocks)
            plain = [f for f in self._sample_plain(rng, shocks) if len(f)]
            return self._finish([lines.drop(columns="kind"), *plain], self._promise())
        frames = self._sample_segments(rng, self.expected_orders())
        frames += self._sample_plain(rng, shocks)
        for shock in shocks:
            frames = self._apply_shock(rng, frames, shock)
        return self._finish(frames, self._promise())

    def stream(self, rng: np.random.Generator, shocks: Sequence[DemandShock] = ()) -> OrderStream:
        """The order stream the simulation pulls from.

        Aggregate demand: :meth:`sample` served as an :class:`OrderStream` (no feedback).
        Customer-level demand: a :class:`~crm_model.service.CustomerStream` that advances the
        customer base period by period; with a ``service`` block it turns the reported service
        outcomes into tickets and churn. Its ``tables()`` are the CRM tables of the run.
        """
        if not self.customer_level:
            return OrderStream(self.sample(rng, shocks))
        promise = self._promise()
        base = CustomerBase(self.scenario, self.drivers, rng, promise)
        plain = self._finish(self._sample_plain(rng, shocks), promise)
        plain_times = plain["time"].to_numpy()
        issued = [0]

        def finish(lines: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
            lines = _shock_lines(rng, lines, shocks).drop(columns="kind")
            lo, hi = np.searchsorted(plain_times, [start, end], side="left")
            extra = plain.iloc[lo:hi].drop(columns="order_id")
            frames = [lines, extra] if len(extra) else [lines]
            orders = self._finish(frames, promise, first_id=issued[0])
            issued[0] += len(orders)
            return orders

        service = self.scenario.crm.service
        desk = None if service is None else ServiceDesk(service, rng)
        return CustomerStream(base, finish, desk)

    def _sample_segments(
        self, rng: np.random.Generator, expected: np.ndarray
    ) -> list[pd.DataFrame]:
        campaigns = [c.name for c in self.scenario.crm.campaigns]
        frames = []
        customer_offset = 0
        for s, name in enumerate(self.segments):
            seg = self.scenario.crm.segments[name]
            counts = rng.poisson(expected[s])
            n = int(counts.sum())
            day = np.repeat(np.arange(self.horizon), counts)
            time = day + rng.random(n)
            zones, zone_p = self._mix(seg.zone_mix)
            products, product_p = self._mix(seg.product_mix)
            zone = np.asarray(zones, dtype=object)[rng.choice(len(zones), size=n, p=zone_p)]
            product = np.asarray(products, dtype=object)[
                rng.choice(len(products), size=n, p=product_p)
            ]
            qty = 1 + self._extra_units(rng, seg.units_per_order - 1.0, seg.units_per_order_cv, n)
            customer = customer_offset + rng.integers(0, max(seg.customers, 1), size=n)
            customer_offset += max(seg.customers, 1)
            campaign = self._attribute(rng, name, day, campaigns)
            frames.append(
                pd.DataFrame(
                    {
                        "time": time,
                        "customer": customer.astype(np.int64),
                        "segment": name,
                        "zone": zone,
                        "product": product,
                        "qty": qty.astype(float),
                        "campaign": campaign,
                    }
                )
            )
        return frames

    def _sample_plain(
        self, rng: np.random.Generator, shocks: Sequence[DemandShock]
    ) -> list[pd.DataFrame]:
        """Orders of the scenario's plain ``demand`` entries (shocks scale their rates)."""
        frames = []
        days = np.arange(self.horizon)
        for entry in self.scenario.demand:
            scale = np.ones(self.horizon)
            for shock in shocks:
                if shock.matches(entry.zone, entry.product):
                    scale[shock.day_mask(self.horizon)] *= shock.multiplier
            if entry.dist == DemandDistribution.POISSON:
                counts = rng.poisson(float(entry.mean_per_day or 0.0) * scale)
                day = np.repeat(days, counts)
                time = day + rng.random(len(day))
                qty = np.ones(len(day))
            else:
                if entry.dist == DemandDistribution.NORMAL:
                    draws = rng.normal(
                        float(entry.mean_per_day or 0.0),
                        float(entry.sd_per_day or 0.0),
                        self.horizon,
                    )
                else:
                    draws = rng.choice(
                        np.asarray(entry.values or (0.0,), dtype=float), self.horizon
                    )
                draws = np.maximum(draws, 0.0) * scale
                time = days + rng.random(self.horizon)
                keep = draws > 0
                time, qty = time[keep], draws[keep]
            frames.append(
                pd.DataFrame(
                    {
                        "time": time,
                        "customer": np.full(len(time), -1, dtype=np.int64),
                        "segment": "",
                        "zone": entry.zone,
                        "product": entry.product,
                        "qty": qty.astype(float),
                        "campaign": "",
                    }
                )
            )
        return frames

    def _apply_shock(
        self, rng: np.random.Generator, frames: list[pd.DataFrame], shock: DemandShock
    ) -> list[pd.DataFrame]:
        """Thin (m < 1) or add to (m > 1) the CRM lines matching ``shock`` (plain demand is already
        scaled at sampling)."""
        result = []
        for frame in frames:
            if len(frame) == 0 or (frame["segment"] == "").all():
                result.append(frame)
                continue
            match = shock.mask(frame)
            if shock.multiplier < 1.0:
                keep = ~match | (rng.random(len(frame)) < shock.multiplier)
                result.append(frame[keep])
            else:
                result.append(frame)
        if shock.multiplier > 1.0:
            window = np.zeros(self.horizon)
            window[shock.day_mask(self.horizon)] = shock.multiplier - 1.0
            extra = self._sample_segments(rng, self.expected_orders() * window[None, :])
            result += [frame[shock.mask(frame)] for frame in extra]
        return result

    def expected_stream(self) -> pd.DataFrame:
        """A deterministic order stream: one line per day, segment, zone and product with the
        expected units, at mid-day. Used when ``simulation.stochastic_demand`` is false. Plain
        demand is included with segment ``""``."""
        table = self.expected()
        frame = pd.DataFrame(
            {
                "time": table["day"].to_numpy(dtype=float) + 0.5,
                "customer": np.full(len(table), -1, dtype=np.int64),
                "segment": table["segment"].to_numpy(),
                "zone": table["zone"].to_numpy(),
                "product": table["product"].to_numpy(),
                "qty": table["units"].to_numpy(dtype=float),
                "campaign": "",
            }
        )
        return self._finish([frame], self._promise())

    @staticmethod
    def _extra_units(rng: np.random.Generator, mean: float, cv: float, n: int) -> np.ndarray:
        if mean <= 0:
            return np.zeros(n)
        variance = (cv * mean) ** 2
        if variance <= mean:
            return rng.poisson(mean, n).astype(float)
        shape = mean * mean / (variance - mean)
        return rng.poisson(rng.gamma(shape, mean / shape, n)).astype(float)

    def _attribute(
        self, rng: np.random.Generator, segment: str, day: np.ndarray, campaigns: list[str]
    ) -> np.ndarray:
        out = np.full(len(day), "", dtype=object)
        mask = self._targets(segment)
        if not mask.any() or len(day) == 0:
            return out
        reach = self.drivers[segment].campaign_reach
        lifts = self._campaign_lifts[mask][:, day] * reach[:, None]  # (c, n)
        total = lifts.sum(axis=0)
        cumulative = np.cumsum(lifts, axis=0) / (1.0 + total)
        u = rng.random(len(day))
        index = (u[None, :] >= cumulative).sum(axis=0)  # 0..c ; c means organic
        names = np.asarray(
            [c for c, m in zip(campaigns, mask, strict=True) if m] + [""], dtype=object
        )
        return names[index]

    @staticmethod
    def _finish(
        frames: list[pd.DataFrame], promise: dict[str, float], first_id: int = 0
    ) -> pd.DataFrame:
        """Stack, sort by time, number ``CO-…`` from ``first_id`` and set requested times (a
        frame's own ``requested_time`` wins; else time + the zone's promise)."""
        if len(frames) == 1 and frames[0]["time"].is_monotonic_increasing:
            orders = frames[0].reset_index(drop=True)
        elif frames:
            orders = pd.concat(frames, ignore_index=True)
        else:
            orders = empty_lines()
        if not orders["time"].is_monotonic_increasing:
            orders = orders.sort_values("time", kind="stable").reset_index(drop=True)
        orders.insert(0, "order_id", _order_ids(first_id, len(orders)))
        given = orders.pop("requested_time") if "requested_time" in orders else None
        if given is None or given.isna().any():
            promised = orders["time"] + orders["zone"].map(promise).fillna(0.0).astype(float)
            given = promised if given is None else given.astype(float).fillna(promised)
        orders["requested_time"] = given
        orders = orders[list(ORDER_COLUMNS)]
        orders.attrs["unit"] = {"time": "day", "requested_time": "day", "qty": "units"}
        return orders


def needs_customer_model(scenario: Scenario) -> bool:
    """Whether the scenario's CRM needs customers simulated one by one (purchase models,
    acquisition, win-back, promotions or service feedback) rather than aggregate counts."""
    crm = scenario.crm
    return bool(
        crm.service is not None
        or crm.promotions
        or any(
            seg.purchasing is not None or seg.acquisition is not None or seg.winback_per_year > 0
            for seg in crm.segments.values()
        )
    )


def _shift(daily: np.ndarray, offset: float) -> np.ndarray:
    """``daily`` counts (spread uniformly within each day) moved ``offset`` days later."""
    whole = int(np.floor(offset))
    frac = offset - whole
    out = np.zeros_like(daily)
    horizon = len(daily)
    if whole < horizon:
        out[whole:] += (1.0 - frac) * daily[: horizon - whole]
    if whole + 1 < horizon and frac > 0:
        out[whole + 1 :] += frac * daily[: horizon - whole - 1]
    return out


def _order_ids(first: int, n: int) -> list[str] | np.ndarray:
    """``CO-0000000``-style ids numbered from ``first``."""
    if n < 100_000:
        return [f"CO-{i:07d}" for i in range(first, first + n)]
    numbers = pd.Series(np.arange(first, first + n)).astype(str).str.zfill(7)
    return ("CO-" + numbers).to_numpy()


def _shock_lines(
    rng: np.random.Generator, lines: pd.DataFrame, shocks: Sequence[DemandShock]
) -> pd.DataFrame:
    """Demand shocks on customer-level lines: m < 1 keeps each matching line with probability
    m; m > 1 adds Poisson(m − 1) copies of each matching line (same customer, a uniform time in
    the same day and window), so the expected matching rate is m times as high."""
    if not shocks:
        return lines
    for shock in shocks:
        if len(lines) == 0:
            break
        match = shock.mask(lines)
        if shock.multiplier < 1.0:
            lines = lines[~match | (rng.random(len(lines)) < shock.multiplier)]
        elif shock.multiplier > 1.0 and match.any():
            copies = rng.poisson(shock.multiplier - 1.0, int(match.sum()))
            extra = lines[match].loc[lines[match].index.repeat(copies)].copy()
            day = np.floor(extra["time"].to_numpy())
            lo = np.maximum(day, shock.start)
            hi = np.minimum(day + 1.0, shock.end)
            time = lo + rng.random(len(extra)) * np.maximum(hi - lo, 0.0)
            delay = extra["requested_time"].to_numpy() - extra["time"].to_numpy()
            extra["time"] = time
            extra["requested_time"] = time + delay
            lines = pd.concat([lines, extra], ignore_index=True)
    return lines.sort_values("time", kind="stable").reset_index(drop=True)
