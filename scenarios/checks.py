"""Cross-field rules of a scenario, one small named ``check_*`` function per rule.

Each check takes a structurally valid :class:`~scenarios.schema.Scenario` and returns the list of
:class:`~scenarios.errors.Problem` it finds (empty when the rule holds). :func:`run_checks` runs
them all so that a scenario with five mistakes yields five problems in one error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import networkx as nx

from scenarios.errors import Problem
from scenarios.network import STOCK_KINDS, SupplyNetwork
from scenarios.schema import (
    DemandDistribution,
    DisruptionKind,
    Distribution,
    NodeKind,
    PolicyKind,
    ProductKind,
    Scenario,
    SourcingRuleKind,
)

__all__ = [
    "ALL_CHECKS",
    "check_acquisition",
    "check_bom",
    "check_campaigns",
    "check_demand",
    "check_disruptions",
    "check_distributions",
    "check_lane_endpoints",
    "check_names",
    "check_node_items",
    "check_policies",
    "check_promotions",
    "check_purchase_models",
    "check_seasonality",
    "check_segments",
    "check_service",
    "check_sourcing",
    "check_sourcing_rules",
    "check_zone_reachable",
    "run_checks",
]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
"""Ids: letters, digits, ``_`` and ``-``. No ``.``: it separates the parts of a field path."""


def check_names(scenario: Scenario) -> list[Problem]:
    """Ids of the scenario, products, nodes and segments use letters, digits, ``_ -`` only."""
    problems = []
    if not _NAME.match(scenario.name):
        problems.append(Problem("name", f"'{scenario.name}' must use letters, digits, _ - only"))
    for section, ids in (
        ("products", scenario.products),
        ("nodes", scenario.nodes),
        ("crm.segments", scenario.crm.segments),
    ):
        for key in ids:
            if not _NAME.match(key):
                problems.append(Problem(f"{section}.{key}", "ids use letters, digits, _ - only"))
    clash = set(scenario.products) & set(scenario.nodes)
    for key in sorted(clash):
        problems.append(Problem(f"nodes.{key}", "a node and a product share this id"))
    return problems


def _check_distribution(path: str, dist: Distribution) -> list[Problem]:
    problems = []
    missing = [p for p in dist.required_parameters() if getattr(dist, p) is None]
    for name in missing:
        problems.append(Problem(f"{path}.{name}", f"required for a {dist.dist} distribution"))
    if missing:
        return problems
    numbers = {
        name: getattr(dist, name)
        for name in ("mean", "low", "high", "mode")
        if getattr(dist, name) is not None
    }
    for name, value in numbers.items():
        if value < 0:
            problems.append(
                Problem(f"{path}.{name}", f"lead time cannot be negative (got {value})")
            )
    if dist.values is not None:
        if not dist.values:
            problems.append(Problem(f"{path}.values", "needs at least one value"))
        elif min(dist.values) < 0:
            problems.append(Problem(f"{path}.values", "lead time cannot be negative"))
        if dist.weights is not None and len(dist.weights) != len(dist.values):
            problems.append(
                Problem(
                    f"{path}.weights",
                    f"has {len(dist.weights)} weights for {len(dist.values)} values",
                )
            )
        if dist.weights is not None and (
            min(dist.weights, default=0) < 0 or sum(dist.weights) <= 0
        ):
            problems.append(Problem(f"{path}.weights", "weights must be ≥ 0 with a positive sum"))
    low, high, mode = dist.low, dist.high, dist.mode
    if low is not None and high is not None and low > high:
        problems.append(Problem(f"{path}.high", f"high ({high}) is below low ({low})"))
    if mode is not None and low is not None and high is not None and not low <= mode <= high:
        problems.append(Problem(f"{path}.mode", f"mode ({mode}) must lie between low and high"))
    return problems


def check_distributions(scenario: Scenario) -> list[Problem]:
    """Lead-time distributions have their parameters, consistent, and never negative."""
    problems = []
    for node_id, node in scenario.nodes.items():
        if node.kind == NodeKind.SUPPLIER:
            problems += _check_distribution(f"nodes.{node_id}.lead_time", node.lead_time)
            problems += _check_distribution(f"nodes.{node_id}.late_delay", node.late_delay)
        if node.kind == NodeKind.PLANT and node.production_lead_time_days < 0:
            problems.append(
                Problem(
                    f"nodes.{node_id}.production_lead_time_days", "lead time cannot be negative"
                )
            )
    for i, lane in enumerate(scenario.lanes):
        problems += _check_distribution(f"lanes[{i}].lead_time", lane.lead_time)
    return problems


def check_lane_endpoints(scenario: Scenario) -> list[Problem]:
    """Lanes join known nodes, run downstream and carry known items."""
    problems = []
    allowed = {
        NodeKind.SUPPLIER: {NodeKind.PLANT, NodeKind.WAREHOUSE},
        NodeKind.PLANT: {NodeKind.PLANT, NodeKind.WAREHOUSE, NodeKind.CUSTOMER_ZONE},
        NodeKind.WAREHOUSE: {NodeKind.PLANT, NodeKind.WAREHOUSE, NodeKind.CUSTOMER_ZONE},
        NodeKind.CUSTOMER_ZONE: set(),
    }
    for i, lane in enumerate(scenario.lanes):
        ok = True
        for end in ("src", "dst"):
            node = getattr(lane, end)
            if node not in scenario.nodes:
                problems.append(Problem(f"lanes[{i}].{end}", f"unknown node '{node}'"))
                ok = False
        if ok:
            src_kind = NodeKind(scenario.nodes[lane.src].kind)
            dst_kind = NodeKind(scenario.nodes[lane.dst].kind)
            if lane.src == lane.dst:
                problems.append(Problem(f"lanes[{i}]", f"lane from '{lane.src}' to itself"))
            elif dst_kind not in allowed[src_kind]:
                problems.append(
                    Problem(f"lanes[{i}]", f"a lane cannot run from a {src_kind} to a {dst_kind}")
                )
        for item in lane.products or ():
            if item not in scenario.products:
                problems.append(Problem(f"lanes[{i}].products", f"unknown product '{item}'"))
    return problems


def _is_multiple(value: float, step: float) -> bool:
    """``value`` is a whole multiple of ``step``, up to floating-point rounding."""
    ratio = value / step
    return math.isclose(ratio, round(ratio), rel_tol=1e-9, abs_tol=1e-9)


def check_node_items(scenario: Scenario) -> list[Problem]:
    """Supplier offers, plant products and initial inventories name known, stockable items."""
    problems = []
    products = scenario.products
    for node_id, node in scenario.nodes.items():
        if node.kind == NodeKind.SUPPLIER:
            for item, offer in node.supplies.items():
                if item not in products:
                    problems.append(Problem(f"nodes.{node_id}.supplies.{item}", "unknown product"))
                elif products[item].kind == ProductKind.SERVICE:
                    problems.append(
                        Problem(f"nodes.{node_id}.supplies.{item}", "a service cannot be supplied")
                    )
                if (
                    offer.order_multiple is not None
                    and offer.moq
                    and not _is_multiple(offer.moq, offer.order_multiple)
                ):
                    problems.append(
                        Problem(
                            f"nodes.{node_id}.supplies.{item}.moq",
                            f"moq {offer.moq} is not a multiple of "
                            f"order_multiple {offer.order_multiple}",
                        )
                    )
        if node.kind == NodeKind.PLANT:
            for item in node.produces:
                if item not in products:
                    problems.append(Problem(f"nodes.{node_id}.produces.{item}", "unknown product"))
                elif products[item].kind == ProductKind.SERVICE:
                    problems.append(
                        Problem(f"nodes.{node_id}.produces.{item}", "a service cannot be produced")
                    )
                elif not products[item].bom:
                    problems.append(
                        Problem(
                            f"nodes.{node_id}.produces.{item}", "product has no bom to make it from"
                        )
                    )
        for item, qty in (getattr(node, "initial_inventory", None) or {}).items():
            path = f"nodes.{node_id}.initial_inventory.{item}"
            if item not in products:
                problems.append(Problem(path, "unknown product"))
            elif products[item].kind == ProductKind.SERVICE:
                problems.append(Problem(path, "a service cannot be stocked"))
            if qty < 0:
                problems.append(Problem(path, f"inventory cannot be negative (got {qty})"))
    return problems


def check_bom(scenario: Scenario) -> list[Problem]:
    """BOMs name known components with positive quantities and contain no cycle."""
    problems = []
    graph: nx.DiGraph = nx.DiGraph()
    for product_id, product in scenario.products.items():
        for component, qty in product.bom.items():
            path = f"products.{product_id}.bom.{component}"
            if component not in scenario.products:
                problems.append(Problem(path, f"unknown component '{component}'"))
            elif scenario.products[component].kind == ProductKind.SERVICE:
                problems.append(Problem(path, "a service cannot be a component"))
            if qty <= 0:
                problems.append(Problem(path, f"quantity must be > 0 (got {qty})"))
            graph.add_edge(product_id, component)
    for cycle in nx.simple_cycles(graph):
        loop = " → ".join([*cycle, cycle[0]])
        problems.append(Problem(f"products.{cycle[0]}.bom", f"BOM cycle: {loop}"))
    return problems


def check_segments(scenario: Scenario) -> list[Problem]:
    """Segments buy known products in known customer zones, with positive mix weights."""
    problems = []
    for seg_id, seg in scenario.crm.segments.items():
        base = f"crm.segments.{seg_id}"
        for item, weight in seg.product_mix.items():
            if item not in scenario.products:
                problems.append(Problem(f"{base}.product_mix.{item}", "unknown product"))
            elif scenario.products[item].kind == ProductKind.COMPONENT:
                problems.append(Problem(f"{base}.product_mix.{item}", "components are not sold"))
            if weight < 0:
                problems.append(Problem(f"{base}.product_mix.{item}", "weight cannot be negative"))
        for zone, weight in seg.zone_mix.items():
            node = scenario.nodes.get(zone)
            if node is None:
                problems.append(
                    Problem(f"{base}.zone_mix.{zone}", f"unknown customer zone '{zone}'")
                )
            elif node.kind != NodeKind.CUSTOMER_ZONE:
                problems.append(Problem(f"{base}.zone_mix.{zone}", f"'{zone}' is a {node.kind}"))
            if weight < 0:
                problems.append(Problem(f"{base}.zone_mix.{zone}", "weight cannot be negative"))
        for field in ("product_mix", "zone_mix"):
            if sum(getattr(seg, field).values()) <= 0:
                problems.append(Problem(f"{base}.{field}", "needs at least one positive weight"))
    return problems


def check_campaigns(scenario: Scenario) -> list[Problem]:
    """Campaigns end after they start and target known segments."""
    problems = []
    for i, campaign in enumerate(scenario.crm.campaigns):
        if campaign.end < campaign.start:
            problems.append(
                Problem(
                    f"crm.campaigns[{i}].end",
                    f"ends ({campaign.end}) before it starts ({campaign.start})",
                )
            )
        for seg in campaign.target_segments:
            if seg not in scenario.crm.segments:
                problems.append(
                    Problem(f"crm.campaigns[{i}].target_segments", f"unknown segment '{seg}'")
                )
    return problems


def check_seasonality(scenario: Scenario) -> list[Problem]:
    """Seasonality has twelve non-negative monthly multipliers."""
    monthly = scenario.crm.seasonality.monthly
    problems = []
    if len(monthly) != 12:
        problems.append(Problem("crm.seasonality.monthly", f"needs 12 values (got {len(monthly)})"))
    if any(m < 0 for m in monthly):
        problems.append(Problem("crm.seasonality.monthly", "multipliers cannot be negative"))
    return problems


def check_zone_reachable(scenario: Scenario) -> list[Problem]:
    """Every customer zone that buys physical goods is served by a warehouse or plant lane."""
    net = SupplyNetwork(scenario)
    problems = []
    for zone in net.nodes_of(NodeKind.CUSTOMER_ZONE):
        physical = {
            p
            for p in net.zone_items(zone)
            if p in scenario.products and scenario.products[p].kind == ProductKind.FINISHED
        }
        if physical and net.serving_lane(zone) is None:
            problems.append(
                Problem(
                    f"nodes.{zone}", "customer zone buys goods but no warehouse has a lane to it"
                )
            )
    return problems


def check_sourcing(scenario: Scenario) -> list[Problem]:
    """Each product a zone buys can reach the stock point serving it, and plants get components."""
    net = SupplyNetwork(scenario)
    problems = []
    for zone in net.nodes_of(NodeKind.CUSTOMER_ZONE):
        server = net.serving_node(zone)
        if server is None:
            continue
        stocked = set(net.items_at(server))
        for item in sorted(net.zone_items(zone)):
            product = scenario.products.get(item)
            if product is None or product.kind != ProductKind.FINISHED:
                continue
            if item not in stocked:
                problems.append(
                    Problem(
                        f"nodes.{zone}",
                        f"'{server}' serves this zone but never gets product '{item}'",
                    )
                )
    for plant in net.nodes_of(NodeKind.PLANT):
        for component in sorted(net.components_of_plant(plant)):
            initial = scenario.nodes[plant].initial_inventory.get(component, 0)
            if not net.sourcing_options(plant, component) and initial <= 0:
                problems.append(
                    Problem(
                        f"nodes.{plant}", f"no lane brings component '{component}' to this plant"
                    )
                )
    return problems


def check_policies(scenario: Scenario) -> list[Problem]:
    """Policies name a stock point and an item held there, with the parameters their kind needs.

    A reorder policy needs a lane that brings the item in: the simulation replenishes by purchase
    or transfer only, so a plant cannot run a reorder policy on a product it makes.
    """
    net = SupplyNetwork(scenario)
    needs = {
        PolicyKind.PLAN: (),
        PolicyKind.BASE_STOCK: ("order_up_to",),
        PolicyKind.S_S: ("reorder_point", "order_up_to"),
        PolicyKind.MIN_MAX: ("reorder_point", "order_up_to"),
        PolicyKind.R_Q: ("reorder_point", "order_quantity"),
        PolicyKind.ORDER_UP_TO: ("order_up_to", "review_period_days"),
    }
    problems = []
    seen: set[tuple[str, str]] = set()
    for i, policy in enumerate(scenario.policies):
        path = f"policies[{i}]"
        node = scenario.nodes.get(policy.node)
        if node is None:
            problems.append(Problem(f"{path}.node", f"unknown node '{policy.node}'"))
        elif NodeKind(node.kind) not in STOCK_KINDS:
            problems.append(
                Problem(f"{path}.node", f"'{policy.node}' is a {node.kind}, not a stock point")
            )
        elif policy.product not in net.items_at(policy.node):
            problems.append(
                Problem(f"{path}.product", f"'{policy.product}' is not stocked at '{policy.node}'")
            )
        elif policy.kind != PolicyKind.PLAN and not net.sourcing_options(
            policy.node, policy.product
        ):
            problems.append(
                Problem(
                    f"{path}.kind",
                    f"no lane brings '{policy.product}' to '{policy.node}' to reorder",
                )
            )
        for name in needs[policy.kind]:
            forecasted = policy.kind == PolicyKind.ORDER_UP_TO and policy.forecast != "none"
            if getattr(policy, name) is None and not (name == "order_up_to" and forecasted):
                problems.append(Problem(f"{path}.{name}", f"required for a {policy.kind} policy"))
        if policy.forecast != "none" and policy.kind != PolicyKind.ORDER_UP_TO:
            problems.append(Problem(f"{path}.forecast", "a forecast applies to order_up_to policies"))
        if (
            policy.kind in (PolicyKind.S_S, PolicyKind.MIN_MAX)
            and policy.reorder_point is not None
            and policy.order_up_to is not None
            and policy.order_up_to <= policy.reorder_point
        ):
            problems.append(Problem(f"{path}.order_up_to", "must be above reorder_point"))
        key = (policy.node, policy.product)
        if key in seen:
            problems.append(
                Problem(path, f"second policy for '{policy.product}' at '{policy.node}'")
            )
        seen.add(key)
    return problems


def check_demand(scenario: Scenario) -> list[Problem]:
    """Plain zone demand names a customer zone and a sold product, with its distribution's
    parameters."""
    problems = []
    for i, demand in enumerate(scenario.demand):
        path = f"demand[{i}]"
        node = scenario.nodes.get(demand.zone)
        if node is None:
            problems.append(Problem(f"{path}.zone", f"unknown customer zone '{demand.zone}'"))
        elif node.kind != NodeKind.CUSTOMER_ZONE:
            problems.append(Problem(f"{path}.zone", f"'{demand.zone}' is a {node.kind}"))
        product = scenario.products.get(demand.product)
        if product is None:
            problems.append(Problem(f"{path}.product", f"unknown product '{demand.product}'"))
        elif product.kind == ProductKind.COMPONENT:
            problems.append(Problem(f"{path}.product", "components are not sold"))
        needs = {
            DemandDistribution.POISSON: ("mean_per_day",),
            DemandDistribution.NORMAL: ("mean_per_day", "sd_per_day"),
            DemandDistribution.EMPIRICAL: ("values",),
        }[demand.dist]
        for name in needs:
            if getattr(demand, name) is None:
                problems.append(Problem(f"{path}.{name}", f"required for {demand.dist} demand"))
        if demand.values is not None and (not demand.values or min(demand.values) < 0):
            problems.append(Problem(f"{path}.values", "needs values ≥ 0"))
    return problems


def check_disruptions(scenario: Scenario) -> list[Problem]:
    """Disruptions hit a node or lane of the right kind and are either scheduled or random."""
    target_kind = {
        DisruptionKind.SUPPLIER_OUTAGE: {NodeKind.SUPPLIER},
        DisruptionKind.PLANT_CAPACITY_LOSS: {NodeKind.PLANT},
        DisruptionKind.STOCK_LOSS: {NodeKind.PLANT, NodeKind.WAREHOUSE},
        DisruptionKind.DEMAND_SHOCK: {NodeKind.CUSTOMER_ZONE},
    }
    problems = []
    for i, d in enumerate(scenario.disruptions):
        path = f"disruptions[{i}]"
        if d.kind in (DisruptionKind.LANE_CLOSURE, DisruptionKind.LANE_DELAY):
            if d.lane is None:
                problems.append(Problem(f"{path}.lane", f"required for {d.kind}"))
            elif d.lane >= len(scenario.lanes):
                problems.append(Problem(f"{path}.lane", f"no lane [{d.lane}] ({len(scenario.lanes)} lanes)"))
            if d.kind == DisruptionKind.LANE_DELAY and d.extra_days <= 0:
                problems.append(Problem(f"{path}.extra_days", "a lane delay needs extra_days > 0"))
        elif d.node is None and d.kind != DisruptionKind.DEMAND_SHOCK:
            problems.append(Problem(f"{path}.node", f"required for {d.kind}"))
        elif d.node is not None:
            node = scenario.nodes.get(d.node)
            if node is None:
                problems.append(Problem(f"{path}.node", f"unknown node '{d.node}'"))
            elif NodeKind(node.kind) not in target_kind.get(d.kind, set()):
                problems.append(Problem(f"{path}.node", f"a {d.kind} cannot hit a {node.kind}"))
        if d.product is not None and d.product not in scenario.products:
            problems.append(Problem(f"{path}.product", f"unknown product '{d.product}'"))
        scheduled = d.start is not None or d.duration_days is not None
        random_ = d.mtbf_days is not None or d.mttr_days is not None
        if scheduled and random_:
            problems.append(Problem(path, "either start + duration_days or mtbf_days + mttr_days"))
        elif scheduled and (d.start is None or d.duration_days is None):
            problems.append(Problem(path, "a scheduled disruption needs start and duration_days"))
        elif random_ and (d.mtbf_days is None or d.mttr_days is None):
            problems.append(Problem(path, "a random disruption needs mtbf_days and mttr_days"))
        elif not scheduled and not random_:
            problems.append(Problem(path, "needs start + duration_days or mtbf_days + mttr_days"))
    return problems


def check_sourcing_rules(scenario: Scenario) -> list[Problem]:
    """Sourcing rules name stock points, and sources that have a lane bringing the item there."""
    net = SupplyNetwork(scenario)
    problems = []
    for i, rule in enumerate(scenario.sourcing):
        path = f"sourcing[{i}]"
        if rule.node not in scenario.nodes:
            problems.append(Problem(f"{path}.node", f"unknown node '{rule.node}'"))
            continue
        reachable = {net.lane(lane).src for lane in net.sourcing_options(rule.node, rule.product)}
        named = list(rule.sources) + list(rule.split)
        for source in named:
            if source not in reachable:
                problems.append(
                    Problem(path, f"'{source}' has no lane bringing '{rule.product}' to '{rule.node}'")
                )
        if rule.rule == SourcingRuleKind.PRIMARY_BACKUP and not rule.sources:
            problems.append(Problem(f"{path}.sources", "primary_backup needs sources in priority order"))
        if rule.rule == SourcingRuleKind.SPLIT and (
            not rule.split or min(rule.split.values()) < 0 or sum(rule.split.values()) <= 0
        ):
            problems.append(Problem(f"{path}.split", "split needs shares ≥ 0 with a positive sum"))
    return problems


def _check_duration(path: str, dist: Distribution) -> list[Problem]:
    """Like the lead-time check, worded for any duration (dwell, resolution)."""
    return [
        Problem(p.path, p.message.replace("lead time", "duration"))
        for p in _check_distribution(path, dist)
    ]


def check_purchase_models(scenario: Scenario) -> list[Problem]:
    """Each segment has one purchase model, spend needs priced products, reach is a share."""
    problems = []
    for seg_id, seg in scenario.crm.segments.items():
        base = f"crm.segments.{seg_id}"
        has_rate = seg.orders_per_customer_per_year is not None
        if has_rate == (seg.purchasing is not None):
            problems.append(
                Problem(base, "needs either orders_per_customer_per_year or purchasing (not both)")
            )
        if seg.purchasing is not None and seg.purchasing.spend is not None:
            for item, weight in seg.product_mix.items():
                product = scenario.products.get(item)
                if weight > 0 and product is not None and product.price <= 0:
                    problems.append(
                        Problem(
                            f"{base}.product_mix.{item}",
                            "purchasing.spend needs a price > 0 to turn value into units",
                        )
                    )
        for channel, reach in seg.channel_mix.items():
            if not 0.0 <= reach <= 1.0:
                problems.append(
                    Problem(f"{base}.channel_mix.{channel}", f"reach must be in [0, 1] (got {reach})")
                )
    return problems


def check_acquisition(scenario: Scenario) -> list[Problem]:
    """Funnel stages have valid dwell-time distributions; a market with no one in it is empty."""
    problems = []
    for seg_id, seg in scenario.crm.segments.items():
        acquisition = seg.acquisition
        if acquisition is None:
            continue
        base = f"crm.segments.{seg_id}.acquisition"
        for stage in ("qualify", "propose", "win"):
            problems += _check_duration(f"{base}.{stage}.dwell", getattr(acquisition, stage).dwell)
        rates = acquisition.innovation_per_year + acquisition.imitation_per_year
        if acquisition.prospects > 0 and rates <= 0:
            problems.append(
                Problem(base, "prospects never become leads: set innovation_per_year or "
                        "imitation_per_year")
            )
        if acquisition.imitation_per_year > 0 and acquisition.innovation_per_year <= 0 and (
            seg.customers == 0
        ):
            problems.append(
                Problem(f"{base}.innovation_per_year", "word of mouth needs a first customer: "
                        "with no customers at start set innovation_per_year > 0")
            )
    return problems


def check_promotions(scenario: Scenario) -> list[Problem]:
    """Promotions end after they start and name known sold products and segments."""
    problems = []
    for i, promo in enumerate(scenario.crm.promotions):
        path = f"crm.promotions[{i}]"
        if promo.end < promo.start:
            problems.append(
                Problem(f"{path}.end", f"ends ({promo.end}) before it starts ({promo.start})")
            )
        for item in promo.products:
            product = scenario.products.get(item)
            if product is None:
                problems.append(Problem(f"{path}.products", f"unknown product '{item}'"))
            elif product.kind == ProductKind.COMPONENT:
                problems.append(Problem(f"{path}.products", f"'{item}' is a component"))
        for seg in promo.target_segments:
            if seg not in scenario.crm.segments:
                problems.append(Problem(f"{path}.target_segments", f"unknown segment '{seg}'"))
    return problems


def check_service(scenario: Scenario) -> list[Problem]:
    """Ticket channels have weights ≥ 0 with a positive sum and a valid resolution time."""
    service = scenario.crm.service
    if service is None:
        return []
    problems = []
    weights = service.channel_mix
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        problems.append(
            Problem("crm.service.channel_mix", "weights must be ≥ 0 with a positive sum")
        )
    for channel, weight in weights.items():
        if weight > 0 and channel not in service.resolution_days:
            problems.append(
                Problem(f"crm.service.resolution_days.{channel}", "missing for a channel in use")
            )
    for channel, dist in service.resolution_days.items():
        problems += _check_duration(f"crm.service.resolution_days.{channel}", dist)
    return problems


ALL_CHECKS: tuple[Callable[[Scenario], list[Problem]], ...] = (
    check_names,
    check_distributions,
    check_lane_endpoints,
    check_node_items,
    check_bom,
    check_segments,
    check_campaigns,
    check_seasonality,
    check_zone_reachable,
    check_sourcing,
    check_policies,
    check_sourcing_rules,
    check_demand,
    check_disruptions,
    check_purchase_models,
    check_acquisition,
    check_promotions,
    check_service,
)


def run_checks(scenario: Scenario) -> list[Problem]:
    """Every problem every check finds, in check order."""
    problems: list[Problem] = []
    for check in ALL_CHECKS:
        problems += check(scenario)
    return problems
