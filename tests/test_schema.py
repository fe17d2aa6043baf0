"""Tests of the scenario layer: schema errors, cross-field checks, what-ifs, the library, demand.

Also checks that the generated ``docs/scenario-format.md`` is current and that ``scenarios``
imports nothing from the other Tandem packages.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from crm_model import DemandModel, campaign_lift
from scenarios import (
    ScenarioError,
    apply_overrides,
    library_descriptions,
    library_names,
    load_scenario,
    scenario_from_dict,
    scenario_hash,
    scenario_to_yaml,
)
from scenarios import checks as checks_module
from scenarios.checks import (
    ALL_CHECKS,
    check_bom,
    check_campaigns,
    check_demand,
    check_disruptions,
    check_distributions,
    check_lane_endpoints,
    check_names,
    check_node_items,
    check_policies,
    check_seasonality,
    check_segments,
    check_sourcing,
    check_sourcing_rules,
    check_zone_reachable,
    check_purchase_models,
    check_acquisition,
    check_promotions,
    check_service,
    run_checks,
)
from scenarios.docs import EXAMPLE, REGENERATE, render_scenario_format
from scenarios.errors import Problem
from scenarios.loader import deep_merge, format_path, load_raw, parse_path
from scenarios.schema import Campaign, Scenario

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = library_names()
NEW_SCENARIOS = ("b2b_services", "autoparts_supplier", "integrated_manufacturer")


# ------------------------------------------------------------------------------ helpers
def small_dict() -> dict[str, Any]:
    """A valid scenario touching every section: supplier → plant (BOM) → DC → zone, a bought-in
    product, a service, a segment, a campaign and a policy. Each test breaks one thing."""
    return {
        "name": "small",
        "start_date": "2027-01-04",
        "horizon_days": 28,
        "bucket": "week",
        "products": {
            "widget": {"unit_cost": 10.0, "price": 25.0, "bom": {"gear": 2, "casing": 1}},
            "gadget": {"unit_cost": 4.0, "price": 9.0},
            "gear": {"kind": "component", "unit_cost": 1.0},
            "casing": {"kind": "component", "unit_cost": 2.0},
            "repair": {"kind": "service", "price": 60.0},
        },
        "nodes": {
            "sup": {
                "kind": "supplier",
                "lead_time": {"dist": "lognormal", "mean": 5, "cv": 0.2},
                "supplies": {
                    "gear": {"price": 0.8, "moq": 100, "order_multiple": 50},
                    "casing": {"price": 1.5},
                    "gadget": {"price": 3.0},
                },
            },
            "plant": {
                "kind": "plant",
                "capacity_per_day": 50,
                "produces": {"widget": {"cost_per_unit": 2.0}},
                "initial_inventory": {"gear": 200, "casing": 100},
            },
            "dc": {"kind": "warehouse", "initial_inventory": {"widget": 40, "gadget": 30}},
            "zone": {"kind": "customer_zone"},
        },
        "lanes": [
            {"src": "sup", "dst": "plant", "lead_time": {"dist": "fixed", "mean": 2}},
            {"src": "plant", "dst": "dc", "lead_time": {"dist": "uniform", "low": 1, "high": 2}},
            {
                "src": "sup",
                "dst": "dc",
                "products": ["gadget"],
                "lead_time": {"dist": "triangular", "low": 1, "mode": 2, "high": 4},
            },
            {
                "src": "dc",
                "dst": "zone",
                "lead_time": {"dist": "empirical", "values": [1, 2], "weights": [3, 1]},
            },
        ],
        "policies": [
            {
                "node": "dc",
                "product": "gadget",
                "kind": "s_S",
                "reorder_point": 10,
                "order_up_to": 40,
            }
        ],
        "crm": {
            "segments": {
                "homes": {
                    "customers": 500,
                    "orders_per_customer_per_year": 4,
                    "product_mix": {"widget": 2, "gadget": 1, "repair": 0.5},
                    "zone_mix": {"zone": 1},
                }
            },
            "campaigns": [
                {
                    "name": "promo",
                    "channel": "email",
                    "start": "2027-01-10",
                    "end": "2027-01-20",
                    "budget": 500,
                }
            ],
        },
    }


def build(data: dict[str, Any]) -> Scenario:
    """A structurally valid scenario, without the cross-field checks (so checks can be tested)."""
    return Scenario.model_validate(data)


def changed(**overrides: Any) -> Scenario:
    """``small_dict()`` with fields set by path, structurally validated only."""
    return build(apply_overrides(small_dict(), overrides))


def problems_of(exc: pytest.ExceptionInfo[ScenarioError]) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in exc.value.problems]


def test_small_scenario_is_valid() -> None:
    scenario = scenario_from_dict(small_dict())
    assert run_checks(scenario) == []


# ------------------------------------------------------------- (a) one error, every problem
STRUCTURAL_AND_CROSS_FIELD = """\
name: broken
start_date: 2027-01-04
horizon_days: 28
products:
  widget: {unit_cost: 10, price: -25, bom: {gear: 2}}      # negative price
  gear: {kind: component, unit_cost: 1, bom: {widget: 1}}  # BOM cycle widget -> gear -> widget
  4711: {unit_cost: 3}                                     # id YAML reads as a number
nodes:
  sup: {kind: supplier, lead_time: {dist: fixed, mean: -3}, supplies: {gear: {price: 1}}}
  plant: {kind: plant, produces: {widget: {}}, initial_inventory: {gear: 10}}
  dc: {kind: warehouse, initial_inventory: {widget: 5}}
  depot: {kind: depot}                                     # unknown node kind
  zone: {kind: customer_zone}
lanes:
  - {src: sup, dst: plant}
  - {src: plant, dst: dc, lead_tme: {dist: fixed, mean: 1}}   # typo
  - {src: dc, dst: zone}
  - {src: dc, dst: DC9}                                    # unknown node
