"""Simulation throughput: Tandem's engine against raw SimPy, measured in the same process.

``sim_events_per_s`` counts the supply-chain events Tandem simulates per second of wall time: the
rows of the event log (an order placed, allocated, backordered, shipped, received, delivered…),
in one replication of a benchmark scenario (the plan is solved first and not timed; the run
includes building the result tables). ``raw_simpy_events_per_s`` is what bare SimPy processes
per second: 1,000 processes doing timeouts, each timeout one event. The engine needs fewer SimPy
events than it logs (a delivery, for instance, is recorded without an event of its own), so the
ratio compares useful simulated events with the cheapest possible SimPy events. Last line:
``sim_events_per_s=… raw_simpy_events_per_s=… ratio=…``.

Usage: ``python benchmarks/sim_throughput.py [SCENARIO] [--repeat N]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import simpy

import optimize
from crm_model import DemandModel
from scenarios import SupplyNetwork, load_scenario
from sim import ReleaseSchedule, Simulation, Streams


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        super().step()


def raw_simpy(processes: int = 1000, timeouts: int = 200) -> float:
    env = CountingEnvironment()

    def worker(env: simpy.Environment, period: float):
        for _ in range(timeouts):
            yield env.timeout(period)

    for k in range(processes):
        env.process(worker(env, 1.0 + (k % 7) / 7))
    start = time.perf_counter()
    env.run()
    return env.steps / (time.perf_counter() - start)


def prepare(name: str) -> tuple:
    scenario = load_scenario(name)
    demand = DemandModel(scenario)
    plan = optimize.plan_supply(scenario, demand.expected_by_bucket())
    return scenario, demand, ReleaseSchedule.from_tables(plan.tables)


def tandem_sim(scenario, demand, releases) -> tuple[float, int, int]:
    network = SupplyNetwork(scenario)
    streams = Streams.from_seed(np.random.SeedSequence(scenario.simulation.seed))
    orders = demand.sample(streams.demand)
    env = CountingEnvironment()
    simulation = Simulation(scenario, network, releases, orders, streams, env=env)
    start = time.perf_counter()
    tables = simulation.run()
    seconds = time.perf_counter() - start
    return len(tables["events"]) / seconds, env.steps, len(tables["events"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="retailer_holiday")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sim_rates, raw_rates = [], []
    prepared = prepare(args.scenario)
    for _ in range(args.repeat):
        rate, steps, logged = tandem_sim(*prepared)
        sim_rates.append(rate)
        raw_rates.append(raw_simpy())
    sim_rate, raw_rate = max(sim_rates), max(raw_rates)
    print(
        f"scenario={args.scenario} logged_events={logged} simpy_events={steps} "
        f"repeats={args.repeat} (best of)"
    )
    print(
        f"sim_events_per_s={sim_rate:.0f} raw_simpy_events_per_s={raw_rate:.0f} "
        f"ratio={sim_rate / raw_rate:.3f}"
    )


if __name__ == "__main__":
    main()
