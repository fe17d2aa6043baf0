"""Demand generation at scale: 1 M customers × 365 days of customer-level demand, against a bare
numpy Poisson draw of the same size, measured in the same process.

The scenario has three segments (BG/NBD buyers with Gamma-Gamma spend, steady buyers with
churn and win-back, and a small B2B segment with a funnel and recurring deals), monthly
seasonality, campaigns on two channels with partial reach and a promotion, so every feature of
the sampler is exercised. ``customer_days_per_s`` is customers × days ÷ the wall time of
``DemandModel.sample`` (the whole order-line table, ids included). ``poisson_draws_per_s`` is
what ``Generator.poisson`` draws per second for one count per customer and day (365 draws of
1 M, the naive way to generate this demand). The sampler is event-driven (work grows with the
purchases, not with customers × days). Both are timed ``--repeat`` times, interleaved, and the
fastest of each counts (as ``timeit`` does: the minimum is the least disturbed by other load).
Also printed: the period-by-period stream (52 weekly periods, as the simulation pulls it) and the
forecast. Last line: ``customer_days_per_s=… poisson_draws_per_s=… ratio=…`` (target ≥ 0.5).

Usage: ``python benchmarks/demand_generation.py [--customers N] [--days D] [--repeat R]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from crm_model import DemandModel
from scenarios import scenario_from_dict


def scenario_dict(customers: int, days: int) -> dict[str, Any]:
    """A CRM-only scenario with ``customers`` customers in three segments."""
    mix = {"a": 3, "b": 2, "c": 1}
    return {
        "name": "demand_benchmark",
        "start_date": "2027-01-04",
        "horizon_days": days,
        "bucket": "week",
        "products": {
            "a": {"kind": "service", "price": 20.0},
            "b": {"kind": "service", "price": 45.0},
            "c": {"kind": "service", "price": 120.0},
        },
        "nodes": {z: {"kind": "customer_zone"} for z in ("north", "south", "west")},
        "crm": {
            "segments": {
                "consumers": {
                    "customers": int(customers * 0.7),
                    "product_mix": mix,
                    "zone_mix": {"north": 1, "south": 1, "west": 1},
                    "purchasing": {
                        "r": 0.8,
                        "alpha": 8.0,
                        "a": 0.8,
                        "b": 4.0,
                        "time_unit": "week",
                        "spend": {"p": 4.0, "q": 3.0, "gamma": 60.0},
                    },
                    "channel_mix": {"email": 0.7, "social": 0.4},
                    "price_elasticity": 2.0,
                },
                "regulars": {
                    "customers": customers - int(customers * 0.7) - 1000,
                    "orders_per_customer_per_year": 4.0,
                    "units_per_order": 1.5,
                    "annual_churn_rate": 0.2,
                    "winback_per_year": 0.3,
                    "product_mix": mix,
                    "zone_mix": {"north": 2, "south": 1},
                    "channel_mix": {"email": 0.9},
                },
                "business": {
                    "customers": 1000,
                    "orders_per_customer_per_year": 12.0,
                    "units_per_order": 10,
                    "product_mix": mix,
                    "zone_mix": {"west": 1},
                    "acquisition": {
                        "prospects": 5000,
                        "innovation_per_year": 0.1,
                        "imitation_per_year": 0.3,
                        "qualify": {
                            "conversion": 0.5,
                            "dwell": {"dist": "lognormal", "mean": 14, "cv": 0.5},
                        },
                        "win": {
                            "conversion": 0.3,
                            "dwell": {"dist": "lognormal", "mean": 40, "cv": 0.5},
                        },
                        "deal": {"units_mean": 50, "orders": 6, "interval_days": 30},
                    },
                },
            },
            "seasonality": {
                "monthly": [0.85, 0.8, 0.9, 0.9, 0.95, 0.9, 0.9, 0.95, 1.0, 1.1, 1.45, 1.8]
            },
            "campaigns": [
                {
                    "name": "spring_email",
                    "channel": "email",
                    "start": "2027-03-01",
                    "end": "2027-03-21",
                    "budget": 60000,
                    "max_lift": 0.3,
                    "half_saturation_spend_per_day": 2000,
                },
                {
                    "name": "holiday_social",
                    "channel": "social",
                    "start": "2027-11-15",
                    "end": "2027-12-20",
                    "budget": 150000,
                    "max_lift": 0.5,
                    "half_saturation_spend_per_day": 3000,
                    "target_segments": ["consumers"],
                },
            ],
            "promotions": [
                {
                    "name": "black_friday",
                    "start": "2027-11-26",
                    "end": "2027-11-29",
                    "discount": 0.25,
                    "products": ["b", "c"],
                }
            ],
        },
    }


def poisson_seconds(customers: int, days: int, lam: float, rng: np.random.Generator) -> float:
    """Seconds to draw one Poisson count per customer and day, a day at a time."""
    start = time.perf_counter()
    total = 0
    for _ in range(days):
        total += int(rng.poisson(lam, customers).sum())
    elapsed = time.perf_counter() - start
    assert total > 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenario = scenario_from_dict(scenario_dict(args.customers, args.days))
    customers = sum(s.customers for s in scenario.crm.segments.values())
    model = DemandModel(scenario)

    start = time.perf_counter()
    forecast = model.expected()
    forecast_s = time.perf_counter() - start

    sample_times, poisson_times = [], []
    orders = None
    for k in range(args.repeat):
        start = time.perf_counter()
        orders = model.sample(np.random.default_rng(1 + k))
        sample_times.append(time.perf_counter() - start)
        lam = len(orders) / (customers * args.days)
        poisson_times.append(poisson_seconds(customers, args.days, lam, np.random.default_rng(3)))
    assert orders is not None
    sample_s, poisson_s = min(sample_times), min(poisson_times)

    start = time.perf_counter()
    stream = model.stream(np.random.default_rng(2))
    streamed = 0
    for period in range(0, args.days, 7):
        streamed += len(stream.next_orders(period, min(period + 7, args.days)))
    stream_s = time.perf_counter() - start

    poisson = customers * args.days / poisson_s
    rate = customers * args.days / sample_s
    print(
        f"customers={customers} days={args.days} order_lines={len(orders)} "
        f"expected_lines={forecast['orders'].sum():.0f}"
    )
    print(
        f"forecast_s={forecast_s:.2f} sample_s={sample_s:.2f} poisson_s={poisson_s:.2f} "
        f"stream_s={stream_s:.2f} (52 weekly periods, {streamed} lines)"
    )
    ratio = rate / poisson
    print(f"customer_days_per_s={rate:.3g} poisson_draws_per_s={poisson:.3g} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
