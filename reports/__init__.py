"""KPIs over simulation results, strategy comparisons with confidence intervals, and reports
(single-run HTML; executive comparison HTML/PDF; CSV and Excel exports)."""

from __future__ import annotations

from reports.chromium import ChromiumError, ChromiumNotFoundError, html_to_pdf
from reports.compare import StrategyRun, comparison_table, paired_difference
from reports.executive import (
    ReportData,
    build_report_data,
    render_comparison_report,
    render_report_data,
    report_tables,
)
from reports.export import write_csv_tables, write_xlsx
from reports.html import render_run_report, svg_line_chart
from reports.kpis import KPI_COLUMNS, compute_kpis, summarize

__all__ = [
    "KPI_COLUMNS",
    "ChromiumError",
    "ChromiumNotFoundError",
    "ReportData",
    "StrategyRun",
    "build_report_data",
    "comparison_table",
    "compute_kpis",
    "html_to_pdf",
    "paired_difference",
    "render_comparison_report",
    "render_report_data",
    "render_run_report",
    "report_tables",
    "summarize",
    "svg_line_chart",
    "write_csv_tables",
    "write_xlsx",
]
