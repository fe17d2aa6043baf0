"""End to end at scale: retailer_holiday with its segments scaled to about 1 M customers, 365 days.

Runs forecast → plan → one simulated replication → KPIs through ``tandem.pipeline.run_scenario``
and prints the seconds of each stage and the total as the last line
(``customers=… order_lines=… total_s=…``). Target: total ≤ 15 s on 2 cores.

Usage: ``python benchmarks/million_customers.py [--customers N]``
"""

from __future__ import annotations

import argparse
import time

from scenarios import Scenario, load_scenario
from tandem.pipeline import run_scenario


def load_raw_scaled(name: str, customers: int) -> Scenario:
    """Library scenario ``name`` with every segment scaled so the total is ``customers``."""
    base = load_scenario(name)
    total = sum(s.customers for s in base.crm.segments.values())
    factor = customers / total
    overrides = {
        f"crm.segments.{k}.customers": round(s.customers * factor)
        for k, s in base.crm.segments.items()
    }
    # scale starting stock too, so the plan is not all backorders
    for node_id, node in base.nodes.items():
        for item, qty in getattr(node, "initial_inventory", {}).items():
            overrides[f"nodes.{node_id}.initial_inventory.{item}"] = qty * factor
        for item, offer in getattr(node, "supplies", {}).items():
            if offer.capacity_per_day is not None:
                overrides[f"nodes.{node_id}.supplies.{item}.capacity_per_day"] = (
                    offer.capacity_per_day * factor
                )
    overrides["horizon_days"] = 365
    return load_scenario(name, overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    scenario = load_raw_scaled("retailer_holiday", args.customers)
    start = time.perf_counter()
    run = run_scenario(scenario, replications=1)
    total = time.perf_counter() - start
    lines = int((run.simulation.orders["order_type"] == "customer").sum())
    customers = sum(s.customers for s in scenario.crm.segments.values())
    for stage, seconds in run.timings.items():
        print(f"{stage}={seconds:.2f}")
    print(f"customers={customers} order_lines={lines} total_s={total:.2f}")


if __name__ == "__main__":
    main()
