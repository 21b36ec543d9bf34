"""The daily demand model, its seasonal-naive baseline, error metrics and the rolling-origin
backtest that chooses between the models.

Model
-----
Daily revenue or orders ``y`` are modelled on the log scale, ``z = log(max(y, 0) + c)`` with a
small offset ``c`` (1 for counts; 5 % of the median day for money, so that quiet days do not
dominate), as a regression on

* a linear trend (years since the start of the training data),
* weekday dummies (weekly seasonality),
* ``annual_order`` pairs of Fourier terms of period 365.25 days (annual seasonality),
* retail-event features from :func:`playbook.forecasting.calendar.event_features` (peak day, ramp before /
  after, post-promotion dip), weighted by the country mix of the series,

* user events (:mod:`playbook.forecasting.user_events`, one 0/1 column per named event),

with errors that are either independent (``"regression"``, statsmodels OLS) or AR(1)
(``"sarimax"``: statsmodels SARIMAX(1,0,0) fitted to the OLS residuals, a two-step regression
with AR errors). The former ``"ucm"`` variant (a random-walk level on the residuals) was dropped
(issue 16): its predictive variance grows linearly with the horizon, so over a year the
back-transformed mean ``exp(mu + s^2 / 2)`` exploded (MASE 59.7 on a monthly souvenir series);
the adaptive-level role is now played by statsforecast's ETS/MSTL candidates of
:mod:`playbook.forecasting.candidates`. Estimating the regression
inside the state-space likelihood gave the same coefficients here but took 10-20 s per fit
against milliseconds. :func:`choose_model` picks the one with the lowest backtest MASE. The effect of
an event on its peak day is the multiplier ``exp(coef)`` of its peak column.

Prediction intervals are the model's Gaussian intervals on the log scale, transformed back
(quantiles survive a monotone transform); the point forecast is the back-transformed mean
``exp(mu + s^2 / 2) - c``. Intervals therefore include the noise of a single day and the
uncertainty of the AR/level process, not the uncertainty of future event effects beyond the
coefficient's standard error.

Baseline and metrics
--------------------
The seasonal-naive baseline predicts each day by the same weekday a year earlier
(``y[t - 364]``; for days more than 364 days after the history, ``y[t - 364 k]`` with the
smallest ``k`` that lands in the history, the usual seasonal naive for long horizons); its intervals come from the empirical quantiles of the training errors
``y[t] - y[t - 364]``. MASE (Hyndman & Koehler 2006) divides the forecast MAE by the in-sample
MAE of the weekly naive forecast ``y[t - 7]`` on the training data, so model and baseline share
one scale and MASE(model) < MASE(baseline) means the model's MAE is lower. Coverage is the
share of actual days inside the 80 % / 95 % intervals.

Backtest
--------
:func:`backtest_folds` places one fold per past season (with the campaign's lead time) plus
rolling off-season folds; :func:`backtest` scores every model and the baseline on each fold and
:func:`choose_model` keeps the model with the lowest mean MASE. With fewer than
:data:`MIN_BACKTEST_FOLDS` folds the campaign forecast does not choose (one or two windows say
little about which model is better) and uses the regression, the default. The campaign forecast built on
this model (breakdowns, artifact, charts) is in :mod:`playbook.forecasting.forecast`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.tsa.statespace.sarimax import SARIMAX

from playbook.errors import DataError
from playbook.forecasting.calendar import event_features
from playbook.forecasting.user_events import user_event_features

#: Forecast models to choose from by backtest.
MODELS: tuple[str, ...] = ("regression", "sarimax")
#: Days between a day and "the same weekday last year".
SEASONAL_LAG = 364
#: Quantile levels of the intervals (central 80 % and 95 %).
LEVELS: tuple[float, ...] = (0.80, 0.95)
MIN_ANNUAL_DAYS = 365
MIN_MODEL_DAYS = 28
#: Backtest folds needed before the backtest may pick the model or claim a model beats the
#: baseline (issue 14: one or two windows are not evidence).
MIN_BACKTEST_FOLDS = 3
#: Safety caps of the back-transform: log-scale mean at most log(3) above the largest training
#: day, log-scale sd at most 1 (exp(mu + s^2 / 2) explodes otherwise; issue 16).
MAX_LOG_ABOVE_HISTORY = float(np.log(3.0))
MAX_LOG_SD = 1.0


# --------------------------------------------------------------------------------------------
# Design matrix


def fourier_terms(days: pd.DatetimeIndex, period: float, order: int) -> pd.DataFrame:
    """Sine/cosine pairs ``sin(2 pi k t / period)``, ``cos(...)`` for k = 1..order, t = day of
    the Unix epoch (so terms are comparable between training and forecast days)."""
    t = (days - pd.Timestamp("1970-01-01")).days.to_numpy(float)
    cols = {}
    for k in range(1, order + 1):
        cols[f"sin{k}_{period:g}"] = np.sin(2 * np.pi * k * t / period)
        cols[f"cos{k}_{period:g}"] = np.cos(2 * np.pi * k * t / period)
    return pd.DataFrame(cols, index=days)


def design_matrix(
    days: pd.DatetimeIndex,
    countries: Sequence[str],
    weights: dict[str, float] | None = None,
    annual_order: int = 4,
    origin: pd.Timestamp | None = None,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Regressors for :class:`DemandForecaster` (without the constant).

    Columns: ``trend`` (years since ``origin``), ``dow1``..``dow6`` (Tuesday..Sunday against
    Monday), Fourier terms of the year, the event features of ``countries`` (none when
    ``countries`` is empty) and ``event:<name>`` columns of the user ``events`` (a table
    ``name``, ``start``, ``end`` from :func:`playbook.forecasting.user_events.events_table`).
    """
    days = pd.DatetimeIndex(days)
    origin = days[0] if origin is None else origin
    parts = [pd.DataFrame({"trend": (days - origin).days.to_numpy(float) / 365.25}, index=days)]
    dow = days.day_of_week
    parts.append(pd.DataFrame({f"dow{k}": (dow == k).astype(float) for k in range(1, 7)}, index=days))
    if annual_order > 0:
        parts.append(fourier_terms(days, 365.25, annual_order))
    if len(countries):
        parts.append(_event_frame(days, countries, weights))
    if events is not None and not events.empty:
        parts.append(user_event_features(days, events))
    return pd.concat(parts, axis=1)


