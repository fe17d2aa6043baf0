"""The scenario schema: every input field declared once, with its unit, default and meaning.

A scenario is everything needed to reproduce a run. Models are frozen pydantic v2 models that
forbid unknown fields; structural problems (types, ranges, unknown fields) are found here, and the
cross-field rules live in :mod:`scenarios.checks`. Units are in each field's description and in
``json_schema_extra["unit"]``; ``docs/scenario-format.md`` is generated from this module.
"""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CRM",
    "Acquisition",
    "Allocation",
    "Bucket",
    "Campaign",
    "Channel",
    "Costs",
    "CustomerZone",
    "Deal",
    "DemandDistribution",
    "Disruption",
    "DisruptionKind",
    "Distribution",
    "DistributionKind",
    "ForecastMethod",
    "Fulfillment",
    "Lane",
    "Node",
    "NodeKind",
    "Plant",
    "Policy",
    "PolicyKind",
    "Product",
    "ProductKind",
    "ProductionSpec",
    "Promotion",
    "Purchasing",
    "Scenario",
    "Seasonality",
    "Segment",
    "Service",
    "SimulationSettings",
    "SolverSettings",
    "SourcingRule",
    "SourcingRuleKind",
    "Spend",
    "Stage",
    "Supplier",
    "SupplierOffer",
    "SupportChannel",
    "TimeUnit",
    "TransportMode",
    "UnmetDemand",
    "Warehouse",
    "ZoneDemand",
]


def _field(default: Any = ..., *, unit: str | None = None, description: str, **kwargs: Any) -> Any:
    """A pydantic ``Field`` whose unit is part of the description and of the JSON schema."""
    text = f"{description} [{unit}]" if unit else description
    extra = {"unit": unit} if unit else None
    return Field(default, description=text, json_schema_extra=extra, **kwargs)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# --------------------------------------------------------------------------------------------
# Distributions (lead times)
# --------------------------------------------------------------------------------------------


class DistributionKind(StrEnum):
    """Shape of a random duration."""

    FIXED = "fixed"
    UNIFORM = "uniform"
    TRIANGULAR = "triangular"
    LOGNORMAL = "lognormal"
    EMPIRICAL = "empirical"


