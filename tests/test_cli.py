"""The CLI, called as a user would: exit codes, printed problems, the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import yaml
from typer.testing import CliRunner

from tandem import __version__
from tandem.cli import app
from tests.conftest import tiny_scenario_dict

runner = CliRunner()


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_list_shows_library_with_descriptions() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for name in (
        "retailer_holiday",
        "b2b_services",
        "autoparts_supplier",
        "integrated_manufacturer",
    ):
        assert name in result.output


def test_validate_valid_and_invalid(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.yaml", tiny_scenario_dict())
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 0
    data = tiny_scenario_dict()
    data["lanes"][1]["dst"] = "DC9"  # unknown node
    data["lanes"][0]["lead_time"] = {"dist": "fixed", "mean": -2}  # negative lead time
    data["products"]["widget"]["bom"] = {"widget": 1}  # BOM cycle
    bad = _write(tmp_path / "bad.yaml", data)
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    text = result.output
    assert "lanes[1].dst: unknown node 'DC9'" in text
    assert "lanes[0].lead_time.mean: lead time cannot be negative" in text
    assert "BOM cycle: widget → widget" in text
    assert "Traceback" not in text


def test_validate_reports_structural_errors_without_traceback(tmp_path: Path) -> None:
    data = tiny_scenario_dict()
    data["horizon_days"] = "ten"
    data["nodes"]["wh"]["capcity"] = 5
    bad = _write(tmp_path / "bad.yaml", data)
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "horizon_days" in result.output
    assert "nodes.wh.capcity: unknown field 'capcity'" in result.output
    assert "Traceback" not in result.output


def test_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    data = tiny_scenario_dict(horizon_days=28)
    data["crm"]["segments"]["all"]["customers"] = 2000
    scenario = _write(tmp_path / "tiny.yaml", data)
    out = tmp_path / "runs" / "first"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--replications", "2"])
    assert result.exit_code == 0, result.output
    assert "fill_rate" in result.output
    for name in (
        "scenario.yaml",
        "kpis.csv",
        "orders.parquet",
        "events.parquet",
        "inventory.parquet",
        "plan_purchases.parquet",
        "plan_inventory.parquet",
        "plan_summary.json",
        "report.html",
    ):
        assert (out / name).is_file(), name
    kpis = pd.read_csv(out / "kpis.csv")
    assert list(kpis.columns) == ["metric", "scope", "value", "unit"]
    required = {
        "fill_rate",
        "otif",
        "backorders",
        "lost_sales",
        "avg_inventory",
        "revenue",
        "total_cost",
        "holding_cost",
        "transport_cost",
    }
    assert required <= set(kpis.loc[kpis["scope"] == "all", "metric"])
    assert json.loads((out / "plan_summary.json").read_text())["status"] == "optimal"
    con = duckdb.connect(str(tmp_path / "runs" / "catalog.duckdb"))
    rows = con.execute("select id, scenario, seed, status, replications from runs").fetchall()
    assert rows == [("first", "tiny", 7, "completed", 2)]
    # the resolved scenario reproduces the run
    again = tmp_path / "runs" / "again"
    assert (
        runner.invoke(
            app, ["run", str(out / "scenario.yaml"), "--out", str(again), "--replications", "2"]
        ).exit_code
        == 0
    )
    pd.testing.assert_frame_equal(kpis, pd.read_csv(again / "kpis.csv"))

    timeline = runner.invoke(app, ["track", str(out), "CO-0000000"])
    assert timeline.exit_code == 0 and "placed" in timeline.output
    assert runner.invoke(app, ["track", str(out), "--open"]).exit_code == 0
    missing = runner.invoke(app, ["track", str(out), "CO-9999999"])
    assert missing.exit_code == 2 and "no order 'CO-9999999'" in missing.output


def test_run_with_set_override_and_bad_path(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "tiny.yaml", tiny_scenario_dict(horizon_days=14))
    bad = runner.invoke(
        app, ["run", str(scenario), "--set", "horizon_days=-3", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2
    assert "horizon_days" in bad.output
    unknown = runner.invoke(app, ["run", "no_such_scenario"])
    assert unknown.exit_code == 2
    assert "no scenario file or library scenario named 'no_such_scenario'" in unknown.output


def test_result_files_are_not_private(tmp_path: Path) -> None:
    from tandem.store import _UMASK, write_text

    target = tmp_path / "report.html"
    write_text(target, "<p>hi</p>")
    assert target.read_text(encoding="utf-8") == "<p>hi</p>"
    assert target.stat().st_mode & 0o777 == 0o666 & ~_UMASK


def test_compare_writes_the_executive_report(tmp_path: Path) -> None:
    base = tiny_scenario_dict(horizon_days=28)
    base["crm"]["segments"]["all"]["customers"] = 2000
    what_if = {**base, "name": "tiny_more_stock"}
    what_if["nodes"] = {**base["nodes"], "wh": {"kind": "warehouse", "initial_inventory": {"widget": 60}}}
    a = _write(tmp_path / "a.yaml", base)
    b = _write(tmp_path / "b.yaml", what_if)
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["compare", str(a), str(b), "-n", "2", "--runs-dir",
                                 str(tmp_path / "runs"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert "tiny_more_stock" in html and "<html" in html.lower()
