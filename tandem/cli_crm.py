"""``tandem predict``: fit BG/NBD and Gamma-Gamma to a transaction file and predict purchases,
P(alive), order value and CLV per customer."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml
from rich.table import Table

from scenarios.errors import DataError, TandemError
from scenarios.schema import Purchasing, TimeUnit
from tandem.cli import _fail, app, console, err_console

__all__ = ["predict"]


def _read_transactions(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from exc


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise DataError(f"--calibration-end {text!r} is not a date (use YYYY-MM-DD)") from exc


def purchasing_block(fit: object) -> dict[str, object]:
    """A scenario ``purchasing`` block from a :class:`~crm_model.analytics.TransactionFit`,
    validated against the schema (spend is left out when q ≤ 1: no finite mean)."""
    bgnbd = fit.bgnbd  # type: ignore[attr-defined]
    block: dict[str, object] = {
        "r": round(bgnbd.r, 6),
        "alpha": round(bgnbd.alpha, 6),
        "a": round(bgnbd.a, 6),
        "b": round(bgnbd.b, 6),
        "time_unit": bgnbd.time_unit,
    }
    gg = fit.gamma_gamma  # type: ignore[attr-defined]
    if gg is not None and gg.q > 1.0:
        block["spend"] = {"p": round(gg.p, 6), "q": round(gg.q, 6), "gamma": round(gg.gamma, 6)}
    Purchasing.model_validate(block)
    return block


@app.command()
def predict(
    transactions: Annotated[Path, typer.Argument(help="CSV file with one row per transaction.")],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Last day of the fitting window (YYYY-MM-DD).")
    ],
    time_unit: Annotated[
        TimeUnit, typer.Option("--time-unit", help="Time unit of the model: week or day.")
    ] = TimeUnit.WEEK,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for params.json and predictions.csv.")
    ] = Path("."),
    customer_col: Annotated[
        str, typer.Option("--customer-col", help="Customer id column.")
    ] = "customer",
    date_col: Annotated[str, typer.Option("--date-col", help="Transaction date column.")] = "date",
    amount_col: Annotated[
        str, typer.Option("--amount-col", help="Transaction amount column.")
    ] = "amount",
    horizon: Annotated[
        float | None,
        typer.Option(
            "--horizon", min=0.0, help="Prediction horizon in time units (default: a year)."
        ),
    ] = None,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", min=0.0, help="Annual discount rate for CLV.")
    ] = 0.1,
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, help="Share of order value that is margin (CLV).")
    ] = 1.0,
    emit_scenario: Annotated[
        bool,
        typer.Option("--emit-scenario", help="Also write purchasing.yaml for a scenario segment."),
    ] = False,
) -> None:
    """Fit BG/NBD + Gamma-Gamma to TRANSACTIONS and predict each customer's next purchases."""
    from crm_model.analytics import fit_transactions

    try:
        end = _parse_date(calibration_end)
        frame = _read_transactions(transactions)
        try:
            fit = fit_transactions(
                frame,
                end,
                time_unit,
                horizon,
                discount_rate,
                margin,
                customer_col,
                date_col,
                amount_col,
            )
        except DataError as exc:
            raise DataError(f"{transactions}: {exc}") from exc
        block = purchasing_block(fit) if emit_scenario else None
    except TandemError as exc:
        _fail(exc)
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "params.json").write_text(json.dumps(fit.params(), indent=2) + "\n", encoding="utf-8")
    fit.predictions.to_csv(out / "predictions.csv", index=False)
    unit = str(time_unit.value)
    table = Table(title=f"{len(fit.summary)} customers, calibration to {end}, time unit {unit}")
    table.add_column("model")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for name, params in fit.params().items():
        for key, value in (params or {}).items():
            table.add_row(name, key, f"{value:,.4f}")
    console.print(table)
    if fit.gamma_gamma is not None and fit.gamma_gamma.q <= 1.0:
        err_console.print(
            "note: Gamma-Gamma q ≤ 1, mean order value is not finite; expected "
            "value and CLV are inf"
        )
    written = [out / "params.json", out / "predictions.csv"]
    if block is not None:
        header = (
            f"# Fitted by `tandem predict {transactions.name} --calibration-end {end}` "
            f"({len(fit.summary)} customers).\n# Paste under a segment of crm.segments.\n"
        )
        text = yaml.safe_dump({"purchasing": block}, sort_keys=False)
        (out / "purchasing.yaml").write_text(header + text, encoding="utf-8")
        written.append(out / "purchasing.yaml")
    console.print("wrote " + ", ".join(str(p) for p in written))