crm:
  segments:
    homes:
      customers: many                                      # wrong type
      orders_per_customer_per_year: 2
      product_mix: {widget: 1}
      zone_mix: {zone: 1}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_structural_problems_are_reported_together_before_cross_field_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.yaml", STRUCTURAL_AND_CROSS_FIELD)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    found = dict(problems_of(exc))
    assert list(found) == [
        "products.widget.price",
        "products.4711",
        "nodes.depot",
        "lanes[1].lead_tme",
        "crm.segments.homes.customers",
    ]
    assert "greater than or equal to 0" in found["products.widget.price"]
    assert "(got -25)" in found["products.widget.price"]
    assert found["products.4711"] == "ids must be text; quote this key in YAML"
    assert found["nodes.depot"].startswith("kind must be one of customer_zone, plant, supplier")
    assert found["lanes[1].lead_tme"] == "unknown field 'lead_tme'; did you mean 'lead_time'?"
    assert "valid integer" in found["crm.segments.homes.customers"]
    # the cross-field phase has not run: a structurally broken scenario cannot be checked
    assert "lanes[3].dst" not in found
    assert exc.value.source == str(path.resolve())
    text = str(exc.value)
    assert text.startswith(f"{path.resolve()}: 5 problems\n")
    assert "  - lanes[1].lead_tme: unknown field 'lead_tme'; did you mean 'lead_time'?" in text


def test_cross_field_problems_are_reported_together(tmp_path: Path) -> None:
    text = (
        STRUCTURAL_AND_CROSS_FIELD.replace("price: -25", "price: 25")
        .replace("  4711: {unit_cost: 3}", '  "4711": {unit_cost: 3}')
        .replace("  depot: {kind: depot}", "  depot: {kind: warehouse}")
        .replace("lead_tme:", "lead_time:")
        .replace("customers: many", "customers: 100")
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_write(tmp_path, "cross.yaml", text))
    paths = [path for path, _ in problems_of(exc)]
    assert paths == [
        "nodes.sup.lead_time.mean",
        "lanes[3].dst",
        "products.widget.bom" if paths[2] == "products.widget.bom" else "products.gear.bom",
    ]
    messages = dict(problems_of(exc))
    assert messages["nodes.sup.lead_time.mean"] == "lead time cannot be negative (got -3.0)"
    assert messages["lanes[3].dst"] == "unknown node 'DC9'"
    assert "BOM cycle" in messages[paths[2]]
    assert {"widget", "gear"} <= set(messages[paths[2]].replace("→", " ").split())


def test_yaml_syntax_and_shape_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_write(tmp_path, "syntax.yaml", "name: x\nproducts: {a: [1, 2}\n"))
    assert exc.value.problems[0].path == ""
    assert "line 2" in exc.value.problems[0].message
    assert "invalid YAML" in exc.value.problems[0].message
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    assert exc.value.problems == [Problem("", "a scenario file must be a mapping of fields")]
    with pytest.raises(ScenarioError) as exc:
        load_scenario(_write(tmp_path, "empty.yaml", ""))
    assert {p.path for p in exc.value.problems} == {
        "name",
        "start_date",
        "horizon_days",
        "products",
    }
    assert {p.message for p in exc.value.problems} == {"required field is missing"}


def test_unknown_scenario_name_suggests_a_library_name() -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario("retailer_holidy")
    assert exc.value.problems[0].message == (
        "no scenario file or library scenario named 'retailer_holidy'; "
        "did you mean 'retailer_holiday'?"
    )


# ------------------------------------------------------------------ (b) one test per check
def test_check_names() -> None:
    data = small_dict()
    data["name"] = "my scenario"
    data["products"]["bad.id"] = {"unit_cost": 1}
    data["nodes"]["gadget"] = {"kind": "customer_zone"}  # same id as a product
    assert check_names(build(data)) == [
        Problem("name", "'my scenario' must use letters, digits, _ - only"),
        Problem("products.bad.id", "ids use letters, digits, _ - only"),
        Problem("nodes.gadget", "a node and a product share this id"),
    ]


def test_check_distributions() -> None:
    scenario = changed(
        **{
            "nodes.sup.lead_time": {"dist": "triangular", "low": 1, "high": 5},  # no mode
            "nodes.sup.late_delay": {"dist": "fixed", "mean": -1},
            "nodes.plant.production_lead_time_days": -2,
            "lanes[1].lead_time.high": 0.5,  # below low = 1
            "lanes[2].lead_time.mode": 7,  # outside [1, 4]
            "lanes[3].lead_time.weights": [1, 2, 3],  # 3 weights for 2 values
        }
    )
    assert check_distributions(scenario) == [
        Problem("nodes.sup.lead_time.mode", "required for a triangular distribution"),
        Problem("nodes.sup.late_delay.mean", "lead time cannot be negative (got -1.0)"),
        Problem("nodes.plant.production_lead_time_days", "lead time cannot be negative"),
        Problem("lanes[1].lead_time.high", "high (0.5) is below low (1.0)"),
        Problem("lanes[2].lead_time.mode", "mode (7.0) must lie between low and high"),
        Problem("lanes[3].lead_time.weights", "has 3 weights for 2 values"),
    ]


def test_check_lane_endpoints() -> None:
    data = small_dict()
    data["lanes"] += [
        {"src": "dc", "dst": "DC9"},
        {"src": "zone", "dst": "dc"},
        {"src": "dc", "dst": "dc"},
        {"src": "sup", "dst": "dc", "products": ["gadget", "gizmo"]},
    ]
    assert check_lane_endpoints(build(data)) == [
        Problem("lanes[4].dst", "unknown node 'DC9'"),
        Problem("lanes[5]", "a lane cannot run from a customer_zone to a warehouse"),
        Problem("lanes[6]", "lane from 'dc' to itself"),
        Problem("lanes[7].products", "unknown product 'gizmo'"),
    ]


def test_check_node_items() -> None:
    scenario = changed(
        **{
            "nodes.sup.supplies.gizmo": {"price": 1},
            "nodes.sup.supplies.repair": {"price": 1},
            "nodes.sup.supplies.gear.moq": 120,  # order_multiple 50
            "nodes.plant.produces.gadget": {},  # gadget has no BOM
            "nodes.dc.initial_inventory.widget": -5,
        }
    )
    assert check_node_items(scenario) == [
        Problem(
            "nodes.sup.supplies.gear.moq", "moq 120.0 is not a multiple of order_multiple 50.0"
        ),
        Problem("nodes.sup.supplies.gizmo", "unknown product"),
        Problem("nodes.sup.supplies.repair", "a service cannot be supplied"),
        Problem("nodes.plant.produces.gadget", "product has no bom to make it from"),
        Problem("nodes.dc.initial_inventory.widget", "inventory cannot be negative (got -5.0)"),
    ]


