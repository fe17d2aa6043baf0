"""Loading scenarios: YAML files and the built-in library, ``base:`` what-ifs, overrides, errors.

A scenario file may name a ``base:`` scenario (a library name or a path relative to the file);
its own fields are deep-merged over the base (mappings merge key by key, everything else
replaces). :func:`apply_overrides` sets fields by path (``crm.campaigns[0].budget``) the same way.
Every structural and cross-field problem is collected and raised as one
:class:`~scenarios.errors.ScenarioError`.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from scenarios import schema
from scenarios.checks import run_checks
from scenarios.errors import Problem, ScenarioError
from scenarios.schema import NodeKind, Scenario

__all__ = [
    "apply_overrides",
    "deep_merge",
    "format_path",
    "library_descriptions",
    "library_names",
    "load_raw",
    "load_scenario",
    "parse_path",
    "read_yaml_mapping",
    "scenario_from_dict",
    "scenario_hash",
    "scenario_to_dict",
    "scenario_to_yaml",
    "validation_problems",
]

_LIBRARY = "scenarios.library"


# ------------------------------------------------------------------------------------ library
def _library_root() -> Path:
    return Path(str(resources.files(_LIBRARY)))


def library_names() -> list[str]:
    """Names of the built-in scenarios (``textbook/...`` for grouped ones), sorted."""
    root = _library_root()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def library_descriptions() -> dict[str, str]:
    """Built-in scenario name → its one-line description."""
    result = {}
    for name in library_names():
        raw = yaml.safe_load((_library_root() / f"{name}.yaml").read_text(encoding="utf-8")) or {}
        lines = str(raw.get("description") or "").strip().splitlines()
        result[name] = lines[0] if lines else ""
    return result


def _locate(ref: str, relative_to: Path | None) -> Path:
    candidates = []
    path = Path(ref)
    if relative_to is not None and not path.is_absolute():
        candidates.append(relative_to / path)
    candidates.append(path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    library_file = _library_root() / f"{ref}.yaml"
    if library_file.is_file():
        return library_file
    names = library_names()
    hint = difflib.get_close_matches(ref, names, n=1)
    suggestion = (
        f"; did you mean '{hint[0]}'?" if hint else f"; library scenarios: {', '.join(names)}"
    )
    raise ScenarioError(
        [Problem("", f"no scenario file or library scenario named '{ref}'{suggestion}")]
    )


# ------------------------------------------------------------------------------- raw loading
def read_yaml_mapping(path: Path, what: str = "a scenario file") -> dict[str, Any]:
    """The mapping in a YAML file; a :class:`ScenarioError` (with line and column for bad YAML)
    when it cannot be read or is not a mapping (``what`` names the kind of file)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(
            [Problem("", f"{where}invalid YAML: {problem}")], source=str(path)
        ) from None
    except OSError as exc:
        raise ScenarioError(
            [Problem("", f"cannot read file: {exc.strerror}")], source=str(path)
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("", f"{what} must be a mapping of fields")], source=str(path)
        )
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge recursively, other values replace. Pure.

    Examples
    --------
    >>> deep_merge({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3}, "b": [2]})
    {'a': {'x': 1, 'y': 3}, 'b': [2]}
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_raw(ref: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str]:
    """The merged raw mapping of a scenario (``base:`` chain resolved) and its source label."""
    relative_to = _seen[-1].parent if _seen else None
    path = _locate(str(ref), relative_to).resolve()
    if path in _seen:
        chain = " → ".join(p.name for p in (*_seen, path))
        raise ScenarioError(
            [Problem("base", f"base scenarios form a cycle: {chain}")], source=str(path)
        )
    data = read_yaml_mapping(path)
    base_ref = data.pop("base", None)
    if base_ref is None:
        return data, str(path)
    if not isinstance(base_ref, str):
        raise ScenarioError([Problem("base", "must be a scenario name or path")], source=str(path))
    base_data, _ = load_raw(base_ref, (*_seen, path))
    return deep_merge(base_data, data), str(path)


