"""The customer-level CRM model: closed forms of the expected process, the sampler against its
expectation, the funnel, B2B deals, service feedback through the simulation, and the BG/NBD and
Gamma-Gamma analytics (hand-computed likelihood, recovery of known parameters)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crm_model import DemandModel
from crm_model.analytics import (
    BGNBDFit,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_transactions,
    gamma_gamma_log_likelihood,
    predict_customers,
    summarize_transactions,
)
from crm_model.demand import needs_customer_model
from crm_model.drivers import segment_drivers
from crm_model.funnel import expected_acquisitions, stage_kernels
from crm_model.population import Population
from crm_model.purchasing import (
    PurchaseModel,
    bgnbd_expected_count,
    expected_purchases,
    simulate_transactions,
)
from crm_model.service import ServiceDesk, churn_per_period
from scenarios import library_names, load_scenario, scenario_from_dict
from scenarios.errors import DataError
from scenarios.schema import Acquisition, Purchasing, Service, Stage

# ------------------------------------------------------------------------------ scenarios
CAMPAIGN = {
    "name": "mail",
    "channel": "email",
    "start": "2027-01-27",
    "end": "2027-02-05",
    "budget": 30000,
    "max_lift": 0.5,
    "lead_lift": 1.0,
    "half_saturation_spend_per_day": 1000,
}
PROMOTION = {
    "name": "sale",
    "start": "2027-02-10",
    "end": "2027-02-20",
    "discount": 0.2,
    "products": ["b"],
}


def crm_dict(horizon: int = 60, **segments: dict[str, Any]) -> dict[str, Any]:
    """A CRM-only scenario from 25 January with two services and two zones."""
    return {
        "name": "crm",
        "start_date": "2027-01-25",
        "horizon_days": horizon,
        "bucket": "day",
        "products": {
            "a": {"kind": "service", "price": 10.0},
            "b": {"kind": "service", "price": 20.0},
        },
        "nodes": {
            "north": {"kind": "customer_zone", "service_promise_days": 3},
            "south": {"kind": "customer_zone", "service_promise_days": 5},
        },
        "crm": {
            "segments": {
                name: {
                    "product_mix": {"a": 1, "b": 3},
                    "zone_mix": {"north": 3, "south": 1},
                    **spec,
                }
                for name, spec in segments.items()
            },
            "seasonality": {"monthly": [1.2, 0.5] + [1.0] * 10},
        },
    }


def rich_dict() -> dict[str, Any]:
    """Every customer-level feature at once: BG/NBD with spend, churn, win-back, reach,
    elasticity, a funnel with stages, a B2B segment with recurring deals, a campaign and a
    promotion."""
    data = crm_dict(
        shops={
            "customers": 700,
            "annual_churn_rate": 0.2,
            "winback_per_year": 0.5,
            "purchasing": {
                "r": 0.8,
                "alpha": 10.0,
                "a": 0.7,
                "b": 3.0,
                "spend": {"p": 4.0, "q": 3.0, "gamma": 40.0},
            },
            "channel_mix": {"email": 0.6},
            "price_elasticity": 2.0,
            "acquisition": {
                "prospects": 5000,
                "innovation_per_year": 0.5,
                "imitation_per_year": 2.0,
                "qualify": {
                    "conversion": 0.6,
                    "dwell": {"dist": "lognormal", "mean": 5, "cv": 0.5},
                },
                "win": {"conversion": 0.5, "dwell": {"dist": "uniform", "low": 2, "high": 9}},
            },
        },
        firms={
            "customers": 300,
            "orders_per_customer_per_year": 6,
            "units_per_order": 3,
            "units_per_order_cv": 1.0,
            "acquisition": {
                "prospects": 200,
                "innovation_per_year": 2.0,
                "propose": {
                    "conversion": 0.5,
                    "dwell": {"dist": "triangular", "low": 1, "mode": 3, "high": 8},
                },
                "deal": {
                    "units_mean": 20,
                    "units_cv": 0.3,
                    "orders": 3,
                    "interval_days": 10.5,
                    "start_after_days": 7,
                },
            },
        },
    )
    data["crm"]["campaigns"] = [CAMPAIGN]
    data["crm"]["promotions"] = [PROMOTION]
    return data


# ------------------------------------------------------------------ the aggregate path stays
def test_library_keeps_aggregate_demand_unless_enriched() -> None:
    customer_level = {n for n in library_names() if needs_customer_model(load_scenario(n))}
    assert customer_level == {"b2b_services"}


# ------------------------------------------------------------------- expected: closed forms
def test_expected_purchases_reproduce_the_bgnbd_mean() -> None:
    # FHL 2005 CDNOW estimates, weekly: E[X(t)] of eq. 9 vs the quadrature of the two-state chain
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    model = PurchaseModel(r / alpha / 7, r, (a, b), 0.0, 0.0, None)
    purchases, _ = expected_purchases(model, np.ones((1, 39 * 7)), np.array([1.0]), 1.0)
    cumulative = np.cumsum(purchases)
    for weeks in (1, 13, 39):
        assert cumulative[weeks * 7 - 1] == pytest.approx(
            float(bgnbd_expected_count(weeks, r, alpha, a, b)), rel=1e-7
        )


def test_expected_purchases_of_the_churn_winback_chain() -> None:
    # no heterogeneity: alive A(t) = N(π + (1 − π)e^{−(h+w)t}), π = w/(h+w);
    # purchases λ∫A and win-backs w∫(N − A)
    lam, h, w, n = 0.2, 0.01, 0.03, 1000.0
    model = PurchaseModel(lam, None, None, h, w, None)
    purchases, alive = expected_purchases(model, np.ones((1, 30)), np.array([1.0]), n)
    k, pi = h + w, w / (h + w)

    def alive_integral(t: float) -> float:
        return n * (pi * t + (1 - pi) * (1 - math.exp(-k * t)) / k)

    total = alive_integral(30)
    assert purchases.sum() == pytest.approx(lam * total + w * (n * 30 - total), rel=1e-10)
    assert alive[-1] == pytest.approx(n * (pi + (1 - pi) * math.exp(-k * 30)), rel=1e-10)


def test_aggregate_segment_expectation_is_the_legacy_formula_integrated_over_the_day() -> None:
    data = crm_dict(
        homes={
            "customers": 3650,
            "orders_per_customer_per_year": 1,
            "annual_churn_rate": 0.2,
            "winback_per_year": 1e-12,
        }
    )
    table = DemandModel(scenario_from_dict(data)).expected()
    h = -math.log(0.8) / 365
    season = [1.2] * 7 + [0.5] * 28 + [1.0] * 25
    exact = sum(
        10.0 * season[d] * (math.exp(-h * d) - math.exp(-h * (d + 1))) / h for d in range(60)
    )
    assert table["orders"].sum() == pytest.approx(exact, rel=1e-9)


def test_campaign_reach_scales_the_lift() -> None:
    base = crm_dict(
        shops={
            "customers": 1000,
            "orders_per_customer_per_year": 5,
            "channel_mix": {"email": 0.25, "social": 1.0},
        }
    )
    base["crm"]["campaigns"] = [CAMPAIGN]
    drivers = segment_drivers(scenario_from_dict(base), "shops")
    assert drivers.group_probability.tolist() == [0.75, 0.25]  # not reached / reached by email
    assert drivers.mean_lift() == pytest.approx(0.25 * drivers.lifts[0])
    full = DemandModel(
        scenario_from_dict(crm_dict(shops={"customers": 1000, "orders_per_customer_per_year": 5}))
    )
    assert not full.customer_level
    assert DemandModel(scenario_from_dict(base)).segment_lift("shops") == pytest.approx(
        0.25 * drivers.lifts[0]
    )


def test_time_change_inverts_the_cumulative_multiplier() -> None:
    population = Population(np.array([[2.0, 0.0, 1.0]]), np.random.default_rng(0))
    levels = np.array([0.0, 1.0, 2.0, 2.5, 3.5])
    times = population.time_of(np.zeros(5, dtype=np.int64), levels)
    assert times.tolist() == [0.0, 0.5, 2.0, 2.5, math.inf]  # the empty day 1 is skipped
    assert population.level_at(np.zeros(3, dtype=np.int64), np.array([0.5, 1.7, 2.5])).tolist() == [
        1.0,
        2.0,
        2.5,
    ]


# ------------------------------------------------------------------------------- funnel
def test_stage_kernels_spread_wins_and_losses_over_dwell_times() -> None:
    acq = Acquisition(
        prospects=10,
        innovation_per_year=1,
        qualify=Stage(conversion=0.5, dwell={"dist": "uniform", "low": 0, "high": 2}),
        win=Stage(conversion=0.4, dwell={"dist": "fixed", "mean": 3}),
    )
    win, lost = stage_kernels(acq, 10)
    assert win.sum() == pytest.approx(0.2, abs=1e-9)
    assert lost.sum() == pytest.approx(0.8, abs=1e-9)
    # qualify losses: arrival U(0,1) + U(0,2) (triangular-ish on 0..3); win at +3 more
    assert lost[:3].sum() == pytest.approx(0.5, abs=1e-9)
    assert win[:3].sum() == pytest.approx(0.0) and win[3:6].sum() == pytest.approx(0.2, abs=1e-9)
    assert win[3] == pytest.approx(0.2 * 0.25, abs=2e-3)  # P(U1 + U2 < 1) = 1/4


def test_expected_leads_follow_the_bass_model() -> None:
    # no stages: a lead is a customer at once, so cumulative adopters follow Bass,
    # F(t) = (1 − e^{−(p+q)t}) / (1 + (q/p) e^{−(p+q)t})
    p, q, m = 0.3, 1.5, 10000
    data = crm_dict(
        365,
        shops={
            "customers": 0,
            "orders_per_customer_per_year": 1,
            "acquisition": {"prospects": m, "innovation_per_year": p, "imitation_per_year": q},
        },
    )
    scenario = scenario_from_dict(data)
    acq = scenario.crm.segments["shops"].acquisition
    leads, wins = expected_acquisitions(acq, segment_drivers(scenario, "shops"), 0.0)
    t = 365 / 365
    bass = (1 - math.exp(-(p + q) * t)) / (1 + q / p * math.exp(-(p + q) * t))
    assert leads.sum() / m == pytest.approx(bass, rel=0.01)
    assert wins.sum() == pytest.approx(leads.sum(), rel=1e-6)


# ------------------------------------------------------------------ sampling vs expectation
def test_customer_level_sample_mean_matches_expected_within_sampling_error() -> None:
    model = DemandModel(scenario_from_dict(rich_dict()))
    assert model.customer_level
    expected = model.expected()
    draws = 60
    rng = np.random.default_rng(20270125)
    samples = [model.sample(rng) for _ in range(draws)]
    assert list(samples[0].columns) == [
        "order_id", "time", "customer", "segment", "zone", "product", "qty", "campaign",
        "requested_time",
    ]  # fmt: skip
    keys = ["segment", "zone", "product"]
    counts = pd.DataFrame([s.groupby(keys).size() for s in samples]).fillna(0.0)
    units = pd.DataFrame([s.groupby(keys)["qty"].sum() for s in samples]).fillna(0.0)
    mean_lines = expected.groupby(keys)["orders"].sum()
    mean_units = expected.groupby(keys)["units"].sum()
    for observed, mean in ((counts, mean_lines), (units, mean_units)):
        observed = observed.reindex(columns=mean.index, fill_value=0.0)
        error = observed.std(ddof=1) / math.sqrt(draws)
        z = (observed.mean() - mean) / error
        assert (z.abs() < 5).all(), z
    # by week, all segments together
    weekly = pd.DataFrame([s.groupby(s["time"] // 7).size() for s in samples]).fillna(0.0)
    expected_weekly = expected.groupby(expected["day"] // 7)["orders"].sum()
    z = (weekly.mean() - expected_weekly) / (weekly.std(ddof=1) / math.sqrt(draws))
    assert (z.abs() < 5).all(), z
    pooled = pd.concat(samples)
    assert ((pooled["time"] >= 0) & (pooled["time"] < 60)).all()
    assert (pooled["requested_time"] >= pooled["time"] + 3 - 1e-9).all()
    assert set(pooled["campaign"]) == {"", "mail"}


def test_same_seed_same_customer_level_sample() -> None:
    model = DemandModel(scenario_from_dict(rich_dict()))
    first = model.sample(np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, model.sample(np.random.default_rng(7)))
    assert first["order_id"].is_unique and first["time"].is_monotonic_increasing


def test_b2b_deals_become_recurring_calloffs_with_requested_dates() -> None:
    data = crm_dict(
        120,
        firms={
            "customers": 0,
            "orders_per_customer_per_year": 0,
            "product_mix": {"a": 1},
            "acquisition": {
                "prospects": 40,
                "innovation_per_year": 20,
                "win": {"conversion": 0.5, "dwell": {"dist": "fixed", "mean": 10}},
                "deal": {
                    "units_mean": 20,
                    "units_cv": 0,
                    "orders": 3,
                    "interval_days": 30,
                    "start_after_days": 14,
                },
            },
        },
    )
    model = DemandModel(scenario_from_dict(data))
    stream = model.stream(np.random.default_rng(3))
    orders = pd.concat([stream.next_orders(t, min(t + 7, 120)) for t in range(0, 120, 7)])
    tables = stream.tables()
    won = tables["acquisitions"]
    assert len(won) > 0 and np.allclose(won["cycle_days"], 10.0)
    assert (won["deal_value"] == 3 * 20 * 10.0).all()
    for customer, lines in orders.groupby("customer"):
        start = float(won.loc[won["customer"] == customer, "won_time"].iloc[0])
        expected_times = [start + 30 * k for k in range(3) if start + 30 * k < 120]
        assert lines["time"].tolist() == pytest.approx(expected_times)
        assert (lines["qty"] == 20).all()
        promise = np.where(lines["zone"] == "north", 3.0, 5.0)
        assert (lines["requested_time"] - lines["time"]).tolist() == pytest.approx(
            np.maximum(promise, 14)
        )
    # weighted pipeline: open opportunities × deal value × win probability 0.5
    pipe = tables["pipeline"]
    opp = pipe[pipe["stage"] == "opportunity"]
    assert np.allclose(opp["weighted_value"], opp["open"] * 600 * 0.5)
    life = tables["lifecycle"]
    end = life[life["time"] == life["time"].max()].set_index("state")["customers"]
    assert end["customer"] == len(won)


# ------------------------------------------------------------------------------- service
def test_service_desk_churn_rises_with_repeated_problems() -> None:
    service = Service(
        churn_if_resolved=0.25,
        churn_if_unresolved=0.5,
        repeat_factor=2,
        memory_days=30,
        unresolved_probability=0.0,
        channel_mix={"phone": 1},
        resolution_days={"phone": {"dist": "fixed", "mean": 1}},
    )
    desk = ServiceDesk(service, np.random.default_rng(0))
    seg = np.array(["s"] * 4, dtype=object)
    ids = np.array(["o1", "o2", "o3", "o4"], dtype=object)
    # customer 1: tickets on days 0, 10, 20 and 55 (the first two are > 30 days before day 55)
    desk.open(np.array([0.0, 10.0, 20.0, 55.0]), np.array([1, 1, 1, 1]), seg, ids, "lost", 1.0)
    assert desk._earlier_tickets(
        np.array([1, 1, 1, 1]), np.array([0.0, 10.0, 20.0, 55.0])
    ).tolist() == [0, 1, 2, 0]
    churned, when = desk.decide(100.0)
    table = desk.table()
    assert table["decided_time"].tolist() == [1.0, 11.0, 21.0, 56.0]
    assert table["resolved"].all() and (table["channel"] == "phone").all()
    # churn probabilities 0.25, 0.5, 1.0 (capped), 0.25: the third ticket always churns
    assert table["churned"].iloc[2]
    assert set(churned.tolist()) == {1} and 21.0 in when.tolist()


def test_churn_per_period_from_snapshots() -> None:
    lifecycle = pd.DataFrame(
        {"time": [0.0, 7.0, 14.0], "segment": "s", "state": "customer", "customers": [100, 90, 85]}
    )
    churn = pd.DataFrame(
        {
            "customer": [1, 2, 3, 4],
            "segment": "s",
            "time": [1.0, 6.9, 7.0, 13.0],
            "cause": ["service", "time", "service", "dropout"],
        }
    )
    table = churn_per_period(lifecycle, churn)
    assert table[
        ["period_start", "customers_start", "churned", "churned_service"]
    ].values.tolist() == [[0.0, 100, 2, 1], [7.0, 90, 2, 1]]
    assert table["churn_rate"].tolist() == pytest.approx([0.02, 2 / 90])


def feedback_dict(disrupted: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "feedback",
        "start_date": "2027-01-04",
        "horizon_days": 140,
        "bucket": "week",
        "products": {"widget": {"unit_cost": 10.0, "price": 25.0}},
        "nodes": {
            "sup": {
                "kind": "supplier",
                "lead_time": {"dist": "fixed", "mean": 3},
                "supplies": {"widget": {"price": 8.0}},
            },
            "wh": {"kind": "warehouse", "initial_inventory": {"widget": 250}},
            "zone": {"kind": "customer_zone", "service_promise_days": 2},
        },
        "lanes": [
            {"src": "sup", "dst": "wh", "lead_time": {"dist": "fixed", "mean": 2}},
            {"src": "wh", "dst": "zone", "lead_time": {"dist": "fixed", "mean": 1}},
        ],
        "policies": [{"node": "wh", "product": "widget", "kind": "base_stock", "order_up_to": 250}],
        "crm": {
            "segments": {
                "all": {
                    "customers": 1000,
                    "product_mix": {"widget": 1},
                    "zone_mix": {"zone": 1},
                    "purchasing": {"r": 2.0, "alpha": 20.0, "a": 1.5, "b": 20.0},
                    "units_per_order": 1.5,
                }
            },
            "service": {
                "ticket_if_backordered": 0.5,
                "churn_if_resolved": 0.1,
                "churn_if_unresolved": 0.3,
            },
        },
        "simulation": {"seed": 7, "replications": 2},
    }
    if disrupted:
        data["disruptions"] = [
            {
                "name": "outage",
                "kind": "supplier_outage",
                "node": "sup",
                "start": "2027-02-01",
                "duration_days": 28,
            }
        ]
    return data


def test_a_supply_disruption_raises_churn_and_costs_future_orders() -> None:
    from sim import ReleaseSchedule, simulate

    runs = {
        flag: simulate(scenario_from_dict(feedback_dict(flag)), ReleaseSchedule.empty())
        for flag in (False, True)
    }
    calm, hit = runs[False], runs[True]
    assert set(hit.crm) >= {"tickets", "lifecycle", "churn", "churn_rate", "pipeline"}
    assert len(calm.crm["tickets"]) == 0  # enough stock: no supply tickets, no service churn
    tickets = hit.crm["tickets"]
    assert len(tickets) > 100 and set(tickets["reason"]) <= {"backordered", "late", "lost"}
    service_churn = {
        flag: (run.crm["churn"]["cause"] == "service")
        .groupby(run.crm["churn"]["replication"])
        .sum()
        .reindex([0, 1], fill_value=0)
        for flag, run in runs.items()
    }
    assert (service_churn[True] > service_churn[False] + 20).all()
    rate = {flag: run.crm["churn_rate"]["churn_rate"].mean() for flag, run in runs.items()}
    assert rate[True] > rate[False]
    # a stockout costs future orders: after the outage the hit runs place fewer orders
    after = {
        flag: ((run.orders["order_type"] == "customer") & (run.orders["placed_time"] >= 70)).sum()
        for flag, run in runs.items()
    }
    assert after[True] < after[False]


def test_library_b2b_services_has_a_long_b2b_funnel() -> None:
    scenario = load_scenario("b2b_services")
    acquisitions = {k: s.acquisition for k, s in scenario.crm.segments.items() if s.acquisition}
    assert acquisitions and any(a.deal is not None for a in acquisitions.values())
    cycle = max(
        a.qualify.dwell.expected() + a.propose.dwell.expected() + a.win.dwell.expected()
        for a in acquisitions.values()
    )
    assert cycle >= 60  # days from lead to won deal
    assert scenario.crm.service is not None


# ------------------------------------------------------------------------------ analytics
def test_summary_follows_the_fader_hardie_conventions() -> None:
    tx = pd.DataFrame(
        {
            "customer": ["a", "a", "a", "a", "b", "c"],
            "date": [
                "2027-01-04",
                "2027-01-04",
                "2027-01-18",
                "2027-02-01",
                "2027-01-11",
                "2027-03-01",
            ],
            "amount": [10.0, 5.0, 30.0, 50.0, 8.0, 99.0],
        }
    )
    weekly = summarize_transactions(tx, "2027-02-15").set_index("customer")
    # a: same-day purchases merge (15), repeats on 18 Jan and 1 Feb; c is after the end
    assert weekly.loc["a", ["frequency", "recency", "T", "monetary_value"]].tolist() == [
        2,
        4.0,
        6.0,
        40.0,
    ]
    assert weekly.loc["b", ["frequency", "recency", "T", "monetary_value"]].tolist() == [
        0,
        0.0,
        5.0,
        0.0,
    ]
    assert "c" not in weekly.index
    daily = summarize_transactions(tx, "2027-02-15", time_unit="day").set_index("customer")
    assert daily.loc["a", ["recency", "T"]].tolist() == [28.0, 42.0]


def test_bad_transactions_get_every_problem_in_one_error() -> None:
    tx = pd.DataFrame(
        {
            "customer": ["a", None, "c"],
            "date": ["2027-01-04", "someday", "2027-01-05"],
            "amount": ["1", "-2", "x"],
        }
    )
    with pytest.raises(DataError) as exc:
        summarize_transactions(tx, "2027-02-01")
    text = str(exc.value)
    assert "column 'date': 1 value(s) are not dates (row 2: 'someday')" in text
    assert "column 'customer': 1 row(s) without a customer" in text
    assert "column 'amount': 1 value(s) are not numbers (row 3: 'x')" in text
    assert "column 'amount': 1 negative amount(s) (row 2: '-2')" in text
    with pytest.raises(DataError, match="missing column 'amount'"):
        summarize_transactions(tx.drop(columns="amount"), "2027-02-01")
    good = tx.iloc[[0]]
    with pytest.raises(
        DataError, match="no transactions on or before the calibration end 2026-12-31"
    ):
        summarize_transactions(good, "2026-12-31")


def test_bgnbd_likelihood_matches_a_hand_computation() -> None:
    # FHL 2005 CDNOW estimates; customer with x = 2, t_x = 30.43, T = 38.86 weeks
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    x, tx, big_t = 2, 30.43, 38.86

    def beta(p: float, q: float) -> float:
        return math.gamma(p) * math.gamma(q) / math.gamma(p + q)

    head = math.gamma(r + x) * alpha**r / math.gamma(r)
    stay = beta(a, b + x) / beta(a, b) * head / (alpha + big_t) ** (r + x)
    leave = beta(a + 1, b + x - 1) / beta(a, b) * head / (alpha + tx) ** (r + x)
    ll = bgnbd_log_likelihood(r, alpha, a, b, np.array([x]), np.array([tx]), np.array([big_t]))
    assert ll[0] == pytest.approx(math.log(stay + leave), rel=1e-12)
    # x = 0: only the "still alive" term
    zero = bgnbd_log_likelihood(r, alpha, a, b, np.array([0]), np.array([0.0]), np.array([big_t]))
    assert zero[0] == pytest.approx(r * math.log(alpha / (alpha + big_t)), rel=1e-12)
    fit = BGNBDFit(r, alpha, a, b, 0.0, 1)
    assert fit.p_alive(
        np.array([0, x]), np.array([0.0, tx]), np.array([big_t, big_t])
    ).tolist() == pytest.approx(
        [1.0, 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x))]
    )
    # a customer just acquired (x = 0, T = 0) expects the unconditional E[X(t)]
    assert fit.expected_purchases(13.0, np.array([0]), np.array([0.0]), np.array([0.0]))[
        0
    ] == pytest.approx(float(bgnbd_expected_count(13.0, r, alpha, a, b)), rel=1e-9)


def _hessian(function: Any, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    n = len(theta)
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(n):

            def at(di: float, dj: float, i: int = i, j: int = j) -> float:
                point = theta.copy()
                point[i] += di
                point[j] += dj
                return float(function(point))

            hess[i, j] = (at(step, step) - at(step, -step) - at(-step, step) + at(-step, -step)) / (
                4 * step * step
            )
    return hess


@pytest.fixture(scope="module")
def simulated_fit() -> dict[str, Any]:
    truth = Purchasing(r=0.5, alpha=4.0, a=0.8, b=3.0, spend={"p": 6.0, "q": 4.0, "gamma": 15.0})
    # 18 months of transactions; the first 12 (to 2 January 2028) calibrate
    tx = simulate_transactions(
        np.random.default_rng(2027), truth, 4000, dt.date(2027, 1, 4), 546, acquisition_days=84
    )
    summary = summarize_transactions(tx, dt.date(2028, 1, 2))
    return {
        "truth": truth,
        "tx": tx,
        "summary": summary,
        "bgnbd": fit_bgnbd(summary["frequency"], summary["recency"], summary["T"]),
        "gg": fit_gamma_gamma(summary["frequency"], summary["monetary_value"]),
    }


def test_bgnbd_recovers_known_parameters_within_sampling_error(
    simulated_fit: dict[str, Any],
) -> None:
    s, fit, truth = simulated_fit["summary"], simulated_fit["bgnbd"], simulated_fit["truth"]
    x, tx, big_t = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))

    def negative(log_theta: np.ndarray) -> float:
        return -float(bgnbd_log_likelihood(*np.exp(log_theta), x, tx, big_t).sum())

    estimate = np.log([fit.r, fit.alpha, fit.a, fit.b])
    standard_error = np.sqrt(np.diag(np.linalg.inv(_hessian(negative, estimate))))
    z = (estimate - np.log([truth.r, truth.alpha, truth.a, truth.b])) / standard_error
    assert (np.abs(z) < 4).all(), z
    assert fit.log_likelihood == pytest.approx(-negative(estimate), rel=1e-12)
    # the optimum beats every nearby point
    for k in range(4):
        for delta in (-0.02, 0.02):
            moved = estimate.copy()
            moved[k] += delta
            assert -negative(moved) < fit.log_likelihood


def test_gamma_gamma_recovers_known_parameters_within_sampling_error(
    simulated_fit: dict[str, Any],
) -> None:
    s, fit, truth = simulated_fit["summary"], simulated_fit["gg"], simulated_fit["truth"].spend
    use = s["frequency"] > 0
    x, m = s.loc[use, "frequency"].to_numpy(float), s.loc[use, "monetary_value"].to_numpy(float)

    def negative(log_theta: np.ndarray) -> float:
        return -float(gamma_gamma_log_likelihood(*np.exp(log_theta), x, m).sum())

    estimate = np.log([fit.p, fit.q, fit.gamma])
    standard_error = np.sqrt(np.diag(np.linalg.inv(_hessian(negative, estimate))))
    z = (estimate - np.log([truth.p, truth.q, truth.gamma])) / standard_error
    assert (np.abs(z) < 4).all(), z
    for k in range(3):
        for delta in (-0.02, 0.02):
            moved = estimate.copy()
            moved[k] += delta
            assert -negative(moved) < fit.log_likelihood
    # the population mean order value is recovered closely
    assert fit.p * fit.gamma / (fit.q - 1) == pytest.approx(truth.mean(), rel=0.05)


def test_predictions_are_consistent(simulated_fit: dict[str, Any]) -> None:
    s = simulated_fit["summary"]
    table = predict_customers(s, simulated_fit["bgnbd"], simulated_fit["gg"], 52.0)
    assert list(table.columns) == [
        "customer",
        "expected_purchases",
        "p_alive",
        "expected_value",
        "clv",
    ]
    assert ((table["p_alive"] > 0) & (table["p_alive"] <= 1)).all()
    assert (table.loc[s["frequency"] == 0, "p_alive"] == 1.0).all()
    assert (table["clv"] <= table["expected_purchases"] * table["expected_value"] + 1e-9).all()
    assert (table["clv"] >= 0).all()
    # predicted purchases in the next 26 weeks track what the customers then did (holdout)
    tx = simulated_fit["tx"]
    holdout = tx[(tx["date"] > "2028-01-02") & (tx["date"] <= "2028-07-01")]
    actual = len(holdout.drop_duplicates(["customer", "date"]))
    predicted = predict_customers(s, simulated_fit["bgnbd"], None, 26.0)["expected_purchases"]
    assert predicted.sum() == pytest.approx(actual, rel=0.08)
    # and customers predicted to buy more did buy more
    bought = holdout.groupby("customer").size().reindex(s["customer"], fill_value=0).to_numpy()
    top = predicted.to_numpy() > np.quantile(predicted, 0.8)
    assert bought[top].mean() > 3 * bought[~top].mean()


def test_fit_recovers_parameters_from_tandem_orders() -> None:
    # Tandem's own demand model: new customers by innovation, BG/NBD purchases with spend,
    # orders turned into (customer, date, amount = qty × price) and refitted
    data = crm_dict(
        364,
        shops={
            "customers": 0,
            "product_mix": {"a": 1},
            "zone_mix": {"north": 1},
            "purchasing": {
                "r": 0.6,
                "alpha": 5.0,
                "a": 0.9,
                "b": 4.0,
                "spend": {"p": 5.0, "q": 5.0, "gamma": 40.0},
            },
            "acquisition": {"prospects": 3000, "innovation_per_year": 12.0},
        },
    )
    data["crm"]["seasonality"] = {"monthly": [1.0] * 12}
    scenario = scenario_from_dict(data)
    orders = DemandModel(scenario).sample(np.random.default_rng(11))
    tx = pd.DataFrame(
        {
            "customer": orders["customer"],
            "date": pd.Timestamp(scenario.start_date)
            + pd.to_timedelta(np.floor(orders["time"]), unit="D"),
            "amount": orders["qty"] * 10.0,
        }
    )
    fit = fit_transactions(tx, scenario.start_date + dt.timedelta(days=363))
    got = fit.params()["bgnbd"]
    assert got["r"] == pytest.approx(0.6, rel=0.25)
    assert got["alpha"] == pytest.approx(5.0, rel=0.3)
    assert got["a"] == pytest.approx(0.9, rel=0.4)
    assert got["b"] == pytest.approx(4.0, rel=0.5)
    assert fit.gamma_gamma is not None
    assert fit.gamma_gamma.p * fit.gamma_gamma.gamma / (fit.gamma_gamma.q - 1) == pytest.approx(
        50.0, rel=0.1
    )


# ----------------------------------------------------------------------------------- KPIs
def test_campaign_roi_by_attribution_method_and_net_of_supply() -> None:
    from crm_model.kpis import crm_kpis

    data = crm_dict(
        60,
        shops={
            "customers": 10,
            "orders_per_customer_per_year": 1,
            "channel_mix": {"email": 1.0, "social": 0.5},
        },
    )
    data["products"]["a"]["unit_cost"] = 4.0  # margin 6 a unit; b: 20 a unit
    data["crm"]["campaigns"] = [
        {
            "name": "early",
            "channel": "email",
            "start": "2027-01-25",
            "end": "2027-01-29",
            "budget": 50,
        },
        {
            "name": "late",
            "channel": "social",
            "start": "2027-02-03",
            "end": "2027-02-12",
            "budget": 100,
        },
        {
            "name": "never",
            "channel": "phone",
            "start": "2027-01-25",
            "end": "2027-01-26",
            "budget": 10,
        },
    ]
    scenario = scenario_from_dict(data)
    orders = pd.DataFrame(
        {
            "replication": 0,
            "order_type": "customer",
            "segment": "shops",
            "customer": [1, 2, 3, 4],
            "product": ["a", "b", "a", "b"],
            "campaign": ["early", "late", "", ""],
            "qty": [10.0, 1.0, 5.0, 2.0],
            "delivered_qty": [10.0, 0.0, 5.0, 2.0],
            "placed_time": [2.0, 12.0, 40.0, 55.0],  # days: early runs 0-4, late 9-18
            "lost_qty": [0.0, 1.0, 0.0, 0.0],
        }
    )
    kpis = crm_kpis(scenario, {"orders": orders}, lookback_days=30)
    value = kpis.set_index(["metric", "scope"])["value"]
    # touches: line 1 early; line 2 early + late; line 3 (day 40) late only; line 4 none;
    # "never" targets shops on phone, which reaches no one there
    margin = {
        "incremental": (60, 20),
        "first_touch": (60 + 20, 30),
        "last_touch": (60, 20 + 30),
        "linear": (60 + 10, 10 + 30),
    }
    for method, (early, late) in margin.items():
        assert value[f"campaign_margin_{method}", "campaign:early"] == pytest.approx(early)
        assert value[f"campaign_margin_{method}", "campaign:late"] == pytest.approx(late)
        assert value[f"campaign_roi_{method}", "campaign:late"] == pytest.approx((late - 100) / 100)
    # net of supply: line 2 (20 of margin) was lost
    assert value["campaign_roi_incremental_delivered", "campaign:late"] == pytest.approx(-1.0)
    assert value["campaign_roi_last_touch_delivered", "campaign:late"] == pytest.approx(
        (30 - 100) / 100
    )
    assert value["campaign_roi_incremental", "channel:email"] == pytest.approx((60 - 50) / 50)
    assert value["campaign_roi_incremental", "all"] == pytest.approx((80 - 160) / 160)
    assert value["campaign_margin_first_touch", "campaign:never"] == 0.0


def test_crm_kpis_of_a_run_with_funnel_and_service() -> None:
    from crm_model.kpis import crm_kpis

    data = rich_dict()
    data["crm"]["service"] = {"product_issue_probability": 0.2}
    scenario = scenario_from_dict(data)
    stream = DemandModel(scenario).stream(np.random.default_rng(4))
    orders = pd.concat([stream.next_orders(t, min(t + 7, 60)) for t in range(0, 60, 7)])
    tables = {f"crm_{k}": v.assign(replication=0) for k, v in stream.tables().items()}
    kpis = crm_kpis(scenario, tables)
    value = kpis.set_index(["metric", "scope"])["value"]
    leads = tables["crm_leads"]
    assert value["leads", "all"] == len(leads)
    assert value["deals_won", "segment:firms"] == int(
        ((leads["segment"] == "firms") & (leads["reached"] == 3)).sum()
    )
    assert value["customers_acquired", "all"] == len(tables["crm_acquisitions"])
    assert 0 < value["win_rate", "segment:shops"] < 1
    assert value["tickets", "all"] == len(tables["crm_tickets"]) > 0
    assert value["tickets", "reason:product"] == value["tickets", "all"]
    assert value["tickets_unresolved_share", "all"] <= 1
    life = tables["crm_lifecycle"]
    end = life[(life["time"] == 60) & (life["state"] == "customer")]["customers"].sum()
    assert value["active_customers", "all"] == end
    assert value["clv_new_customer", "segment:firms"] > 0
    assert len(orders) > 0
