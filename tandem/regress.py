"""Policy regression: a suite of scenarios run as one batch, KPIs checked against a stored
baseline with per-KPI tolerances (absolute, relative, or statistical), JUnit XML for CI.

A suite file::

    name: library-smoke
    replications: 6
    seed: 2027
    defaults:
      overrides: {horizon_days: 91}
      tolerances:
        fill_rate: {abs: 0.02}            # |Δ| ≤ 0.02
        total_cost: {rel: 0.05}           # |Δ| ≤ 5 % of the baseline mean
        otif: {ci: 1.0}                   # |Δ| ≤ 1 × the baseline's 95 % CI half-width
    cases:
      - name: retailer
        scenario: retailer_holiday        # library name, or a path relative to the suite file
        overrides: {crm.campaigns[0].budget: 30000}
        tolerances: {fill_rate@product:earbuds: {abs: 0.05}}

A KPI *regresses* when it moved in its bad direction (``direction``: ``higher`` or ``lower`` is
better; known KPIs have a default, others ``both``) by more than the allowed deviation, the
largest of ``abs``, ``rel · |baseline|`` and ``ci · baseline CI half-width``. A move beyond it in
the good direction is reported as *improved* and passes (unless ``strict``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scenarios import load_scenario, scenario_hash
from scenarios.errors import DataError, Problem, ScenarioError
from tandem import __version__
from tandem.batch import BatchResult, BatchSpec, Point
from tandem.experiments import parse_metric
from tandem.store import write_text

__all__ = [
    "Check",
    "Direction",
    "Outcome",
    "Suite",
    "Tolerance",
    "baseline_from_result",
    "evaluate",
    "junit_xml",
    "load_baseline",
    "load_suite",
    "suite_spec",
    "write_baseline",
]


class Direction(StrEnum):
    """Which way a KPI gets better."""

    HIGHER = "higher"
    LOWER = "lower"
    BOTH = "both"
    """Any move beyond the tolerance is a regression."""


_HIGHER = {"fill_rate", "order_fill_rate", "otif", "cycle_service_level", "revenue", "margin",
           "inventory_turns"}
_LOWER = {"backorders", "open_backorders_end", "lost_sales", "order_lead_time_mean",
          "order_lead_time_p95", "backorder_age_mean", "stockout_days", "bullwhip_ratio",
          "purchase_cost", "ordering_cost", "production_cost", "transport_cost", "holding_cost",
          "shortage_cost", "total_cost"}


def default_direction(metric: str) -> Direction:
    """The better direction of a known KPI (``both`` for volumes and unknown KPIs)."""
    if metric in _HIGHER:
        return Direction.HIGHER
    if metric in _LOWER:
        return Direction.LOWER
    return Direction.BOTH


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerance(_Model):
    """Allowed deviation of one KPI's mean from the baseline: the largest of the given kinds."""

    abs: float | None = Field(None, ge=0, description="Absolute deviation, in the KPI's unit.")
    rel: float | None = Field(None, ge=0, description="Fraction of |baseline mean|.")
    ci: float | None = Field(
        None, ge=0, description="Multiple of the baseline's 95 % CI half-width (statistical)."
    )
    direction: Direction | None = Field(None, description="Better direction (default: by KPI).")

    @model_validator(mode="after")
    def _one_kind(self) -> Tolerance:
        if self.abs is None and self.rel is None and self.ci is None:
            raise ValueError("give at least one of abs, rel, ci")
        return self

    def allowed(self, baseline_mean: float, baseline_ci: float) -> float:
        """The allowed absolute deviation."""
        parts = [0.0]
        if self.abs is not None:
            parts.append(self.abs)
        if self.rel is not None and math.isfinite(baseline_mean):
            parts.append(self.rel * abs(baseline_mean))
        if self.ci is not None and math.isfinite(baseline_ci):
            parts.append(self.ci * baseline_ci)
        return max(parts)


class Defaults(_Model):
    overrides: dict[str, Any] = Field(default_factory=dict)
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)