def test_check_node_items_accepts_fractional_multiples() -> None:
    # 0.3 % 0.1 == 0.0999… in floating point: a kg-based MOQ must not be flagged
    scenario = changed(
        **{"nodes.sup.supplies.gear": {"price": 1, "moq": 0.3, "order_multiple": 0.1}}
    )
    assert check_node_items(scenario) == []


def test_check_bom() -> None:
    scenario = changed(
        **{
            "products.gear.bom": {"casing": 1},
            "products.casing.bom": {"gear": 1, "bolt": 4},
            "products.gadget.bom": {"repair": 1, "widget": 0},
        }
    )
    problems = check_bom(scenario)
    assert problems[:3] == [
        Problem("products.gadget.bom.repair", "a service cannot be a component"),
        Problem("products.gadget.bom.widget", "quantity must be > 0 (got 0.0)"),
        Problem("products.casing.bom.bolt", "unknown component 'bolt'"),
    ]
    assert len(problems) == 4
    assert problems[3].path in {"products.gear.bom", "products.casing.bom"}
    assert problems[3].message in {
        "BOM cycle: gear → casing → gear",
        "BOM cycle: casing → gear → casing",
    }


def test_check_segments() -> None:
    data = small_dict()
    homes = data["crm"]["segments"]["homes"]
    homes["product_mix"] = {"gear": 1, "gizmo": 1, "gadget": -3}
    homes["zone_mix"] = {"dc": 1, "moon": 1}
    data["crm"]["segments"]["shops"] = {
        "customers": 5,
        "orders_per_customer_per_year": 1,
        "product_mix": {"gadget": 1},
        "zone_mix": {},
    }
    assert check_segments(build(data)) == [
        Problem("crm.segments.homes.product_mix.gear", "components are not sold"),
        Problem("crm.segments.homes.product_mix.gizmo", "unknown product"),
        Problem("crm.segments.homes.product_mix.gadget", "weight cannot be negative"),
        Problem("crm.segments.homes.zone_mix.dc", "'dc' is a warehouse"),
        Problem("crm.segments.homes.zone_mix.moon", "unknown customer zone 'moon'"),
        Problem("crm.segments.homes.product_mix", "needs at least one positive weight"),
        Problem("crm.segments.shops.zone_mix", "needs at least one positive weight"),
    ]


def test_check_campaigns() -> None:
    scenario = changed(
        **{
            "crm.campaigns[0].end": "2027-01-01",
            "crm.campaigns[0].target_segments": ["homes", "pets"],
        }
    )
    assert check_campaigns(scenario) == [
        Problem("crm.campaigns[0].end", "ends (2027-01-01) before it starts (2027-01-10)"),
        Problem("crm.campaigns[0].target_segments", "unknown segment 'pets'"),
    ]


def test_check_seasonality() -> None:
    scenario = changed(**{"crm.seasonality.monthly": [1.0] * 10 + [-0.5]})
    assert check_seasonality(scenario) == [
        Problem("crm.seasonality.monthly", "needs 12 values (got 11)"),
        Problem("crm.seasonality.monthly", "multipliers cannot be negative"),
    ]


def test_check_zone_reachable() -> None:
    data = small_dict()
    del data["lanes"][3]  # dc → zone
    data["nodes"]["service_zone"] = {"kind": "customer_zone"}
    data["crm"]["segments"]["clients"] = {
        "customers": 10,
        "orders_per_customer_per_year": 1,
        "product_mix": {"repair": 1},  # services need no lane
        "zone_mix": {"service_zone": 1},
    }
    assert check_zone_reachable(build(data)) == [
        Problem("nodes.zone", "customer zone buys goods but no warehouse has a lane to it")
    ]


def test_check_sourcing() -> None:
    data = small_dict()
    data["lanes"][2]["products"] = ["widget"]  # sup → dc no longer carries gadget
    del data["nodes"]["dc"]["initial_inventory"]["gadget"]
    del data["nodes"]["plant"]["initial_inventory"]["casing"]
    data["lanes"][0]["products"] = ["gear"]  # sup → plant no longer carries casing
    data["policies"] = []
    assert check_sourcing(build(data)) == [
        Problem("nodes.zone", "'dc' serves this zone but never gets product 'gadget'"),
        Problem("nodes.plant", "no lane brings component 'casing' to this plant"),
    ]


def test_check_policies() -> None:
    data = small_dict()
    data["policies"] += [
        {"node": "nowhere", "product": "gadget"},
        {"node": "sup", "product": "gear"},
        {"node": "dc", "product": "repair"},
        {"node": "dc", "product": "widget", "kind": "r_Q"},
        {
            "node": "dc",
            "product": "gadget",
            "kind": "min_max",
            "reorder_point": 50,
            "order_up_to": 20,
        },
        {"node": "zone", "product": "widget", "kind": "order_up_to", "order_up_to": 5},
    ]
    assert check_policies(build(data)) == [
        Problem("policies[1].node", "unknown node 'nowhere'"),
        Problem("policies[2].node", "'sup' is a supplier, not a stock point"),
        Problem("policies[3].product", "'repair' is not stocked at 'dc'"),
        Problem("policies[4].reorder_point", "required for a r_Q policy"),
        Problem("policies[4].order_quantity", "required for a r_Q policy"),
        Problem("policies[5].order_up_to", "must be above reorder_point"),
        Problem("policies[5]", "second policy for 'gadget' at 'dc'"),
        Problem("policies[6].node", "'zone' is a customer_zone, not a stock point"),
        Problem("policies[6].review_period_days", "required for a order_up_to policy"),
    ]


def test_check_policies_needs_a_way_to_replenish() -> None:
    data = small_dict()
    data["lanes"][2]["products"] = ["widget"]  # gadget stays at dc (initial stock) but no lane
    assert check_policies(build(data)) == [
        Problem("policies[0].kind", "no lane brings 'gadget' to 'dc' to reorder")
    ]
    # the simulation replenishes by purchase or transfer only: no make-to-stock policy at a plant
    data = small_dict()
    data["policies"] = [
        {"node": "plant", "product": "widget", "kind": "base_stock", "order_up_to": 80},
        {"node": "plant", "product": "gear", "kind": "base_stock", "order_up_to": 500},
    ]
    assert check_policies(build(data)) == [
        Problem("policies[0].kind", "no lane brings 'widget' to 'plant' to reorder")
    ]


