"""Shared fixtures: small hand-made scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from scenarios import scenario_from_dict
from scenarios.schema import Scenario


def tiny_scenario_dict(**changes: Any) -> dict[str, Any]:
    """One supplier → one warehouse → one zone, fixed lead times, one product 'widget'."""
    data: dict[str, Any] = {
        "name": "tiny",
        "start_date": "2027-01-04",
        "horizon_days": 10,
        "bucket": "day",
        "products": {"widget": {"unit_cost": 10.0, "price": 25.0}},
        "nodes": {
            "sup": {
                "kind": "supplier",
                "lead_time": {"dist": "fixed", "mean": 1},
                "supplies": {"widget": {"price": 8.0}},
            },
            "wh": {"kind": "warehouse", "initial_inventory": {"widget": 5}},
            "zone": {"kind": "customer_zone", "service_promise_days": 2},
        },
        "lanes": [
            {
                "src": "sup",
                "dst": "wh",
                "lead_time": {"dist": "fixed", "mean": 2},
                "cost_per_unit": 1.0,
            },
            {
                "src": "wh",
                "dst": "zone",
                "lead_time": {"dist": "fixed", "mean": 1},
                "cost_per_unit": 0.5,
            },
        ],
        "crm": {
            "segments": {
                "all": {
                    "customers": 100,
                    "orders_per_customer_per_year": 3.65,
                    "product_mix": {"widget": 1},
                    "zone_mix": {"zone": 1},
                }
            }
        },
        "simulation": {"seed": 7},
    }
    for key, value in changes.items():
        data[key] = value
    return data


@pytest.fixture
def tiny() -> Scenario:
    return scenario_from_dict(tiny_scenario_dict())
