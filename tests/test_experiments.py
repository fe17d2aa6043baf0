"""Experiments in this process: statistics, designs, batches (common random numbers, chunking,
resume, precision, retries), the batch catalog, and the compare / sweep / regress / runs / query
commands called as a user would."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import tandem.batch as batch_module
from scenarios import load_scenario, scenario_from_dict
from scenarios.errors import DataError, ScenarioError
from tandem.batch import (
    BatchError,
    BatchProgress,
    BatchSpec,
    Point,
    Precision,
    TaskError,
    auto_chunk_size,
    ci_halfwidth,
    replications_needed,
    run_batch,
)
from tandem.cli import app
from tandem.executors import InlineExecutor
from tandem.experiments import (
    Levels,
    Range,
    grid_design,
    lhs_design,
    paired_differences,
    parse_metric,
    parse_sweep_sets,
    run_to_precision,
    sweep_points,
)
from tandem.pipeline import run_scenario
from tests.conftest import tiny_scenario_dict

runner = CliRunner()


def tiny(**changes) -> dict:
    data = tiny_scenario_dict(horizon_days=60, **changes)
    return data


def tiny_point(index: int = 0, label: str = "base", **changes) -> Point:
    return Point(index, label, scenario_from_dict(tiny(**changes)))


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ statistics
def test_ci_halfwidth_is_student_t() -> None:
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.302653 → 4.302653 / sqrt(3)
    assert ci_halfwidth([1.0, 2.0, 3.0]) == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert math.isnan(ci_halfwidth([1.0]))
    assert ci_halfwidth([1.0, np.nan, 2.0, 3.0]) == pytest.approx(ci_halfwidth([1.0, 2.0, 3.0]))


def test_replications_needed_scales_with_the_square_of_the_ratio() -> None:
    assert replications_needed(10, 0.02, 0.01, 1000) == 40
    assert replications_needed(10, 0.0101, 0.01, 1000) == 11      # at least one more
    assert replications_needed(10, 0.009, 0.01, 1000) == 10       # met
    assert replications_needed(10, 0.5, 0.01, 50) == 50           # capped
    assert replications_needed(10, math.nan, 0.01, 50) == 10      # undefined: stop


def test_paired_differences_by_hand() -> None:
    kpis = pd.DataFrame({
        "point": [0, 0, 0, 1, 1, 1, 2, 2, 2], "replication": [0, 1, 2] * 3,
        "metric": "m", "scope": "all", "unit": "u",
        "value": [1.0, 2.0, 3.0, 1.5, 2.5, 3.6, 1.0, 2.0, np.nan],
    })
    diffs = paired_differences(kpis).set_index("point")
    # point 1: d = (0.5, 0.5, 0.6): mean 0.5333, sd 0.057735, t(2) = 4.302653
    assert diffs.loc[1, "diff"] == pytest.approx(1.6 / 3)
    t95 = 4.302652729911275
    assert diffs.loc[1, "diff_ci_halfwidth"] == pytest.approx(t95 * 0.0577350269 / math.sqrt(3))
    assert diffs.loc[1, "rel_diff"] == pytest.approx((1.6 / 3) / 2.0)
    # point 2: the NaN replication is left out
    assert diffs.loc[2, "diff_replications"] == 2
    assert diffs.loc[2, "diff"] == 0.0


def test_parse_metric() -> None:
    assert parse_metric("fill_rate") == ("fill_rate", "all")
    assert parse_metric("fill_rate@product:widget") == ("fill_rate", "product:widget")


# ------------------------------------------------------------------------------ designs
def test_parse_sweep_sets_levels_ranges_and_every_problem() -> None:
    factors = parse_sweep_sets(["a.b=1,2.5,x", "c=10..20", "d=0.5..1.5", "e=[1,2],[3]"])
    assert factors["a.b"] == Levels((1, 2.5, "x"))
    assert factors["c"] == Range(10, 20, integer=True)
    assert factors["d"] == Range(0.5, 1.5, integer=False)
    assert factors["e"] == Levels(([1, 2], [3]))
    with pytest.raises(ScenarioError) as err:
        parse_sweep_sets(["novalue", "r=5..1", "s=a..b", "t=1,,2"])
    text = str(err.value)
    assert "4 problems" in text
    assert "novalue: --set needs PATH=" in text
    assert "r: range '5..1': LOW must be below HIGH" in text
    assert "s: range 'a..b' needs two numbers" in text
    assert "t: cannot read values '1,,2'" in text


def test_grid_design_is_the_full_product_and_rejects_ranges() -> None:
    design = grid_design({"a": Levels((1, 2)), "b": Levels(("x", "y", "z"))})
    assert len(design) == 6
    assert design[0] == {"a": 1, "b": "x"} and design[-1] == {"a": 2, "b": "z"}
    with pytest.raises(ScenarioError, match="needs --design lhs"):
        grid_design({"a": Range(0, 1)})


def test_lhs_uses_every_stratum_once_and_is_seeded() -> None:
    factors = {"x": Range(0.0, 10.0), "n": Range(1, 100, integer=True),
               "lvl": Levels(("a", "b"))}
    design = lhs_design(factors, 10, seed=3)
    strata = sorted(int(p["x"] // 1.0) for p in design)
    assert strata == list(range(10))                       # one draw per stratum of width 1
    assert all(isinstance(p["n"], int) and 1 <= p["n"] <= 100 for p in design)
    assert sorted(p["lvl"] for p in design).count("a") == 5  # levels balanced
    assert design == lhs_design(factors, 10, seed=3)
    assert design != lhs_design(factors, 10, seed=4)


def test_sweep_points_report_bad_paths_and_values_at_once(tmp_path: Path) -> None:
    ref = str(_write(tmp_path / "tiny.yaml", tiny()))
    with pytest.raises(ScenarioError) as err:
        sweep_points(ref, grid_design({"horizon_days": Levels((30, -5)),
                                       "nodes.nope.lead_time.mean": Levels((1,))}))
    text = str(err.value)
    assert "nodes.nope" in text
    assert "horizon_days" in text and "-5" in text
    points = sweep_points(ref, grid_design({"horizon_days": Levels((30, 40))}))
    assert [p.scenario.horizon_days for p in points] == [30, 40]
    assert [p.parameters for p in points] == [{"horizon_days": 30}, {"horizon_days": 40}]


# ------------------------------------------------------------------------------ batches
def _spec(points, replications=4, chunk=None, precision=None, seed=11) -> BatchSpec:
    return BatchSpec("compare", "test", tuple(points), replications, seed, chunk_size=chunk,
                     precision=precision)


def test_batch_replications_equal_the_pipelines_whatever_the_chunking(tmp_path: Path) -> None:
    point = tiny_point()
    reference = run_scenario(point.scenario, replications=4, seed=11).kpis
    # the pipeline lists supply KPIs of every replication, then CRM KPIs; a batch by replication
    reference = reference.sort_values("replication", kind="stable").reset_index(drop=True)
    for chunk in (1, 3, 4):
        result = run_batch(_spec([point], chunk=chunk), InlineExecutor(), tmp_path)
        got = result.kpis[["replication", "metric", "scope", "value", "unit"]]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), reference, check_exact=True)
        assert result.tasks_run == math.ceil(4 / chunk)


def test_common_random_numbers_make_paired_differences_tight(tmp_path: Path) -> None:
    base = tiny_point(0, "base")
    more = tiny_point(1, "more_stock",
                      nodes={**tiny()["nodes"], "wh": {"kind": "warehouse",
                                                       "initial_inventory": {"widget": 8}}})
    result = run_batch(_spec([base, more], replications=8), InlineExecutor(), tmp_path)
    kpis = result.kpis
    # same replication index → the same customers and orders in both strategies
    demand = kpis[(kpis["metric"] == "demand_units") & (kpis["scope"] == "all")]
    assert (demand[demand["point"] == 0]["value"].to_numpy()
            == demand[demand["point"] == 1]["value"].to_numpy()).all()
    summary = result.summary().set_index(["point", "metric", "scope"])
    diff = paired_differences(kpis).set_index(["metric", "scope"]).loc[("fill_rate", "all")]
    unpaired = math.hypot(summary.loc[(0, "fill_rate", "all"), "ci_halfwidth"],
                          summary.loc[(1, "fill_rate", "all"), "ci_halfwidth"])
    assert diff["diff"] > 0
    assert diff["diff_ci_halfwidth"] < unpaired


def test_batch_layout_and_catalog(tmp_path: Path) -> None:
    result = run_batch(_spec([tiny_point()], replications=4, chunk=2), InlineExecutor(), tmp_path)
    folder = result.batch_dir
    assert folder == tmp_path / "batches" / result.batch_id
    assert (folder / "batch.json").exists() and (folder / "kpis.parquet").exists()
    assert (folder / "points" / "p0000" / "scenario.yaml").exists()
    assert (folder / "points" / "p0000" / "plan_summary.json").exists()
    assert sorted(p.name for p in (folder / "tasks").iterdir()) == [
        "p0000-r000000-000002.parquet", "p0000-r000002-000004.parquet"]
    assert not list(folder.rglob(".*"))                   # no temporary files left
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"), read_only=True)
    try:
        status, done = con.execute("SELECT status, tasks_done FROM batches").fetchone()
        rows = con.execute("SELECT count(*) FROM batch_kpis").fetchone()[0]
        plan = con.execute("SELECT plan_status FROM batch_points").fetchone()[0]
    finally:
        con.close()
    assert (status, done, plan) == ("completed", 2, "optimal")
    assert rows == len(result.kpis)


class _Interrupt(BatchProgress):
    pass


def test_interrupted_batch_resumes_without_redoing_or_duplicating(tmp_path: Path) -> None:
    spec = _spec([tiny_point(0, "a"), tiny_point(1, "b", simulation={"seed": 3})],
                 replications=6, chunk=2)
    complete = run_batch(spec, InlineExecutor(), tmp_path / "reference").kpis
    done: list[str] = []

    def stop_after_three(task) -> None:
        done.append(task.id)
        if len(done) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(spec, InlineExecutor(), tmp_path, on_task_done=stop_after_three)
    batch_id = next((tmp_path / "batches").iterdir()).name
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"), read_only=True)
    assert con.execute("SELECT status FROM batches").fetchone()[0] == "interrupted"
    con.close()

    again: list[str] = []
    resumed = run_batch(spec, InlineExecutor(), tmp_path, resume=batch_id,
                        on_task_done=lambda t: again.append(t.id))
    assert resumed.batch_id == batch_id
    assert resumed.tasks_reused == 3 and resumed.tasks_run == 3
    assert not set(done) & set(again)
    pd.testing.assert_frame_equal(resumed.kpis, complete, check_exact=True)
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT count(*) FROM batch_kpis").fetchone()[0]
        dupes = con.execute(
            "SELECT count(*) FROM (SELECT point, replication, metric, scope, count(*) AS n "
            "FROM batch_kpis GROUP BY ALL HAVING n > 1)").fetchone()[0]
        status = con.execute("SELECT status FROM batches").fetchone()[0]
    finally:
        con.close()
    assert rows == len(complete) and dupes == 0 and status == "completed"
    # resuming a finished batch does nothing
    idle = run_batch(spec, InlineExecutor(), tmp_path, resume=batch_id)
    assert idle.tasks_run == 0 and idle.tasks_reused == 6


def test_resume_refuses_a_different_batch(tmp_path: Path) -> None:
    spec = _spec([tiny_point()], replications=2)
    first = run_batch(spec, InlineExecutor(), tmp_path)
    with pytest.raises(DataError, match="replications: batch has 2, now 3"):
        run_batch(_spec([tiny_point()], replications=3), InlineExecutor(), tmp_path,
                  resume=first.batch_id)
    with pytest.raises(DataError, match="no batch 'nope'"):
        run_batch(spec, InlineExecutor(), tmp_path, resume="nope")


def test_precision_target_adds_replications_until_met(tmp_path: Path) -> None:
    target = Precision("demand_units", halfwidth=8.0, max_replications=30)
    result = run_batch(_spec([tiny_point()], replications=6, chunk=2, precision=target),
                       InlineExecutor(), tmp_path)
    demand = result.kpis[(result.kpis["metric"] == "demand_units")
                         & (result.kpis["scope"] == "all")]
    n = len(demand)
    assert ci_halfwidth(demand["value"][:6]) > 8.0       # the first round was not enough
    assert n > 6 and ci_halfwidth(demand["value"]) <= 8.0
    assert sorted(demand["replication"]) == list(range(n))
    # the number of replications does not depend on the chunking
    other = run_batch(_spec([tiny_point()], replications=6, chunk=5, precision=target),
                      InlineExecutor(), tmp_path)
    pd.testing.assert_frame_equal(other.kpis, result.kpis, check_exact=True)
    with pytest.raises(ScenarioError, match="no KPI 'fill_rat' at scope 'all'"):
        run_batch(_spec([tiny_point()], replications=2, precision=Precision("fill_rat", 0.1)),
                  InlineExecutor(), tmp_path)
    capped = run_batch(_spec([tiny_point()], replications=3,
                             precision=Precision("demand_units", 1e-9, max_replications=5)),
                       InlineExecutor(), tmp_path)
    assert capped.kpis["replication"].max() == 4


def test_failing_tasks_are_retried_then_reported(tmp_path: Path, monkeypatch) -> None:
    real = batch_module.simulate_chunk
    calls = {"n": 0}

    def flaky(*args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk hiccup")
        return real(*args)

    monkeypatch.setattr(batch_module, "simulate_chunk", flaky)
    notes: list[str] = []

    class Notes(BatchProgress):
        def note(self, message: str) -> None:
            notes.append(message)

    result = run_batch(_spec([tiny_point()], replications=2), InlineExecutor(), tmp_path,
                       progress=Notes())
    assert result.kpis["replication"].nunique() == 2
    assert any("disk hiccup" in n and "retrying" in n for n in notes)

    def broken(*args):
        raise OSError("always")

    monkeypatch.setattr(batch_module, "simulate_chunk", broken)
    with pytest.raises(BatchError, match="failed after 2 attempts: OSError: always"):
        run_batch(_spec([tiny_point()], replications=2, seed=5), InlineExecutor(), tmp_path,
                  retries=1)

    def bad_input(*args):
        raise TaskError("ScenarioError: wrong")

    calls["n"] = 0
    monkeypatch.setattr(batch_module, "simulate_chunk", bad_input)
    with pytest.raises(BatchError, match="wrong"):
        run_batch(_spec([tiny_point()], replications=2, seed=6), InlineExecutor(), tmp_path)


def test_auto_chunk_size() -> None:
    assert auto_chunk_size(10, 1, 2) == 2       # 5 tasks for 2 workers
    assert auto_chunk_size(10, 20, 2) == 10     # many points: one task per point
    assert auto_chunk_size(1, 1, 8) == 1


def test_run_to_precision_grows_one_run() -> None:
    scenario = scenario_from_dict(tiny())
    run = run_to_precision(scenario, metric="demand_units", halfwidth=8.0, replications=6,
                           max_replications=30, seed=11)
    assert run.replications == 9
    demand = run.kpis[(run.kpis["metric"] == "demand_units") & (run.kpis["scope"] == "all")]
    assert len(demand) == 9 and ci_halfwidth(demand["value"]) <= 8.0
    assert run.simulation.orders["replication"].nunique() == run.replications
    same = run_scenario(scenario, replications=run.replications, seed=11)
    pd.testing.assert_frame_equal(run.kpis, same.kpis, check_exact=True)
    with pytest.raises(ScenarioError, match="no KPI 'nope'"):
        run_to_precision(scenario, metric="nope", halfwidth=0.1, replications=2)


# ------------------------------------------------------------------------------ the CLI
@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    base = _write(tmp_path / "base.yaml", tiny(name="base"))
    more = tiny(name="more_stock")
    more["nodes"]["wh"]["initial_inventory"] = {"widget": 8}
    return {"base": base, "more": _write(tmp_path / "more.yaml", more),
            "runs": tmp_path / "runs"}


def test_cli_compare_prints_paired_differences_and_stores_them(files) -> None:
    result = runner.invoke(app, ["compare", str(files["base"]), str(files["more"]), "-n", "4",
                                 "--executor", "inline", "--runs-dir", str(files["runs"])])
    assert result.exit_code == 0, result.output
    assert "Δ ± CI" in result.output and "paired difference" in result.output
    assert "more_stock" in result.output
    (folder,) = (files["runs"] / "batches").iterdir()
    table = pd.read_parquet(folder / "comparison.parquet")
    row = table[(table["point"] == 1) & (table["metric"] == "fill_rate")
                & (table["scope"] == "all")].iloc[0]
    assert row["diff"] > 0 and row["diff_replications"] == 4


def test_cli_compare_bad_input_exits_2_with_every_problem(files, tmp_path: Path) -> None:
    bad = tiny(name="bad")
    bad["lanes"][1]["dst"] = "DC9"
    bad["lanes"][0]["lead_time"] = {"dist": "fixed", "mean": -2}
    path = _write(tmp_path / "bad.yaml", bad)
    common = ["--executor", "inline", "--runs-dir", str(files["runs"])]
    result = runner.invoke(app, ["compare", str(files["base"]), str(path), *common])
    assert result.exit_code == 2
    assert "lanes[1].dst: unknown node 'DC9'" in result.output
    assert "lanes[0].lead_time.mean" in result.output
    assert "Traceback" not in result.output
    overrides = runner.invoke(app, ["compare", str(files["base"]), str(files["more"]),
                                    "--set", "lanes[7].dst=x", "--set", "x=", *common])
    assert overrides.exit_code == 2 and "lanes[7].dst: no item [7]" in overrides.output
    one = runner.invoke(app, ["compare", str(files["base"]), *common])
    assert one.exit_code == 2 and "at least two" in one.output


def test_cli_sweep_writes_one_tidy_table(files) -> None:
    result = runner.invoke(app, [
        "sweep", str(files["base"]), "--set", "nodes.wh.initial_inventory.widget=2,8",
        "--set", "products.widget.price=25,30", "-n", "2", "--executor", "inline",
        "--runs-dir", str(files["runs"]), "--metrics", "fill_rate,revenue"])
    assert result.exit_code == 0, result.output
    (folder,) = (files["runs"] / "batches").iterdir()
    kpis = pd.read_parquet(folder / "kpis.parquet")
    assert list(kpis.columns[:4]) == ["point", "label", "nodes.wh.initial_inventory.widget",
                                      "products.widget.price"]
    assert list(kpis.columns[4:]) == ["replication", "metric", "scope", "value", "unit"]
    assert kpis["point"].nunique() == 4 and kpis["replication"].nunique() == 2
    revenue = kpis[(kpis["metric"] == "revenue") & (kpis["scope"] == "all")]
    by_price = revenue.groupby("products.widget.price")["value"].mean()
    assert by_price[30] > by_price[25]


def test_cli_sweep_lhs_and_bad_paths(files) -> None:
    result = runner.invoke(app, [
        "sweep", str(files["base"]), "--set", "products.widget.price=20..40", "--design", "lhs",
        "--samples", "3", "-n", "2", "--executor", "inline", "--runs-dir", str(files["runs"])])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["sweep", str(files["base"]), "--set", "nodes.nope.x=1,2",
                              "--set", "horizon_days=1..5", "--executor", "inline"])
    assert bad.exit_code == 2
    assert "nodes.nope" in bad.output or "horizon_days" in bad.output
    assert "Traceback" not in bad.output


def _suite(tmp_path: Path, files, **changes) -> Path:
    suite = {
        "name": "mini", "replications": 3, "seed": 5,
        "defaults": {"tolerances": {"fill_rate": {"abs": 0.01}, "total_cost": {"rel": 0.05},
                                    "revenue": {"ci": 1.0}}},
        "cases": [{"name": "base", "scenario": "base.yaml"},
                  {"name": "stock", "scenario": "more.yaml",
                   "tolerances": {"fill_rate@product:widget": {"abs": 0.02}}}],
    }
    suite.update(changes)
    return _write(tmp_path / "suite.yaml", suite)


def test_cli_regress_baseline_pass_regression_and_junit(files, tmp_path: Path) -> None:
    suite = _suite(tmp_path, files)
    baseline = tmp_path / "baseline.json"
    common = ["--executor", "inline", "--runs-dir", str(files["runs"])]
    created = runner.invoke(app, ["regress", str(suite), "--baseline", str(baseline),
                                  "--update-baseline", *common])
    assert created.exit_code == 0, created.output
    stored = json.loads(baseline.read_text())
    assert set(stored["cases"]) == {"base", "stock"}
    assert "fill_rate@product:widget" in stored["cases"]["stock"]["kpis"]

    junit = tmp_path / "out" / "regress.xml"
    passed = runner.invoke(app, ["regress", str(suite), "--baseline", str(baseline),
                                 "--junit", str(junit), *common])
    assert passed.exit_code == 0, passed.output
    assert "within tolerance" in passed.output
    root = ET.parse(junit).getroot()
    assert root.get("tests") == "7" and root.get("failures") == "0"

    # the baseline promised a better fill rate than we get now → a regression
    stored["cases"]["base"]["kpis"]["fill_rate"]["mean"] += 0.05
    baseline.write_text(json.dumps(stored))
    failed = runner.invoke(app, ["regress", str(suite), "--baseline", str(baseline),
                                 "--junit", str(junit), *common])
    assert failed.exit_code == 1
    assert "regressed" in failed.output and "base fill_rate" in failed.output
    assert "allowed ±0.01" in failed.output
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1"
    failure = root.find(".//testcase[@classname='mini.base'][@name='fill_rate']/failure")
    assert failure is not None and "regressed by -0.05" in failure.get("message")

    # a cost well below the baseline is an improvement: passes, unless --strict
    stored["cases"]["base"]["kpis"]["fill_rate"]["mean"] -= 0.05
    stored["cases"]["base"]["kpis"]["total_cost"]["mean"] *= 1.5
    baseline.write_text(json.dumps(stored))
    improved = runner.invoke(app, ["regress", str(suite), "--baseline", str(baseline), *common])
    assert improved.exit_code == 0 and "improved" in improved.output
    strict = runner.invoke(app, ["regress", str(suite), "--baseline", str(baseline), "--strict",
                                 *common])
    assert strict.exit_code == 1


def test_cli_regress_bad_input_exits_2(files, tmp_path: Path) -> None:
    common = ["--executor", "inline", "--runs-dir", str(files["runs"])]
    suite = _suite(tmp_path, files, replications=1,
                   cases=[{"name": "x", "scenario": "base.yaml",
                           "tolerances": {"fill_rate": {"abs": -1}}},
                          {"name": "x", "scenario": "missing.yaml"}])
    result = runner.invoke(app, ["regress", str(suite), "--baseline", str(tmp_path / "b.json"),
                                 *common])
    assert result.exit_code == 2
    for text in ("replications", "cases[0].tolerances.fill_rate.abs", "unique"):
        assert text in result.output
    good = _suite(tmp_path, files)
    missing = runner.invoke(app, ["regress", str(good), "--baseline", str(tmp_path / "no.json"),
                                  *common])
    assert missing.exit_code == 2 and "--update-baseline" in missing.output
    (tmp_path / "junk.json").write_text("{not json")
    junk = runner.invoke(app, ["regress", str(good), "--baseline", str(tmp_path / "junk.json"),
                               *common])
    assert junk.exit_code == 2 and "invalid JSON" in junk.output


def test_cli_runs_show_and_query(files) -> None:
    runs = str(files["runs"])
    assert runner.invoke(app, ["run", str(files["base"]), "--runs-dir", runs, "-n", "2"]
                         ).exit_code == 0
    assert runner.invoke(app, ["compare", str(files["base"]), str(files["more"]), "-n", "2",
                               "--executor", "inline", "--runs-dir", runs]).exit_code == 0
    listing = runner.invoke(app, ["runs", "--runs-dir", runs])
    assert listing.exit_code == 0
    assert "compare" in listing.output and "run" in listing.output
    batch_id = next((files["runs"] / "batches").iterdir()).name
    shown = runner.invoke(app, ["runs", "show", batch_id[:20], "--runs-dir", runs])
    assert shown.exit_code == 0, shown.output
    assert "more_stock" in shown.output and "optimal" in shown.output
    run_id = next(p.name for p in files["runs"].iterdir() if p.name.startswith("2") and p.is_dir())
    assert runner.invoke(app, ["runs", "show", run_id, "--runs-dir", runs]).exit_code == 0
    assert runner.invoke(app, ["runs", "show", "nope", "--runs-dir", runs]).exit_code == 2

    query = runner.invoke(app, [
        "query", "--runs-dir", runs, "--format", "csv",
        "SELECT p.label, s.mean FROM batch_summary s JOIN batch_points p USING (batch_id, point) "
        "WHERE s.metric = 'fill_rate' AND s.scope = 'all' ORDER BY p.point"])
    assert query.exit_code == 0, query.output
    lines = query.output.strip().splitlines()
    assert lines[0] == "label,mean" and lines[1].startswith("base,")
    orders = runner.invoke(app, ["query", "--runs-dir", runs, "-f", "json",
                                 "SELECT count(DISTINCT run_id) AS runs FROM orders"])
    assert orders.exit_code == 0 and json.loads(orders.output) == [{"runs": 1}]
    bad = runner.invoke(app, ["query", "--runs-dir", runs, "SELEC nonsense"])
    assert bad.exit_code == 2 and "query failed" in bad.output


def test_cli_run_with_target_precision(files) -> None:
    result = runner.invoke(app, ["run", str(files["base"]), "--runs-dir", str(files["runs"]),
                                 "-n", "6", "--seed", "11", "--ci-halfwidth", "8",
                                 "--metric", "demand_units"])
    assert result.exit_code == 0, result.output
    assert "9 replications" in result.output
    (run_dir,) = [p for p in files["runs"].iterdir() if p.is_dir()]
    assert json.loads((run_dir / "run.json").read_text())["replications"] == 9
    half = runner.invoke(app, ["run", str(files["base"]), "--ci-halfwidth", "0.03"])
    assert half.exit_code == 2 and "give both" in half.output


def test_library_compare_smoke(tmp_path: Path) -> None:
    """The library's two retailer strategies compare on common random numbers."""
    points = [Point(i, name, load_scenario(name, {"horizon_days": 35}))
              for i, name in enumerate(["retailer_holiday", "retailer_holiday_double_campaigns"])]
    result = run_batch(_spec(points, replications=2), InlineExecutor(), tmp_path)
    assert set(result.kpis["point"]) == {0, 1}
    assert all(s["status"] == "optimal" for s in result.plans.values())