def test_every_check_is_tested_and_listed() -> None:
    names = {name for name in checks_module.__all__ if name.startswith("check_")}
    assert names == {check.__name__ for check in ALL_CHECKS}
    tested = {name[len("test_") :] for name in globals() if name.startswith("test_check_")}
    assert names <= tested


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenarios_pass_every_check(name: str, check: Any) -> None:
    data, _ = load_raw(name)
    assert check(build(data)) == []


def test_check_demand() -> None:
    data = small_dict()
    data["demand"] = [
        {"zone": "zone", "product": "gadget", "dist": "poisson", "mean_per_day": 2},
        {"zone": "dc", "product": "gear", "dist": "normal", "mean_per_day": 2},
        {"zone": "nowhere", "product": "gadget", "dist": "empirical"},
    ]
    assert check_demand(build(data)) == [
        Problem("demand[1].zone", "'dc' is a warehouse"),
        Problem("demand[1].product", "components are not sold"),
        Problem("demand[1].sd_per_day", "required for normal demand"),
        Problem("demand[2].zone", "unknown customer zone 'nowhere'"),
        Problem("demand[2].values", "required for empirical demand"),
    ]


def test_check_disruptions() -> None:
    data = small_dict()
    data["disruptions"] = [
        {"name": "ok", "kind": "supplier_outage", "node": "sup", "start": "2027-01-10",
         "duration_days": 5},
        {"name": "wrong node", "kind": "supplier_outage", "node": "plant", "mtbf_days": 50,
         "mttr_days": 3},
        {"name": "no lane", "kind": "lane_delay", "lane": 9, "start": "2027-01-10",
         "duration_days": 2},
        {"name": "both", "kind": "stock_loss", "node": "dc", "start": "2027-01-10",
         "duration_days": 1, "mtbf_days": 5, "mttr_days": 1},
        {"name": "half", "kind": "demand_shock", "mtbf_days": 30},
    ]
    assert check_disruptions(build(data)) == [
        Problem("disruptions[1].node", "a supplier_outage cannot hit a plant"),
        Problem("disruptions[2].lane", "no lane [9] (4 lanes)"),
        Problem("disruptions[2].extra_days", "a lane delay needs extra_days > 0"),
        Problem("disruptions[3]", "either start + duration_days or mtbf_days + mttr_days"),
        Problem("disruptions[4]", "a random disruption needs mtbf_days and mttr_days"),
    ]


def test_check_sourcing_rules() -> None:
    data = small_dict()
    data["sourcing"] = [
        {"node": "dc", "product": "gadget", "rule": "primary_backup", "sources": ["sup"]},
        {"node": "dc", "product": "gadget", "rule": "primary_backup", "sources": ["plant"]},
        {"node": "dc", "product": "gadget", "rule": "split", "split": {}},
        {"node": "DC9", "product": "gadget"},
    ]
    assert check_sourcing_rules(build(data)) == [
        Problem("sourcing[1]", "'plant' has no lane bringing 'gadget' to 'dc'"),
        Problem("sourcing[2].split", "split needs shares ≥ 0 with a positive sum"),
        Problem("sourcing[3].node", "unknown node 'DC9'"),
    ]



def test_check_purchase_models() -> None:
    data = small_dict()
    homes = data["crm"]["segments"]["homes"]
    homes["purchasing"] = {"r": 1, "alpha": 2, "a": 1, "b": 2, "spend": {"p": 2, "q": 3, "gamma": 10}}
    homes["channel_mix"] = {"email": 1.5}
    data["products"]["gadget"]["price"] = 0.0
    data["crm"]["segments"]["flats"] = {"customers": 5, "product_mix": {"widget": 1},
                                        "zone_mix": {"zone": 1}}
    assert check_purchase_models(build(data)) == [
        Problem("crm.segments.homes", "needs either orders_per_customer_per_year or purchasing (not both)"),
        Problem("crm.segments.homes.product_mix.gadget",
                "purchasing.spend needs a price > 0 to turn value into units"),
        Problem("crm.segments.homes.channel_mix.email", "reach must be in [0, 1] (got 1.5)"),
        Problem("crm.segments.flats", "needs either orders_per_customer_per_year or purchasing (not both)"),
    ]  # fmt: skip


def test_check_acquisition() -> None:
    data = small_dict()
    homes = data["crm"]["segments"]["homes"]
    homes["acquisition"] = {"prospects": 100, "qualify": {"dwell": {"dist": "uniform", "low": 3}}}
    data["crm"]["segments"]["new"] = {
        "customers": 0, "orders_per_customer_per_year": 1, "product_mix": {"widget": 1},
        "zone_mix": {"zone": 1},
        "acquisition": {"prospects": 10, "imitation_per_year": 1,
                        "win": {"dwell": {"dist": "fixed", "mean": -1}}},
    }
    assert check_acquisition(build(data)) == [
        Problem("crm.segments.homes.acquisition.qualify.dwell.high", "required for a uniform distribution"),
        Problem("crm.segments.homes.acquisition",
                "prospects never become leads: set innovation_per_year or imitation_per_year"),
        Problem("crm.segments.new.acquisition.win.dwell.mean", "duration cannot be negative (got -1.0)"),
        Problem("crm.segments.new.acquisition.innovation_per_year",
                "word of mouth needs a first customer: with no customers at start set "
                "innovation_per_year > 0"),
    ]  # fmt: skip


def test_check_promotions() -> None:
    data = small_dict()
    data["crm"]["promotions"] = [
        {"name": "ok", "start": "2027-01-05", "end": "2027-01-09", "discount": 0.2},
        {"name": "bad", "start": "2027-01-09", "end": "2027-01-05", "discount": 0.2,
         "products": ["gear", "nothing"], "target_segments": ["flats"]},
    ]
    assert check_promotions(build(data)) == [
        Problem("crm.promotions[1].end", "ends (2027-01-05) before it starts (2027-01-09)"),
        Problem("crm.promotions[1].products", "'gear' is a component"),
        Problem("crm.promotions[1].products", "unknown product 'nothing'"),
        Problem("crm.promotions[1].target_segments", "unknown segment 'flats'"),
    ]


