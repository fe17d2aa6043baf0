"""CRM analytics fitted from transaction histories: BG/NBD purchase prediction, Gamma-Gamma order
value and customer lifetime value, by maximum likelihood.

Conventions (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science
24(2); Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): transactions of one
customer on one day count as one purchase (amounts summed); only transactions on or before the
calibration end are used; per customer, the frequency x is the number of repeat purchases (days
with a purchase, minus one), the recency t_x the time from the first to the last purchase, T the
time from the first purchase to the calibration end, and the monetary value m_x the mean value of
the repeat purchases. Times are in weeks (default) or days. Dates are read as ISO 8601
(``2027-01-04``, optionally with a time of day); anything else is reported, not guessed.

BG/NBD likelihood of one customer (FHL 2005, eq. 6):

    L(r, α, a, b | x, t_x, T) = B(a, b+x)/B(a, b) · Γ(r+x)α^r / (Γ(r)(α+T)^{r+x})
                              + δ_{x>0} · B(a+1, b+x−1)/B(a, b) · Γ(r+x)α^r / (Γ(r)(α+t_x)^{r+x})

P(alive) (Fader, Hardie & Lee 2008, "Computing P(alive) using the BG/NBD model", eq. 1):

    P(alive | x, t_x, T) = 1 / (1 + δ_{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^{r+x})

expected purchases in the next t (FHL 2005, eq. 10):

    E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^{r+x}
                          · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive | x, t_x, T)

Gamma-Gamma likelihood of a customer with x > 0 repeat purchases of mean value m_x (Fader &
Hardie 2013, eq. 5) and the expected value of their next purchase (eq. 6):

    L(p, q, γ | m_x, x) = Γ(px+q)/(Γ(px)Γ(q)) · γ^q m_x^{px−1} x^{px} / (γ + m_x x)^{px+q}
    E[Z | m_x, x] = p(γ + m_x x) / (px + q − 1)

Customer lifetime value over a horizon of H time units: CLV = margin · E[Z] · Σ_{k=1}^{H}
(E[Y(k)] − E[Y(k−1)]) / (1 + d)^{k·u/365}, with d the annual discount rate and u the days per
time unit (FHL 2005 "RFM and CLV: using iso-value curves", JMR 42(4), discounted expected
transactions, here on a discrete grid).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special

from scenarios.errors import DataError
from scenarios.schema import TimeUnit

__all__ = [
    "PREDICTION_COLUMNS",
    "SUMMARY_COLUMNS",
    "BGNBDFit",
    "GammaGammaFit",
    "bgnbd_log_likelihood",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_transactions",
    "gamma_gamma_log_likelihood",
    "predict_customers",
    "summarize_transactions",
]

SUMMARY_COLUMNS = ("customer", "frequency", "recency", "T", "monetary_value", "first_purchase")
"""Columns of :func:`summarize_transactions` (times in the chosen time unit)."""

PREDICTION_COLUMNS = ("customer", "expected_purchases", "p_alive", "expected_value", "clv")
"""Columns of :func:`predict_customers`."""


# --------------------------------------------------------------------------------- summary
def _rows(mask: np.ndarray, values: pd.Series, limit: int = 3) -> str:
    """``row 5: 'abc', row 9: 'x'`` for the first offending rows (1 = first data row)."""
    index = np.flatnonzero(mask)[:limit]
    shown = ", ".join(f"row {i + 1}: {values.iloc[i]!r}" for i in index)
    more = f" and {int(mask.sum()) - limit} more" if mask.sum() > limit else ""
    return shown + more


def summarize_transactions(
    transactions: pd.DataFrame,
    calibration_end: dt.date | str,
    time_unit: TimeUnit | str = TimeUnit.WEEK,
    customer_col: str = "customer",
    date_col: str = "date",
    amount_col: str | None = "amount",
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer (see the module docstring).

    Raises
    ------
    DataError
        Listing every problem found: missing columns, unreadable dates or amounts, negative
        amounts, rows without a customer, no transactions in the calibration window.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer": ["a", "a", "a", "b"],
    ...                    "date": ["2027-01-01", "2027-01-01", "2027-01-15", "2027-01-08"],
    ...                    "amount": [5.0, 5.0, 20.0, 7.0]})
    >>> s = summarize_transactions(tx, "2027-01-29")
    >>> s[["customer", "frequency", "recency", "T", "monetary_value"]].values.tolist()
    [['a', 1, 2.0, 4.0, 20.0], ['b', 0, 0.0, 3.0, 0.0]]
    """
    unit = TimeUnit(time_unit)
    problems: list[str] = []
    wanted = [customer_col, date_col] + ([amount_col] if amount_col else [])
    missing = [c for c in wanted if c not in transactions.columns]
    if missing:
        found = ", ".join(map(str, transactions.columns)) or "none"
        for column in missing:
            problems.append(f"missing column '{column}' (columns found: {found})")
        raise DataError("; ".join(problems))
    try:
        end = pd.Timestamp(calibration_end).normalize()
    except (ValueError, TypeError) as exc:
        raise DataError(f"calibration end {calibration_end!r} is not a date") from exc
    if pd.isna(end):
        raise DataError(f"calibration end {calibration_end!r} is not a date")
    raw_dates = transactions[date_col]
    dates = pd.to_datetime(raw_dates.astype(str), errors="coerce", format="ISO8601")
    bad_date = dates.isna().to_numpy() | raw_dates.isna().to_numpy()
    if bad_date.any():
        problems.append(
            f"column '{date_col}': {int(bad_date.sum())} value(s) are not dates "
            f"({_rows(bad_date, raw_dates)}); use YYYY-MM-DD"
        )
    customers = transactions[customer_col]
    no_customer = customers.isna().to_numpy()
    if no_customer.any():
        problems.append(
            f"column '{customer_col}': {int(no_customer.sum())} row(s) without a "
            f"customer ({_rows(no_customer, customers)})"
        )
    amounts = pd.Series(np.ones(len(transactions)), index=transactions.index)
    if amount_col:
        raw_amount = transactions[amount_col]
        amounts = pd.to_numeric(raw_amount, errors="coerce")
        bad_amount = amounts.isna().to_numpy()
        if bad_amount.any():
            problems.append(
                f"column '{amount_col}': {int(bad_amount.sum())} value(s) are not "
                f"numbers ({_rows(bad_amount, raw_amount)})"
            )
        negative = (amounts < 0).to_numpy()
        if negative.any():
            problems.append(
                f"column '{amount_col}': {int(negative.sum())} negative amount(s) "
                f"({_rows(negative, raw_amount)})"
            )
    if problems:
        raise DataError("; ".join(problems))
    frame = pd.DataFrame(
        {
            "customer": customers.to_numpy(),
            "day": dates.dt.normalize().to_numpy(),
            "amount": amounts.to_numpy(dtype=float),
        }
    )
    inside = frame[frame["day"] <= end]
    if inside.empty:
        first = frame["day"].min()
        when = "" if pd.isna(first) else f" (the first is on {first.date()})"
        raise DataError(f"no transactions on or before the calibration end {end.date()}{when}")
    days = inside.groupby(["customer", "day"], sort=True)["amount"].sum().reset_index()
    grouped = days.groupby("customer", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped.size()
    total = grouped["amount"].sum()
    first_amount = days.drop_duplicates("customer", keep="first").set_index("customer")["amount"]
    per_unit = float(unit.days)
    frequency = (count - 1).astype(np.int64)
    repeat_total = total - first_amount.reindex(total.index)
    monetary = np.where(frequency > 0, repeat_total / frequency.where(frequency > 0, 1), 0.0)
    summary = pd.DataFrame(
        {
            "customer": count.index.to_numpy(),
            "frequency": frequency.to_numpy(),
            "recency": ((last - first).dt.days / per_unit).to_numpy(dtype=float),
            "T": ((end - first).dt.days / per_unit).to_numpy(dtype=float),
            "monetary_value": np.asarray(monetary, dtype=float),
            "first_purchase": first.dt.date.to_numpy(),
        }
    )
    summary.attrs["unit"] = {
        "recency": str(unit.value),
        "T": str(unit.value),
        "frequency": "repeat purchases",
        "monetary_value": "currency",
    }
    summary.attrs["time_unit"] = str(unit.value)
    return summary


# ---------------------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD (FHL 2005, eq. 6).

    Examples
    --------
    >>> ll = bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, np.array([2]), np.array([30.43]),
    ...                           np.array([38.86]))
    >>> round(float(ll[0]), 4)
    -9.4586
    """
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    base = special.betaln(a, b)
    head = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    stay = special.betaln(a, b + x) - base - (r + x) * np.log(alpha + T)
    repeat = x > 0
    xs = np.where(repeat, x, 1.0)
    leave = special.betaln(a + 1.0, b + xs - 1.0) - base - (r + xs) * np.log(alpha + tx)
    return head + np.where(repeat, np.logaddexp(stay, leave), stay)


@dataclass(frozen=True)
class BGNBDFit:
    """Fitted BG/NBD parameters (rates per ``time_unit``) and the log-likelihood at them."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    time_unit: str = "week"

    def p_alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, eq. 1)."""
        x = np.asarray(frequency, dtype=float)
        ratio = np.log(self.alpha + np.asarray(T, float)) - np.log(
            self.alpha + np.asarray(recency, float)
        )
        with np.errstate(over="ignore", divide="ignore"):
            odds = np.where(
                x > 0,
                self.a / np.maximum(self.b + x - 1.0, 1e-300) * np.exp((self.r + x) * ratio),
                0.0,
            )
        return 1.0 / (1.0 + odds)

    def expected_purchases(
        self, t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (FHL 2005,
        eq. 10)."""
        x = np.asarray(frequency, dtype=float)
        T = np.asarray(T, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-9:
            a = 1.0 + 1e-9
        z = t / (alpha + T + t)
        power = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        head = (a + b + x - 1.0) / (a - 1.0)
        return head * (1.0 - power * hyper) * self.p_alive(x, recency, T)

    def params(self) -> dict[str, float]:
        """``r, alpha, a, b, log_likelihood`` as plain floats."""
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
        }


