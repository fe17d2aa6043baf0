"""Scenario schema, loading, what-if overrides, the supply network and the scenario library."""

from __future__ import annotations

from scenarios.errors import DataError, PlanError, Problem, ScenarioError, TandemError
from scenarios.loader import (
    apply_overrides,
    library_descriptions,
    library_names,
    load_scenario,
    scenario_from_dict,
    scenario_hash,
    scenario_to_yaml,
)
from scenarios.network import SupplyNetwork
from scenarios.schema import Scenario

__all__ = [
    "DataError",
    "PlanError",
    "Problem",
    "Scenario",
    "ScenarioError",
    "SupplyNetwork",
    "TandemError",
    "apply_overrides",
    "library_descriptions",
    "library_names",
    "load_scenario",
    "scenario_from_dict",
    "scenario_hash",
    "scenario_to_yaml",
]
