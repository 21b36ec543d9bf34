"""The candidate forecasters of :func:`playbook.forecasting.series.forecast_series`.

Each candidate maps a regular training series (daily, weekly or monthly) to a point forecast and
80/95 % (or other) model intervals for the next ``h`` periods:

* ``auto_ets``: statsforecast ``AutoETS`` (Hyndman et al. 2008 state-space ETS chosen by AICc);
  season 7 for daily data, 12 for monthly; weekly data are non-seasonal (ETS cannot hold a
  52-period season; statsforecast drops seasons over 24).
* ``auto_arima``: statsforecast ``AutoARIMA`` (Hyndman & Khandakar 2008) with the stepwise
  search and the approximate likelihood, orders p, q <= 3 and P, Q <= 1; season 7 for daily, 12
  for monthly, none for weekly (a 52-week seasonal ARIMA took ~6 s per fit here; the annual
  cycle of a weekly series is left to ``mstl`` and ``regression``).
* ``mstl``: statsforecast ``MSTL`` (Bandara, Hyndman & Bergmeir 2021) with an ``AutoETS(ZZN)``
  trend; seasons [7, 365] for daily data with two years of history, else [7]; [52] for weekly
  and [12] for monthly data with two years, else not a candidate.
* ``seasonal_naive``: statsforecast ``SeasonalNaive`` (the value one season earlier: 7 days,
  52 weeks, 12 months; the plain naive forecast while the history is shorter than a season).
* ``regression``: the project's event-aware log-linear regression. Daily: the
  :class:`playbook.forecasting.model.DemandForecaster` (weekday dummies, annual Fourier terms,
  the country's retail events, user events). Weekly and monthly: OLS of ``log(y + c)`` on a
  linear trend, annual Fourier terms (3 pairs; 1 pair for monthly data under two years; none
  under a year) and, with a country or user events, the number of event days in each period.

MSTL and AutoARIMA are fitted to ``log(y + c)`` of a non-negative series (:data:`LOG_METHODS`;
``c`` = 5 % of the median positive value) and their forecasts and interval bounds transformed
back (a monotone transform keeps quantiles; the point forecast is then the median). AutoETS
stays on the raw scale: it can choose multiplicative errors and seasons itself.

statsforecast's daily ETS and ARIMA are fitted to the last :data:`DAILY_WINDOW` days only (their
weekly season and level adapt to recent data; the full history made AutoETS 2-3 times slower for
the same forecast) and MSTL to the last three years. API: the models' ``forecast(y, h, level)``
method, https://nixtlaverse.nixtla.io/statsforecast/src/core/models.html .
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

# statsforecast imports tqdm.auto, which warns "IProgress not found" inside a notebook kernel without
# ipywidgets: a developer message that would land on the stakeholder page. No progress bar is used.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="IProgress not found")
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive

from playbook.forecasting.calendar import event_features
from playbook.forecasting.frequency import FrequencySpec, period_days
from playbook.forecasting.model import DemandForecaster, fourier_terms
from playbook.forecasting.user_events import user_event_features

#: Every candidate, in a fixed order (ties in the backtest go to the earlier one).
METHODS: tuple[str, ...] = ("regression", "auto_ets", "mstl", "auto_arima", "seasonal_naive")
#: The robust default without a backtest (fewer than 3 folds): their equal-weight mean.
DEFAULT_ENSEMBLE: tuple[str, ...] = ("auto_ets", "seasonal_naive", "regression")
#: Days of history given to statsforecast's daily AutoETS / AutoARIMA.
DAILY_WINDOW = 420
#: Daily AutoARIMA's stepwise search: at most this p and q (3 for weekly / monthly) and this many
#: models (statsforecast's default 94). Measured with benchmarks/bench_forecast.py (all origins):
#: MASE unchanged on the four daily series (pizzaplace 1.563, hyndsight 0.658, chicago 0.776,
#: sample 0.969); a 3-year daily call about 11 % faster (sample 4.3 -> 3.8 s, chicago 4.1 -> 3.7 s,
#: means of 3 interleaved calls at load 1). Not for monthly series: on drinks it moved MASE from
#: 0.907 to 1.135. (Tried and not kept: selecting AutoETS's / AutoARIMA's model once per backtest,
#: on the oldest fold, and refitting it on the later folds cut a daily call by a third but moved
#: the backtest's choice on hyndsight, MASE 0.658 -> 0.948.)
DAILY_ARIMA_ORDER = 2
DAILY_ARIMA_MODELS = 20
#: Days of history given to the daily MSTL (two years are needed for the annual season).
MSTL_WINDOW = 3 * 365
#: Fitted to ``log(y + c)`` and back-transformed (the median) when ``y >= 0``: MSTL's additive
#: decomposition and ARIMA cannot hold a seasonal swing that grows with the level (a souvenir
#: shop's December: MSTL on the raw series extrapolated the trend through the last spike, MASE 6.5).
LOG_METHODS: tuple[str, ...] = ("mstl", "auto_arima")
#: Fourier pairs of the annual cycle in the weekly/monthly regression.
ANNUAL_ORDER = 3


@dataclass
class Context:
    """Everything a candidate needs besides the series.

    ``countries`` (ISO codes) and ``weights`` (country mix, normalised by
    :func:`playbook.forecasting.calendar.event_features`) set the calendar regressors of the
    regression (none when empty); ``metric`` only sets the daily regression's log offset
    (``"orders"``: 1); ``annual_order`` is the daily regression's number of annual Fourier pairs.
    """

    spec: FrequencySpec
    countries: tuple[str, ...] = ()
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["name", "start", "end"]))
    levels: tuple[int, ...] = (80, 95)
    weights: dict[str, float] | None = None
    metric: str = "revenue"
    annual_order: int = 4


@dataclass
class Prediction:
    """Point forecast and model intervals of one candidate (arrays of length ``h``).

    ``sd`` is the model's predictive standard deviation per step on the raw scale, read from its
    widest interval (half-width / normal quantile); the conformal step rescales it.
    """

    mean: np.ndarray
    lo: dict[int, np.ndarray]
    hi: dict[int, np.ndarray]
    notes: list[str] = field(default_factory=list)

    def sd(self) -> np.ndarray:
        p = max(self.lo)
        z = stats.norm.ppf(0.5 + p / 200)
        return np.maximum((self.hi[p] - self.lo[p]) / (2 * z), 0.0)


def available(spec: FrequencySpec, n: int) -> list[str]:
    """Candidates that can be fitted to ``n`` periods of a series of this frequency."""
    out = ["regression", "auto_ets", "auto_arima", "seasonal_naive"]
    if spec.code == "D" or n >= 2 * spec.season:
        out.append("mstl")
    return [m for m in METHODS if m in out]


def predict(method: str, y: pd.Series, future: pd.DatetimeIndex, ctx: Context) -> Prediction:
    """Fit ``method`` to ``y`` and forecast the periods ``future`` (right after ``y``)."""
    if method == "regression":
        return _regression(y, future, ctx)
    if method not in METHODS:
        raise ValueError(f"Unknown candidate {method!r}. Choose from {list(METHODS)}")
    model, window = _statsforecast_model(method, ctx.spec, len(y))
    x = y.to_numpy(float)[-window:] if window else y.to_numpy(float)
    log = method in LOG_METHODS and x.min() >= 0
    c = log_offset(x) if log else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.forecast(y=np.log(x + c) if log else x, h=len(future), level=list(ctx.levels))

    def back(a) -> np.ndarray:
        a = np.asarray(a, float)
        return np.clip(np.exp(a) - c, 0, None) if log else a

    return Prediction(back(out["mean"]), {p: back(out[f"lo-{p}"]) for p in ctx.levels},
                      {p: back(out[f"hi-{p}"]) for p in ctx.levels})


def _statsforecast_model(method: str, spec: FrequencySpec, n: int):
    """The statsforecast model and the history window (periods; 0 = all) for ``method``."""
    daily = spec.code == "D"
    season = 1 if spec.code == "W" or n < 2 * spec.season else spec.season
    if method == "auto_ets":
        return AutoETS(season_length=season), DAILY_WINDOW if daily else 0
    if method == "auto_arima":
        order = DAILY_ARIMA_ORDER if daily else 3
        return AutoARIMA(season_length=season, approximation=True, stepwise=True, max_p=order, max_q=order,
                         max_P=1, max_Q=1, nmodels=DAILY_ARIMA_MODELS if daily else 94), DAILY_WINDOW if daily else 0
    if method == "mstl":
        seasons = ([7, 365] if n >= 730 else [7]) if daily else [spec.season]
        return MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")), MSTL_WINDOW if daily else 0
    m = spec.season if n > spec.season else 1
    return SeasonalNaive(season_length=m), 0


def mstl_seasons(spec: FrequencySpec, n: int) -> list[int]:
    """Seasons MSTL uses for ``n`` periods (for the notes)."""
    return ([7, 365] if n >= 730 else [7]) if spec.code == "D" else [spec.season]


# --------------------------------------------------------------------------------------------
# The event-aware log-linear regression


def _regression(y: pd.Series, future: pd.DatetimeIndex, ctx: Context) -> Prediction:
    if ctx.spec.code == "D":
        est = DemandForecaster("regression", ctx.metric, list(ctx.countries), ctx.weights, ctx.annual_order,
                               events=ctx.events).fit(y)
        fc = est.predict(future[0], future[-1], levels=[p / 100 for p in ctx.levels])
        return Prediction(fc["mean"].to_numpy(float), {p: fc[f"lo{p}"].to_numpy(float) for p in ctx.levels},
                          {p: fc[f"hi{p}"].to_numpy(float) for p in ctx.levels}, list(est.notes_))
    return _periodic_regression(y, future, ctx)


def log_offset(y: np.ndarray) -> float:
    """Offset ``c`` of ``log(y + c)``: 5 % of the median positive value, at least 1e-9."""
    pos = y[y > 0]
    return max(1e-9, 0.05 * float(np.median(pos))) if len(pos) else 1.0


def annual_order(spec: FrequencySpec, n: int) -> int:
    """Fourier pairs of the annual cycle for ``n`` periods (0 under a year)."""
    if n < spec.year:
        return 0
    return 1 if spec.code == "M" and n < 2 * spec.year else ANNUAL_ORDER


def period_design(idx: pd.DatetimeIndex, origin: pd.Timestamp, spec: FrequencySpec, order: int,
                  ctx: Context) -> pd.DataFrame:
    """Regressors of the weekly/monthly regression: trend (years), Fourier terms, event days."""
    parts = [pd.DataFrame({"trend": (idx - origin).days.to_numpy(float) / 365.25}, index=idx)]
    if order:
        parts.append(fourier_terms(idx, 365.25, order))
    ev = period_event_days(idx, spec, ctx)
    if not ev.empty:
        parts.append(ev)
    return pd.concat(parts, axis=1)


def period_event_days(idx: pd.DatetimeIndex, spec: FrequencySpec, ctx: Context) -> pd.DataFrame:
    """Number of event days per period: the country's retail-event peaks (not ramps or dips) and
    user events."""
    spans = period_days(idx, spec.code)
    days = pd.DatetimeIndex(np.concatenate([s.to_numpy() for s in spans]))
    label = np.repeat(np.arange(len(idx)), [len(s) for s in spans])
    cols = []
    if ctx.countries:
        f = event_features(days, list(ctx.countries), ctx.weights)
        cols.append(f[[c for c in f.columns if not c.endswith(("_ramp", "_dip")) and c != "gift_season"]])
    if not ctx.events.empty:
        cols.append(user_event_features(days, ctx.events))
    if not cols:
        return pd.DataFrame(index=idx)
    daily = pd.concat(cols, axis=1).reset_index(drop=True)
    return daily.groupby(label).sum().set_axis(idx)


def _independent_columns(X: pd.DataFrame) -> list[str]:
    """Columns in order, leaving out any that is a linear combination of the constant and the
    columns before it (an event in the same period every year is absorbed by the annual terms;
    keeping it made the design rank-deficient)."""
    keep: list[str] = []
    base = np.ones((len(X), 1))
    rank = 1
    for c in X.columns:
        trial = np.column_stack([base, X[c].to_numpy(float)])
        r = int(np.linalg.matrix_rank(trial))
        if r > rank:
            keep.append(c)
            base, rank = trial, r
    return keep


def _periodic_regression(y: pd.Series, future: pd.DatetimeIndex, ctx: Context) -> Prediction:
    spec = ctx.spec
    order = annual_order(spec, len(y))
    notes = [] if order else [f"Less than a year of history ({len(y)} {spec.unit}): no annual terms."]
    X = period_design(y.index, y.index[0], spec, order, ctx)
    keep = _independent_columns(X[[c for c in X.columns if X[c].nunique() > 1]])
    Xf = period_design(future, y.index[0], spec, order, ctx).reindex(columns=keep, fill_value=0.0)
    yv = y.to_numpy(float)
    c = log_offset(yv)
    z = np.log(np.clip(yv, 0, None) + c)
    res = sm.OLS(z, sm.add_constant(X[keep].to_numpy(float), has_constant="add")).fit()
    pred = res.get_prediction(sm.add_constant(Xf.to_numpy(float), has_constant="add")).summary_frame()
    mu = pred["mean"].to_numpy()
    se = np.sqrt(pred["mean_se"].to_numpy() ** 2 + res.scale)
    lo, hi = {}, {}
    for p in ctx.levels:
        q = stats.norm.ppf(0.5 + p / 200)
        lo[p] = np.clip(np.exp(mu - q * se) - c, 0, None)
        hi[p] = np.exp(mu + q * se) - c
    return Prediction(np.clip(np.exp(mu + se**2 / 2) - c, 0, None), lo, hi, notes)


def combine(preds: Sequence[Prediction], weights: Sequence[float]) -> Prediction:
    """Weighted mean of point forecasts and of interval bounds (quantile averaging)."""
    w = np.asarray(weights, float) / float(np.sum(weights))
    mean = sum(wi * p.mean for wi, p in zip(w, preds, strict=True))
    levels = list(preds[0].lo)
    lo = {q: sum(wi * p.lo[q] for wi, p in zip(w, preds, strict=True)) for q in levels}
    hi = {q: sum(wi * p.hi[q] for wi, p in zip(w, preds, strict=True)) for q in levels}
    return Prediction(np.asarray(mean), lo, hi)
