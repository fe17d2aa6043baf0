"""Executive reports: KPI tables equal the stored KPIs, paired differences, verdicts, escaping,
no external URLs, exports, the report builder and the ``tandem report`` command."""

from __future__ import annotations

import csv
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from reports import StrategyRun, build_report_data, render_comparison_report, report_tables
from reports.chromium import ChromiumNotFoundError, find_chromium
from reports.compare import (
    comparison_table,
    efficient_frontier,
    paired_difference,
    scenario_differences,
    verdicts,
)
from reports.export import safe_cell, write_csv_tables, write_xlsx
from reports.kpis import summarize
from scenarios import scenario_from_dict
from tandem.cli import app
from tandem.pipeline import RunResult, run_scenario, write_run
from tandem.report_builder import build_comparison_report, load_run_dir, strategy_from_result
from tests.conftest import tiny_scenario_dict

INJECT = "<script>alert(1)</script>"
INJECT_PRODUCT = "<img src=x onerror=alert(2)>"


def _scenario(name: str, initial: float, **changes: Any) -> Any:
    data = tiny_scenario_dict(name=name, horizon_days=42, description=f"tiny {INJECT}", **changes)
    data["products"]["widget"]["name"] = INJECT_PRODUCT
    data["nodes"]["wh"]["initial_inventory"] = {"widget": initial}
    data["nodes"]["sup"]["lead_time"] = {"dist": "uniform", "low": 1, "high": 3}
    data["crm"]["segments"]["all"]["customers"] = 400
    return scenario_from_dict(data)


@pytest.fixture(scope="module")
def results() -> dict[str, RunResult]:
    base = run_scenario(_scenario("base", 5), replications=3)
    more = run_scenario(_scenario("more_stock", 60), replications=3)
    return {"base": base, "more_stock": more}


@pytest.fixture(scope="module")
def runs(results: dict[str, RunResult]) -> list[StrategyRun]:
    return [strategy_from_result(name, result) for name, result in results.items()]


@pytest.fixture(scope="module")
def page(runs: list[StrategyRun]) -> str:
    return render_comparison_report(runs, "base", generated="test", versions={"x": "1"})


