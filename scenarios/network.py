"""The supply network of a scenario as a typed ``networkx.DiGraph``, with graph queries and tables.

Nodes carry ``kind`` (:class:`~scenarios.schema.NodeKind`) and ``spec`` (the node's schema model);
edges carry ``lanes``, the indices into ``scenario.lanes`` of the lanes between the two nodes
(two modes on one origin–destination pair are two lanes on one edge). The network is built
tolerantly: a lane naming an unknown node is left out here and reported by
:func:`scenarios.checks.check_lane_endpoints`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import pandas as pd

from scenarios.schema import Lane, NodeKind, ProductKind, Scenario

__all__ = ["STOCK_KINDS", "LaneItem", "SupplyNetwork"]

STOCK_KINDS = frozenset({NodeKind.PLANT, NodeKind.WAREHOUSE})
"""Node kinds that hold inventory."""


@dataclass(frozen=True)
class LaneItem:
    """One item moving on one lane, with the planning figures of that movement."""

    lane: int
    src: str
    dst: str
    item: str
    lead_time_days: float
    """Mean days from release to receipt (supplier lead time + transit for supplier lanes)."""
    cost_per_unit: float
    """Freight per unit, plus the purchase price on supplier lanes."""


class SupplyNetwork:
    """Graph view of a scenario's nodes and lanes.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> net = SupplyNetwork(load_scenario("retailer_holiday"))
    >>> sorted(net.nodes_of(NodeKind.WAREHOUSE))
    ['dc_north', 'dc_south']
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        graph: nx.DiGraph = nx.DiGraph()
        for node_id, node in scenario.nodes.items():
            graph.add_node(node_id, kind=NodeKind(node.kind), spec=node)
        for index, lane in enumerate(scenario.lanes):
            if lane.src in graph and lane.dst in graph:
                if graph.has_edge(lane.src, lane.dst):
                    graph.edges[lane.src, lane.dst]["lanes"].append(index)
                else:
                    graph.add_edge(lane.src, lane.dst, lanes=[index])
        self.graph = graph

    # ----------------------------------------------------------------------------- basic views
    def kind(self, node: str) -> NodeKind:
        """Kind of ``node``."""
        return self.graph.nodes[node]["kind"]

    def nodes_of(self, *kinds: NodeKind) -> list[str]:
        """Node ids of the given kinds, in scenario order."""
        return [n for n, data in self.graph.nodes(data=True) if data["kind"] in kinds]

    @property
    def stock_points(self) -> list[str]:
        """Plants and warehouses, in scenario order."""
        return self.nodes_of(*STOCK_KINDS)

    def valid_lanes(self) -> list[int]:
        """Indices of lanes whose both ends exist."""
        nodes = self.scenario.nodes
        return [i for i, lane in enumerate(self.scenario.lanes) if lane.src in nodes and lane.dst in nodes]

    def lane(self, index: int) -> Lane:
        """Lane number ``index``."""
        return self.scenario.lanes[index]

    def inbound_lanes(self, node: str) -> list[int]:
        """Indices of lanes into ``node``."""
        return [i for i in self.valid_lanes() if self.scenario.lanes[i].dst == node]

    def outbound_lanes(self, node: str) -> list[int]:
        """Indices of lanes out of ``node``."""
        return [i for i in self.valid_lanes() if self.scenario.lanes[i].src == node]

    # ------------------------------------------------------------------------------ item flow
    def _made_or_sold(self, node: str) -> set[str]:
        spec = self.scenario.nodes[node]
        if spec.kind == NodeKind.SUPPLIER:
            return set(spec.supplies)
        if spec.kind == NodeKind.PLANT:
            return set(spec.produces)
        return set()

    def _accepts(self, node: str, item: str) -> bool:
        spec = self.scenario.nodes[node]
        product = self.scenario.products.get(item)
        if product is None or product.kind == ProductKind.SERVICE:
            return False
        if spec.kind == NodeKind.PLANT:
            return item in self.components_of_plant(node)
        if spec.kind == NodeKind.CUSTOMER_ZONE:
            return product.kind == ProductKind.FINISHED
        return spec.kind == NodeKind.WAREHOUSE

    def components_of_plant(self, plant: str) -> set[str]:
        """Items consumed by the BOMs of what ``plant`` produces."""
        spec = self.scenario.nodes[plant]
        components: set[str] = set()
        for product in getattr(spec, "produces", {}):
            if product in self.scenario.products:
                components |= set(self.scenario.products[product].bom)
        return components

    @cached_property
    def _flows(self) -> tuple[dict[int, tuple[str, ...]], dict[str, tuple[str, ...]]]:
        """Items per lane and items per stock point, by fixed point over the graph."""
        lanes = self.valid_lanes()
        provides: dict[str, set[str]] = {n: self._made_or_sold(n) for n in self.scenario.nodes}
        for node, spec in self.scenario.nodes.items():
            # a warehouse can pass on whatever it starts with; a plant passes on only what it
            # makes (its starting components stay there)
            if spec.kind == NodeKind.WAREHOUSE:
                provides[node] |= set(spec.initial_inventory or {})
        carried: dict[int, set[str]] = {i: set() for i in lanes}
        changed = True
        while changed:
            changed = False
            for i in lanes:
                lane = self.scenario.lanes[i]
                items = {it for it in provides[lane.src] if self._accepts(lane.dst, it)}
                if lane.products is not None:
                    items &= set(lane.products)
                if items - carried[i]:
                    carried[i] |= items
                    changed = True
                dst_kind = self.kind(lane.dst)
                if dst_kind == NodeKind.WAREHOUSE and items - provides[lane.dst]:
                    provides[lane.dst] |= items
                    changed = True
        stocked: dict[str, set[str]] = {}
        for node in self.stock_points:
            spec = self.scenario.nodes[node]
            items = set(getattr(spec, "initial_inventory", {}) or {})
            items |= {it for i in self.inbound_lanes(node) for it in carried[i]}
            if spec.kind == NodeKind.PLANT:
                items |= set(spec.produces) | self.components_of_plant(node)
            stocked[node] = items
        order = {item: k for k, item in enumerate(self.scenario.products)}
        return (
            {i: tuple(sorted(s, key=lambda x: order.get(x, 1 << 30))) for i, s in carried.items()},
            {n: tuple(sorted(s, key=lambda x: order.get(x, 1 << 30))) for n, s in stocked.items()},
        )

    def lane_items(self, lane: int) -> tuple[str, ...]:
        """Items that move on lane number ``lane``."""
        return self._flows[0].get(lane, ())

    def items_at(self, node: str) -> tuple[str, ...]:
        """Items stocked at a plant or warehouse."""
        return self._flows[1].get(node, ())

    def sourcing_options(self, node: str, item: str) -> list[int]:
        """Lanes that bring ``item`` into ``node``."""
        return [i for i in self.inbound_lanes(node) if item in self.lane_items(i)]

    # -------------------------------------------------------------------------- customer side
    def serving_lane(self, zone: str) -> int | None:
        """The lane whose origin serves customer zone ``zone`` (see ``Lane.preferred``)."""
        candidates = [i for i in self.inbound_lanes(zone) if self.kind(self.lane(i).src) in STOCK_KINDS]
        if not candidates:
            return None
        preferred = [i for i in candidates if self.lane(i).preferred]
        if preferred:
            return preferred[0]
        return min(
            candidates,
            key=lambda i: (self.lane(i).cost_per_unit, self.lane(i).lead_time.expected(), i),
        )

    def serving_node(self, zone: str) -> str | None:
        """Stock point that serves ``zone``."""
        lane = self.serving_lane(zone)
        return None if lane is None else self.lane(lane).src

    def zone_items(self, zone: str) -> set[str]:
        """Products ordered in ``zone``: by CRM segments buying there and by plain zone demand."""
        items: set[str] = set()
        for segment in self.scenario.crm.segments.values():
            if segment.zone_mix.get(zone, 0) > 0:
                items |= {p for p, w in segment.product_mix.items() if w > 0}
        items |= {d.product for d in self.scenario.demand if d.zone == zone}
        return items

    # --------------------------------------------------------------------------- graph queries
    def echelons(self) -> dict[str, int]:
        """Echelon of each node: customer zones 0, nodes serving them 1, and so on upstream.

        A node's echelon is its shortest lane distance to any customer zone; nodes that reach no
        customer zone are left out.
        """
        zones = self.nodes_of(NodeKind.CUSTOMER_ZONE)
        reverse = self.graph.reverse(copy=False)
        distances = nx.multi_source_dijkstra_path_length(reverse, zones) if zones else {}
        return {node: int(d) for node, d in distances.items()}

    def paths(self, src: str, dst: str) -> list[list[str]]:
        """All simple node paths from ``src`` to ``dst``."""
        return [list(p) for p in nx.all_simple_paths(self.graph, src, dst)]

    def upstream(self, node: str) -> set[str]:
        """Every node with a path into ``node``."""
        return set(nx.ancestors(self.graph, node))

    # ----------------------------------------------------------------------------- for planning
    def lane_movements(self, lanes: Iterable[int] | None = None) -> list[LaneItem]:
        """One :class:`LaneItem` per lane and item, with mean lead time and unit cost."""
        result = []
        for i in self.valid_lanes() if lanes is None else lanes:
            lane = self.lane(i)
            src_spec = self.scenario.nodes[lane.src]
            for item in self.lane_items(i):
                lead = lane.lead_time.expected()
                cost = lane.cost_per_unit
                if src_spec.kind == NodeKind.SUPPLIER:
                    lead += src_spec.lead_time.expected()
                    cost += src_spec.supplies[item].price
                result.append(LaneItem(i, lane.src, lane.dst, item, lead, cost))
        return result

    def lane_table(self) -> pd.DataFrame:
        """Lanes × items: ``lane, src, dst, src_kind, dst_kind, mode, item, lead_time_days,
        cost_per_unit, capacity_per_day``."""
        rows = []
        for mv in self.lane_movements():
            lane = self.lane(mv.lane)
            rows.append(
                {
                    "lane": mv.lane,
                    "src": mv.src,
                    "dst": mv.dst,
                    "src_kind": str(self.kind(mv.src)),
                    "dst_kind": str(self.kind(mv.dst)),
                    "mode": str(lane.mode),
                    "item": mv.item,
                    "lead_time_days": mv.lead_time_days,
                    "cost_per_unit": mv.cost_per_unit,
                    "capacity_per_day": lane.capacity_per_day,
                }
            )
        return pd.DataFrame(rows)

    def stock_table(self) -> pd.DataFrame:
        """Stock points × items: ``node, kind, item, initial, unit_cost, holding_rate``."""
        rows = []
        for node in self.stock_points:
            spec = self.scenario.nodes[node]
            for item in self.items_at(node):
                rows.append(
                    {
                        "node": node,
                        "kind": str(spec.kind),
                        "item": item,
                        "initial": float(spec.initial_inventory.get(item, 0.0)),
                        "unit_cost": self.scenario.products[item].unit_cost,
                        "holding_rate": self.scenario.holding_rate(item),
                    }
                )
        return pd.DataFrame(rows)