class Case(_Model):
    """One scenario of the suite."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    scenario: str = Field(..., min_length=1, description="Library name or path (to the suite).")
    overrides: dict[str, Any] = Field(default_factory=dict)
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)


class Suite(_Model):
    """A regression suite: cases, replications, seed and tolerances."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    replications: int = Field(5, ge=2, le=10_000)
    seed: int = Field(12345, ge=0)
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[Case] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Suite:
        names = [c.name for c in self.cases]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"case names must be unique: {', '.join(duplicates)}")
        return self

    def tolerances(self, case: Case) -> dict[str, Tolerance]:
        """KPI key (``metric`` or ``metric@scope``) → tolerance: the defaults, then the case's."""
        return {**self.defaults.tolerances, **case.tolerances}

    def overrides(self, case: Case) -> dict[str, Any]:
        return {**self.defaults.overrides, **case.overrides}


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_suite(path: Path) -> tuple[Suite, list[Point]]:
    """Read and check a suite file and load every case's scenario.

    Raises
    ------
    ScenarioError
        Every problem of the file and of every case's scenario, at once.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError([Problem("", "file not found")], source=str(path)) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem("", f"not valid YAML: {exc}")], source=str(path)) from None
    if not isinstance(raw, dict):
        raise ScenarioError([Problem("", "a suite is a mapping")], source=str(path))
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        errors = [Problem(_path(tuple(e["loc"])), e["msg"].removeprefix("Value error, "))
                  for e in exc.errors()]
        cases = raw.get("cases")
        cases = cases if isinstance(cases, list) else []
        names = [c.get("name") for c in cases if isinstance(c, dict)]
        duplicates = sorted({str(n) for n in names if n is not None and names.count(n) > 1})
        if duplicates and not any("unique" in p.message for p in errors):
            errors.append(Problem("cases", f"case names must be unique: {', '.join(duplicates)}"))
        raise ScenarioError(errors, source=str(path)) from None
    problems: list[Problem] = []
    points = []
    for index, case in enumerate(suite.cases):
        ref = case.scenario
        if (path.parent / ref).is_file():
            ref = str(path.parent / ref)
        try:
            scenario = load_scenario(ref, suite.overrides(case))
        except ScenarioError as exc:
            problems += [Problem(f"cases[{index}] ({case.name}): {p.path}", p.message)
                         for p in exc.problems]
            continue
        for key in suite.tolerances(case):
            if not parse_metric(key)[0]:
                problems.append(Problem(f"cases[{index}].tolerances", f"bad KPI key {key!r}"))
        points.append(Point(index, case.name, scenario, ref=case.scenario,
                            overrides=suite.overrides(case)))
    if problems:
        raise ScenarioError(problems, source=str(path))
    return suite, points


def suite_spec(suite: Suite, points: list[Point], chunk_size: int | None = None) -> BatchSpec:
    """The batch that runs a suite."""
    return BatchSpec("regress", suite.name, tuple(points), suite.replications, suite.seed,
                     chunk_size=chunk_size)


# ------------------------------------------------------------------------------ baselines
def _stat(row: Any) -> dict[str, Any]:
    def num(value: Any) -> float | None:
        value = float(value)
        return value if math.isfinite(value) else None

    return {"mean": num(row.value), "std": num(row.std), "ci_halfwidth": num(row.ci_halfwidth),
            "replications": int(row.replications), "unit": row.unit}


def baseline_from_result(suite: Suite, result: BatchResult) -> dict[str, Any]:
    """The baseline file's content: per case, every KPI at scope ``all`` and every KPI the
    tolerances name, with mean, std and CI."""
    summary = result.summary()
    cases: dict[str, Any] = {}
    for point, case in zip(result.spec.points, suite.cases, strict=True):
        rows = summary[summary["point"] == point.index]
        wanted = {parse_metric(k) for k in suite.tolerances(case)}
        kpis = {}
        for row in rows.itertuples(index=False):
            if row.scope == "all" or (row.metric, row.scope) in wanted:
                key = row.metric if row.scope == "all" else f"{row.metric}@{row.scope}"
                kpis[key] = _stat(row)
        plan = result.plans.get(point.index, {})
        cases[case.name] = {
            "scenario": point.scenario.name,
            "scenario_hash": scenario_hash(point.scenario),
            "plan_status": plan.get("status"),
            "kpis": kpis,
        }
    return {
        "suite": suite.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tandem_version": __version__,
        "batch": result.batch_id,
        "seed": suite.seed,
        "replications": suite.replications,
        "cases": cases,
    }


def write_baseline(path: Path, baseline: dict[str, Any]) -> None:
    write_text(Path(path), json.dumps(baseline, indent=2, sort_keys=False) + "\n")


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a baseline file written by :func:`write_baseline`.

    Raises
    ------
    DataError
        Missing or unreadable file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{path}: no baseline file; create one with --update-baseline"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not a baseline file (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), dict):
        raise DataError(f"{path}: not a baseline file (no 'cases')")
    return data


# ------------------------------------------------------------------------------ evaluation
class Outcome(StrEnum):
    PASSED = "passed"
    IMPROVED = "improved"
    REGRESSED = "regressed"
    FAILED = "failed"
    """The case could not be measured (no usable plan, KPI undefined)."""


@dataclass(frozen=True)
class Check:
    """One KPI of one case against the baseline."""

    case: str
    kpi: str
    unit: str
    baseline: float
    baseline_ci: float
    current: float
    current_ci: float
    allowed: float
    direction: Direction
    outcome: Outcome
    note: str = ""

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def relative(self) -> float:
        return self.delta / abs(self.baseline) if self.baseline else math.nan

    def describe(self) -> str:
        """One line: what moved, by how much, with CIs."""
        def show(value: float) -> str:
            return "nan" if not math.isfinite(value) else f"{value:.6g}"

        text = (f"{self.case} {self.kpi}: {show(self.current)} ± {show(self.current_ci)} vs "
                f"baseline {show(self.baseline)} ± {show(self.baseline_ci)} {self.unit}; "
                f"Δ {self.delta:+.6g}")
        if math.isfinite(self.relative):
            text += f" ({100 * self.relative:+.2f} %)"
        text += f", allowed ±{show(self.allowed)} ({self.direction} is better)"
        return text + (f"; {self.note}" if self.note else "")


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def evaluate(
    suite: Suite, result: BatchResult, baseline: dict[str, Any], strict: bool = False
) -> list[Check]:
    """Check every toleranced KPI of every case against ``baseline``.

    Raises
    ------
    DataError
        The baseline lacks a case or a KPI the suite asks for, or a KPI does not exist.
    """
    summary = result.summary().set_index(["point", "metric", "scope"])
    failed = result.failed_points()
    problems = []
    checks: list[Check] = []
    for point, case in zip(result.spec.points, suite.cases, strict=True):
        stored = baseline["cases"].get(case.name)
        if stored is None:
            problems.append(f"baseline has no case '{case.name}'")
            continue
        if point.index in failed:
            checks.append(Check(case.name, "plan", "", math.nan, math.nan, math.nan, math.nan,
                                0.0, Direction.BOTH, Outcome.FAILED,
                                f"no usable plan: {failed[point.index]}"))
            continue
        for key, tolerance in suite.tolerances(case).items():
            metric, scope = parse_metric(key)
            try:
                row = summary.loc[(point.index, metric, scope)]  # type: ignore[index]
            except KeyError:
                here = summary.loc[point.index].index
                known = sorted({f"{m}@{s}" for m, s in here if m == metric}
                               or {m for m, s in here if s == "all"})
                problems.append(f"case '{case.name}': no KPI '{key}' in the results "
                                f"(there are: {', '.join(known)})")
                continue
            base = stored["kpis"].get(key if scope != "all" else metric)
            if base is None:
                problems.append(f"baseline of case '{case.name}' has no KPI '{key}'")
                continue
            direction = tolerance.direction or default_direction(metric)
            b_mean, b_ci = _num(base.get("mean")), _num(base.get("ci_halfwidth"))
            c_mean, c_ci = float(row["value"]), float(row["ci_halfwidth"])
            allowed = tolerance.allowed(b_mean, b_ci)
            note = ""
            if stored.get("scenario_hash") not in (None, scenario_hash(point.scenario)):
                note = "scenario changed since the baseline"
            delta = c_mean - b_mean
            if math.isnan(b_mean) and math.isnan(c_mean):
                outcome = Outcome.PASSED
            elif math.isnan(b_mean) or math.isnan(c_mean):
                outcome, note = Outcome.FAILED, "KPI undefined in one of the runs"
            elif abs(delta) <= allowed * (1 + 1e-12) + 1e-12:
                outcome = Outcome.PASSED
            else:
                worse = (direction == Direction.BOTH
                         or (direction == Direction.HIGHER and delta < 0)
                         or (direction == Direction.LOWER and delta > 0))
                outcome = Outcome.REGRESSED if worse or strict else Outcome.IMPROVED
            checks.append(Check(case.name, key, str(row["unit"]), b_mean, b_ci, c_mean, c_ci,
                                allowed, direction, outcome, note))
    if problems:
        raise DataError(
            "the baseline does not fit the suite (update it with --update-baseline):\n  - "
            + "\n  - ".join(problems)
        )
    return checks


def junit_xml(suite: Suite, checks: list[Check], seconds: float) -> str:
    """JUnit XML (one test case per case × KPI) for CI systems."""
    failures = sum(c.outcome == Outcome.REGRESSED for c in checks)
    errors = sum(c.outcome == Outcome.FAILED for c in checks)
    root = ET.Element("testsuites", name="tandem regress", tests=str(len(checks)),
                      failures=str(failures), errors=str(errors), time=f"{seconds:.3f}")
    element = ET.SubElement(
        root, "testsuite", name=suite.name, tests=str(len(checks)), failures=str(failures),
        errors=str(errors), skipped="0", time=f"{seconds:.3f}",
        timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    for check in checks:
        case = ET.SubElement(element, "testcase", classname=f"{suite.name}.{check.case}",
                             name=check.kpi, time="0")
        if check.outcome == Outcome.REGRESSED:
            failure = ET.SubElement(case, "failure", type="regression",
                                    message=f"{check.kpi} regressed by {check.delta:+.6g} "
                                            f"(allowed ±{check.allowed:.6g})")
            failure.text = check.describe()
        elif check.outcome == Outcome.FAILED:
            error = ET.SubElement(case, "error", type="failed", message=check.note)
            error.text = check.describe()
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{check.outcome}: {check.describe()}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    """The checks as a table (for printing and storing)."""
    return pd.DataFrame([
        {"case": c.case, "kpi": c.kpi, "unit": c.unit, "baseline": c.baseline,
         "baseline_ci": c.baseline_ci, "current": c.current, "current_ci": c.current_ci,
         "delta": c.delta, "relative": c.relative, "allowed": c.allowed,
         "direction": str(c.direction), "outcome": str(c.outcome), "note": c.note}
        for c in checks
    ])
