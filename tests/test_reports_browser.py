"""The executive report in a real browser (headless Chromium, Debian's package): it loads with no
console error and no request to any host, the charts are drawn, injected markup stays text, and
the PDF has the expected pages. Skipped where Chromium is not installed."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from reports import StrategyRun, render_comparison_report
from reports.chromium import find_chromium, html_to_pdf, inspect_page
from scenarios import scenario_from_dict
from tandem.pipeline import run_scenario
from tandem.report_builder import strategy_from_result
from tests.conftest import tiny_scenario_dict

try:
    CHROMIUM: Path | None = find_chromium()
except Exception:
    CHROMIUM = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless Chromium is not installed (apt-get install chromium; .ci/run does this)",
    ),
]

EVIL_NAME = "<b>bold</b>"


@pytest.fixture(scope="module")
def runs() -> list[StrategyRun]:
    out = []
    for name, stock in (("base", 5), (EVIL_NAME, 60)):
        data = tiny_scenario_dict(
            name="s", horizon_days=42, description="<script>alert(1)</script>"
        )
        data["products"]["widget"]["name"] = "<img src=x onerror=alert(2)>"
        data["nodes"]["wh"]["initial_inventory"] = {"widget": stock}
        data["crm"]["segments"]["all"]["customers"] = 400
        out.append(
            strategy_from_result(name, run_scenario(scenario_from_dict(data), replications=3))
        )
    return out


@pytest.fixture(scope="module")
def report(runs: list[StrategyRun], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_comparison_report(runs, "base", versions={}), encoding="utf-8")
    return path


_PROBES = {
    "containers": "document.querySelectorAll('div.chart').length",
    "drawn": "Array.from(document.querySelectorAll('div.chart')).filter("
    "e => e.classList.contains('js-plotly-plot') && e.querySelector('svg.main-svg')"
    " && e.querySelectorAll('.trace, .point, path.box').length > 0).length",
    "state": "document.body.getAttribute('data-charts')",
    "scripts": "document.querySelectorAll('script').length",
    "injected": "document.querySelectorAll('img, b:not(svg b)').length",
    "description": "document.querySelector('header .sub').textContent",
    "legend": "Array.from(document.querySelectorAll('.legendtext')).map(e => e.textContent)",
}


def test_page_loads_clean_draws_every_chart_and_shows_injected_markup_as_text(
    report: Path, tmp_path: Path
) -> None:
    check = inspect_page(report, _PROBES, width=1200, height=1600, png=tmp_path / "shot.png")
    assert check.console_errors == []
    assert check.failed_requests == []
    assert check.external_requests == []
    values = check.values
    assert values["state"] == "ready"
    assert values["containers"] >= 6
    assert values["drawn"] == values["containers"]
    # injected markup is text: no extra script, image or bold element, and it reads as typed
    assert values["scripts"] == 4
    assert values["injected"] == 0
    assert values["description"] == "<script>alert(1)</script>"
    assert EVIL_NAME in values["legend"]
    # the screenshot is not blank: a one-colour page has a handful of distinct scanline bytes
    width, height, raw = _png_pixels(tmp_path / "shot.png")
    assert (width, height) == (1200, 1600)
    assert len(set(raw)) > 100
    assert (tmp_path / "shot.png").stat().st_size > 40_000


def test_the_page_check_catches_errors_and_failed_requests(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><img src='missing.png'>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    check = inspect_page(bad)
    assert any("boom" in e for e in check.console_errors)
    assert any("undefinedFunction" in e for e in check.console_errors)
    assert check.failed_requests and not check.clean


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the filtered scanlines of an 8-bit RGB(A) PNG (enough to tell blank
    from drawn)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_pdf_has_the_expected_pages(report: Path, runs: list[StrategyRun], tmp_path: Path) -> None:
    pdf = html_to_pdf(report, tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = _pages(pdf)
    count = re.search(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", pdf, re.S)
    assert count is not None and int(count.group(1)) == pages
    assert 4 <= pages <= 14  # verdict + headline, charts, tables, appendix on A4
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+59[45](\.\d+)?\s+84[12]", pdf)  # A4 portrait
    # a one-section page prints on exactly one page
    small = tmp_path / "small.html"
    small.write_text(
        "<!DOCTYPE html><html><body><h1>One page</h1><p>text</p></body></html>", encoding="utf-8"
    )
    assert _pages(html_to_pdf(small, tmp_path / "small.pdf").read_bytes()) == 1


def test_stress_report_shows_plan_vs_realised_in_the_browser(tmp_path: Path) -> None:
    """The stress test's executive report: loads clean, draws its charts, and its Plan vs
    realised section lists every strategy with the planned and realised fill rate."""
    from tandem.report_builder import write_report
    from tandem.stress import stress_test
    from tests.test_loop import two_supplier

    result = stress_test(two_supplier(), replications=2, strategies=("static", "rolling"))
    path = write_report(result.strategy_runs(), tmp_path / "stress.html")
    probes = {
        **_PROBES,
        "section": "document.querySelector('#plan-vs-realised') !== null",
        "rows": "Array.from(document.querySelectorAll('#plan-vs-realised table tr'))"
        ".map(r => r.textContent)",
    }
    check = inspect_page(path, probes, width=1200, height=1600)
    assert check.console_errors == [] and check.external_requests == []
    values = check.values
    assert values["state"] == "ready" and values["drawn"] == values["containers"] > 0
    assert values["section"] is True
    header = values["rows"][0]
    assert "Planned" in header and "static" in header and "rolling" in header
    assert any(row.startswith("Fill rate") for row in values["rows"])
    assert any("Re-planned" in row for row in values["rows"])