def _event_frame(days: pd.DatetimeIndex, countries: Sequence[str], weights: dict[str, float] | None) -> pd.DataFrame:
    """:func:`event_features` of ``days``, computed once per span of whole years and country mix
    (backtest folds and the final fit share it) and sliced."""
    if len(days) == 0:
        return event_features(days, countries, weights)
    key_w = tuple(sorted(weights.items())) if weights else None
    full = _event_years(int(days.min().year), int(days.max().year), tuple(countries), key_w)
    return full.reindex(days.normalize(), fill_value=0.0).set_axis(days)


@functools.lru_cache(maxsize=32)
def _event_years(first: int, last: int, countries: tuple[str, ...], weights: tuple | None) -> pd.DataFrame:
    days = pd.date_range(f"{first}-01-01", f"{last}-12-31", freq="D")
    return event_features(days, list(countries), dict(weights) if weights else None)


def _offset(y: np.ndarray, metric: str) -> float:
    if metric == "orders":
        return 1.0
    pos = y[y > 0]
    return max(1.0, 0.05 * float(np.median(pos))) if len(pos) else 1.0


# --------------------------------------------------------------------------------------------
# The estimator


@dataclass
class _Fitted:
    columns: list[str]
    result: Any  # statsmodels OLS results
    resid_model: Any  # statsmodels state-space results of the residuals, or None


