"""``tandem plan`` called as a user would: exit codes, written tables, orders in words."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from optimize.plan import PLAN_TABLES
from tandem.cli import app
from tests.conftest import tiny_scenario_dict

runner = CliRunner()


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_plan_writes_tables_summary_and_orders_in_words(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "tiny.yaml", tiny_scenario_dict(horizon_days=14))
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in PLAN_TABLES:
        frame = pd.read_parquet(out / f"plan_{name}.parquet")
        assert list(frame.columns) == list(PLAN_TABLES[name])
    summary = json.loads((out / "plan_summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["model_size"]["variables"] > 0
    purchases = pd.read_parquet(out / "plan_purchases.parquet")
    assert len(purchases) > 0
    first = purchases.sort_values("release_day").iloc[0]
    date = (pd.Timestamp("2027-01-04") + pd.Timedelta(days=int(first["release_day"]))).date()
    flat = " ".join(result.output.split())
    assert f"units of widget from sup by {date.isoformat()}" in flat
    assert "optimal" in flat and "objective" in flat


def test_plan_set_override_and_library_name(tmp_path: Path) -> None:
    out = tmp_path / "lib"
    result = runner.invoke(
        app, ["plan", "retailer_holiday", "--out", str(out), "--set", "horizon_days=28"]
    )
    assert result.exit_code == 0, result.output
    inventory = pd.read_parquet(out / "plan_inventory.parquet")
    assert inventory["bucket"].max() == 3


def test_plan_invalid_input_exits_2(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "tiny.yaml", tiny_scenario_dict())
    result = runner.invoke(app, ["plan", str(scenario), "--set", "horizon_days=-3"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["plan", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2


def test_plan_without_usable_plan_exits_3_with_diagnosis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from optimize import PlanningData

    original = PlanningData.from_scenario.__func__  # type: ignore[attr-defined]

    def broken(cls: type, *args: object, **kwargs: object) -> PlanningData:
        data = original(cls, *args, **kwargs)
        return replace(data, on_hand={("wh", "widget"): -5.0})

    monkeypatch.setattr(PlanningData, "from_scenario", classmethod(broken))
    scenario = _write(tmp_path / "tiny.yaml", tiny_scenario_dict())
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(scenario), "--out", str(out)])
    assert result.exit_code == 3, result.output
    flat = " ".join(result.output.split())
    assert "no usable plan" in flat and "widget at wh in bucket 0" in flat
    assert json.loads((out / "plan_summary.json").read_text())["status"] == "infeasible"
    diagnosis = pd.read_parquet(out / "plan_diagnosis.parquet")
    assert diagnosis["violation"].sum() == 5.0