def test_check_service() -> None:
    data = small_dict()
    assert check_service(build(data)) == []  # no service block
    data["crm"]["service"] = {
        "channel_mix": {"email": 0, "chat": 0},
        "resolution_days": {"email": {"dist": "lognormal", "mean": 2}},
    }
    assert check_service(build(data)) == [
        Problem("crm.service.channel_mix", "weights must be ≥ 0 with a positive sum"),
        Problem("crm.service.resolution_days.email.cv", "required for a lognormal distribution"),
    ]
    data["crm"]["service"] = {"channel_mix": {"chat": 1}, "resolution_days": {"email": {"mean": 1}}}
    assert check_service(build(data)) == [
        Problem("crm.service.resolution_days.chat", "missing for a channel in use"),
    ]

# ------------------------------------------------------------------- (c) base: and overrides
def test_deep_merge_merges_mappings_and_replaces_everything_else() -> None:
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "items": [1, 2, 3], "s": "keep", "m": {"k": 1}}
    override = {"a": {"y": {"q": 20}, "z": 3}, "items": [9], "m": 5, "new": {"n": 1}}
    before = copy.deepcopy((base, override))
    merged = deep_merge(base, override)
    assert merged == {
        "a": {"x": 1, "y": {"p": 1, "q": 20}, "z": 3},
        "items": [9],
        "s": "keep",
        "m": 5,
        "new": {"n": 1},
    }
    assert (base, override) == before  # pure
    merged["a"]["y"]["p"] = 100
    assert base["a"]["y"]["p"] == 1  # no shared structure


@given(
    st.dictionaries(
        st.text(max_size=3), st.integers() | st.dictionaries(st.text(max_size=2), st.integers())
    ),
    st.dictionaries(
        st.text(max_size=3), st.integers() | st.dictionaries(st.text(max_size=2), st.integers())
    ),
)
def test_deep_merge_properties(base: dict[str, Any], override: dict[str, Any]) -> None:
    merged = deep_merge(base, override)
    assert set(merged) == set(base) | set(override)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            assert merged[key] == {**base[key], **value}
        else:
            assert merged[key] == value
    assert deep_merge(merged, override) == merged  # idempotent


def test_base_chain_merges_over_the_base(tmp_path: Path) -> None:
    _write(tmp_path, "base.yaml", yaml.safe_dump(small_dict()))
    sub = tmp_path / "whatifs"
    sub.mkdir()
    _write(
        sub,
        "slow.yaml",
        "base: ../base.yaml\nname: slow\nnodes:\n  sup:\n    lead_time: {mean: 9}\n"
        "lanes:\n  - {src: sup, dst: plant}\n  - {src: plant, dst: dc}\n  - {src: dc, dst: zone}\n"
        "  - {src: sup, dst: dc}\n",
    )
    _write(sub, "slower.yaml", "base: slow.yaml\nname: slower\nhorizon_days: 56\n")
    raw, source = load_raw(sub / "slower.yaml")
    assert "base" not in raw
    assert source == str((sub / "slower.yaml").resolve())
    scenario = load_scenario(sub / "slower.yaml")
    assert (scenario.name, scenario.horizon_days) == ("slower", 56)
    lead = scenario.nodes["sup"].lead_time
    assert (str(lead.dist), lead.mean, lead.cv) == ("lognormal", 9.0, 0.2)  # merged, not replaced
    assert [(lane.src, lane.dst, lane.lead_time.mean) for lane in scenario.lanes] == [
        ("sup", "plant", 1.0),
        ("plant", "dc", 1.0),
        ("dc", "zone", 1.0),
        ("sup", "dc", 1.0),
    ]  # replaced wholesale: the base's lead times are gone
    assert scenario.nodes["dc"].initial_inventory == {"widget": 40, "gadget": 30}


def test_library_what_if_doubles_campaigns_and_delays_the_supplier() -> None:
    base = load_scenario("retailer_holiday")
    what_if = load_scenario("retailer_holiday_double_campaigns")
    assert what_if.name == "retailer_holiday_double_campaigns"
    assert [c.budget for c in what_if.crm.campaigns] == [2 * c.budget for c in base.crm.campaigns]
    assert [c.model_copy(update={"budget": 0.0}) for c in what_if.crm.campaigns] == [
        c.model_copy(update={"budget": 0.0}) for c in base.crm.campaigns
    ]
    supplier, base_supplier = what_if.nodes["shenzhen_supplier"], base.nodes["shenzhen_supplier"]
    assert supplier.lead_time.mean == base_supplier.lead_time.mean + 7
    assert supplier.lead_time.cv == base_supplier.lead_time.cv
    assert supplier.model_copy(update={"lead_time": base_supplier.lead_time}) == base_supplier
    assert (
        what_if.model_copy(
            update={
                "name": base.name,
                "description": base.description,
                "crm": base.crm,
                "nodes": base.nodes,
            }
        )
        == base
    )


