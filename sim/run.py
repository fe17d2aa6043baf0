"""Running replications of a simulation and collecting their tidy tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_model.demand import DemandModel
from crm_model.stream import OrderStream
from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario
from sim.disruptions import Disruptions, sample_windows
from sim.engine import ReleaseSchedule, Simulation, Streams

__all__ = ["SimulationResult", "replication_seed", "simulate", "simulate_replication"]


@dataclass(frozen=True)
class SimulationResult:
    """Tidy tables of all replications: ``orders``, ``events``, ``inventory`` and the CRM
    stream's tables in ``crm`` (each with a ``replication`` column), the root seed and the
    number of replications."""

    orders: pd.DataFrame
    events: pd.DataFrame
    inventory: pd.DataFrame
    seed: int
    replications: int
    crm: dict[str, pd.DataFrame] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name; CRM tables are named ``crm_<name>``."""
        tables = {"orders": self.orders, "events": self.events, "inventory": self.inventory}
        tables.update({f"crm_{name}": frame for name, frame in self.crm.items()})
        return tables


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication``: the same child whatever runs it or in which order
    (equal to ``SeedSequence(seed).spawn(n)[replication]``)."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def simulate_replication(
    scenario: Scenario,
    releases: ReleaseSchedule,
    replication: int,
    seed: int,
    network: SupplyNetwork | None = None,
    demand: DemandModel | None = None,
) -> dict[str, pd.DataFrame]:
    """Tables of one replication; demand and lead times come from that replication's streams."""
    network = network or SupplyNetwork(scenario)
    demand = demand or DemandModel(scenario)
    streams = Streams.from_seed(replication_seed(seed, replication))
    disruptions = Disruptions(sample_windows(scenario, streams.disruptions))
    if scenario.simulation.stochastic_demand:
        stream = demand.stream(streams.demand, disruptions.demand_shocks())
    else:
        stream = OrderStream(demand.expected_stream())
    tables = Simulation(scenario, network, releases, stream, streams, disruptions).run()
    tables.update({f"crm_{name}": frame for name, frame in stream.tables().items()})
    for frame in tables.values():
        frame.insert(0, "replication", replication)
    return tables


def simulate(
    scenario: Scenario,
    releases: ReleaseSchedule,
    replications: int | None = None,
    seed: int | None = None,
) -> SimulationResult:
    """Run ``replications`` replications (default: the scenario's) and stack their tables.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> s = load_scenario("retailer_holiday", {"horizon_days": 28})
    >>> result = simulate(s, ReleaseSchedule.empty(), replications=2)
    >>> sorted(result.orders["replication"].unique().tolist())
    [0, 1]
    """
    n = replications or scenario.simulation.replications
    root = scenario.simulation.seed if seed is None else seed
    network = SupplyNetwork(scenario)
    demand = DemandModel(scenario)
    parts = [simulate_replication(scenario, releases, r, root, network, demand) for r in range(n)]
    stacked = {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}
    for name, frame in stacked.items():
        frame.attrs["unit"] = parts[0][name].attrs.get("unit", {})
    crm = {
        name[len("crm_") :]: stacked.pop(name) for name in list(stacked) if name.startswith("crm_")
    }
    return SimulationResult(seed=root, replications=n, crm=crm, **stacked)
