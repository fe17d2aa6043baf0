"""Experiments: strategies compared on common random numbers (paired differences with CIs),
sweeps over scenario field paths (full grid or Latin hypercube), and running to a target precision.

The heavy lifting (planning once per point, chunked replications on an executor, the store) is
:mod:`tandem.batch`; this module turns user input into batch points and batch KPIs into answers.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from reports.compare import paired_difference
from scenarios import Scenario, load_scenario
from scenarios.errors import Problem, ScenarioError
from sim.records import concat_tables
from tandem.batch import Point, Precision, ci_halfwidth, replications_needed

__all__ = [
    "DEFAULT_REPLICATIONS",
    "Levels",
    "Range",
    "compare_points",
    "comparison_table",
    "grid_design",
    "lhs_design",
    "paired_differences",
    "parse_metric",
    "parse_sweep_sets",
    "precision_target",
    "run_to_precision",
    "run_to_precision_cli",
    "sweep_points",
]

DEFAULT_REPLICATIONS = 10
"""Replications per point of a comparison, sweep or precision run when none are given."""


# ------------------------------------------------------------------------------ statistics
def paired_differences(kpis: pd.DataFrame, baseline: int = 0) -> pd.DataFrame:
    """Each point's KPIs minus the baseline point's, paired by replication, with a 95 % CI.

    Replication *r* of every point ran on the same random numbers (common random numbers), so
    the difference ``d_r = x_r - b_r`` removes the noise both share and its CI, ``mean(d) ± t ·
    sd(d) / √n``, is much tighter than comparing two independent means (Law, *Simulation
    Modeling and Analysis*, 5th ed., §10.2, paired-t). Replications where either value is
    undefined (NaN) are left out.

    Parameters
    ----------
    kpis
        Tidy KPIs with columns ``point, replication, metric, scope, value, unit``.
    baseline
        The point everything is compared with.

    Returns
    -------
    pandas.DataFrame
        ``point, metric, scope, unit, diff, diff_std, diff_ci_halfwidth, diff_replications,
        rel_diff`` for every point other than the baseline (``rel_diff`` = diff ÷ baseline mean).

    Examples
    --------
    >>> k = pd.DataFrame({"point": [0, 0, 0, 1, 1, 1], "replication": [0, 1, 2] * 2,
    ...                   "metric": "m", "scope": "all", "value": [1.0, 2.0, 3.0, 1.5, 2.5, 3.6],
    ...                   "unit": "u"})
    >>> d = paired_differences(k)
    >>> round(float(d.loc[0, "diff"]), 4), round(float(d.loc[0, "diff_ci_halfwidth"]), 4)
    (0.5333, 0.1434)
    """
    keys = ["replication", "metric", "scope"]
    base = kpis[kpis["point"] == baseline][[*keys, "value"]].rename(columns={"value": "base"})
    others = kpis[kpis["point"] != baseline]
    merged = others.merge(base, on=keys, how="inner").dropna(subset=["value", "base"])
    merged["d"] = merged["value"] - merged["base"]
    order = {key: i for i, key in enumerate(dict.fromkeys(zip(kpis["metric"], kpis["scope"],
                                                              strict=True)))}
    rows = []
    groups: Any = merged.groupby(["point", "metric", "scope", "unit"], sort=False)
    for (point, metric, scope, unit), group in groups:
        indexed = group.set_index("replication")
        result = paired_difference(indexed["value"], indexed["base"])
        n = result["n"]
        rows.append({
            "point": int(point), "metric": metric, "scope": scope, "unit": unit,
            "diff": result["diff"],
            "diff_std": float(group["d"].std(ddof=1)) if n > 1 else math.nan,
            "diff_ci_halfwidth": result["ci_halfwidth"],
            "diff_replications": n,
            "rel_diff": result["rel_diff"],
        })
    frame = pd.DataFrame(rows, columns=["point", "metric", "scope", "unit", "diff", "diff_std",
                                        "diff_ci_halfwidth", "diff_replications", "rel_diff"])
    if frame.empty:
        return frame
    frame["_order"] = [order[(m, s)] for m, s in zip(frame["metric"], frame["scope"], strict=True)]
    return frame.sort_values(["point", "_order"]).drop(columns="_order").reset_index(drop=True)


def comparison_table(summary: pd.DataFrame, kpis: pd.DataFrame, baseline: int = 0) -> pd.DataFrame:
    """Per point and KPI: mean, std and CI (from ``summary``) and the paired difference to the
    baseline with its CI (NaN for the baseline itself)."""
    diffs = paired_differences(kpis, baseline)
    table = summary.merge(diffs.drop(columns="unit"), on=["point", "metric", "scope"], how="left")
    table["significant"] = table["diff"].abs() > table["diff_ci_halfwidth"]
    return table


def parse_metric(text: str) -> tuple[str, str]:
    """``"fill_rate"`` → ``("fill_rate", "all")``; ``"fill_rate@product:earbuds"`` → scope
    ``product:earbuds``."""
    metric, _, scope = text.partition("@")
    return metric.strip(), (scope.strip() or "all")


# ------------------------------------------------------------------------------ points
def _unique_labels(wanted: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for label in wanted:
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return labels


def compare_points(refs: Sequence[str], overrides: Mapping[str, Any] | None = None) -> list[Point]:
    """Load the strategies of a comparison (the first is the baseline), each with ``overrides``.

    Every problem of every scenario is raised at once as one :class:`ScenarioError`.
    """
    found: dict[tuple[str, str], list[str]] = {}
    scenarios: list[Scenario] = []
    for ref in refs:
        try:
            scenarios.append(load_scenario(ref, dict(overrides or {})))
        except ScenarioError as exc:
            for problem in exc.problems:
                found.setdefault((problem.path, problem.message), []).append(str(ref))
    if found:
        raise ScenarioError(
            [Problem(path, f"{message} (in {', '.join(where)})")
             for (path, message), where in found.items()],
            source="compare",
        )
    names = [s.name for s in scenarios]
    if len(set(names)) < len(names):  # same name twice: tell them apart by what was given
        names = [Path(ref).stem if Path(ref).suffix else ref for ref in refs]
    labels = _unique_labels(names)
    return [
        Point(i, labels[i], s, ref=str(ref), overrides=dict(overrides or {}))
        for i, (ref, s) in enumerate(zip(refs, scenarios, strict=True))
    ]


@dataclass(frozen=True)
class Levels:
    """Values a swept field takes (grid: every one; Latin hypercube: stratified draws)."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A numeric interval ``low..high`` sampled by the Latin hypercube design (integers stay
    integers when both ends are)."""

    low: float
    high: float
    integer: bool = False


_RANGE = re.compile(r"^\s*([^,\[\]{}]+?)\s*\.\.\s*([^,\[\]{}]+?)\s*$")


def parse_sweep_sets(values: Sequence[str] | None) -> dict[str, Levels | Range]:
    """``--set`` options of a sweep: ``PATH=V1,V2,…`` (levels) or ``PATH=LOW..HIGH`` (a range).

    Values are read as YAML (``1,2.5,true,[1,2]``). Every malformed option is reported at once.

    >>> factors = parse_sweep_sets(["crm.campaigns[0].budget=1000,2000", "horizon_days=56..91"])
    >>> factors["crm.campaigns[0].budget"], factors["horizon_days"]
    (Levels(values=(1000, 2000)), Range(low=56, high=91, integer=True))
    """
    factors: dict[str, Levels | Range] = {}
    problems: list[Problem] = []
    for item in values or []:
        if "=" not in item:
            problems.append(Problem(item, "--set needs PATH=V1,V2,… or PATH=LOW..HIGH"))
            continue
        path, raw = (part.strip() for part in item.split("=", 1))
        if path in factors:
            problems.append(Problem(path, "set twice"))
            continue
        match = _RANGE.match(raw)
        if match:
            try:
                low, high = (yaml.safe_load(match.group(k)) for k in (1, 2))
            except yaml.YAMLError:
                low = high = None
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                          for v in (low, high))
            if not numeric:
                problems.append(Problem(path, f"range {raw!r} needs two numbers LOW..HIGH"))
            elif not low < high:
                problems.append(Problem(path, f"range {raw!r}: LOW must be below HIGH"))
            else:
                integer = isinstance(low, int) and isinstance(high, int)
                factors[path] = Range(low, high, integer)
            continue
        try:
            parsed = yaml.safe_load(f"[{raw}]")
        except yaml.YAMLError:
            problems.append(Problem(path, f"cannot read values {raw!r}"))
            continue
        if not parsed or any(v is None for v in parsed):
            problems.append(Problem(path, f"empty value in {raw!r}"))
            continue
        factors[path] = Levels(tuple(parsed))
    if problems:
        raise ScenarioError(problems, source="--set")
    return factors


def grid_design(factors: Mapping[str, Levels | Range]) -> list[dict[str, Any]]:
    """Every combination of the levels (the last factor varies fastest).

    >>> grid_design({"a": Levels((1, 2)), "b": Levels(("x", "y"))})
    [{'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 2, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    problems = [Problem(path, "a range (LOW..HIGH) needs --design lhs; list values for a grid")
                for path, factor in factors.items() if isinstance(factor, Range)]
    if problems:
        raise ScenarioError(problems, source="--set")
    names = list(factors)
    levels = [factors[n].values for n in names]  # type: ignore[union-attr]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*levels)]


def _round_sig(value: float, digits: int = 6) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def lhs_design(
    factors: Mapping[str, Levels | Range], samples: int, seed: int
) -> list[dict[str, Any]]:
    """A Latin hypercube of ``samples`` points (McKay, Beckman & Conover, *Technometrics* 21,
    1979): each factor's range is cut into ``samples`` equal strata and every stratum is used
    once, in an order shuffled independently per factor. Ranges give uniform draws inside the
    stratum (rounded to 6 significant digits, or to integers); levels are taken by stratum, so
    each level appears ``samples / len(levels)`` times (±1). Seeded: the same seed gives the same
    design.

    >>> lhs_design({"x": Range(0.0, 1.0)}, 4, seed=1) == lhs_design({"x": Range(0.0, 1.0)}, 4, 1)
    True
    """
    if samples < 1:
        raise ScenarioError([Problem("--samples", "needs at least 1 sample")], source="sweep")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5EED,)))
    design: list[dict[str, Any]] = [{} for _ in range(samples)]
    for name, factor in factors.items():
        u = (rng.permutation(samples) + rng.random(samples)) / samples
        for i, x in enumerate(u):
            if isinstance(factor, Range):
                value: Any = factor.low + float(x) * (factor.high - factor.low)
                value = math.floor(value + 0.5) if factor.integer else _round_sig(value)
            else:
                value = factor.values[min(len(factor.values) - 1, int(x * len(factor.values)))]
            design[i][name] = value
    return design


