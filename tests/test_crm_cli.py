"""``tandem predict``, called as a user would: files written, parameters printed, clear errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from crm_model import DemandModel
from crm_model.purchasing import simulate_transactions
from scenarios import scenario_from_dict
from scenarios.schema import Purchasing
from tandem.cli import app
from tests.test_crm import crm_dict

runner = CliRunner()


@pytest.fixture(scope="module")
def transactions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    truth = Purchasing(r=0.5, alpha=4.0, a=0.8, b=3.0, spend={"p": 6.0, "q": 4.0, "gamma": 15.0})
    tx = simulate_transactions(
        np.random.default_rng(5), truth, 1500, dt.date(2027, 1, 4), 364, acquisition_days=84
    )
    tx = tx.rename(columns={"customer": "client", "date": "day", "amount": "value"})
    tx["client"] = "C" + tx["client"].astype(str)
    path = tmp_path_factory.mktemp("tx") / "transactions.csv"
    tx.to_csv(path, index=False)
    return path


def test_predict_writes_params_and_predictions(transactions: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "predict",
            str(transactions),
            "--calibration-end",
            "2028-01-02",
            "--out",
            str(tmp_path),
            "--customer-col",
            "client",
            "--date-col",
            "day",
            "--amount-col",
            "value",
            "--emit-scenario",
        ],
    )
    assert result.exit_code == 0, result.output
    params = json.loads((tmp_path / "params.json").read_text())
    assert set(params) == {"bgnbd", "gamma_gamma"}
    assert set(params["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(params["gamma_gamma"]) == {"p", "q", "gamma", "log_likelihood"}
    assert params["bgnbd"]["r"] == pytest.approx(0.5, rel=0.3)
    for name in ("r", "alpha", "a", "b", "p", "q", "gamma", "log_likelihood"):
        assert name in result.output
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert list(predictions.columns) == [
        "customer",
        "expected_purchases",
        "p_alive",
        "expected_value",
        "clv",
    ]
    assert len(predictions) == 1500 and predictions["customer"].str.startswith("C").all()
    # the emitted block is a valid purchasing model that drives a scenario
    block = yaml.safe_load((tmp_path / "purchasing.yaml").read_text())["purchasing"]
    assert block["r"] == pytest.approx(params["bgnbd"]["r"], rel=1e-5)
    assert block["time_unit"] == "week" and set(block["spend"]) == {"p", "q", "gamma"}
    data = crm_dict(28, shops={"customers": 100, "purchasing": block})
    table = DemandModel(scenario_from_dict(data)).expected()
    assert table["orders"].sum() > 0


def test_predict_in_days(transactions: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "predict",
            str(transactions),
            "--calibration-end",
            "2028-01-02",
            "--out",
            str(tmp_path),
            "--customer-col",
            "client",
            "--date-col",
            "day",
            "--amount-col",
            "value",
            "--time-unit",
            "day",
            "--horizon",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    weekly_alpha = 4.0
    params = json.loads((tmp_path / "params.json").read_text())
    assert params["bgnbd"]["alpha"] == pytest.approx(7 * weekly_alpha, rel=0.3)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        ([{"customer": "a", "date": "2027-01-04"}], [], "missing column 'amount'"),
        (
            [{"customer": "a", "date": "4th of July", "amount": 3}],
            [],
            "column 'date': 1 value(s) are not dates (row 1: '4th of July'); use YYYY-MM-DD",
        ),
        (
            [{"customer": "a", "date": "2027-01-04", "amount": -3}],
            [],
            "column 'amount': 1 negative amount(s) (row 1: '-3')",
        ),
        (
            [{"customer": "a", "date": "2027-03-04", "amount": 3}],
            [],
            "no transactions on or before the calibration end 2027-02-01 "
            "(the first is on 2027-03-04)",
        ),
        (
            [{"customer": "a", "date": "2027-01-04", "amount": 3}],
            ["--customer-col", "client"],
            "missing column 'client'",
        ),
    ],
)
def test_predict_bad_files_exit_2_without_traceback(
    tmp_path: Path, rows: list[dict[str, object]], options: list[str], message: str
) -> None:
    path = _write(tmp_path / "tx.csv", rows)
    result = runner.invoke(
        app,
        [
            "predict",
            str(path),
            "--calibration-end",
            "2027-02-01",
            "--out",
            str(tmp_path / "out"),
            *options,
        ],
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "params.json").exists()


def test_predict_bad_calibration_date_and_missing_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "tx.csv", [{"customer": "a", "date": "2027-01-04", "amount": 3}])
    result = runner.invoke(app, ["predict", str(path), "--calibration-end", "soon"])
    assert result.exit_code == 2
    assert "--calibration-end 'soon' is not a date" in " ".join(result.output.split())
    result = runner.invoke(
        app, ["predict", str(tmp_path / "nope.csv"), "--calibration-end", "2027-02-01"]
    )
    assert result.exit_code == 2 and "no such file" in " ".join(result.output.split())