class DemandForecaster:
    """Log-linear daily demand model with weekly, annual and event effects.

    Parameters
    ----------
    model : {"regression", "sarimax"}
        Error structure (see the module docstring).
    metric : {"revenue", "orders"}
        Only sets the log offset (1 for counts, 5 % of the median day for money).
    countries : sequence of str
        Countries of the series (their events are the features).
    weights : dict, optional
        Country mix ``{country: share}`` used to weight the event features.
    annual_order : int
        Fourier pairs of the annual cycle (dropped when the history is shorter than a year).
    events : DataFrame, optional
        User events ``name``, ``start``, ``end`` (see :mod:`playbook.forecasting.user_events`).

    Attributes
    ----------
    fitted_ : _Fitted
        Statsmodels results and the regressor columns used.
    offset_ : float
        Log offset ``c``.
    notes_ : list of str
        Fallbacks used and dropped features, in plain language.
    """

    def __init__(
        self,
        model: str = "sarimax",
        metric: str = "revenue",
        countries: Sequence[str] = ("US",),
        weights: dict[str, float] | None = None,
        annual_order: int = 4,
        events: pd.DataFrame | None = None,
    ) -> None:
        self.model = model
        self.metric = metric
        self.countries = countries
        self.weights = weights
        self.annual_order = annual_order
        self.events = events

    # -- fit -------------------------------------------------------------------------------
    def fit(self, y: pd.Series) -> DemandForecaster:
        """Fit to a daily series ``y`` (index: consecutive days; values >= 0)."""
        if self.model not in MODELS:
            raise ValueError(f"Unknown forecast model {self.model!r}. Choose from {list(MODELS)}")
        y = _as_daily(y)
        self.notes_: list[str] = []
        self.last_day_ = y.index[-1] if len(y) else None
        self.y_ = y
        self.offset_ = _offset(y.to_numpy(float), self.metric)
        if len(y) < MIN_MODEL_DAYS:
            self.mode_ = "empty" if len(y) == 0 else "weekday-mean"
            self.notes_.append(
                f"Only {len(y)} days of history: the forecast is the recent average by weekday, "
                "without seasonality or event effects." if len(y) else
                "No history at all: the forecast is zero; provide past orders to forecast demand.")
            return self
        self.mode_ = self.model
        order = self.annual_order if len(y) >= MIN_ANNUAL_DAYS else 0
        if order == 0 and self.annual_order > 0:
            self.notes_.append(f"Less than a year of history ({len(y)} days): no annual seasonality.")
        self.origin_ = y.index[0]
        self.order_ = order
        X = design_matrix(y.index, self.countries, self.weights, order, self.origin_, self.events)
        keep = [c for c in X.columns if X[c].abs().sum() > 0 and X[c].nunique() > 1]
        partial = _partly_seen_events(X[keep], self.countries, self.weights, self.events)
        if partial:
            self.notes_.append(f"Event feature(s) {', '.join(partial)} appear in the history only at the edge of "
                               "their window (under half their full weight): left out, their effect cannot be "
                               "estimated from it.")
        keep = [c for c in keep if c not in partial]
        self.columns_ = keep
        z = np.log(np.clip(y.to_numpy(float), 0, None) + self.offset_)
        self.z_max_ = float(z.max())
        self.fitted_ = _fit(self.model, z, X[keep])
        return self

    # -- predict ---------------------------------------------------------------------------
    def predict(self, start: dt.date | str, end: dt.date | str, levels: Iterable[float] = LEVELS) -> pd.DataFrame:
        """Daily forecast from the day after the training data to ``end``; rows from ``start``.

        Returns
        -------
        pandas.DataFrame
            ``day``, ``mean``, and ``lo{p}``/``hi{p}`` for each level (p in percent).
        """
        first = self.last_day_ + pd.Timedelta(days=1) if self.last_day_ is not None else pd.Timestamp(start)
        days = pd.date_range(min(first, pd.Timestamp(start)), pd.Timestamp(end), freq="D")
        if self.last_day_ is not None and pd.Timestamp(start) <= self.last_day_:
            raise ValueError(f"Forecast start {start} is not after the last training day {self.last_day_:%Y-%m-%d}")
        if self.mode_ in ("empty", "weekday-mean"):
            out = self._predict_flat(days, levels)
        else:
            out = self._predict_model(days, levels)
        return out[out["day"] >= pd.Timestamp(start)].reset_index(drop=True)

    def _predict_flat(self, days: pd.DatetimeIndex, levels) -> pd.DataFrame:
        out = pd.DataFrame({"day": days})
        if self.mode_ == "empty":
            for col in ["mean", *level_columns(levels)]:
                out[col] = 0.0
            return out
        y = self.y_
        by_dow = y.groupby(y.index.day_of_week).mean()
        sd = float(y.std(ddof=1)) if len(y) > 1 else 0.0
        mean = days.day_of_week.map(by_dow).to_numpy(float)
        mean = np.where(np.isnan(mean), float(y.mean()), mean)
        out["mean"] = mean
        for p in levels:
            q = stats.norm.ppf(0.5 + p / 2)
            out[f"lo{int(p * 100)}"] = np.clip(mean - q * sd, 0, None)
            out[f"hi{int(p * 100)}"] = mean + q * sd
        return out

    def _predict_model(self, days: pd.DatetimeIndex, levels) -> pd.DataFrame:
        X = design_matrix(days, self.countries, self.weights, self.order_, self.origin_, self.events)
        X = X.reindex(columns=self.columns_, fill_value=0.0)
        mu, se = _forecast(self.model, self.fitted_, X)
        if (mu > self.z_max_ + MAX_LOG_ABOVE_HISTORY).any() or (se > MAX_LOG_SD).any():
            self.notes_.append("Some forecast days were capped at 3 times the largest day of the history (log-scale "
                               "mean) and a log-scale sd of 1: the regression extrapolated beyond anything it saw.")
        mu = np.minimum(mu, self.z_max_ + MAX_LOG_ABOVE_HISTORY)
        se = np.minimum(se, MAX_LOG_SD)
        c = self.offset_
        out = pd.DataFrame({"day": days, "mean": np.clip(np.exp(mu + se**2 / 2) - c, 0, None)})
        for p in levels:
            q = stats.norm.ppf(0.5 + p / 2)
            out[f"lo{int(p * 100)}"] = np.clip(np.exp(mu - q * se) - c, 0, None)
            out[f"hi{int(p * 100)}"] = np.clip(np.exp(mu + q * se) - c, 0, None)
        return out

    # -- effects ---------------------------------------------------------------------------
    def event_effects(self) -> pd.DataFrame:
        """Estimated event effects: ``feature``, ``multiplier`` = exp(coef) with a 95 % interval
        (``lo95``, ``hi95``); for a peak column the multiplier on the peak day, for a ``_dip``
        column on each day of the dip, for a ``_ramp`` column at full ramp weight."""
        if self.mode_ in ("empty", "weekday-mean"):
            return pd.DataFrame(columns=["feature", "coef", "se", "multiplier", "lo95", "hi95"])
        params, bse = ols_params(self.model, self.fitted_)
        rows = []
        for col in self.columns_:
            if not _is_event_column(col):
                continue
            b, s = float(params[col]), float(bse[col])
            rows.append({"feature": col, "coef": b, "se": s, "multiplier": np.exp(b),
                         "lo95": np.exp(b - 1.96 * s), "hi95": np.exp(b + 1.96 * s)})
        return pd.DataFrame(rows, columns=["feature", "coef", "se", "multiplier", "lo95", "hi95"])