def test_points_without_a_usable_plan(files, monkeypatch) -> None:
    from optimize.plan import Plan, SolveStatus
    from tandem.batch import PlannedPoint

    real = batch_module.plan_point

    def no_plan_for_more_stock(scenario):
        if scenario.name == "more_stock":
            return PlannedPoint(Plan.without_tables(SolveStatus.INFEASIBLE, "demand > capacity"),
                                0.0)
        return real(scenario)

    monkeypatch.setattr(batch_module, "plan_point", no_plan_for_more_stock)
    common = ["-n", "2", "--executor", "inline", "--runs-dir", str(files["runs"])]
    compared = runner.invoke(app, ["compare", str(files["base"]), str(files["more"]), *common])
    assert compared.exit_code == 3
    assert "no usable plan" in compared.output and "demand > capacity" in compared.output
    swept = runner.invoke(app, ["sweep", str(files["base"]), "--set",
                                "nodes.wh.initial_inventory.widget=5,8", "--set",
                                "name=base,more_stock", *common])
    assert swept.exit_code == 0, swept.output           # some points have a plan
    assert swept.output.count("infeasible") == 4         # 2 notes + 2 table cells
    (folder,) = [p for p in (files["runs"] / "batches").iterdir() if "sweep" in p.name]
    kpis = pd.read_parquet(folder / "kpis.parquet")
    assert set(kpis["name"]) == {"base"}
    none = runner.invoke(app, ["sweep", str(files["more"]), "--set",
                               "products.widget.price=25,30", *common])
    assert none.exit_code == 3 and "no point of the sweep has a usable plan" in none.output


@pytest.mark.parametrize("module", ["tandem.batch", "tandem.experiments", "tandem.executors"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried > 0 and failures == 0
