"""Running replications of a simulation and collecting their tidy tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_model.demand import DemandModel
from crm_model.stream import OrderStream, WrappedStream
from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario
from scenarios.state import SupplyState
from sim.disruptions import Disruptions, sample_windows
from sim.engine import Control, ReleaseSchedule, Simulation, Streams
from sim.records import concat_tables

__all__ = [
    "SimulationResult",
    "WithExtraLines",
    "replication_seed",
    "simulate",
    "simulate_replication",
]


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
    states: dict[float, SupplyState] = field(default_factory=dict)
    """States of replication 0 at the requested snapshot days (day → state)."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name; CRM tables are named ``crm_<name>``."""
        tables = {"orders": self.orders, "events": self.events, "inventory": self.inventory}
        tables.update({f"crm_{name}": frame for name, frame in self.crm.items()})
        return tables


class WithExtraLines(WrappedStream):
    """A stream plus fixed extra order lines (e.g. deals won), merged in time order; outcomes
    and CRM tables go to the wrapped stream."""

    def __init__(self, inner: OrderStream, extra: pd.DataFrame) -> None:
        super().__init__(inner)
        self.extra = OrderStream(extra)

    def next_orders(self, start: float, end: float) -> pd.DataFrame:
        frames = [self.inner.next_orders(start, end), self.extra.next_orders(start, end)]
        merged = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
        return merged.sort_values("time", kind="stable").reset_index(drop=True)


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
    *,
    control: Callable[[Simulation], Control] | None = None,
    initial_state: SupplyState | None = None,
    extra_orders: pd.DataFrame | None = None,
    snapshot_days: tuple[float, ...] = (),
    states: dict[float, SupplyState] | None = None,
) -> dict[str, pd.DataFrame]:
    """Tables of one replication; demand and lead times come from that replication's streams.

    ``control(simulation)`` returns the :class:`~sim.engine.Control` of a re-plan or auto-order
    loop (it may wrap ``simulation.stream`` to observe demand); the tables then include
    ``plan_releases`` (releases made, by plan generation) and ``decisions`` (controller calls
    and their seconds). ``initial_state`` starts from open orders (:mod:`scenarios.state`);
    ``extra_orders`` are order lines added to the sampled demand (e.g. won deals). States
    recorded at ``snapshot_days`` are put into ``states``.
    """
    network = network or SupplyNetwork(scenario)
    demand = demand or DemandModel(scenario)
    streams = Streams.from_seed(replication_seed(seed, replication))
    disruptions = Disruptions(sample_windows(scenario, streams.disruptions))
    if scenario.simulation.stochastic_demand:
        stream = demand.stream(streams.demand, disruptions.demand_shocks())
    else:
        stream = OrderStream(demand.expected_stream())
    if extra_orders is not None and len(extra_orders):
        stream = WithExtraLines(stream, extra_orders)
    simulation = Simulation(
        scenario,
        network,
        releases,
        stream,
        streams,
        disruptions,
        initial_state=initial_state,
        snapshot_days=snapshot_days,
    )
    if control is not None:
        simulation.control = control(simulation)
    tables = simulation.run()
    stream = simulation.stream
    if control is not None:
        tables["plan_releases"] = pd.DataFrame.from_records(
            simulation.released,
            columns=["day", "kind", "where", "item", "qty", "generation"],
        ).astype({"where": str})
        tables["decisions"] = pd.DataFrame.from_records(
            simulation.decisions, columns=["day", "seconds"]
        )
    if states is not None:
        states.update(simulation.states)
    tables.update({f"crm_{name}": frame for name, frame in stream.tables().items()})
    for frame in tables.values():
        frame.insert(0, "replication", replication)
    return tables


def simulate(
    scenario: Scenario,
    releases: ReleaseSchedule,
    replications: int | None = None,
    seed: int | None = None,
    snapshot_days: tuple[float, ...] = (),
) -> SimulationResult:
    """Run ``replications`` replications (default: the scenario's) and stack their tables;
    replication 0 records its state at ``snapshot_days`` (:attr:`SimulationResult.states`).

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
    states: dict[float, SupplyState] = {}
    parts = [
        simulate_replication(
            scenario,
            releases,
            r,
            root,
            network,
            demand,
            snapshot_days=snapshot_days if r == 0 else (),
            states=states,
        )
        for r in range(n)
    ]
    stacked = {name: concat_tables([p[name] for p in parts]) for name in parts[0]}
    for name, frame in stacked.items():
        frame.attrs["unit"] = parts[0][name].attrs.get("unit", {})
    crm = {
        name[len("crm_") :]: stacked.pop(name) for name in list(stacked) if name.startswith("crm_")
    }
    return SimulationResult(seed=root, replications=n, crm=crm, states=states, **stacked)