def sweep_points(
    ref: str,
    design: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any] | None = None,
) -> list[Point]:
    """Load the scenario at every design point (``fixed`` overrides, then the point's values).

    Every distinct problem across all points is raised at once as one :class:`ScenarioError`.
    """
    problems: dict[tuple[str, str], Problem] = {}
    points = []
    for index, values in enumerate(design):
        overrides = {**dict(fixed or {}), **dict(values)}
        try:
            scenario = load_scenario(ref, overrides)
        except ScenarioError as exc:
            for problem in exc.problems:
                shown = values.get(problem.path, None)
                message = problem.message
                if shown is not None:
                    message = f"{message} (value {shown!r})"
                problems.setdefault((problem.path, message), Problem(problem.path, message))
            continue
        points.append(Point(index, f"p{index:03d}", scenario, ref=ref, overrides=overrides,
                            parameters=dict(values)))
    if problems:
        raise ScenarioError(list(problems.values()), source=f"sweep of {ref}")
    return points


# ------------------------------------------------------------------------------ one run
def _stack(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    stacked = {}
    for name in parts[0]:
        frame = concat_tables([p[name] for p in parts])
        frame.attrs["unit"] = parts[0][name].attrs.get("unit", {})
        stacked[name] = frame
    return stacked


def run_to_precision(
    scenario: Scenario,
    *,
    metric: str,
    halfwidth: float,
    scope: str = "all",
    replications: int | None = None,
    max_replications: int = 200,
    seed: int | None = None,
) -> Any:
    """Run the whole loop (:func:`tandem.pipeline.run_scenario`), then add replications until the
    95 % CI half-width of ``metric`` at ``scope`` is at most ``halfwidth`` or
    ``max_replications`` is reached. The plan is made once.

    Starts with ``replications`` (default :data:`DEFAULT_REPLICATIONS`, at least 2) and grows
    to ``n · (h / h*)²`` (:func:`tandem.batch.replications_needed`) until met. Replication *r*
    is the same whether it ran in the first round or a later one.

    Raises
    ------
    ScenarioError
        ``metric`` at ``scope`` is not a KPI of this scenario.
    """
    import reports
    import sim
    from sim.run import simulate_replication
    from tandem.pipeline import run_kpis, run_scenario

    n = max(2, replications or DEFAULT_REPLICATIONS)
    run = run_scenario(scenario, replications=min(n, max_replications), seed=seed)
    selected = (run.kpis["metric"] == metric) & (run.kpis["scope"] == scope)
    if not selected.any():
        known = sorted(set(run.kpis.loc[run.kpis["scope"] == scope, "metric"]))
        raise ScenarioError(
            [Problem("--metric",
                     f"no KPI '{metric}' at scope '{scope}'; KPIs: {', '.join(known)}")],
            source="precision target",
        )
    tables = [run.simulation.tables()]
    kpis = [run.kpis]
    current = run.replications
    releases = sim.ReleaseSchedule.from_tables(run.plan.tables)
    while True:
        done = pd.concat(kpis)
        values = done.loc[(done["metric"] == metric) & (done["scope"] == scope), "value"]
        needed = replications_needed(current, ci_halfwidth(values), halfwidth, max_replications)
        if needed <= current:
            break
        for replication in range(current, needed):
            part = simulate_replication(scenario, releases, replication, run.seed)
            tables.append(part)
            kpis.append(run_kpis(scenario, part))
        current = needed
    if current == run.replications:
        return run
    stacked = _stack(tables)
    crm = {name[len("crm_"):]: stacked.pop(name) for name in list(stacked)
           if name.startswith("crm_")}
    simulation = sim.SimulationResult(seed=run.seed, replications=current, crm=crm, **stacked)
    all_kpis = run_kpis(scenario, simulation.tables())  # the same table as one run of n
    return dataclasses.replace(
        run, simulation=simulation, replications=current, kpis=all_kpis,
        summary=reports.summarize(all_kpis),
    )


def precision_target(
    ci_halfwidth: float | None, metric: str | None, max_replications: int
) -> Precision | None:
    """The ``--ci-halfwidth`` / ``--metric`` options as a :class:`~tandem.batch.Precision`
    (None when neither is given; both or neither, and a positive half-width)."""
    if ci_halfwidth is None and metric is None:
        return None
    if ci_halfwidth is None or metric is None:
        raise ScenarioError([Problem("--ci-halfwidth/--metric", "give both or neither")],
                            source="precision target")
    if ci_halfwidth <= 0:
        raise ScenarioError([Problem("--ci-halfwidth", "must be > 0")], source="precision target")
    name, scope = parse_metric(metric)
    return Precision(name, ci_halfwidth, scope, max_replications)


def run_to_precision_cli(
    scenario: Scenario,
    ci_halfwidth: float | None,
    metric: str | None,
    replications: int | None,
    max_replications: int,
    seed: int | None,
) -> Any:
    """:func:`run_to_precision` from ``tandem run`` options (both ``--ci-halfwidth`` and
    ``--metric`` are needed)."""
    target = precision_target(ci_halfwidth, metric, max_replications)
    if target is None:
        raise ScenarioError([Problem("--ci-halfwidth/--metric", "give both or neither")],
                            source="precision target")
    return run_to_precision(scenario, metric=target.metric, scope=target.scope,
                            halfwidth=target.halfwidth, replications=replications,
                            max_replications=max_replications, seed=seed)
