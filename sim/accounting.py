"""Conservation accounting over simulation tables: every unit and every order accounted for."""

from __future__ import annotations

import pandas as pd

from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario
from sim.engine import SNAPSHOT_OFFSET

__all__ = ["order_balance", "stock_balance"]


def stock_balance(scenario: Scenario, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per replication, stock point and item: ``initial, receipts, issues, end, residual``.

    ``residual = initial + receipts − issues − end`` is zero when units are conserved. Receipts are
    ``received`` events at the stock point (purchases, transfers, finished production); issues
    are ``shipped`` events from it (customer lines and transfers), ``consumed`` components and
    ``written_off`` stock (stock-loss disruptions).
    ``end`` is the on-hand of the last daily snapshot.
    """
    events, inventory = tables["events"], tables["inventory"]
    net = SupplyNetwork(scenario)
    last_day = scenario.horizon_days - 1
    cutoff = last_day + SNAPSHOT_OFFSET
    events = events[events["time"] <= cutoff]
    stock_points = set(net.stock_points)
    at_stock = events[events["node"].isin(stock_points)]
    receipts = (
        at_stock[at_stock["event"] == "received"]
        .groupby(["replication", "node", "product"])["qty"]
        .sum()
    )
    issues = (
        at_stock[at_stock["event"].isin(["shipped", "consumed", "written_off"])]
        .groupby(["replication", "node", "product"])["qty"]
        .sum()
    )
    end = inventory[inventory["day"] == last_day].set_index(["replication", "node", "product"])[
        "on_hand"
    ]
    initial = {
        (node, item): float(scenario.nodes[node].initial_inventory.get(item, 0.0))
        for node in net.stock_points
        for item in net.items_at(node)
    }
    frame = end.rename("end").to_frame()
    frame["initial"] = [initial.get((n, p), 0.0) for _, n, p in frame.index]
    frame["receipts"] = receipts.reindex(frame.index, fill_value=0.0)
    frame["issues"] = issues.reindex(frame.index, fill_value=0.0)
    frame["residual"] = frame["initial"] + frame["receipts"] - frame["issues"] - frame["end"]
    return frame.reset_index()[
        ["replication", "node", "product", "initial", "receipts", "issues", "end", "residual"]
    ]


def order_balance(orders: pd.DataFrame) -> pd.DataFrame:
    """Per order: ``qty − delivered − in_transit − lost − open`` as column ``residual`` (zero when
    every unit of the order is in exactly one state)."""
    residual = (
        orders["qty"]
        - orders["delivered_qty"]
        - orders["in_transit_qty"]
        - orders["lost_qty"]
        - orders["open_qty"]
    )
    return orders.assign(residual=residual)[
        ["replication", "order_id", "order_type", "status", "residual"]
    ]