# ------------------------------------------------------------------------------ field paths
_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``"crm.campaigns[0].budget"`` → ``["crm", "campaigns", 0, "budget"]``.

    Negative indices count from the end of a list (``crm.campaigns[-1]``).
    """
    parts: list[str | int] = []
    pos = 0
    for match in _TOKEN.finditer(path):
        between = path[pos : match.start()]
        if between not in ("", "."):
            raise ScenarioError([Problem(path, "malformed field path")])
        parts.append(int(match.group(2)) if match.group(2) is not None else match.group(1))
        pos = match.end()
    if not parts or pos != len(path):
        raise ScenarioError([Problem(path, "malformed field path")])
    return parts


def format_path(parts: tuple[Any, ...] | list[Any]) -> str:
    """``["lanes", 3, "dst"]`` → ``"lanes[3].dst"``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set fields by path on a copy of raw scenario data.

    A mapping value under a path is deep-merged; list indices must exist.

    Examples
    --------
    >>> apply_overrides({"crm": {"campaigns": [{"budget": 1}]}}, {"crm.campaigns[0].budget": 5})
    {'crm': {'campaigns': [{'budget': 5}]}}
    """
    result = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    for path, value in overrides.items():
        try:
            parts = parse_path(path)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        target: Any = result
        for depth, part in enumerate(parts[:-1]):
            nxt = parts[depth + 1]
            if isinstance(part, int):
                if not isinstance(target, list) or not -len(target) <= part < len(target):
                    problems.append(
                        Problem(path, f"no item [{part}] at {format_path(parts[:depth]) or 'top'}")
                    )
                    break
                target = target[part]
            else:
                if not isinstance(target, dict):
                    problems.append(Problem(path, f"'{format_path(parts[:depth])}' has no fields"))
                    break
                if part not in target:
                    target[part] = [] if isinstance(nxt, int) else {}
                target = target[part]
        else:
            last = parts[-1]
            if isinstance(last, int):
                if not isinstance(target, list) or not -len(target) <= last < len(target):
                    problems.append(Problem(path, f"no item [{last}]"))
                    continue
                target[last] = value
            elif not isinstance(target, dict):
                problems.append(Problem(path, f"'{format_path(parts[:-1])}' has no fields"))
            elif isinstance(value, Mapping) and isinstance(target.get(last), Mapping):
                target[last] = deep_merge(target[last], value)
            else:
                target[last] = value
    if problems:
        raise ScenarioError(problems, source="overrides")
    return result


# ------------------------------------------------------------------------------ validation
def _all_field_names() -> set[str]:
    names: set[str] = set()
    for obj in vars(schema).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            names |= set(obj.model_fields)
    return names


_NODE_TAGS = {str(k) for k in NodeKind}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # Discriminated unions put the tag into the location: nodes.<id>.<tag>.field → drop it.
    if len(loc) > 2 and loc[0] == "nodes" and loc[2] in _NODE_TAGS:
        loc = loc[:2] + loc[3:]
    # Function validators on some types add "function-after[...]"-style segments.
    return tuple(
        p for p in loc if not (isinstance(p, str) and "[" in p and "(" not in p and p.endswith("]"))
    )


def _describe(error: Any) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        field = str(loc[-1])
        hint = difflib.get_close_matches(field, sorted(_all_field_names()), n=1)
        return f"unknown field '{field}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        allowed = ", ".join(sorted(_NODE_TAGS))
        return f"kind must be one of {allowed} (got {error['input'].get('kind')!r})"
    if kind == "union_tag_not_found":
        allowed = ", ".join(sorted(_NODE_TAGS))
        return f"needs a 'kind': one of {allowed}"
    message = str(error["msg"])
    value = error.get("input")
    if isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 40:
        message += f" (got {value!r})"
    return message


def _keys_as_text(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Walk ``loc`` through the raw data; an int that is a mapping key (YAML reads ``1234:`` as a
    number) becomes text, so that it prints as ``.1234`` and not as a list index ``[1234]``."""
    parts: list[Any] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, Mapping):
            parts.append(str(part))
        else:
            parts.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(parts)


def validation_problems(exc: ValidationError, data: Any = None) -> list[Problem]:
    """The problems of a pydantic ``ValidationError``, each with its field path."""
    problems = []
    for error in exc.errors():
        raw_loc = tuple(error["loc"])
        if raw_loc and raw_loc[-1] == "[key]":
            # an id (mapping key) of the wrong type, e.g. an unquoted part number
            path = format_path(_keys_as_text(data, _clean_loc(raw_loc[:-1])))
            problems.append(Problem(path, "ids must be text; quote this key in YAML"))
            continue
        loc = _keys_as_text(data, _clean_loc(raw_loc))
        problems.append(Problem(format_path(loc), _describe(error)))
    return problems


def scenario_from_dict(data: Mapping[str, Any], source: str | None = None) -> Scenario:
    """Validate raw data into a :class:`Scenario`, raising every problem at once."""
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data), source=source) from None
    problems = run_checks(scenario)
    if problems:
        raise ScenarioError(problems, source=source)
    return scenario


def load_scenario(ref: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load a scenario by library name or file path, resolve ``base:``, apply overrides, validate.

    Examples
    --------
    >>> load_scenario("retailer_holiday").bucket
    <Bucket.WEEK: 'week'>
    """
    data, source = load_raw(ref)
    if overrides:
        data = apply_overrides(data, overrides)
    return scenario_from_dict(data, source=source)


# ------------------------------------------------------------------------------ round trip
def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The fully resolved scenario as plain data (JSON/YAML-ready)."""
    return scenario.model_dump(mode="json")


def scenario_to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML; loading it gives back an equal scenario."""
    return yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False, allow_unicode=True)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the canonical JSON of the resolved scenario (first 16 hex digits)."""
    canonical = json.dumps(scenario_to_dict(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