class _Cells(HTMLParser):
    """Collects elements carrying ``data-metric`` with their text, and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self._stack: list[dict[str, Any]] = []
        self._in_value = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset")]
        if "data-metric" in values:
            self._stack.append({**values, "text": "", "shown": "", "tag": tag})
        self._in_value = tag == "td" and "value" in (values.get("class") or "").split()

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_value = False
        if self._stack and self._stack[-1]["tag"] == tag and tag in ("td", "tr"):
            self.cells.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        for item in self._stack:
            item["text"] += data
        if self._in_value and self._stack:
            self._stack[-1]["shown"] += data


def _parse(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


def _number(text: str) -> float:
    head = text.strip().split("±")[0].replace(",", "").replace("%", "").replace("−", "-")
    head = head.strip()
    scale = 1.0
    if head.endswith(" k"):
        head, scale = head[:-2], 1e3
    elif head.endswith(" M"):
        head, scale = head[:-2], 1e6
    return float(head) * scale


# ------------------------------------------------------------------------------ golden values
def test_report_kpi_tables_equal_the_stored_kpis(page: str, results: dict[str, RunResult]) -> None:
    cells = _parse(page).cells
    rows = [c for c in cells if c["tag"] == "tr"]
    headline = [c for c in cells if c["tag"] == "td"]
    assert rows and headline
    for name, result in results.items():
        stored = summarize(result.kpis)
        stored = stored[stored["scope"] == "all"].set_index("metric")
        mine = {c["data-metric"]: c for c in rows if c["data-strategy"] == name}
        assert set(mine) == set(stored.index)
        for metric, row in stored.iterrows():
            cell = mine[metric]
            if math.isnan(row["value"]):
                assert cell["data-value"] == "nan"
                continue
            assert float(cell["data-value"]) == pytest.approx(row["value"], rel=1e-12, abs=1e-12)
            assert int(cell["data-replications"]) == row["replications"] == 3
            if math.isfinite(row["ci_halfwidth"]):
                assert float(cell["data-ci"]) == pytest.approx(row["ci_halfwidth"], rel=1e-12)
            # the number a reader sees, rounded for display
            shown = _number(cell["shown"])
            scale = 100 if row["unit"] == "fraction" else 1
            assert shown == pytest.approx(
                scale * row["value"], abs=max(0.006, 5e-4 * abs(scale * row["value"]))
            )
        for cell in (c for c in headline if c["data-strategy"] == name):
            assert float(cell["data-value"]) == pytest.approx(
                stored.loc[cell["data-metric"], "value"]
            )


def test_headline_differences_are_paired_by_replication(
    page: str, results: dict[str, RunResult]
) -> None:
    base = results["base"].kpis
    more = results["more_stock"].kpis
    cells = [
        c for c in _parse(page).cells if c["tag"] == "td" and c["data-strategy"] == "more_stock"
    ]
    assert cells
    for cell in cells:
        metric = cell["data-metric"]
        b = base[(base["metric"] == metric) & (base["scope"] == "all")].set_index("replication")[
            "value"
        ]
        m = more[(more["metric"] == metric) & (more["scope"] == "all")].set_index("replication")[
            "value"
        ]
        d = (m - b).dropna()
        assert float(cell["data-diff"]) == pytest.approx(d.mean(), abs=1e-9)
        half = 4.302652729911275 * d.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
        assert float(cell["data-diff-ci"]) == pytest.approx(half, rel=1e-9, abs=1e-12)
        expected = "" if abs(d.mean()) <= half else cell["data-verdict"]
        assert cell["data-verdict"] == expected


def test_paired_difference_and_welch() -> None:
    x = pd.Series([1.5, 2.5, 3.6])
    b = pd.Series([1.0, 2.0, 3.0])
    paired = paired_difference(x, b)
    assert paired["diff"] == pytest.approx(0.53333333)
    assert paired["ci_halfwidth"] == pytest.approx(0.14342, abs=1e-4)
    assert paired["significant"]
    welch = paired_difference(x, b, paired=False)
    # same mean difference; independent samples: the shared noise is not removed → wide CI
    assert welch["diff"] == pytest.approx(0.53333333)
    assert welch["ci_halfwidth"] > 2.0
    assert not welch["significant"]


def _kpis(values: dict[str, list[float]]) -> pd.DataFrame:
    units = {"fill_rate": "fraction", "total_cost": "EUR", "margin": "EUR"}
    rows = [(r, m, "all", v, units[m]) for m, vs in values.items() for r, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["replication", "metric", "scope", "value", "unit"])


def test_verdicts_name_only_significant_changes(tiny: Any) -> None:
    base = StrategyRun(
        "base",
        tiny,
        _kpis(
            {"fill_rate": [0.90, 0.92, 0.91], "total_cost": [100, 110, 105], "margin": [50, 52, 51]}
        ),
        seed=1,
    )
    tradeoff = StrategyRun(
        "tradeoff",
        tiny,
        _kpis(
            {"fill_rate": [0.95, 0.97, 0.96], "total_cost": [120, 130, 125], "margin": [50, 53, 50]}
        ),
        seed=1,
    )
    same = StrategyRun(
        "same",
        tiny,
        _kpis(
            {"fill_rate": [0.90, 0.91, 0.92], "total_cost": [101, 110, 106], "margin": [52, 50, 51]}
        ),
        seed=1,
    )
    table = comparison_table([base, tradeoff, same], "base")
    text = verdicts(table, "base", ["fill_rate", "total_cost", "margin"])
    assert text["tradeoff"] == (
        "Trade-off: better fill rate +5.0 pts; but worse total cost +20.00 EUR."
    )
    assert text["same"].startswith("No significant difference from the baseline")
    assert text["base"].startswith("Baseline (3 replications): fill rate 91.0 %")
    frontier = efficient_frontier(table).set_index("strategy")["frontier"].to_dict()
    assert frontier == {"base": True, "tradeoff": True, "same": False}


def test_different_seeds_are_compared_unpaired(tiny: Any) -> None:
    a = StrategyRun("a", tiny, _kpis({"fill_rate": [0.9, 0.92, 0.91]}), seed=1)
    b = StrategyRun("b", tiny, _kpis({"fill_rate": [0.91, 0.93, 0.92]}), seed=2)
    table = comparison_table([a, b], "a")
    row = table[(table["strategy"] == "b")].iloc[0]
    assert not row["paired"]
    assert row["diff_ci_halfwidth"] > 0.01  # paired would be 0: the differences are constant


def test_scenario_differences_in_words(tiny: Any) -> None:
    other = scenario_from_dict(tiny_scenario_dict(horizon_days=20, name="other"))
    assert scenario_differences(tiny, other) == ["horizon_days: 10 → 20 (+100 %)"]


# ------------------------------------------------------------------------------ safety
def test_user_strings_are_escaped(runs: list[StrategyRun]) -> None:
    evil = StrategyRun(
        'x"</script><script>alert(3)</script>',
        runs[1].scenario,
        runs[1].kpis,
        runs[1].tables,
        seed=runs[1].seed,
    )
    page = render_comparison_report([runs[0], evil], generated="t", versions={})
    for raw in (INJECT, INJECT_PRODUCT, "<script>alert(3)</script>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the description, shown as text
    scripts = _parse(page).tags.count("script")
    assert scripts == 4  # figure data, plotly config, plotly.js, the boot script


def test_no_external_urls(page: str) -> None:
    parsed = _parse(page)
    assert "link" not in parsed.tags and "iframe" not in parsed.tags
    assert all(link.startswith("#") for link in parsed.links), parsed.links
    head = page.split("<script>window.PlotlyConfig", 1)[0]
    assert "http://" not in head and "https://" not in head


def test_report_without_tables_says_so(runs: list[StrategyRun]) -> None:
    bare = [StrategyRun(r.name, r.scenario, r.kpis, seed=r.seed) for r in runs]
    page = render_comparison_report(bare, generated="t", versions={})
    assert "built from stored KPIs only" in page
    assert 'id="chart-frontier"' in page and 'id="chart-time"' not in page


def test_one_strategy_and_bad_baseline(runs: list[StrategyRun]) -> None:
    assert "<!DOCTYPE html>" in render_comparison_report(runs[:1], versions={})
    with pytest.raises(ValueError, match="not one of the strategies"):
        build_report_data(runs, "nope")


# ------------------------------------------------------------------------------ exports
def test_xlsx_and_csv_exports(runs: list[StrategyRun], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    tables = report_tables(build_report_data(runs, versions={}))
    tables["scenario_differences"] = pd.DataFrame({"strategy": ["=1+1"], "difference": ["@x"]})
    path = write_xlsx(tables, tmp_path / "r.xlsx")
    book = load_workbook(path)
    assert {"headline", "kpis", "costs", "replications"} <= set(book.sheetnames)
    sheet = book["headline"]
    header = [c.value for c in sheet[1]]
    rows = [
        dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)
    ]
    expected = tables["headline"]
    assert len(rows) == len(expected)
    for row, (_, want) in zip(rows, expected.iterrows(), strict=True):
        assert row["strategy"] == want["strategy"] and row["metric"] == want["metric"]
        assert row["value"] == pytest.approx(want["value"])
    injected = book["scenario_differences"]["A2"]
    assert injected.value == "'=1+1" and injected.data_type == "s"
    paths = write_csv_tables(tables, tmp_path / "csv")
    with (tmp_path / "csv" / "headline.csv").open(encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert float(read[0]["value"]) == pytest.approx(expected.iloc[0]["value"])
    assert len(paths) == len(tables)
    assert safe_cell("-x") == "'-x" and safe_cell(-1.0) == -1.0


# ------------------------------------------------------------------------------ builder and CLI
def test_build_comparison_report_and_run_dirs(
    results: dict[str, RunResult], tmp_path: Path
) -> None:
    out = build_comparison_report(
        results,
        "base",
        tmp_path / "r.html",
        overrides={"more_stock": {"nodes.wh.initial_inventory.widget": 60}},
    )
    text = out.read_text(encoding="utf-8")
    assert "nodes.wh.initial_inventory.widget set to 60" in text
    run_dir = write_run(results["base"], tmp_path / "runs" / "a")
    loaded = load_run_dir(run_dir)
    assert loaded.seed == results["base"].seed
    pd.testing.assert_frame_equal(
        loaded.kpis.reset_index(drop=True),
        results["base"].kpis.reset_index(drop=True),
        check_dtype=False,
    )
    assert {"orders", "inventory", "events", "plan_service", "forecast"} <= set(loaded.tables)


def test_cli_report(
    results: dict[str, RunResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    a = write_run(results["base"], tmp_path / "runs" / "a")
    b = write_run(results["more_stock"], tmp_path / "runs" / "b")
    done = runner.invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "c.html")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "c.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    done = runner.invoke(app, ["report", "a", "--runs-dir", str(tmp_path / "runs"), "-f", "xlsx"])
    assert done.exit_code == 0, done.output
    assert (a / "executive_report.xlsx").exists()
    done = runner.invoke(app, ["report", str(a), str(b), "--baseline", "zzz"])
    assert done.exit_code == 2 and "not one of the strategies" in done.output
    done = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert done.exit_code == 2 and "neither a run directory nor a batch" in done.output
    # PDF without Chromium: one clear message, no traceback
    monkeypatch.setattr("reports.chromium._CANDIDATES", ("no-such-chromium",))
    monkeypatch.delenv("TANDEM_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    done = runner.invoke(app, ["report", str(a), "-f", "pdf"])
    assert done.exit_code == 1
    assert "apt-get install chromium" in done.output and "Traceback" not in done.output


def test_find_chromium_explains_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("reports.chromium._CANDIDATES", ("no-such-chromium",))
    monkeypatch.delenv("TANDEM_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChromiumNotFoundError, match="apt-get install chromium"):
        find_chromium()


def test_cli_report_of_a_compare_batch(tmp_path: Path) -> None:
    from scenarios import scenario_to_yaml

    runner = CliRunner()
    files = []
    for name, stock in (("base", 5), ("more_stock", 60)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(scenario_to_yaml(_scenario(name, stock)), encoding="utf-8")
        files.append(str(path))
    runs_dir = tmp_path / "runs"
    done = runner.invoke(app, ["compare", *files, "-n", "3", "--executor", "inline",
                               "--runs-dir", str(runs_dir)])
    assert done.exit_code == 0, done.output
    (batch,) = (runs_dir / "batches").iterdir()
    out = tmp_path / "batch.html"
    done = runner.invoke(app, ["report", batch.name, "--runs-dir", str(runs_dir),
                               "--detail-replications", "2", "--out", str(out)])
    assert done.exit_code == 0, done.output
    cells = [c for c in _parse(out.read_text(encoding="utf-8")).cells if c["tag"] == "tr"]
    kpis = pd.read_parquet(batch / "kpis.parquet")
    for label in ("base", "more_stock"):
        want = kpis[(kpis["label"] == label) & (kpis["metric"] == "fill_rate")
                    & (kpis["scope"] == "all")]["value"].mean()
        (cell,) = [c for c in cells if c["data-strategy"] == label
                   and c["data-metric"] == "fill_rate"]
        assert float(cell["data-value"]) == pytest.approx(want, rel=1e-12)
    assert 'id="chart-time"' in out.read_text(encoding="utf-8")


def test_disruption_impact_by_hand() -> None:
    from reports.compare import disruption_impact

    scenario = scenario_from_dict(tiny_scenario_dict(horizon_days=40))
    filled = [10.0] * 40
    filled[3] = filled[4] = 0.0
    filled[5] = filled[6] = 5.0
    orders = pd.DataFrame({"replication": 0, "order_type": "customer", "product": "widget",
                           "placed_time": [d + 0.5 for d in range(40)], "qty": 10.0,
                           "filled_immediately": filled})
    events = pd.DataFrame({"replication": [0, 0, 0], "time": [3.5, 4.0, 20.0],
                           "order_type": ["customer", "adjustment", "customer"],
                           "event": ["lost", "written_off", "lost"], "qty": [20.0, 7.0, 99.0]})
    windows = pd.DataFrame({"replication": [0], "index": [0], "name": ["strike"],
                            "kind": ["supplier_outage"], "start": [3.0], "end": [5.0]})
    kpis = pd.DataFrame({"replication": [0], "metric": ["fill_rate"], "scope": ["all"],
                         "value": [0.9], "unit": ["fraction"]})
    run = StrategyRun("s", scenario, kpis, {"orders": orders, "events": events,
                                            "disruption_windows": windows})
    (row,) = disruption_impact(run).to_dict("records")
    assert row["fill_before"] == 1.0 and row["fill_during"] == 0.0
    assert row["fill_after"] == pytest.approx(270 / 280)  # days 5-32
    assert row["recover_days"] == 2.0  # days 7-20 are the first 14 all at the rate before
    assert row["lost_during"] == 20.0 and row["written_off"] == 7.0
