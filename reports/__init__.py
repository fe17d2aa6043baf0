"""KPIs over simulation results, comparisons, and reports (HTML)."""

from __future__ import annotations

from reports.html import render_run_report, svg_line_chart
from reports.kpis import KPI_COLUMNS, compute_kpis, summarize

__all__ = ["KPI_COLUMNS", "compute_kpis", "render_run_report", "summarize", "svg_line_chart"]