def _aggregate(*columns: ArrayLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the columns and how often each occurs (the likelihood is a sum)."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def _maximize(
    negative: Callable[[np.ndarray], float], start: np.ndarray
) -> optimize.OptimizeResult:
    """Minimise a negative log-likelihood over log-parameters: L-BFGS-B, then Nelder-Mead
    from there (robust to the flat ridges these likelihoods have)."""
    first = optimize.minimize(negative, start, method="L-BFGS-B")
    polish = optimize.minimize(
        negative,
        first.x,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20000, "maxfev": 40000},
    )
    return polish if polish.fun <= first.fun else first


def fit_bgnbd(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, time_unit: str = "week"
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD parameters.

    Examples
    --------
    >>> from crm_model.purchasing import simulate_transactions
    >>> from scenarios.schema import Purchasing
    >>> tx = simulate_transactions(np.random.default_rng(3), Purchasing(r=0.5, alpha=4, a=0.8, b=3),
    ...                            2000, dt.date(2027, 1, 4), 364, acquisition_days=84)
    >>> s = summarize_transactions(tx, dt.date(2028, 1, 2), amount_col=None)
    >>> fit = fit_bgnbd(s["frequency"], s["recency"], s["T"])
    >>> 0.3 < fit.r < 0.8 and 2 < fit.alpha < 7
    True
    """
    (x, tx, big_t), weight = _aggregate(frequency, recency, T)
    if len(x) == 0:
        raise DataError("no customers to fit")

    def negative(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(np.clip(theta, -20, 20))
        ll = bgnbd_log_likelihood(r, alpha, a, b, x, tx, big_t)
        value = -float(np.dot(weight, ll))
        return value if np.isfinite(value) else 1e300

    scale = max(float(np.average(big_t, weights=weight)), 1e-3)
    start = np.log([1.0, scale, 1.0, 1.0])
    result = _maximize(negative, start)
    r, alpha, a, b = np.exp(result.x)
    return BGNBDFit(
        float(r),
        float(alpha),
        float(a),
        float(b),
        -float(result.fun),
        int(weight.sum()),
        str(time_unit),
    )


# ----------------------------------------------------------------------------- Gamma-Gamma
def gamma_gamma_log_likelihood(
    p: float, q: float, gamma: float, frequency: np.ndarray, monetary: np.ndarray
) -> np.ndarray:
    """Log-likelihood of each customer's mean repeat value (Fader & Hardie 2013, eq. 5);
    customers need frequency > 0 and monetary > 0."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters and the log-likelihood at them."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int

    def expected_value(self, frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
        """E[Z | m_x, x]: a customer's expected value per purchase (Fader & Hardie 2013,
        eq. 6); the population mean pγ/(q − 1) for customers without repeat purchases."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        if self.q <= 1.0:
            return np.full(len(x), np.inf)
        return self.p * (self.gamma + m * x) / (self.p * x + self.q - 1.0)

    def params(self) -> dict[str, float]:
        """``p, q, gamma, log_likelihood`` as plain floats."""
        return {
            "p": self.p,
            "q": self.q,
            "gamma": self.gamma,
            "log_likelihood": self.log_likelihood,
        }


def fit_gamma_gamma(frequency: ArrayLike, monetary: ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma parameters from customers with repeat purchases of
    positive value (others carry no information on spend variation)."""
    x_all = np.asarray(frequency, dtype=float)
    m_all = np.asarray(monetary, dtype=float)
    use = (x_all > 0) & (m_all > 0)
    if not use.any():
        raise DataError(
            "no customer has a repeat purchase with a positive amount: cannot fit "
            "the Gamma-Gamma spend model"
        )
    (x, m), weight = _aggregate(x_all[use], m_all[use])

    def negative(theta: np.ndarray) -> float:
        p, q, gamma = np.exp(np.clip(theta, -20, 20))
        value = -float(np.dot(weight, gamma_gamma_log_likelihood(p, q, gamma, x, m)))
        return value if np.isfinite(value) else 1e300

    mean = float(np.average(m, weights=weight))
    start = np.log([1.0, 2.0, mean])
    result = _maximize(negative, start)
    p, q, gamma = np.exp(result.x)
    return GammaGammaFit(float(p), float(q), float(gamma), -float(result.fun), int(weight.sum()))


# ---------------------------------------------------------------------------- predictions
def predict_customers(
    summary: pd.DataFrame,
    bgnbd: BGNBDFit,
    gamma_gamma: GammaGammaFit | None,
    horizon: float,
    discount_rate: float = 0.1,
    margin: float = 1.0,
) -> pd.DataFrame:
    """Per customer: expected purchases in the next ``horizon`` time units, P(alive), expected
    value per purchase (NaN without a spend model) and CLV over the horizon (see the module
    docstring). Columns :data:`PREDICTION_COLUMNS`."""
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency"].to_numpy(dtype=float)
    big_t = summary["T"].to_numpy(dtype=float)
    purchases = bgnbd.expected_purchases(horizon, x, tx, big_t)
    alive = bgnbd.p_alive(x, tx, big_t)
    if gamma_gamma is None:
        value = np.full(len(x), np.nan)
    else:
        value = gamma_gamma.expected_value(x, summary["monetary_value"].to_numpy(dtype=float))
    days = TimeUnit(bgnbd.time_unit).days
    steps = max(math.ceil(horizon), 1)
    grid = np.minimum(np.arange(steps + 1, dtype=float), horizon)
    cumulative = np.column_stack([bgnbd.expected_purchases(t, x, tx, big_t) for t in grid[1:]])
    increments = np.diff(np.column_stack([np.zeros(len(x)), cumulative]), axis=1)
    discount = (1.0 + discount_rate) ** (-grid[1:] * days / 365.0)
    clv = margin * value * (increments @ discount)
    table = pd.DataFrame(
        {
            "customer": summary["customer"].to_numpy(),
            "expected_purchases": purchases,
            "p_alive": alive,
            "expected_value": value,
            "clv": clv,
        }
    )
    table.attrs["unit"] = {
        "expected_purchases": "purchases",
        "p_alive": "probability",
        "expected_value": "currency",
        "clv": "currency",
    }
    return table


@dataclass(frozen=True)
class TransactionFit:
    """Everything :func:`fit_transactions` produces."""

    summary: pd.DataFrame
    bgnbd: BGNBDFit
    gamma_gamma: GammaGammaFit | None
    predictions: pd.DataFrame

    def params(self) -> dict[str, dict[str, float] | None]:
        """The ``params.json`` document."""
        return {
            "bgnbd": self.bgnbd.params(),
            "gamma_gamma": None if self.gamma_gamma is None else self.gamma_gamma.params(),
        }


def fit_transactions(
    transactions: pd.DataFrame,
    calibration_end: dt.date | str,
    time_unit: TimeUnit | str = TimeUnit.WEEK,
    horizon: float | None = None,
    discount_rate: float = 0.1,
    margin: float = 1.0,
    customer_col: str = "customer",
    date_col: str = "date",
    amount_col: str | None = "amount",
) -> TransactionFit:
    """Summarise, fit BG/NBD and Gamma-Gamma, and predict per customer. ``horizon`` defaults to
    one year (52 weeks or 365 days)."""
    unit = TimeUnit(time_unit)
    summary = summarize_transactions(
        transactions, calibration_end, unit, customer_col, date_col, amount_col
    )
    bgnbd = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], str(unit.value))
    gamma_gamma = None
    if amount_col:
        gamma_gamma = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    span = horizon if horizon is not None else (52.0 if unit is TimeUnit.WEEK else 365.0)
    predictions = predict_customers(summary, bgnbd, gamma_gamma, span, discount_rate, margin)
    return TransactionFit(summary, bgnbd, gamma_gamma, predictions)
