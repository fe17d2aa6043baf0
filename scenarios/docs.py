"""Generated reference documentation of the scenario format, rendered from the schema models.

Every field is declared once in :mod:`scenarios.schema` (type, default, unit, range and meaning);
this module turns those declarations into Markdown, so the documentation cannot drift from the
code. ``docs/scenario-format.md`` is its output, and a test checks that the committed file is
current. Regenerate it with::

    python -m scenarios.docs > docs/scenario-format.md
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from scenarios import schema
from scenarios.schema import Scenario

__all__ = [
    "EXAMPLE",
    "REGENERATE",
    "REGENERATE_STATE",
    "STATE_EXAMPLE",
    "render_scenario_format",
    "render_state_format",
]

REGENERATE = "python -m scenarios.docs > docs/scenario-format.md"
"""The command that writes ``docs/scenario-format.md``."""
REGENERATE_STATE = "python -m scenarios.docs state > docs/state-format.md"
"""The command that writes ``docs/state-format.md``."""

_INTRO = """\
A scenario is one YAML file (or a built-in name from `scenarios/library/`) holding everything
needed to reproduce a run. Its top level is a [Scenario](#scenario); the sections below describe
every model and every field, with its type, default, unit, allowed range and meaning.

- **Units.** Time is in days, quantities in each product's `unit`, money in the scenario's
  `currency`. The *Unit* column gives the unit of each number.
- **Ids.** Products, nodes and segments are mappings from an id to their fields. Ids use letters,
  digits, `_` and `-`; quote ids YAML would read as numbers (`"1234":`).
- **What-ifs.** A file may start with `base: <library name or path>`: its fields are deep-merged
  over the base scenario (mappings merge key by key; lists and other values replace wholesale).
  Overrides set single fields by path, e.g. `crm.campaigns[0].budget` or
  `nodes.dc_north.initial_inventory.earbuds`.
- **Errors.** Loading reports every problem at once, each with its field path
  (`lanes[3].dst: unknown node 'DC9'`): first the structural problems (types, ranges, unknown or
  missing fields), then, once the structure is sound, the cross-field rules of
  `scenarios/checks.py` (known ids, BOM without cycles, lead times not negative, …).
"""

EXAMPLE = """\
# One supplier ships one product to one warehouse, which serves one customer zone.
name: minimal
description: One product, one supplier, one DC, one zone
start_date: 2027-01-04
horizon_days: 364
bucket: week
products:
  kettle: {unit_cost: 12.0, price: 35.0}
nodes:
  supplier:
    kind: supplier
    lead_time: {dist: lognormal, mean: 10, cv: 0.3}    # days from order to dispatch
    supplies: {kettle: {price: 11.0}}
  dc: {kind: warehouse, initial_inventory: {kettle: 300}}
  city: {kind: customer_zone, service_promise_days: 2}
lanes:
  - {src: supplier, dst: dc, mode: truck, lead_time: {dist: fixed, mean: 3}, cost_per_unit: 0.5}
  - {src: dc, dst: city, mode: parcel, cost_per_unit: 4.0}
crm:
  segments:
    households:
      customers: 5000
      orders_per_customer_per_year: 1.0
      product_mix: {kettle: 1}
      zone_mix: {city: 1}
"""
"""A minimal complete scenario, shown in the documentation (a test checks that it loads)."""


# ----------------------------------------------------------------------------- collecting
def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _is_enum(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Enum)


def _leaf_types(annotation: Any) -> Iterator[Any]:
    """Every class mentioned in a type annotation, outermost first."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _leaf_types(typing.get_args(annotation)[0])
    elif origin is typing.Literal:
        return
    elif origin is not None:
        for arg in typing.get_args(annotation):
            yield from _leaf_types(arg)
    elif isinstance(annotation, type):
        yield annotation


def _collect(
    root: type[BaseModel], exported: bool = True
) -> tuple[list[type[BaseModel]], list[type[Enum]]]:
    """Models and enums reachable from ``root``, breadth first in field order, then (with
    ``exported``) any other model or enum that :mod:`scenarios.schema` exports."""
    models: list[type[BaseModel]] = []
    enums: list[type[Enum]] = []
    queue: list[type[BaseModel]] = [root]
    while queue:
        model = queue.pop(0)
        if model in models:
            continue
        models.append(model)
        for field in model.model_fields.values():
            for leaf in _leaf_types(field.annotation):
                if _is_model(leaf) and leaf not in models:
                    queue.append(leaf)
                elif _is_enum(leaf) and leaf not in enums:
                    enums.append(leaf)
    for name in schema.__all__ if exported else ():
        obj = getattr(schema, name)
        if _is_model(obj) and obj not in models:
            models.append(obj)
        elif _is_enum(obj) and obj not in enums:
            enums.append(obj)
    return models, enums


def _used_in(models: list[type[BaseModel]]) -> dict[type, list[str]]:
    """Class → ``[Model](#model).field`` references of the fields that hold it."""
    used: dict[type, list[str]] = {}
    for model in models:
        for name, field in model.model_fields.items():
            for leaf in dict.fromkeys(_leaf_types(field.annotation)):
                if _is_model(leaf) or _is_enum(leaf):
                    used.setdefault(leaf, []).append(f"{_link(model)}.`{name}`")
    return used


# ------------------------------------------------------------------------------ rendering
def _link(cls: type) -> str:
    return f"[{cls.__name__}](#{cls.__name__.lower()})"


_SIMPLE_TYPES = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "boolean",
    dt.date: "date (YYYY-MM-DD)",
    type(None): "null",
    typing.Any: "any",
}


