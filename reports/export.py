"""Export of report tables: one CSV file per table, or one Excel workbook (openpyxl) with a sheet
per table. Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is
written with a leading apostrophe, so user-supplied names stay text."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["safe_cell", "write_csv_tables", "write_xlsx"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would read as a formula.

    Examples
    --------
    >>> safe_cell("=HYPERLINK(\\"x\\")"), safe_cell("plain"), safe_cell(-3.5)
    ('\\'=HYPERLINK("x")', 'plain', -3.5)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(safe_cell)
    out.columns = [str(safe_cell(str(c))) for c in out.columns]
    return out


def write_csv_tables(tables: Mapping[str, pd.DataFrame], directory: Path) -> list[Path]:
    """Write ``<directory>/<name>.csv`` for every table (UTF-8, header row). Returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = directory / f"{_file_name(name)}.csv"
        _plain(frame).to_csv(path, index=False, float_format="%.10g")
        paths.append(path)
    return paths


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "table"


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", "_", name)[:31] or "sheet"
    candidate, k = base, 1
    while candidate.lower() in used:
        k += 1
        candidate = f"{base[:28]}_{k}"
    used.add(candidate.lower())
    return candidate


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, bool | int | float | str) or value is None:
        return safe_cell(value)
    if hasattr(value, "isoformat"):
        return value
    return safe_cell(str(value))


def write_xlsx(tables: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """One workbook, a sheet per table: bold header, frozen first row, filters, sized columns.

    Every text cell is stored as text (never as a formula).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    used: set[str] = set()
    header_fill = PatternFill("solid", fgColor="E2E8F0")
    for name, frame in tables.items():
        sheet = workbook.create_sheet(_sheet_name(name, used))
        columns = [str(c) for c in frame.columns]
        sheet.append([safe_cell(c) for c in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_cell(v) for v in row])
        for row in sheet.iter_rows(min_row=1):
            for cell in row:
                if cell.data_type == "f":  # openpyxl reads '=…' as a formula: keep it text
                    cell.value = safe_cell(str(cell.value))
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
        if columns and len(frame):
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(frame) + 1}"
        for index, column in enumerate(columns, start=1):
            sample = [column, *[str(v) for v in frame.iloc[:200, index - 1].tolist()]]
            width = min(60, max(8, max(len(s) for s in sample) + 2))
            sheet.column_dimensions[get_column_letter(index)].width = width
            if frame.shape[0] and pd.api.types.is_float_dtype(frame.iloc[:, index - 1]):
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = (
                        "#,##0.0000" if frame.iloc[:, index - 1].abs().max() < 10 else "#,##0.00"
                    )
    if not workbook.sheetnames:
        workbook.create_sheet("empty")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