def test_base_cycle_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "base: b.yaml\nname: a\n")
    _write(tmp_path, "b.yaml", "base: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "a.yaml")
    assert problems_of(exc) == [("base", "base scenarios form a cycle: a.yaml → b.yaml → a.yaml")]
    _write(tmp_path, "self.yaml", "base: self.yaml\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "self.yaml")
    assert problems_of(exc) == [("base", "base scenarios form a cycle: self.yaml → self.yaml")]


def test_bad_base_references(tmp_path: Path) -> None:
    _write(tmp_path, "list.yaml", "base: [a, b]\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "list.yaml")
    assert problems_of(exc) == [("base", "must be a scenario name or path")]
    _write(tmp_path, "missing.yaml", "base: no_such_scenario\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "missing.yaml")
    assert "no scenario file or library scenario named 'no_such_scenario'" in str(exc.value)


def test_apply_overrides_sets_fields_by_path() -> None:
    data = small_dict()
    before = copy.deepcopy(data)
    result = apply_overrides(
        data,
        {
            "crm.campaigns[0].budget": 900,
            "lanes[-1].cost_per_unit": 2.5,
            "nodes.sup.lead_time": {"mean": 8},  # a mapping merges
            "nodes.dc.storage_capacity": 1000,  # a new field
            "simulation.seed": 99,  # a new section
            "crm.seasonality.monthly": [1.0] * 12,
        },
    )
    assert data == before  # pure
    assert result["crm"]["campaigns"][0]["budget"] == 900
    assert result["lanes"][3]["cost_per_unit"] == 2.5
    assert result["nodes"]["sup"]["lead_time"] == {"dist": "lognormal", "mean": 8, "cv": 0.2}
    assert result["nodes"]["dc"]["storage_capacity"] == 1000
    assert result["simulation"] == {"seed": 99}
    scenario = scenario_from_dict(result)
    assert scenario.crm.campaigns[0].budget == 900.0


def test_apply_overrides_reports_every_bad_path() -> None:
    with pytest.raises(ScenarioError) as exc:
        apply_overrides(
            small_dict(),
            {
                "crm.campaigns[3].budget": 1,
                "name.first": "x",
                "lanes[0].lead_time[0]": 1,
                "lanes..src": "sup",
                "nodes.sup[0]": 1,
                "crm.campaigns[9]": {},
            },
        )
    assert exc.value.source == "overrides"
    assert problems_of(exc) == [
        ("crm.campaigns[3].budget", "no item [3] at crm.campaigns"),
        ("name.first", "'name' has no fields"),
        ("lanes[0].lead_time[0]", "no item [0]"),
        ("lanes..src", "malformed field path"),
        ("nodes.sup[0]", "no item [0]"),
        ("crm.campaigns[9]", "no item [9]"),
    ]


def test_load_scenario_with_overrides_validates_the_result(tmp_path: Path) -> None:
    scenario = load_scenario("retailer_holiday", {"nodes.shenzhen_supplier.lead_time.mean": 21})
    assert scenario.nodes["shenzhen_supplier"].lead_time.mean == 21.0
    with pytest.raises(ScenarioError) as exc:
        load_scenario("retailer_holiday", {"crm.campaigns[1].budget": -5, "lanes[0].dst": "DC9"})
    # structural first: the lane is only checked once the budget is fixed
    assert [p.path for p in exc.value.problems] == ["crm.campaigns[1].budget"]
    with pytest.raises(ScenarioError) as exc:
        load_scenario("retailer_holiday", {"lanes[0].dst": "DC9"})
    assert problems_of(exc)[0] == ("lanes[0].dst", "unknown node 'DC9'")


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("crm.campaigns[0].budget", ["crm", "campaigns", 0, "budget"]),
        ("lanes[3].dst", ["lanes", 3, "dst"]),
        ("lanes[-1]", ["lanes", -1]),
        ("nodes.dc-north.initial_inventory.x", ["nodes", "dc-north", "initial_inventory", "x"]),
    ],
)
def test_parse_and_format_path(path: str, parts: list[Any]) -> None:
    assert parse_path(path) == parts
    assert format_path(parts) == path


@pytest.mark.parametrize("path", ["", "a..b", "a.", "a[x]", "a[0", "a]"])
def test_parse_path_rejects_malformed_paths(path: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_path(path)
    assert problems_of(exc) == [(path, "malformed field path")]


@given(
    st.lists(
        st.from_regex(r"[a-z_][a-z0-9_\-]{0,6}", fullmatch=True) | st.integers(-5, 50),
        min_size=1,
        max_size=6,
    ).filter(lambda parts: isinstance(parts[0], str))
)
def test_field_paths_round_trip(parts: list[str | int]) -> None:
    assert parse_path(format_path(parts)) == parts


# --------------------------------------------------------------------------- (d) library
def test_library_contains_the_expected_scenarios() -> None:
    assert set(LIBRARY) >= {
        "retailer_holiday",
        "retailer_holiday_double_campaigns",
        *NEW_SCENARIOS,
    }
    descriptions = library_descriptions()
    assert all(descriptions[name] for name in LIBRARY)


def test_library_descriptions_tolerate_missing_or_blank_descriptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scenarios.loader

    _write(tmp_path, "blank.yaml", "name: blank\ndescription: '  '\n")
    _write(tmp_path, "none.yaml", "name: none\n")
    _write(tmp_path, "two_lines.yaml", "name: two\ndescription: |\n  first\n  second\n")
    monkeypatch.setattr(scenarios.loader, "_library_root", lambda: tmp_path)
    assert library_descriptions() == {"blank": "", "none": "", "two_lines": "first"}


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_loads_round_trips_and_hashes_stably(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.description
    text = scenario_to_yaml(scenario)
    again = scenario_from_dict(yaml.safe_load(text))
    assert again == scenario
    assert scenario_to_yaml(again) == text
    digest = scenario_hash(scenario)
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert scenario_hash(again) == digest
    assert scenario_hash(load_scenario(name)) == digest
    assert (
        scenario_hash(scenario.model_copy(update={"horizon_days": scenario.horizon_days - 7}))
        != digest
    )


def test_scenario_hash_is_the_same_in_another_process() -> None:
    here = {name: scenario_hash(load_scenario(name)) for name in LIBRARY}
    code = (
        "import json; from scenarios import load_scenario, library_names, scenario_hash; "
        "print(json.dumps({n: scenario_hash(load_scenario(n)) for n in library_names()}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    assert json.loads(out.stdout) == here


def _weekly_units(scenario: Scenario) -> pd.DataFrame:
    table = DemandModel(scenario).expected()
    table = table.assign(week=table["day"] // 7)
    return table.groupby(["week", "product"])["units"].sum().unstack(fill_value=0.0)


def test_b2b_services_is_crm_only() -> None:
    scenario = load_scenario("b2b_services")
    assert {str(p.kind) for p in scenario.products.values()} == {"service"}
    assert {str(n.kind) for n in scenario.nodes.values()} == {"customer_zone"}
    assert scenario.lanes == [] and len(scenario.crm.segments) >= 3
    assert {str(c.channel) for c in scenario.crm.campaigns} >= {"email", "phone", "events"}
    assert sum(s.customers for s in scenario.crm.segments.values()) >= 1000


@pytest.mark.parametrize("name", ["autoparts_supplier", "integrated_manufacturer"])
def test_manufacturing_scenarios_have_sensible_magnitudes(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.n_buckets == 52 and str(scenario.bucket) == "week"
    assert len(scenario.products) < 20 and len(scenario.nodes) <= 11
    weekly = _weekly_units(scenario)
    plants = [n for n in scenario.nodes.values() if str(n.kind) == "plant"]
    assert len(plants) == 1
    plant = plants[0]
    load = sum(weekly[p] * spec.capacity_use for p, spec in plant.produces.items())
    capacity = plant.capacity_per_day * 7
    assert 1.05 * load.mean() < capacity < load.max()  # room on average, short at the peak
    # initial component stock covers the mean supply lead time of the quickest source
    from scenarios import SupplyNetwork

    net = SupplyNetwork(scenario)
    plant_id = next(k for k, n in scenario.nodes.items() if n is plant)
    for component, on_hand in plant.initial_inventory.items():
        use_per_day = sum(
            weekly[p].mean() / 7 * scenario.products[p].bom.get(component, 0)
            for p in plant.produces
        )
        fastest = min(
            mv.lead_time_days
            for mv in net.lane_movements(net.sourcing_options(plant_id, component))
            if mv.item == component
        )
        assert on_hand >= use_per_day * fastest, component


def test_autoparts_supplier_multi_sources_components() -> None:
    scenario = load_scenario("autoparts_supplier")
    sources: dict[str, list[str]] = {}
    for node_id, node in scenario.nodes.items():
        for item in getattr(node, "supplies", {}):
            sources.setdefault(item, []).append(node_id)
    assert {item for item, nodes in sources.items() if len(nodes) >= 2} >= {
        "housing_front",
        "seal_kit",
    }
    assert len(scenario.crm.segments) == 2 and len(scenario.crm.campaigns) <= 1


# ---------------------------------------------------------------------------- (e) demand
def demand_dict(**crm: Any) -> dict[str, Any]:
    """CRM-only scenario from 25 January for 14 days: a week in January, a week in February."""
    segments = {
        "shops": {
            "customers": 730,
            "orders_per_customer_per_year": 5,
            "units_per_order": 3,
            "units_per_order_cv": 1.0,
            "annual_churn_rate": 0.2,
            "product_mix": {"a": 1, "b": 3},
            "zone_mix": {"north": 3, "south": 1},
        },
        "homes": {
            "customers": 3650,
            "orders_per_customer_per_year": 1,
            "product_mix": {"a": 1},
            "zone_mix": {"south": 1},
        },
    }
    return {
        "name": "demand",
        "start_date": "2027-01-25",
        "horizon_days": 14,
        "bucket": "day",
        "products": {"a": {"kind": "service"}, "b": {"kind": "service"}},
        "nodes": {"north": {"kind": "customer_zone"}, "south": {"kind": "customer_zone"}},
        "crm": {
            "segments": segments,
            "seasonality": {"monthly": [1.2, 0.5] + [1.0] * 10},
            **crm,
        },
    }


def test_expected_demand_matches_a_hand_computation() -> None:
    table = DemandModel(scenario_from_dict(demand_dict())).expected()
    assert set(table.columns) == {"day", "segment", "zone", "product", "orders", "units"}
    # shops: 730 customers x 5/365 orders a day = 10 a day at day 0, churn 20 %/year,
    # seasonality 1.2 for 25-31 January (days 0-6) and 0.5 in February (days 7-13)
    season = [1.2] * 7 + [0.5] * 7
    shops = [10.0 * 0.8 ** (d / 365) * season[d] for d in range(14)]
    homes = [10.0 * season[d] for d in range(14)]  # 3650 x 1/365, no churn
    by_segment = table.groupby("segment")[["orders", "units"]].sum()
    assert by_segment.loc["shops", "orders"] == pytest.approx(sum(shops), rel=1e-12)
    assert by_segment.loc["shops", "units"] == pytest.approx(3 * sum(shops), rel=1e-12)
    assert by_segment.loc["homes", "units"] == pytest.approx(sum(homes), rel=1e-12)
    assert table["orders"].sum() == pytest.approx(
        10 * 1.2 * 7 + 10 * 0.5 * 7 + sum(shops) - 0, rel=1e-12
    )
    # day 0: 12 shop lines, 3/4 north and 3/4 product b
    day0 = table[(table["day"] == 0) & (table["segment"] == "shops")].set_index(["zone", "product"])
    assert day0.loc[("north", "b"), "orders"] == pytest.approx(12 * 0.75 * 0.75)
    assert day0.loc[("south", "a"), "units"] == pytest.approx(3 * 12 * 0.25 * 0.25)
    # last day: churn has taken 13/365 of a year
    last = table[(table["day"] == 13) & (table["segment"] == "shops")]["orders"].sum()
    assert last == pytest.approx(10 * 0.5 * 0.8 ** (13 / 365))
    weekly = DemandModel(scenario_from_dict(demand_dict())).expected_by_bucket()
    assert weekly["units"].sum() == pytest.approx(table["units"].sum())


def _campaign(**changes: Any) -> Campaign:
    fields: dict[str, Any] = {
        "name": "c",
        "channel": "email",
        "start": "2027-01-25",
        "end": "2027-01-27",
        "budget": 3000,
        "max_lift": 0.4,
        "half_saturation_spend_per_day": 1000,
        "hill_shape": 2,
        "adstock_decay": 0.5,
    }
    fields.update(changes)
    return Campaign.model_validate(fields)


def _hill(adstock: float) -> float:
    return 0.4 * adstock**2 / (adstock**2 + 1000**2)


# spend 1000 a day on days 0-2; adstock A_t = x_t + 0.5 A_{t-1}
ADSTOCK = [1000.0, 1500.0, 1750.0, 875.0, 437.5, 218.75]


def test_campaign_lift_is_adstock_then_hill() -> None:
    lift = campaign_lift(_campaign(), dt.date(2027, 1, 25), 6)
    assert lift == pytest.approx([_hill(a) for a in ADSTOCK], rel=1e-12)
    assert lift[0] == pytest.approx(0.2)  # A = K: half of max_lift
    assert lift[2] == pytest.approx(0.4 * 1750**2 / (1750**2 + 1e6))
    # spend before the horizon carries over: the same campaign started two days earlier
    early = campaign_lift(_campaign(start="2027-01-23", end="2027-01-25"), dt.date(2027, 1, 25), 4)
    assert early == pytest.approx([_hill(a) for a in ADSTOCK[2:]], rel=1e-12)
    # a campaign entirely before the horizon still lifts its first days
    before = campaign_lift(_campaign(start="2027-01-20", end="2027-01-22"), dt.date(2027, 1, 25), 2)
    assert before == pytest.approx([_hill(218.75), _hill(109.375)], rel=1e-12)
    # and one after the horizon does nothing
    assert not campaign_lift(
        _campaign(start="2027-03-01", end="2027-03-03"), dt.date(2027, 1, 25), 14
    ).any()


def test_campaigns_lift_only_their_target_segments() -> None:
    campaign = _campaign().model_dump(mode="json") | {"target_segments": ["shops"]}
    with_campaign = DemandModel(scenario_from_dict(demand_dict(campaigns=[campaign])))
    without = DemandModel(scenario_from_dict(demand_dict()))
    lifts = [_hill(a) for a in ADSTOCK] + [_hill(ADSTOCK[-1] * 0.5**k) for k in range(1, 9)]
    ratio = with_campaign.expected_orders() / without.expected_orders()
    assert ratio[0] == pytest.approx([1 + x for x in lifts], rel=1e-12)  # shops
    assert ratio[1] == pytest.approx(np.ones(14))  # homes: not targeted


def _demand_model_with_campaign() -> DemandModel:
    campaign = _campaign(hill_shape=1, max_lift=0.5).model_dump(mode="json")
    return DemandModel(scenario_from_dict(demand_dict(campaigns=[campaign])))


def test_sample_mean_matches_expected_within_sampling_error() -> None:
    model = _demand_model_with_campaign()
    expected = model.expected()
    draws = 200
    rng = np.random.default_rng(20270125)
    samples = [model.sample(rng) for _ in range(draws)]
    pooled = pd.concat(samples, ignore_index=True)
    assert list(pooled.columns) == [
        "order_id", "time", "customer", "segment", "zone", "product", "qty", "campaign",
        "requested_time",
    ]  # fmt: skip
    # order lines per (segment, zone, product): Poisson, variance = mean
    lines = pooled.groupby(["segment", "zone", "product"]).size() / draws
    mean_lines = expected.groupby(["segment", "zone", "product"])["orders"].sum()
    sigma = np.sqrt(mean_lines / draws)
    assert (abs(lines.reindex(mean_lines.index, fill_value=0) - mean_lines) < 5 * sigma).all()
    # units: compound Poisson, variance = mean lines x E[qty^2], qty = 1 + X (module docstring)
    for segment, spec in demand_dict()["crm"]["segments"].items():
        extra = spec.get("units_per_order", 1) - 1
        cv = spec.get("units_per_order_cv", 0.5)
        var_extra = max((cv * extra) ** 2, extra)  # Poisson floor
        second_moment = var_extra + (1 + extra) ** 2
        lam = expected.loc[expected["segment"] == segment, "orders"].sum()
        units = pooled.loc[pooled["segment"] == segment, "qty"].sum() / draws
        assert units == pytest.approx(
            expected.loc[expected["segment"] == segment, "units"].sum(),
            abs=5 * math.sqrt(lam * second_moment / draws),
        )
    # campaign attribution thins lines with probability lift / (1 + lift): Poisson, mean Σ base·lift
    base = model.expected_orders() / (1 + model.segment_lift("shops"))
    attributed_mean = float((base * model.campaign_lifts()[0]).sum())
    attributed = (pooled["campaign"] == "c").sum() / draws
    assert attributed == pytest.approx(attributed_mean, abs=5 * math.sqrt(attributed_mean / draws))
    # order lines fall on their day and are promised service_promise_days later
    assert ((pooled["time"] >= 0) & (pooled["time"] < 14)).all()
    assert np.allclose(pooled["requested_time"] - pooled["time"], 3.0)
    assert (pooled["qty"] >= 1).all()


def test_same_seed_same_sample() -> None:
    model = _demand_model_with_campaign()
    first = model.sample(np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, model.sample(np.random.default_rng(7)))
    assert not first.equals(model.sample(np.random.default_rng(8)))
    assert first["time"].is_monotonic_increasing
    assert first["order_id"].is_unique


# ------------------------------------------------------------------------------ (3) docs
def test_scenario_format_docs_are_current() -> None:
    committed = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    assert committed == render_scenario_format(), f"docs are stale: run `{REGENERATE}`"


def test_scenario_format_docs_cover_every_field() -> None:
    text = render_scenario_format()
    assert text.startswith("<!-- Generated by scenarios/docs.py")
    assert REGENERATE in text.splitlines()[0]
    from scenarios import schema

    for name in schema.__all__:
        obj = getattr(schema, name)
        if isinstance(obj, type) and hasattr(obj, "model_fields"):
            section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
            for field_name, field in obj.model_fields.items():
                row = next(
                    line for line in section.splitlines() if line.startswith(f"| `{field_name}` |")
                )
                unit = (field.json_schema_extra or {}).get("unit")
                assert unit is None or f"| {unit} |" in row, (name, field_name)
    assert (
        "| `horizon_days` | integer | **required** | days | > 0, ≤ 3660 | Length of the run. |"
        in text
    )
    assert "| `adstock_decay` | number | `0.5` | 1/day | ≥ 0, < 1 |" in text
    assert "| `lead_time` | [Distribution](#distribution) | `{dist: fixed, mean: 0.0}` |" in text


def test_docs_example_is_a_valid_scenario() -> None:
    scenario = scenario_from_dict(yaml.safe_load(EXAMPLE))
    assert scenario.name == "minimal"


def test_docs_module_runs_as_a_script() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "scenarios.docs"],
        capture_output=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.decode("utf-8") == render_scenario_format()


def test_scenarios_imports_no_other_tandem_package() -> None:
    others = {"crm_model", "optimize", "sim", "reports", "tandem"}
    for path in sorted((ROOT / "scenarios").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & others, f"{path.name} imports {names}"
