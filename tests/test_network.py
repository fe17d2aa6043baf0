"""SupplyNetwork: item flow, serving lanes, echelons, planning tables."""

from __future__ import annotations

from scenarios import SupplyNetwork, load_scenario, scenario_from_dict
from scenarios.schema import NodeKind
from tests.conftest import tiny_scenario_dict


def test_retailer_network_shape() -> None:
    net = SupplyNetwork(load_scenario("retailer_holiday"))
    assert net.nodes_of(NodeKind.WAREHOUSE) == ["dc_north", "dc_south"]
    assert net.echelons() == {
        "zone_north": 0,
        "zone_east": 0,
        "zone_south": 0,
        "zone_west": 0,
        "dc_north": 1,
        "dc_south": 1,
        "shenzhen_supplier": 2,
    }
    # zone_west has two inbound lanes; the cheaper (dc_south, 4.0 < 5.5) serves it
    assert net.serving_node("zone_west") == "dc_south"
    assert net.paths("shenzhen_supplier", "zone_west") == [
        ["shenzhen_supplier", "dc_north", "zone_west"],
        ["shenzhen_supplier", "dc_south", "zone_west"],
    ]
    table = net.lane_table()
    earbuds = table[(table["lane"] == 0) & (table["item"] == "earbuds")].iloc[0]
    # supplier lane: supplier lead time 14 + transit 30; price 16.0 + freight 0.9
    assert earbuds["lead_time_days"] == 44.0
    assert abs(earbuds["cost_per_unit"] - 16.9) < 1e-12


def test_preferred_lane_overrides_cost() -> None:
    data = load_scenario("retailer_holiday").model_dump(mode="json")
    data["lanes"][6]["preferred"] = True  # dc_north → zone_west
    net = SupplyNetwork(scenario_from_dict(data))
    assert net.serving_node("zone_west") == "dc_north"


def test_items_flow_through_plants_by_bom() -> None:
    data = tiny_scenario_dict(
        products={
            "widget": {"price": 20, "bom": {"steel": 2}},
            "steel": {"kind": "component"},
            "gadget": {"price": 5},
        },
        nodes={
            "sup": {
                "kind": "supplier",
                "supplies": {"steel": {"price": 1}, "gadget": {"price": 2}},
            },
            "plant": {"kind": "plant", "produces": {"widget": {}}},
            "wh": {"kind": "warehouse"},
            "zone": {"kind": "customer_zone"},
        },
        lanes=[
            {"src": "sup", "dst": "plant"},
            {"src": "sup", "dst": "wh"},
            {"src": "plant", "dst": "wh"},
            {"src": "wh", "dst": "zone"},
        ],
    )
    data["crm"]["segments"]["all"]["product_mix"] = {"widget": 1, "gadget": 1}
    net = SupplyNetwork(scenario_from_dict(data))
    assert net.lane_items(0) == ("steel",)  # plants take only their BOM components
    assert net.lane_items(1) == ("steel", "gadget")  # warehouses take anything offered
    assert net.lane_items(2) == ("widget",)
    assert net.lane_items(3) == ("widget", "gadget")  # zones take finished goods only
    assert net.items_at("plant") == ("widget", "steel")
    assert net.sourcing_options("wh", "widget") == [2]


def test_plant_starting_components_stay_at_the_plant() -> None:
    data = tiny_scenario_dict(
        products={"widget": {"price": 20, "bom": {"steel": 2}}, "steel": {"kind": "component"}},
        nodes={
            "sup": {"kind": "supplier", "supplies": {"steel": {"price": 1}}},
            "plant": {
                "kind": "plant",
                "produces": {"widget": {}},
                "initial_inventory": {"steel": 50},
            },
            "wh": {"kind": "warehouse"},
            "zone": {"kind": "customer_zone"},
        },
        lanes=[
            {"src": "sup", "dst": "plant"},
            {"src": "plant", "dst": "wh"},
            {"src": "wh", "dst": "zone"},
        ],
    )
    net = SupplyNetwork(scenario_from_dict(data))
    assert net.lane_items(1) == ("widget",)
    assert net.items_at("wh") == ("widget",)