def _partly_seen_events(X: pd.DataFrame, countries, weights, events) -> list[str]:
    """Event columns whose largest value in the history is under half their largest value over
    the history and the following year: only the edge of the event's window (e.g. the first
    days of the Christmas run-up) was seen, so its coefficient rests on a few low-weight days and
    extrapolates wildly to the full window (issue 16: a forecast of 1e11 a day in December from
    337 days of history ending 3 December)."""
    cols = [c for c in X.columns if _is_event_column(c)]
    if not cols:
        return []
    ahead = pd.date_range(X.index[-1] + pd.Timedelta(days=1), periods=366, freq="D")
    future = design_matrix(ahead, countries, weights, 0, X.index[0], events).reindex(columns=cols, fill_value=0.0)
    seen = X[cols].abs().max()
    full = np.maximum(seen, future.abs().max())
    return [c for c in cols if seen[c] < 0.5 * full[c]]


def _is_event_column(col: str) -> bool:
    return col != "trend" and re.fullmatch(r"dow\d|(sin|cos)\d+_[\d.]+", col) is None


def level_columns(levels) -> list[str]:
    return [f"{side}{int(p * 100)}" for p in levels for side in ("lo", "hi")]


def _as_daily(y: pd.Series) -> pd.Series:
    y = y.astype(float).copy()
    y.index = pd.DatetimeIndex(y.index).normalize()
    if len(y) == 0:
        return y
    full = pd.date_range(y.index.min(), y.index.max(), freq="D")
    return y.groupby(level=0).sum().reindex(full, fill_value=0.0)