class Distribution(_Model):
    """A random duration in days, e.g. ``{dist: lognormal, mean: 12, cv: 0.3}``.

    Which parameters are needed depends on ``dist``: fixed → ``mean``; uniform → ``low``,
    ``high``; triangular → ``low``, ``mode``, ``high``; lognormal → ``mean``, ``cv``;
    empirical → ``values`` (and optional ``weights``). :func:`scenarios.checks.check_distributions`
    reports missing or inconsistent parameters.

    Examples
    --------
    >>> Distribution(dist="uniform", low=2, high=4).expected()
    3.0
    """

    dist: DistributionKind = _field(DistributionKind.FIXED, description="Distribution family.")
    mean: float | None = _field(None, unit="days", description="Mean (fixed value for `fixed`).")
    low: float | None = _field(None, unit="days", description="Lower bound (uniform, triangular).")
    high: float | None = _field(None, unit="days", description="Upper bound (uniform, triangular).")
    mode: float | None = _field(None, unit="days", description="Most likely value (triangular).")
    cv: float | None = _field(
        None, unit="ratio", description="Coefficient of variation sd/mean (lognormal).", ge=0
    )
    values: tuple[float, ...] | None = _field(
        None, unit="days", description="Observed values to resample from (empirical)."
    )
    weights: tuple[float, ...] | None = _field(
        None, unit="weight", description="Relative weights of `values` (empirical; default equal)."
    )

    def required_parameters(self) -> tuple[str, ...]:
        """Names of the parameters this family needs."""
        return {
            DistributionKind.FIXED: ("mean",),
            DistributionKind.UNIFORM: ("low", "high"),
            DistributionKind.TRIANGULAR: ("low", "mode", "high"),
            DistributionKind.LOGNORMAL: ("mean", "cv"),
            DistributionKind.EMPIRICAL: ("values",),
        }[self.dist]

    def expected(self) -> float:
        """The distribution's mean in days."""
        kind = self.dist
        if kind in (DistributionKind.FIXED, DistributionKind.LOGNORMAL):
            return float(self.mean or 0.0)
        if kind is DistributionKind.UNIFORM:
            return (float(self.low or 0.0) + float(self.high or 0.0)) / 2.0
        if kind is DistributionKind.TRIANGULAR:
            return (float(self.low or 0.0) + float(self.mode or 0.0) + float(self.high or 0.0)) / 3
        values = np.asarray(self.values or (0.0,), dtype=float)
        weights = np.asarray(self.weights or np.ones(len(values)), dtype=float)
        return float(np.dot(values, weights) / weights.sum())

    def minimum(self) -> float:
        """Smallest value the distribution can produce, in days."""
        kind = self.dist
        if kind in (DistributionKind.FIXED,):
            return float(self.mean or 0.0)
        if kind in (DistributionKind.UNIFORM, DistributionKind.TRIANGULAR):
            return float(self.low or 0.0)
        if kind is DistributionKind.LOGNORMAL:
            return 0.0 if (self.cv or 0.0) > 0 else float(self.mean or 0.0)
        return float(min(self.values or (0.0,)))

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw ``size`` values (a float when ``size`` is None) with generator ``rng``.

        Lognormal is parameterised by mean m and coefficient of variation c:
        σ² = ln(1 + c²), μ = ln m − σ²/2 (moments of the lognormal distribution).
        """
        kind = self.dist
        if kind is DistributionKind.FIXED:
            value = float(self.mean or 0.0)
            return value if size is None else np.full(size, value)
        if kind is DistributionKind.UNIFORM:
            return rng.uniform(float(self.low or 0.0), float(self.high or 0.0), size)
        if kind is DistributionKind.TRIANGULAR:
            low, mode, high = float(self.low or 0), float(self.mode or 0), float(self.high or 0)
            if high == low:
                return low if size is None else np.full(size, low)
            return rng.triangular(low, mode, high, size)
        if kind is DistributionKind.LOGNORMAL:
            mean, cv = float(self.mean or 0.0), float(self.cv or 0.0)
            if cv == 0 or mean == 0:
                return mean if size is None else np.full(size, mean)
            sigma2 = math.log1p(cv * cv)
            return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size)
        values = np.asarray(self.values or (0.0,), dtype=float)
        weights = np.asarray(self.weights or np.ones(len(values)), dtype=float)
        return rng.choice(values, size=size, p=weights / weights.sum())


def _fixed(days: float) -> Distribution:
    return Distribution(dist=DistributionKind.FIXED, mean=days)


# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------


class ProductKind(StrEnum):
    """What a product is: sold to customers, consumed in production, or a service."""

    FINISHED = "finished"
    COMPONENT = "component"
    SERVICE = "service"


class Product(_Model):
    """An item: a finished good, a component (raw material, part) or a service.

    Services are sold to customers but never stocked or shipped: their orders are fulfilled
    on the requested date, so a CRM-only company needs no supply network.
    """

    name: str | None = _field(None, description="Display name (defaults to the id).")
    kind: ProductKind = _field(ProductKind.FINISHED, description="finished, component or service.")
    unit: str = _field("unit", description="Unit of measure of quantities of this product.")
    unit_cost: float = _field(
        0.0, unit="currency/unit", description="Value of one unit in stock (holding cost base).", ge=0
    )
    price: float = _field(0.0, unit="currency/unit", description="Selling price to customers.", ge=0)
    holding_cost_rate: float | None = _field(
        None,
        unit="1/year",
        description="Annual holding cost as a fraction of unit_cost; default costs.holding_cost_rate.",
        ge=0,
    )
    bom: dict[str, float] = _field(
        default_factory=dict,
        unit="units of component per unit",
        description="Bill of materials: component id → quantity consumed per unit produced.",
    )


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


class NodeKind(StrEnum):
    """The four kinds of location in a supply network."""

    SUPPLIER = "supplier"
    PLANT = "plant"
    WAREHOUSE = "warehouse"
    CUSTOMER_ZONE = "customer_zone"


class SupplierOffer(_Model):
    """What a supplier sells of one item and on which terms."""

    price: float = _field(..., unit="currency/unit", description="Purchase price per unit.", ge=0)
    capacity_per_day: float | None = _field(
        None, unit="units/day", description="Most units the supplier ships per day (None: no limit).", gt=0
    )
    moq: float = _field(0.0, unit="units", description="Minimum order quantity.", ge=0)
    order_multiple: float | None = _field(
        None, unit="units", description="Order quantities must be multiples of this.", gt=0
    )


class Supplier(_Model):
    """An external source of items, with a stochastic lead time from order to dispatch."""

    kind: Literal["supplier"] = "supplier"
    name: str | None = _field(None, description="Display name (defaults to the id).")
    region: str | None = _field(None, description="Free-text region, for reports.")
    lead_time: Distribution = _field(
        default_factory=lambda: _fixed(0.0),
        description="Days from purchase order release to dispatch on the outbound lane.",
    )
    reliability: float = _field(
        1.0, unit="probability", description="Probability an order is dispatched on time.", ge=0, le=1
    )
    late_delay: Distribution = _field(
        default_factory=lambda: _fixed(7.0),
        description="Extra days before dispatch when an order is late (probability 1 − reliability).",
    )
    partial_probability: float = _field(
        0.0,
        unit="probability",
        description="Probability an order ships in two parts: partial_fraction on time, the rest "
        "after a late_delay.",
        ge=0,
        le=1,
    )
    partial_fraction: float = _field(
        0.5, unit="fraction", description="Share of a split order that ships on time.", gt=0, lt=1
    )
    order_cost: float = _field(
        0.0, unit="currency/order", description="Fixed cost of placing one purchase order.", ge=0
    )
    supplies: dict[str, SupplierOffer] = _field(
        default_factory=dict, description="Item id → offer (price, capacity, MOQ)."
    )


class ProductionSpec(_Model):
    """How a plant makes one product."""

    cost_per_unit: float = _field(0.0, unit="currency/unit", description="Conversion cost.", ge=0)
    capacity_use: float = _field(
        1.0, unit="capacity units/unit", description="Plant capacity consumed per unit made.", gt=0
    )
    batch_size: float | None = _field(
        None, unit="units", description="Production orders are rounded up to multiples of this.", gt=0
    )


class Plant(_Model):
    """A factory: turns components into products along their BOM, within a daily capacity."""

    kind: Literal["plant"] = "plant"
    name: str | None = _field(None, description="Display name (defaults to the id).")
    region: str | None = _field(None, description="Free-text region, for reports.")
    capacity_per_day: float | None = _field(
        None, unit="capacity units/day", description="Daily production capacity (None: no limit).", gt=0
    )
    production_lead_time_days: float = _field(
        1.0, unit="days", description="Days from production start to finished goods in stock."
    )
    produces: dict[str, ProductionSpec] = _field(
        default_factory=dict, description="Product id → production spec."
    )
    initial_inventory: dict[str, float] = _field(
        default_factory=dict, unit="units", description="Product or component id → on hand at start."
    )
    storage_capacity: float | None = _field(
        None, unit="units", description="Most units on hand at once (None: no limit).", gt=0
    )


class Warehouse(_Model):
    """A stock point (DC, warehouse) that serves customer zones and other warehouses."""

    kind: Literal["warehouse"] = "warehouse"
    name: str | None = _field(None, description="Display name (defaults to the id).")
    region: str | None = _field(None, description="Free-text region, for reports.")
    initial_inventory: dict[str, float] = _field(
        default_factory=dict, unit="units", description="Product id → on hand at start."
    )
    storage_capacity: float | None = _field(
        None, unit="units", description="Most units on hand at once (None: no limit).", gt=0
    )


class CustomerZone(_Model):
    """Where customers are: demand arises here and is served by a warehouse over a lane."""

    kind: Literal["customer_zone"] = "customer_zone"
    name: str | None = _field(None, description="Display name (defaults to the id).")
    region: str | None = _field(None, description="Free-text region, for reports.")
    service_promise_days: float = _field(
        3.0,
        unit="days",
        description="Delivery promise: requested date = order date + this (on-time threshold).",
        ge=0,
    )


Node = Annotated[Supplier | Plant | Warehouse | CustomerZone, Field(discriminator="kind")]


# --------------------------------------------------------------------------------------------
# Lanes and policies
# --------------------------------------------------------------------------------------------


class TransportMode(StrEnum):
    """How goods move on a lane."""

    TRUCK = "truck"
    RAIL = "rail"
    OCEAN = "ocean"
    AIR = "air"
    PARCEL = "parcel"


class Lane(_Model):
    """A transport link from one node to another."""

    src: str = _field(..., description="Origin node id.")
    dst: str = _field(..., description="Destination node id.")
    mode: TransportMode = _field(TransportMode.TRUCK, description="Transport mode.")
    lead_time: Distribution = _field(
        default_factory=lambda: _fixed(1.0), description="Transit time in days."
    )
    cost_per_unit: float = _field(0.0, unit="currency/unit", description="Variable freight cost.", ge=0)
    cost_per_shipment: float = _field(
        0.0, unit="currency/shipment", description="Fixed cost per dispatch.", ge=0
    )
    capacity_per_day: float | None = _field(
        None, unit="units/day", description="Most units dispatched per day (None: no limit).", gt=0
    )
    products: tuple[str, ...] | None = _field(
        None, description="Only these items move on the lane (None: every item both ends handle)."
    )
    preferred: bool = _field(
        False,
        description="For lanes into a customer zone: this warehouse serves the zone. Without a "
        "preferred lane the cheapest (then fastest, then first listed) serves it.",
    )


class PolicyKind(StrEnum):
    """Inventory control policy of a stock point."""

    PLAN = "plan"
    BASE_STOCK = "base_stock"
    S_S = "s_S"
    R_Q = "r_Q"
    ORDER_UP_TO = "order_up_to"
    MIN_MAX = "min_max"


class ForecastMethod(StrEnum):
    """How a periodic order-up-to policy forecasts demand per period."""

    NONE = "none"
    MOVING_AVERAGE = "moving_average"
    EXPONENTIAL_SMOOTHING = "exponential_smoothing"


class Policy(_Model):
    """Replenishment policy for one item at one stock point (default: follow the plan).

    ``plan`` executes the optimizer's release schedule. The others are classical policies on the
    inventory position (on hand + on order − backorders): ``base_stock`` orders up to
    ``order_up_to`` after every demand; ``s_S`` / ``min_max`` order up to ``order_up_to`` when the
    position falls to ``reorder_point`` or below; ``r_Q`` orders multiples of ``order_quantity``
    to lift the position above ``reorder_point``; ``order_up_to`` reviews every
    ``review_period_days`` and orders up to ``order_up_to``, or, with a ``forecast``, up to
    S_t = (L + R)·D̂_t + z·σ̂_t·√(L + R), with D̂_t the moving average of the last
    ``forecast_window`` periods' demand (or exponential smoothing with ``smoothing_alpha``),
    L the mean replenishment lead time and R the review period in periods, σ̂_t the standard
    deviation of the same window and z the ``safety_factor`` (Chen, Drezner, Ryan and Simchi-Levi
    2000, Management Science 46(3), eq. 1). A ``plan`` policy with ``reorder_point`` and
    ``order_up_to`` adds a safety net on top of the plan: an (s, S) emergency order whenever the
    position falls to the reorder point.
    """

    node: str = _field(..., description="Stock point (plant or warehouse) id.")
    product: str = _field(..., description="Item id.")
    kind: PolicyKind = _field(PolicyKind.PLAN, description="Policy family.")
    reorder_point: float | None = _field(None, unit="units", description="s or r.")
    order_up_to: float | None = _field(None, unit="units", description="S.")
    order_quantity: float | None = _field(None, unit="units", description="Q.", gt=0)
    review_period_days: float | None = _field(None, unit="days", description="R.", gt=0)
    forecast: ForecastMethod = _field(
        ForecastMethod.NONE, description="Forecast for order_up_to (none: fixed order_up_to)."
    )
    forecast_window: int = _field(
        4, unit="periods", description="p: periods in the moving average.", ge=1
    )
    smoothing_alpha: float = _field(
        0.3, unit="fraction", description="α of exponential smoothing.", gt=0, le=1
    )
    safety_factor: float = _field(0.0, description="z: safety factor on forecast error.", ge=0)


class SourcingRuleKind(StrEnum):
    """How a stock point splits replenishment orders between its sources."""

    PRIMARY_BACKUP = "primary_backup"
    SPLIT = "split"
    CHEAPEST = "cheapest"
    FASTEST = "fastest"


class SourcingRule(_Model):
    """Which source a stock point's policy orders go to (the plan chooses its own sources).

    ``primary_backup`` orders from the first of ``sources`` that is not disrupted;
    ``split`` divides every order by the ``split`` shares; ``cheapest`` / ``fastest`` pick the
    lane with the lowest landed cost / mean lead time. Without a rule, ``cheapest`` applies.
    """

    node: str = _field(..., description="Stock point id.")
    product: str = _field(..., description="Item id.")
    rule: SourcingRuleKind = _field(SourcingRuleKind.CHEAPEST, description="Rule.")
    sources: tuple[str, ...] = _field(
        (), description="Source node ids in priority order (primary_backup)."
    )
    split: dict[str, float] = _field(
        default_factory=dict, unit="share", description="Source node id → share of each order (split)."
    )


# --------------------------------------------------------------------------------------------
# CRM
# --------------------------------------------------------------------------------------------


class Channel(StrEnum):
    """Marketing and contact channels."""

    EMAIL = "email"
    PHONE = "phone"
    SOCIAL = "social"
    PAID_SEARCH = "paid_search"
    EVENTS = "events"
    DISPLAY = "display"
    DIRECT_MAIL = "direct_mail"


class TimeUnit(StrEnum):
    """Time unit of purchase-model parameters (fitted models are usually weekly)."""

    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        return 1 if self is TimeUnit.DAY else 7


class Spend(_Model):
    """Order value per purchase, Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using
    iso-value curves", JMR 42(4); Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

    Each customer has a spend rate ν ~ Gamma(q, γ) (shape q, rate γ); each of their purchases is
    worth z ~ Gamma(p, ν), so E[z | ν] = p/ν and E[z] = p·γ/(q − 1). An order line's quantity is
    its value divided by the product's price (fractional units allowed).
    """

    p: float = _field(..., description="p: shape of the value of one purchase.", gt=0)
    q: float = _field(..., description="q: shape of the customers' spend rates (> 1: finite mean).", gt=1)
    gamma: float = _field(..., unit="currency", description="γ: scale of the customers' spend rates.", gt=0)

    def mean(self) -> float:
        """Expected value of one purchase, p·γ/(q − 1)."""
        return self.p * self.gamma / (self.q - 1.0)


class Purchasing(_Model):
    """Repeat purchasing of a segment's customers, BG/NBD (Fader, Hardie & Lee 2005, "Counting
    your customers the easy way", Marketing Science 24(2), 275-284).

    While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α) (shape r, rate α,
    per ``time_unit``); after each repeat purchase they drop out for good with probability
    p ~ Beta(a, b). Fitted parameters from ``tandem predict --emit-scenario`` fit here unchanged.
    """

    r: float = _field(..., description="r: shape of the gamma distribution of purchase rates.", gt=0)
    alpha: float = _field(
        ..., unit="time units", description="α: rate (inverse scale) of that distribution.", gt=0
    )
    a: float = _field(..., description="a: first shape of the beta distribution of dropout.", gt=0)
    b: float = _field(..., description="b: second shape of the beta distribution of dropout.", gt=0)
    time_unit: TimeUnit = _field(TimeUnit.WEEK, description="Time unit of α (and of λ).")
    spend: Spend | None = _field(
        None, description="Value per purchase (None: units_per_order and units_per_order_cv)."
    )

    def mean_rate_per_day(self) -> float:
        """E[λ] in purchases per day per alive customer: r / α / days per time unit."""
        return self.r / self.alpha / self.time_unit.days


class Stage(_Model):
    """One step of the funnel: after ``dwell`` days in the stage, a lead moves on with
    probability ``conversion`` and is lost (back to the prospects) otherwise."""

    conversion: float = _field(
        1.0, unit="probability", description="Share of leads in the stage that move on.", ge=0, le=1
    )
    dwell: Distribution = _field(
        default_factory=lambda: _fixed(0.0), description="Days spent in the stage before the decision."
    )


class Deal(_Model):
    """What a won B2B deal orders: one call-off (one-off) or ``orders`` call-offs every
    ``interval_days`` (a recurring contract), each of one product drawn from the segment's
    product mix, with a lognormal size."""

    units_mean: float = _field(..., unit="units", description="Mean units per call-off.", gt=0)
    units_cv: float = _field(0.5, unit="ratio", description="Coefficient of variation of units.", ge=0)
    orders: int = _field(1, unit="orders", description="Call-offs per deal (1: one-off).", ge=1)
    interval_days: float = _field(30.0, unit="days", description="Days between call-offs.", gt=0)
    start_after_days: float = _field(
        0.0, unit="days", description="Requested date of each call-off after it is placed.", ge=0
    )


class Acquisition(_Model):
    """New customers: prospects become leads and move through the funnel
    lead → qualified → opportunity → customer.

    Leads arise by the generalized Bass model (Bass 1969, Management Science 15(5), eq. 1;
    Bass, Krishnan & Jain 1994, Marketing Science 13(3)): the daily hazard of a prospect becoming
    a lead is h(t) = (p + q·C(t)/M)·(1 + lift(t)), with innovation p, imitation (word of mouth) q,
    C(t) customers ever won, M the market (prospects + customers at start) and lift(t) the
    campaigns' lead lift. A lead lost at a stage returns to the prospects.
    """

    prospects: int = _field(..., unit="prospects", description="Prospects at start.", ge=0)
    innovation_per_year: float = _field(
        0.0, unit="1/year", description="p: lead rate of a prospect from outside influence.", ge=0
    )
    imitation_per_year: float = _field(
        0.0, unit="1/year", description="q: extra lead rate when every prospect's peers are customers.", ge=0
    )
    qualify: Stage = _field(default_factory=Stage, description="lead → qualified.")
    propose: Stage = _field(default_factory=Stage, description="qualified → opportunity.")
    win: Stage = _field(default_factory=Stage, description="opportunity → customer.")
    deal: Deal | None = _field(
        None, description="B2B deal ordered when won (None: a first order like any other)."
    )


class Segment(_Model):
    """A group of customers who buy alike.

    Customers buy at ``orders_per_customer_per_year`` each (every customer alike, the same as
    the segment's aggregate Poisson rate), or by a ``purchasing`` model with heterogeneous rates
    and dropout. ``annual_churn_rate`` is a time-based churn on top of either.
    """

    name: str | None = _field(None, description="Display name (defaults to the id).")
    customers: int = _field(..., unit="customers", description="Active customers at start.", ge=0)
    orders_per_customer_per_year: float | None = _field(
        None,
        unit="orders/customer/year",
        description="Base purchase rate of an active customer (required without `purchasing`).",
        ge=0,
    )
    purchasing: Purchasing | None = _field(
        None, description="BG/NBD repeat purchasing (replaces orders_per_customer_per_year)."
    )
    units_per_order: float = _field(
        1.0, unit="units/order", description="Mean units per order line (at least 1).", ge=1
    )
    units_per_order_cv: float = _field(
        0.5, unit="ratio", description="Coefficient of variation of units per order above 1.", ge=0
    )
    product_mix: dict[str, float] = _field(
        ..., unit="weight", description="Product id → share of this segment's order lines."
    )
    zone_mix: dict[str, float] = _field(
        ..., unit="weight", description="Customer zone id → share of this segment's customers."
    )
    channel_mix: dict[Channel, float] = _field(
        default_factory=dict,
        unit="probability",
        description="Channel → share of customers and prospects a campaign on it reaches "
        "(empty: every channel reaches everyone).",
    )
    price_elasticity: float = _field(
        0.0,
        description="ε: a promotion's discount d multiplies purchase rates by (1 − d)^(−ε) "
        "(constant elasticity; Bijmolt et al. 2005 report a mean of 2.6).",
        ge=0,
    )
    annual_churn_rate: float = _field(
        0.0, unit="1/year", description="Fraction of customers lost per year (exponential).", ge=0, lt=1
    )
    winback_per_year: float = _field(
        0.0, unit="1/year", description="Rate at which a churned customer comes back with an order.", ge=0
    )
    acquisition: Acquisition | None = _field(
        None, description="Prospects, word of mouth and the funnel that makes new customers."
    )
    priority: int = _field(0, description="Allocation priority when stock is short (higher first).")

    def reach(self, channel: Channel) -> float:
        """Share of the segment a campaign on ``channel`` reaches."""
        if not self.channel_mix:
            return 1.0
        return float(self.channel_mix.get(channel, 0.0))


class Seasonality(_Model):
    """Multipliers on purchase rates by calendar month (January first)."""

    monthly: tuple[float, ...] = _field(
        (1.0,) * 12, unit="multiplier", description="Twelve multipliers, January to December."
    )


class Campaign(_Model):
    """A marketing campaign: spend on a channel lifts target segments' purchase rates.

    Response (Jin et al. 2017, "Bayesian methods for media mix modeling with carryover and shape
    effects", Google): daily spend x_t is carried over by geometric adstock
    A_t = x_t + λ·A_{t−1}, and saturates by a Hill curve, lift_t = max_lift · A_t^s / (A_t^s + K^s),
    a relative uplift of the purchase rate of target customers (and, with ``lead_lift``, of the
    lead rate of target prospects) whom the channel reaches (``Segment.channel_mix``).
    """

    name: str = _field(..., description="Campaign name.")
    channel: Channel = _field(..., description="Channel.")
    start: dt.date = _field(..., description="First day of spend.")
    end: dt.date = _field(..., description="Last day of spend (inclusive).")
    budget: float = _field(..., unit="currency", description="Total spend, spread evenly.", ge=0)
    cost_per_contact: float | None = _field(
        None, unit="currency/contact", description="Cost of one contact (None: contacts not counted).", gt=0
    )
    target_segments: tuple[str, ...] = _field(
        (), description="Segments reached (empty: all segments)."
    )
    max_lift: float = _field(
        0.2, unit="fraction", description="Largest relative uplift of purchase rate (0.3 = +30 %).", ge=0
    )
    lead_lift: float | None = _field(
        None, unit="fraction", description="Largest relative uplift of the lead rate (None: max_lift).", ge=0
    )
    half_saturation_spend_per_day: float = _field(
        1000.0, unit="currency/day", description="K: adstocked daily spend giving half of max_lift.", gt=0
    )
    hill_shape: float = _field(1.0, description="s: Hill curve shape.", gt=0)
    adstock_decay: float = _field(
        0.5, unit="1/day", description="λ: share of yesterday's adstock carried into today.", ge=0, lt=1
    )


class Promotion(_Model):
    """A price promotion: ``discount`` off the listed products for target segments, which buy
    (1 − discount)^(−price_elasticity) times as often while it runs."""

    name: str = _field(..., description="Promotion name.")
    start: dt.date = _field(..., description="First day.")
    end: dt.date = _field(..., description="Last day (inclusive).")
    discount: float = _field(..., unit="fraction", description="Price reduction (0.2 = 20 % off).", gt=0, lt=1)
    products: tuple[str, ...] = _field((), description="Products on promotion (empty: all).")
    target_segments: tuple[str, ...] = _field((), description="Segments offered it (empty: all).")


class SupportChannel(StrEnum):
    """Channels customers raise service tickets on."""

    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"


def _default_resolution() -> dict[SupportChannel, Distribution]:
    return {
        SupportChannel.EMAIL: Distribution(dist=DistributionKind.LOGNORMAL, mean=2.0, cv=0.8),
        SupportChannel.PHONE: Distribution(dist=DistributionKind.LOGNORMAL, mean=1.0, cv=1.0),
        SupportChannel.CHAT: Distribution(dist=DistributionKind.LOGNORMAL, mean=0.5, cv=1.0),
    }


class Service(_Model):
    """Customer service and churn feedback; its presence makes demand react to service.

    Tickets arise from product problems (a share of order lines) and from the supply side: order
    lines the simulation reports backordered, lost or late. A ticket's customer churns with
    probability ``churn_if_resolved`` or ``churn_if_unresolved`` (unresolved: never resolved, or
    resolved after ``resolution_target_days``), times ``repeat_factor`` per earlier ticket of the
    same customer within ``memory_days`` (capped at 1): failed recovery and repeated failures
    drive switching (Keaveney 1995, J. Marketing 59(2); Knox & van Oest 2014, J. Marketing 78(5)).
    """

    product_issue_probability: float = _field(
        0.0, unit="probability", description="Chance an order line raises a product-problem ticket.", ge=0, le=1
    )
    ticket_if_backordered: float = _field(
        0.3, unit="probability", description="Chance a backordered line raises a ticket.", ge=0, le=1
    )
    ticket_if_lost: float = _field(
        0.7, unit="probability", description="Chance a lost (unserved) line raises a ticket.", ge=0, le=1
    )
    ticket_if_late: float = _field(
        0.3, unit="probability", description="Chance a late delivery raises a ticket.", ge=0, le=1
    )
    channel_mix: dict[SupportChannel, float] = _field(
        default_factory=lambda: {
            SupportChannel.EMAIL: 0.5, SupportChannel.PHONE: 0.3, SupportChannel.CHAT: 0.2
        },
        unit="weight",
        description="Support channel → share of tickets raised on it.",
    )
    resolution_days: dict[SupportChannel, Distribution] = _field(
        default_factory=_default_resolution, description="Support channel → days to resolve a ticket."
    )
    unresolved_probability: float = _field(
        0.05, unit="probability", description="Chance a ticket is never resolved.", ge=0, le=1
    )
    resolution_target_days: float = _field(
        3.0, unit="days", description="Tickets resolved later than this count as unresolved.", gt=0
    )
    churn_if_resolved: float = _field(
        0.02, unit="probability", description="Churn chance after a ticket resolved in time.", ge=0, le=1
    )
    churn_if_unresolved: float = _field(
        0.15, unit="probability", description="Churn chance after an unresolved ticket.", ge=0, le=1
    )
    repeat_factor: float = _field(
        2.0, unit="multiplier", description="Churn chance multiplier per earlier recent ticket.", ge=1
    )
    memory_days: float = _field(
        180.0, unit="days", description="How long a ticket counts as an earlier ticket.", gt=0
    )


class CRM(_Model):
    """Customers and campaigns: the source of demand."""

    segments: dict[str, Segment] = _field(default_factory=dict, description="Segment id → segment.")
    campaigns: list[Campaign] = _field(default_factory=list, description="Marketing campaigns.")
    promotions: list[Promotion] = _field(default_factory=list, description="Price promotions.")
    seasonality: Seasonality = _field(
        default_factory=Seasonality, description="Calendar multipliers on purchase rates."
    )
    service: Service | None = _field(
        None, description="Tickets and churn feedback from service (None: demand ignores service)."
    )


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


class Bucket(StrEnum):
    """Length of a planning period."""

    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        return 1 if self is Bucket.DAY else 7


class UnmetDemand(StrEnum):
    """What happens to demand that cannot be served from stock."""

    BACKORDER = "backorder"
    LOST_SALES = "lost_sales"


class Allocation(StrEnum):
    """Who gets stock first when there is not enough for every waiting order."""

    FIFO = "fifo"
    PRIORITY = "priority"


class Fulfillment(_Model):
    """How customer orders are served."""

    unmet_demand: UnmetDemand = _field(
        UnmetDemand.BACKORDER, description="backorder (wait for stock) or lost_sales."
    )
    allocation: Allocation = _field(
        Allocation.FIFO,
        description="fifo: backorders served first come, first served; priority: by segment "
        "priority, then first come.",
    )


class DemandDistribution(StrEnum):
    """Distribution of plain (non-CRM) demand."""

    POISSON = "poisson"
    NORMAL = "normal"
    EMPIRICAL = "empirical"


class ZoneDemand(_Model):
    """Plain demand for one product in one zone, for validation studies and simple what-ifs.

    ``poisson``: single units arriving as a Poisson process at ``mean_per_day``. ``normal``: one
    order a day of max(0, N(mean_per_day, sd_per_day)) units. ``empirical``: one order a day of a
    quantity drawn from ``values``. Adds to any CRM demand.
    """

    zone: str = _field(..., description="Customer zone id.")
    product: str = _field(..., description="Product id.")
    dist: DemandDistribution = _field(DemandDistribution.POISSON, description="Distribution.")
    mean_per_day: float | None = _field(
        None, unit="units/day", description="Mean demand per day (poisson, normal).", ge=0
    )
    sd_per_day: float | None = _field(
        None, unit="units/day", description="Standard deviation per day (normal).", ge=0
    )
    values: tuple[float, ...] | None = _field(
        None, unit="units", description="Daily quantities to resample (empirical)."
    )


class DisruptionKind(StrEnum):
    """What a disruption does."""

    SUPPLIER_OUTAGE = "supplier_outage"
    PLANT_CAPACITY_LOSS = "plant_capacity_loss"
    LANE_CLOSURE = "lane_closure"
    LANE_DELAY = "lane_delay"
    STOCK_LOSS = "stock_loss"
    DEMAND_SHOCK = "demand_shock"


class Disruption(_Model):
    """A scheduled (``start`` + ``duration_days``) or random (``mtbf_days`` / ``mttr_days``,
    exponential) disruption.

    supplier_outage: the supplier dispatches nothing while it lasts. plant_capacity_loss: the
    plant loses ``capacity_loss`` of its capacity. lane_closure: nothing departs on the lane.
    lane_delay: shipments departing on the lane take ``extra_days`` longer. stock_loss: at its
    start, ``stock_loss`` of the on-hand stock at the node is written off. demand_shock: demand
    (optionally of one ``product`` in one zone ``node``) is multiplied by ``demand_multiplier``.
    The plan does not know about disruptions: they are what the stress test tests.
    """

    name: str = _field(..., description="Name, for reports.")
    kind: DisruptionKind = _field(..., description="What it does.")
    node: str | None = _field(None, description="Supplier, plant, warehouse or customer zone hit.")
    lane: int | None = _field(None, description="Index of the lane hit (lane kinds).", ge=0)
    product: str | None = _field(None, description="Only this item (stock_loss, demand_shock).")
    start: dt.date | None = _field(None, description="First day (scheduled disruptions).")
    duration_days: float | None = _field(None, unit="days", description="Length (scheduled).", gt=0)
    mtbf_days: float | None = _field(
        None, unit="days", description="Mean time between failures (random).", gt=0
    )
    mttr_days: float | None = _field(None, unit="days", description="Mean time to repair (random).", gt=0)
    capacity_loss: float = _field(
        1.0, unit="fraction", description="Share of plant capacity lost.", gt=0, le=1
    )
    stock_loss: float = _field(1.0, unit="fraction", description="Share of on-hand written off.", gt=0, le=1)
    extra_days: float = _field(0.0, unit="days", description="Added transit time (lane_delay).", ge=0)
    demand_multiplier: float = _field(
        1.0, unit="multiplier", description="Demand multiplier (demand_shock).", ge=0
    )


class Costs(_Model):
    """Cost rates shared by the plan and the KPIs."""

    holding_cost_rate: float = _field(
        0.25, unit="1/year", description="Annual holding cost as a fraction of unit cost.", ge=0
    )
    backorder_cost_per_unit_day: float | None = _field(
        None,
        unit="currency/unit/day",
        description="Penalty per unit backordered per day (default: 2 % of price per day).",
        ge=0,
    )
    lost_sale_cost_per_unit: float | None = _field(
        None, unit="currency/unit", description="Penalty per unit lost (default: the price).", ge=0
    )


class SolverSettings(_Model):
    """HiGHS settings for the planning model."""

    time_limit_s: float = _field(60.0, unit="s", description="Wall-clock limit of one solve.", gt=0)
    mip_gap: float = _field(1e-4, unit="fraction", description="Relative MIP gap to stop at.", ge=0)
    threads: int | None = _field(None, description="Solver threads (None: HiGHS decides).", ge=1)


class SimulationSettings(_Model):
    """How the stress test runs."""

    seed: int = _field(12345, description="Root seed; every random stream is spawned from it.", ge=0)
    replications: int = _field(1, description="Independent replications.", ge=1, le=100_000)
    warmup_days: float = _field(0.0, unit="days", description="Days excluded from KPIs.", ge=0)
    stochastic_demand: bool = _field(True, description="Sample orders (False: expected demand).")
    stochastic_lead_times: bool = _field(
        True, description="Sample lead times (False: each distribution's mean)."
    )


# --------------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------------


class Scenario(_Model):
    """Everything needed to reproduce a run: network, products, CRM, costs and settings."""

    name: str = _field(..., description="Scenario id (letters, digits, _ and -).", min_length=1)
    description: str = _field("", description="One line saying what this scenario is.")
    currency: str = _field("EUR", description="Currency of every money amount.")
    start_date: dt.date = _field(..., description="First simulated day (day 0).")
    horizon_days: int = _field(..., unit="days", description="Length of the run.", gt=0, le=3660)
    bucket: Bucket = _field(Bucket.WEEK, description="Planning period: day or week.")
    products: dict[str, Product] = _field(..., description="Item id → product.")
    nodes: dict[str, Node] = _field(
        default_factory=dict, description="Node id → supplier, plant, warehouse or customer zone."
    )
    lanes: list[Lane] = _field(default_factory=list, description="Transport lanes.")
    policies: list[Policy] = _field(
        default_factory=list, description="Inventory policies (default: follow the plan)."
    )
    sourcing: list[SourcingRule] = _field(
        default_factory=list, description="Sourcing rules for policy orders (default: cheapest)."
    )
    demand: list[ZoneDemand] = _field(
        default_factory=list, description="Plain demand per zone and product (adds to CRM demand)."
    )
    disruptions: list[Disruption] = _field(
        default_factory=list, description="Supplier, plant, lane, stock and demand disruptions."
    )
    crm: CRM = _field(default_factory=CRM, description="Customers and campaigns.")
    fulfillment: Fulfillment = _field(default_factory=Fulfillment, description="Order service.")
    costs: Costs = _field(default_factory=Costs, description="Cost rates.")
    solver: SolverSettings = _field(default_factory=SolverSettings, description="Solver settings.")
    simulation: SimulationSettings = _field(
        default_factory=SimulationSettings, description="Simulation settings."
    )

    @property
    def n_buckets(self) -> int:
        """Number of planning periods covering the horizon."""
        return math.ceil(self.horizon_days / self.bucket.days)

    def date_of(self, day: float) -> dt.date:
        """Calendar date of simulation day ``day``."""
        return self.start_date + dt.timedelta(days=math.floor(day))

    def holding_rate(self, product: str) -> float:
        """Annual holding rate of ``product``."""
        rate = self.products[product].holding_cost_rate
        return self.costs.holding_cost_rate if rate is None else rate

    def backorder_cost(self, product: str) -> float:
        """Penalty per unit per day of backorder of ``product``."""
        value = self.costs.backorder_cost_per_unit_day
        return 0.02 * self.products[product].price if value is None else value

    def lost_sale_cost(self, product: str) -> float:
        """Penalty per unit of lost sale of ``product``."""
        value = self.costs.lost_sale_cost_per_unit
        return self.products[product].price if value is None else value