def _type_text(annotation: Any) -> str:
    """Readable type of a field: ``number or null``, ``mapping text → Product``, …"""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        info = next((a for a in args[1:] if isinstance(a, FieldInfo)), None)
        inner = _type_text(args[0])
        if info is not None and info.discriminator:
            return f"{inner} (chosen by `{info.discriminator}`)"
        return inner
    if origin is typing.Literal:
        return " or ".join(f"`{_value_text(a)}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_text(a) for a in args]
        if len(names) > 2 and "null" not in names:
            return ", ".join(names[:-1]) + " or " + names[-1]
        return " or ".join(names)
    if origin is dict:
        return f"mapping {_type_text(args[0])} → {_type_text(args[1])}"
    if origin in (list, tuple):
        return f"list of {_type_text(args[0])}"
    if _is_model(annotation) or _is_enum(annotation):
        return _link(annotation)
    if annotation in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[annotation]
    return f"`{getattr(annotation, '__name__', annotation)}`"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
"""Strings YAML reads back unchanged without quotes, unless they are one of these words:"""
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _value_text(value: Any) -> str:
    """A default value as YAML-like text."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_none=True)
        return _value_text(dumped)
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, (list, tuple)):
        if len(value) > 3 and len(set(map(repr, value))) == 1:
            return f"{len(value)} × {_value_text(value[0])}"
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel) and value == type(value)():
            return f"all defaults of {_link(type(value))}"
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    return f"`{_value_text(value)}`"


_BOUNDS = (
    (annotated_types.Gt, "gt", "> {}"),
    (annotated_types.Ge, "ge", "≥ {}"),
    (annotated_types.Lt, "lt", "< {}"),
    (annotated_types.Le, "le", "≤ {}"),
    (annotated_types.MinLen, "min_length", "length ≥ {}"),
    (annotated_types.MaxLen, "max_length", "length ≤ {}"),
)


def _range_text(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for kind, attr, template in _BOUNDS:
            if isinstance(item, kind):
                parts.append(template.format(_value_text(getattr(item, attr))))
    return ", ".join(parts)


def _unit_of(field: FieldInfo) -> str | None:
    extra = field.json_schema_extra
    return extra.get("unit") if isinstance(extra, dict) else None  # type: ignore[return-value]


def _description_text(field: FieldInfo) -> str:
    if not field.description and typing.get_origin(field.annotation) is typing.Literal:
        tags = " or ".join(f"`{a}`" for a in typing.get_args(field.annotation))
        return f"Always {tags}: says which model this mapping is."
    text = field.description or ""
    unit = _unit_of(field)
    if unit and text.endswith(f" [{unit}]"):  # the unit has its own column
        text = text[: -len(f" [{unit}]")]
    return text


_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data):`~?([^`]+)`")


def _docstring_text(cls: type) -> str:
    """A class docstring as Markdown, without its numpy-style ``Examples`` section."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    doc = re.split(r"\n\s*Examples\n-{3,}\n", doc)[0].strip()
    doc = _ROLE.sub(lambda m: f"`{m.group(1)}`", doc)
    return doc.replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def _model_section(model: type[BaseModel], used: dict[type, list[str]]) -> list[str]:
    lines = [f"### {model.__name__}", "", _docstring_text(model), ""]
    if model in used:
        lines += ["Used in: " + ", ".join(used[model]) + ".", ""]
    lines += [
        "| Field | Type | Default | Unit | Range | Description |",
        "|---|---|---|---|---|---|",
    ]
    for name, field in model.model_fields.items():
        cells = [
            f"`{name}`",
            _type_text(field.annotation),
            _default_text(field),
            _unit_of(field) or "",
            _range_text(field),
            _description_text(field),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    return lines


def _enum_section(enum: type[Enum], used: dict[type, list[str]]) -> list[str]:
    lines = [f"### {enum.__name__}", "", _docstring_text(enum), ""]
    if enum in used:
        lines += ["Used in: " + ", ".join(used[enum]) + ".", ""]
    lines.append("Values: " + ", ".join(f"`{member.value}`" for member in enum) + ".")
    lines.append("")
    return lines


def render_scenario_format() -> str:
    """Markdown reference of the whole scenario format, generated from :mod:`scenarios.schema`.

    One section per model (every field: name, type, default, unit, range, description) and one
    per enumeration (its values), starting from :class:`~scenarios.schema.Scenario`.

    Examples
    --------
    >>> text = render_scenario_format()
    >>> text.splitlines()[0].startswith("<!-- Generated")
    True
    >>> "| `horizon_days` | integer | **required** | days | > 0, ≤ 3660 |" in text
    True
    """
    models, enums = _collect(Scenario)
    used = _used_in(models)
    lines = [
        f"<!-- Generated by scenarios/docs.py from scenarios/schema.py: do not edit. "
        f"Regenerate with `{REGENERATE}`. -->",
        "",
        "# Scenario format",
        "",
        "> This page is generated from the pydantic models in `scenarios/schema.py`; edit the",
        f"> field declarations there, then regenerate it with `{REGENERATE}`.",
        "",
        _INTRO,
        "## A minimal scenario",
        "",
        "```yaml",
        EXAMPLE.rstrip("\n"),
        "```",
        "",
        "Larger, commented examples are in `scenarios/library/`.",
        "",
        "## Contents",
        "",
        "Models: " + ", ".join(_link(m) for m in models) + ".",
        "",
        "Enumerations: " + ", ".join(_link(e) for e in enums) + ".",
        "",
        "## Models",
        "",
    ]
    for model in models:
        lines += _model_section(model, used)
    lines += ["## Enumerations", ""]
    for enum in enums:
        lines += _enum_section(enum, used)
    return "\n".join(lines).rstrip("\n") + "\n"


STATE_EXAMPLE = """\
# The morning of 1 March 2027 at a retailer (see the retailer_holiday scenario).
as_of: 2027-03-01
scenario: retailer_holiday
on_hand:                      # unallocated stock per stock point and item
  dc_north: {earbuds: 420, speaker: 35}
  dc_south: {earbuds: 610}
open_orders:                  # placed, not yet received
  - id: PO-4711
    kind: purchase
    source: shenzhen_supplier
    destination: dc_north
    item: speaker
    qty: 600
    expected_arrival: 2027-03-18
open_customer_orders:         # accepted, not yet shipped (backorders)
  - {zone: zone_north, product: speaker, qty: 12, placed: 2027-02-26}
deals:                        # B2B pipeline: may turn into an order
  - {name: hotel chain, zone: zone_east, product: earbuds, qty: 300, probability: 0.4,
     expected_close: 2027-03-20}
disruptions:                  # under way on as_of, with the announced end
  - {kind: supplier_outage, node: shenzhen_supplier, until: 2027-03-10}
"""
"""A state file for the documentation (a test checks that it loads against retailer_holiday)."""

_STATE_INTRO = """\
A state file says where a supply chain stands on the morning of one date (`as_of`): what is on
hand, what has been ordered and is on its way, which customer orders are still open, which B2B
deals may close, and which disruptions are under way. `tandem risk SCENARIO --state FILE`
simulates forward from it; `tandem run SCENARIO --snapshot-at DATE` writes one from a simulation
(`state_<date>.yaml` in the run directory), so the whole loop can be tried without ERP data.
To bring your own, export these fields from your ERP/WMS.

- **Time.** `as_of` is day 0 of the forecast; the scenario is restarted on that date (its
  campaigns and scheduled disruptions keep their calendar dates). Dates are ISO `YYYY-MM-DD`.
- **On hand** replaces the scenario's `initial_inventory` at every stock point (a stock point or
  item left out holds nothing). It is stock free to ship: open customer orders are served from
  it first, in the order listed.
- **Open orders** arrive on `expected_arrival` (overdue ones at once); purchases are late by
  the supplier's `late_delay` with probability 1 − `reliability` when lead times are stochastic.
  `qty` is what is still to arrive. `lane` defaults to the lane from `source` to `destination`.
  Production orders are received at their plant (`source` = `destination` = the plant).
- **Deals** are won with their `probability` in each simulated run, as one order line on
  `expected_close`.
- **Disruptions** under way are kept until `until` in the simulation, and a re-plan or a
  recommendation does not count on the supplier or lane before then.
- **Errors.** Every problem is reported at once with its field path
  (`open_orders[0].destination: 'dc_x' is not a stock point`).
"""


def render_state_format() -> str:
    """Markdown reference of the state file (:mod:`scenarios.state`), generated like the
    scenario format.

    >>> render_state_format().splitlines()[0].startswith("<!-- Generated")
    True
    """
    from scenarios.state import SupplyState

    models, enums = _collect(SupplyState, exported=False)
    used = _used_in(models)
    lines = [
        f"<!-- Generated by scenarios/docs.py from scenarios/state.py: do not edit. "
        f"Regenerate with `{REGENERATE_STATE}`. -->",
        "",
        "# State file format",
        "",
        _STATE_INTRO,
        "## An example",
        "",
        "```yaml",
        STATE_EXAMPLE.rstrip("\n"),
        "```",
        "",
        "## Models",
        "",
    ]
    for model in models:
        lines += _model_section(model, used)
    if enums:
        lines += ["## Enumerations", ""]
        for enum in enums:
            lines += _enum_section(enum, used)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    if sys.argv[1:] == ["state"]:
        sys.stdout.write(render_state_format())
    else:
        sys.stdout.write(render_scenario_format())