def _fit(model: str, z: np.ndarray, X: pd.DataFrame) -> _Fitted:
    """OLS on the regressors, then (``sarimax``) an AR(1) model of its residuals.

    Two-step regression with ARMA errors: estimating the ~40 regression coefficients inside the
    state-space likelihood takes 10-20 s per fit, the residual model alone milliseconds, and
    the coefficients barely differ when the residual autocorrelation is modest.
    """
    Xc = sm.add_constant(X.to_numpy(float), has_constant="add")
    ols = sm.OLS(z, Xc).fit()
    if model == "regression":
        return _Fitted(list(X.columns), ols, None)
    resid = np.asarray(ols.resid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(resid, order=(1, 0, 0), trend="n").fit(disp=False)
    return _Fitted(list(X.columns), ols, res)


def _forecast(model: str, fitted: _Fitted, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the log-scale predictive distribution."""
    ols = fitted.result
    Xc = sm.add_constant(X.to_numpy(float), has_constant="add")
    pred = ols.get_prediction(Xc).summary_frame(alpha=0.05)
    mu = pred["mean"].to_numpy()
    param_var = pred["mean_se"].to_numpy() ** 2
    if fitted.resid_model is None:
        return mu, np.sqrt(param_var + ols.scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = fitted.resid_model.get_forecast(steps=len(X))
    return mu + np.asarray(fc.predicted_mean), np.sqrt(param_var + np.asarray(fc.var_pred_mean))


def ols_params(model: str, fitted: _Fitted) -> tuple[pd.Series, pd.Series]:
    """Regression coefficients and standard errors (the OLS step), by regressor name."""
    res = fitted.result
    names = fitted.columns
    return pd.Series(np.asarray(res.params)[1:], index=names), pd.Series(np.asarray(res.bse)[1:], index=names)


# --------------------------------------------------------------------------------------------
# Baseline and metrics


def seasonal_naive(y: pd.Series, start, end, levels: Iterable[float] = LEVELS, lag: int = SEASONAL_LAG) -> pd.DataFrame:
    """Same weekday last year: ``y[t - lag]``, with empirical-quantile intervals.

    Parameters
    ----------
    y : Series
        Daily history (training data only).
    start, end : date
        Days to forecast, after the history; the first year of history must lie before them
        (``start - lag`` in ``y``). Days more than ``lag`` days after the history repeat the
        last year: ``y[t - k lag]`` with the smallest ``k`` landing in the history.

    Returns
    -------
    pandas.DataFrame
        ``day``, ``mean`` and interval columns like :meth:`DemandForecaster.predict`.
    """
    y = _as_daily(y)
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    past = days - pd.Timedelta(days=lag)
    if len(y):
        k = np.maximum(1, np.ceil((days - y.index.max()).days.to_numpy(float) / lag)).astype(int)
        past = days - pd.to_timedelta(k * lag, unit="D")
    if len(y) == 0 or past.min() < y.index.min() or past.max() > y.index.max():
        raise DataError(
            f"Seasonal-naive forecast for {days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d} needs history from "
            f"{past.min():%Y-%m-%d} to {past.max():%Y-%m-%d}; it covers "
            f"{'nothing' if len(y) == 0 else f'{y.index.min():%Y-%m-%d}..{y.index.max():%Y-%m-%d}'}."
        )
    mean = y.reindex(past).to_numpy(float)
    err = (y - y.shift(lag)).dropna().to_numpy(float)
    out = pd.DataFrame({"day": days, "mean": mean})
    for p in levels:
        lo, hi = (np.quantile(err, [0.5 - p / 2, 0.5 + p / 2]) if len(err) >= 20 else (-np.inf, np.inf))
        out[f"lo{int(p * 100)}"] = np.clip(mean + lo, 0, None)
        out[f"hi{int(p * 100)}"] = mean + hi
    return out


def mase_scale(y_train: pd.Series, m: int = 7) -> float:
    """In-sample MAE of the naive forecast ``y[t - m]`` (the MASE denominator)."""
    y = _as_daily(y_train).to_numpy(float)
    if len(y) <= m:
        raise DataError(f"MASE needs more than {m} training days; got {len(y)}.")
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006)."""
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))) / scale) if scale > 0 else float("nan")


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of ``actual`` values inside ``[lo, hi]``."""
    a = np.asarray(actual)
    return float(np.mean((a >= np.asarray(lo)) & (a <= np.asarray(hi))))


# --------------------------------------------------------------------------------------------
# Backtest


def backtest_folds(
    cutoff: dt.date | str,
    season_start: dt.date | str,
    season_end: dt.date | str,
    comparison_seasons: Sequence[tuple[str, dt.date | str, dt.date | str]],
    history_start: dt.date | str,
    rolling: int = 2,
    step_days: int = 91,
) -> pd.DataFrame:
    """Rolling-origin folds: one per past season, plus ``rolling`` off-season folds.

    A season fold keeps the campaign's lead time: origin = season start - (campaign start -
    cutoff). Off-season folds end at the cutoff and step back ``step_days``, with the campaign's
    horizon. Folds without a year of training history (the seasonal-naive baseline needs
    ``t - 364``) are left out; windows longer than a year are fine (seasonal naive then repeats
    the last year).

    Returns
    -------
    pandas.DataFrame
        ``fold``, ``origin`` (last training day), ``start``, ``end`` (evaluation window).
    """
    cut, s0, s1 = pd.Timestamp(cutoff), pd.Timestamp(season_start), pd.Timestamp(season_end)
    h0 = pd.Timestamp(history_start)
    lead = (s0 - cut).days
    horizon = (s1 - cut).days
    rows = []
    for name, a, b in comparison_seasons:
        a, b = pd.Timestamp(a), pd.Timestamp(b)
        rows.append((name, a - pd.Timedelta(days=lead), a, b))
    for k in range(1, rolling + 1):
        end = cut - pd.Timedelta(days=step_days * (k - 1))
        origin = end - pd.Timedelta(days=horizon)
        rows.append((f"rolling-{k}", origin, origin + pd.Timedelta(days=1), end))
    folds = pd.DataFrame(rows, columns=["fold", "origin", "start", "end"])
    ok = ((folds["origin"] - h0).dt.days >= MIN_ANNUAL_DAYS) & (folds["end"] <= cut)
    ok &= (folds["start"] - pd.Timedelta(days=SEASONAL_LAG)) >= h0
    return folds[ok].sort_values("origin", ignore_index=True)


def backtest(
    y: pd.Series,
    folds: pd.DataFrame,
    countries: Sequence[str],
    weights: dict[str, float] | None = None,
    metric: str = "revenue",
    models: Sequence[str] = MODELS,
    annual_order: int = 4,
) -> pd.DataFrame:
    """Rolling-origin backtest of each model and the seasonal-naive baseline.

    Returns
    -------
    pandas.DataFrame
        One row per fold and method (``method`` = a model name or ``"seasonal_naive"``):
        ``fold``, ``method``, ``mase``, ``mae``, ``bias`` (mean forecast - actual), ``cov80``,
        ``cov95``, ``actual_total``, ``forecast_total``.
    """
    y = _as_daily(y)
    rows = []
    for f in folds.itertuples(index=False):
        train = y[y.index <= f.origin]
        actual = y.reindex(pd.date_range(f.start, f.end, freq="D")).to_numpy(float)
        scale = mase_scale(train)
        preds = {"seasonal_naive": seasonal_naive(train, f.start, f.end)}
        for m in models:
            est = DemandForecaster(m, metric, countries, weights, annual_order).fit(train)
            preds[m] = est.predict(f.start, f.end)
        for method, p in preds.items():
            rows.append({"fold": f.fold, "method": method,
                         "mase": mase(actual, p["mean"], scale),
                         "mae": float(np.mean(np.abs(actual - p["mean"]))),
                         "bias": float(np.mean(p["mean"] - actual)),
                         "cov80": coverage(actual, p["lo80"], p["hi80"]),
                         "cov95": coverage(actual, p["lo95"], p["hi95"]),
                         "actual_total": float(actual.sum()), "forecast_total": float(p["mean"].sum())})
    return pd.DataFrame(rows)


def backtest_summary(bt: pd.DataFrame) -> pd.DataFrame:
    """Mean MASE, coverage and bias per method over the folds, best MASE first."""
    if bt.empty:
        return pd.DataFrame(columns=["method", "mase", "cov80", "cov95", "bias", "folds"])
    g = bt.groupby("method").agg(mase=("mase", "mean"), cov80=("cov80", "mean"), cov95=("cov95", "mean"),
                                 bias=("bias", "mean"), folds=("fold", "count"))
    return g.sort_values("mase").reset_index()


def choose_model(bt: pd.DataFrame, default: str = "sarimax", min_folds: int = 1) -> str:
    """The model (not the baseline) with the lowest mean backtest MASE.

    ``default`` when ``bt`` has fewer than ``min_folds`` distinct folds (none by default).
    """
    if bt.empty or bt["fold"].nunique() < min_folds:
        return default
    s = backtest_summary(bt)
    s = s[s["method"] != "seasonal_naive"]
    return default if s.empty else str(s.iloc[0]["method"])

