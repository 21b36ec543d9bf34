"""Campaign forecast: the total, each country and each category of the campaign window, by the
rules of :func:`playbook.forecast.forecast_series`, and its charts.

Model choice and intervals (issue 16)
-------------------------------------
The total of each metric goes through :func:`playbook.forecasting.series.forecast_regular`, the
code behind :func:`playbook.forecast.forecast_series`, with the campaign's own folds: the
season-aligned folds of :func:`playbook.forecasting.model.backtest_folds` (one per past season
with the campaign's lead time, plus rolling ones) become its training lengths, and the lead time
between the cutoff and the window's first day is forecast but not scored (``skip``). So the plan
follows the same rules:

* candidates :data:`CAMPAIGN_METHODS` (the event-aware regression, AutoETS, MSTL, seasonal
  naive; AutoARIMA is left out for time: 0.9 s per daily fit, x folds x metrics x countries);
* with at least :data:`playbook.forecasting.series.MIN_FOLDS` folds the backtest chooses
  (:func:`playbook.forecasting.series.selection_rule`: the single best mean MASE, a daily
  series with event regressors); with fewer, the documented robust default, the equal-weight
  mean of :data:`playbook.forecasting.candidates.DEFAULT_ENSEMBLE`, and a note saying the choice
  is not backed by a backtest;
* intervals by :func:`playbook.forecasting.series.calibrate`: conformal from the folds' errors
  with enough folds, else the model intervals widened by
  :data:`playbook.forecasting.series.WIDEN`, with a note;
* user events of the campaign file (``events:``) are regressors of the regression
  (:func:`playbook.forecasting.user_events.series_events`: an event limited to some countries
  applies to the total and to those countries' series); an event with days in the window but
  none in the history is named in a note.

The backtest table adds the same-weekday-last-year baseline (:data:`BASELINE`,
:func:`playbook.forecasting.model.seasonal_naive`, ``y[t - 364]``) on the same windows, the
reference of :func:`backtest_numbers`; the candidate ``seasonal_naive`` of a daily series is the
same weekday of the last week. The event effects shown in the plan always come from the
regression (:class:`playbook.forecasting.model.DemandForecaster`, fitted to the whole history
with the same events), whichever model forecasts.

Breakdowns
----------
By **country**: the total's members (same weights, no backtest of their own) are fitted to each
country's series with that country's event features and user events; each country's intervals
get the total's calibration (:func:`country_intervals`: the total's normalised conformal
quantile, or the widened default's, applied to the country's own predictive sd), so they follow
the total's rule while keeping the country's own noise. The countries are then reconciled to
the total: each day's country means, and their bounds with them, scaled by ``total mean / sum of
country means`` (proportional top-down reconciliation, Athanasopoulos, Ahmed & Hyndman 2009).
The country means add up to the total's; their bounds do not (a country's relative noise is
larger than the total's). Bounds that add up, the total's relative interval given to every
country, held 39 % / 58 % of the sample's country-days in its holiday-2025 window at 80 / 95 %
(the countries' own model intervals, before issue 16, 74 % / 91 %; with the total's calibration
77 % / 84 %), so they are not used.
By **category**: top-down with historical proportions (Gross & Sohl
1990): each category's share of the day's total in the same weekday-aligned window of the
comparison seasons (7-day centred average), applied to the total's mean and quantiles, with the
same caveat.

Fallbacks (stated in the notes): less than 28 days of history -> the mean of the last days by
weekday, flat (:class:`playbook.forecasting.model.DemandForecaster`); no history -> zeros with a
note; less than a year -> no annual terms, said plainly. A country without history gets the
total times its recent share.

Artifact ``forecast.parquet`` (read by the retrospective)
---------------------------------------------------------
One row per day, metric and breakdown value:

``day`` (naive datetime64, UTC day), ``metric`` (``"revenue"`` in the config currency, net of
refunds; ``"orders"`` sale orders), ``dimension`` (``"total"``, ``"country"`` or
``"category"``), ``value`` (``"all"`` for the total, else the country code / category name),
``mean``, ``lo80``, ``hi80``, ``lo95``, ``hi95`` (same unit as the metric; ``lo*``/``hi*``
are the 10/90 % and 2.5/97.5 % quantiles of the predictive distribution), ``model`` (the
model used for that series, e.g. ``"regression"``, ``"auto_ets+seasonal_naive+regression"``
for an equal-weight mean, ``"top-down"``, ``"fallback-share"``).
Only days of the campaign window are written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from playbook.data.aggregates import daily_sales
from playbook.forecasting import candidates as C
from playbook.forecasting import conformal
from playbook.forecasting import series as S
from playbook.forecasting.frequency import SPECS, future_index
from playbook.forecasting.model import (
    LEVELS,
    MIN_MODEL_DAYS,
    MODELS,
    SEASONAL_LAG,
    DemandForecaster,
    backtest_folds,
    backtest_summary,
    level_columns,
    mase,
    mase_scale,
    seasonal_naive,
)
from playbook.forecasting.user_events import series_events
from playbook.report.charts import empty_chart, money_formatter

#: Model of the fallback without enough history for the candidates (under 28 days).
DEFAULT_MODEL = "regression"

#: statsforecast candidates of :mod:`playbook.forecasting.candidates` in the campaign forecast
#: (with the regression and seasonal naive: :data:`CAMPAIGN_METHODS`).
SF_CANDIDATES: tuple[str, ...] = ("auto_ets", "mstl")
#: Candidates of the campaign total, in :data:`playbook.forecasting.candidates.METHODS` order.
CAMPAIGN_METHODS: tuple[str, ...] = tuple(m for m in C.METHODS if m in ("regression", *SF_CANDIDATES,
                                                                           "seasonal_naive"))
#: Folds needed before the backtest may choose (the rule of :mod:`playbook.forecasting.series`).
MIN_FOLDS = S.MIN_FOLDS
#: Backtest method name of the same-weekday-last-year baseline (``y[t - 364]``).
BASELINE = "last_year"
#: Notes of :func:`playbook.forecasting.series.forecast_regular` not repeated on the plan page.
_QUIET = ("Daily series of ", "MSTL seasons: ")

#: Columns of ``forecast.parquet`` (module docstring).
FORECAST_COLUMNS = ["day", "metric", "dimension", "value", "mean", "lo80", "hi80", "lo95", "hi95", "model"]
#: Interval levels in percent.
_PCT = tuple(int(round(q * 100)) for q in LEVELS)


# --------------------------------------------------------------------------------------------
# Campaign forecast (total, by country, by category)


def country_weights(by_country: pd.DataFrame, metric: str, countries: Sequence[str]) -> dict[str, float]:
    """Share of each configured country in ``metric`` over the given daily rows."""
    tot = by_country.groupby("country")[metric].sum()
    tot = tot.reindex([c.upper() for c in countries], fill_value=0.0).clip(lower=0)
    if tot.sum() <= 0:
        return {c: 1.0 / len(tot) for c in tot.index}
    return (tot / tot.sum()).to_dict()


def _series(daily: pd.DataFrame, metric: str, last_day: pd.Timestamp) -> pd.Series:
    """Daily ``metric`` up to ``last_day``; days without rows between the first and the last are 0."""
    s = daily.groupby("day")[metric].sum().astype(float)
    s = s[s.index <= last_day]
    if s.empty:
        return s
    return s.reindex(pd.date_range(s.index.min(), s.index.max(), freq="D"), fill_value=0.0)


def fit_forecast(
    y: pd.Series, start, end, model: str, metric: str, countries: Sequence[str],
    weights: dict[str, float] | None = None, annual_order: int = 4, events: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, DemandForecaster]:
    """Fit the project's daily model to one series and forecast ``start``..``end`` (window rows only)."""
    est = DemandForecaster(model, metric, countries, weights, annual_order, events=events).fit(y)
    return est.predict(start, end), est


def model_name(weights: dict[str, float]) -> str:
    """Label of a forecast's members: the method, or ``a+b+c`` for a weighted mean."""
    return "+".join(weights)


def _window_frame(p: C.Prediction, future: pd.DatetimeIndex, start) -> pd.DataFrame:
    """A prediction as window rows ``day``, ``mean``, ``lo80``..``hi95`` (bounds ordered, >= 0)."""
    out = pd.DataFrame({"day": future, "mean": np.clip(p.mean, 0, None)})
    for k in _PCT:
        out[f"lo{k}"] = np.clip(np.minimum(p.lo[k], out["mean"]), 0, None)
        out[f"hi{k}"] = np.maximum(p.hi[k], out["mean"])
    out["lo95"] = np.minimum(out["lo95"], out["lo80"])
    out["hi95"] = np.maximum(out["hi95"], out["hi80"])
    return out[out["day"] >= pd.Timestamp(start)].reset_index(drop=True)


def _fold_sizes(y: pd.Series, folds: pd.DataFrame, h: int) -> tuple[list[int], list[str]]:
    """Training lengths (days up to each fold origin) and fold names that fit ``y`` and ``h``."""
    spec = SPECS["D"]
    sizes, names = [], []
    for f in folds.itertuples(index=False):
        m = int((pd.Timestamp(f.origin) - y.index[0]).days) + 1
        if spec.min_train <= m <= len(y) - h:
            sizes.append(m)
            names.append(str(f.fold))
    return sizes, names


def _baseline_rows(y: pd.Series, sizes: list[int], names: list[str], skip: int, h: int) -> list[dict]:
    """Backtest rows of the same-weekday-last-year baseline on the scored days of each fold
    (left out for a fold without a year of history before its window)."""
    rows = []
    for m, name in zip(sizes, names, strict=True):
        train, days = y.iloc[:m], y.index[m + skip:m + h]
        if days[0] - pd.Timedelta(days=SEASONAL_LAG) < y.index[0]:
            continue
        p = seasonal_naive(train, days[0], days[-1])
        actual = y.iloc[m + skip:m + h].to_numpy(float)
        err = p["mean"].to_numpy(float) - actual
        rows.append({"fold": name, "origin": train.index[-1], "method": BASELINE,
                     "mase": mase(actual, p["mean"], mase_scale(train)), "mae": float(np.mean(np.abs(err))),
                     "bias": float(np.mean(err)), "actual_total": float(actual.sum()),
                     "forecast_total": float(p["mean"].sum()),
                     **{f"cov{k}": float(np.mean((actual >= p[f"lo{k}"]) & (actual <= p[f"hi{k}"]))) for k in _PCT}})
    return rows


@dataclass
class TotalForecast:
    """One metric's total: window rows, backtest (plan layout), members and their weights, notes."""

    window: pd.DataFrame
    backtest: pd.DataFrame
    weights: dict[str, float]
    backed: bool
    notes: list[str]
    #: Level (percent) -> normalised quantile of the total's intervals (conformal or widened).
    interval_q: dict[int, float] = field(default_factory=dict)


def forecast_total(
    y: pd.Series, cutoff, start, end, ctx: C.Context, folds: pd.DataFrame,
    methods: Sequence[str] = CAMPAIGN_METHODS,
) -> TotalForecast:
    """The campaign window's forecast of a daily total by :func:`playbook.forecasting.series.forecast_regular`.

    Parameters
    ----------
    y : Series
        Daily history up to the cutoff (consecutive days, at least 28).
    cutoff, start, end : date
        Last day of data used, first and last day of the campaign window (``start > cutoff``).
    ctx : Context
        Daily context: countries, country mix, user events, metric, levels (80, 95).
    folds : DataFrame
        :func:`playbook.forecasting.model.backtest_folds` of the campaign (``fold``, ``origin``).
    methods : sequence of str
        Candidates.

    Returns
    -------
    TotalForecast
        ``backtest`` has one row per fold and method (``fold`` named as in ``folds``; ``mase``,
        ``mae``, ``bias``, ``cov80``, ``cov95``, ``actual_total``, ``forecast_total``, ...) over
        the window's days of each fold, plus ``method="forecast"`` (the combined forecast with
        the intervals' rule) and :data:`BASELINE`.
    """
    last = y.index[-1]
    h = int((pd.Timestamp(end) - last).days)
    skip = int((pd.Timestamp(start) - last).days) - 1
    sizes, names = _fold_sizes(y, folds, h)
    out = S.forecast_regular(y, h, ctx, methods=methods, train_sizes=sizes, skip=skip)
    bt = S.backtest_table(out)
    if not bt.empty:
        bt["fold"] = [names[int(k) - 1] for k in bt["fold"]]
        bt = bt.rename(columns={f"cov_{k}": f"cov{k}" for k in _PCT})
        base = _baseline_rows(y, sizes, names, skip, h)
        bt = pd.concat([bt, pd.DataFrame(base)], ignore_index=True) if base else bt
    p = C.Prediction(out["mean"].to_numpy(float), {k: out[f"lo_{k}"].to_numpy(float) for k in _PCT},
                     {k: out[f"hi_{k}"].to_numpy(float) for k in _PCT})
    notes = [n for n in out.attrs["notes"] if not n.startswith(_QUIET)]
    return TotalForecast(_window_frame(p, pd.DatetimeIndex(out.index), start), bt, dict(out.attrs["model"]),
                         bool(out.attrs["backed"]), notes, dict(out.attrs["interval_q"]))


@dataclass
class CampaignForecast:
    """Result of :func:`forecast_campaign`.

    ``model``: metric -> the label of the forecast's members (:func:`model_name`); ``weights``:
    metric -> {member: weight}.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    model: dict[str, str]
    effects: pd.DataFrame
    notes: list[str]
    history: pd.DataFrame
    estimators: dict[str, DemandForecaster]
    weights: dict[str, dict[str, float]] = field(default_factory=dict)

    def total(self, metric: str = "revenue") -> pd.DataFrame:
        f = self.forecast
        return f[(f["metric"] == metric) & (f["dimension"] == "total")].reset_index(drop=True)


def forecast_campaign(
    wh,
    countries: Sequence[str],
    history_start: dt.date | str,
    cutoff: dt.date | str,
    start: dt.date | str,
    end: dt.date | str,
    comparison_seasons: Sequence[tuple[str, dt.date | str, dt.date | str]] = (),
    metrics: Sequence[str] = ("revenue", "orders"),
    models: Sequence[str] = MODELS,
    rolling_folds: int = 2,
    annual_order: int = 4,
    breakdowns: bool = True,
    candidates: Sequence[str] = SF_CANDIDATES,
    events: Any = None,
) -> CampaignForecast:
    """Backtest, choose the model(s) and forecast the campaign window (total, country, category).

    Only data up to ``cutoff`` is used (engine-side daily aggregates from
    :func:`playbook.data.aggregates.daily_sales`).

    Parameters
    ----------
    models, candidates : sequence of str
        Together they restrict the candidates to those of :data:`CAMPAIGN_METHODS` they name
        (``"sarimax"`` is no longer a candidate and is ignored); seasonal naive is always one.
    events : list or DataFrame, optional
        The campaign file's ``events:`` entries (``name``, ``start``, ``end``, optional
        ``countries``), regressors of the regression (module docstring).

    Returns
    -------
    CampaignForecast
        ``forecast`` in the artifact layout of the module docstring, ``backtest`` (per fold and
        method, with a ``metric`` column; :func:`forecast_total`), ``model`` (label per metric),
        ``weights`` (members per metric), ``effects`` (event effects of the total and
        per-country regressions: ``metric``, ``series``, ``feature``, ``multiplier``, ``lo95``,
        ``hi95``), ``notes``, ``history`` (daily totals up to the cutoff: ``day``, ``revenue``,
        ``orders``).
    """
    # dozens of small state-space fits (matrices of a few rows): multi-threaded BLAS only adds
    # thread wake-ups; one thread cut the plan kernel's CPU by ~25 % on the sample.
    methods = tuple(m for m in CAMPAIGN_METHODS if m in {*models, *candidates, "seasonal_naive"})
    with threadpool_limits(limits=1, user_api="blas"):
        return _forecast_campaign(wh, countries, history_start, cutoff, start, end, comparison_seasons,
                                  metrics, methods, rolling_folds, annual_order, breakdowns, events)


def _forecast_campaign(wh, countries, history_start, cutoff, start, end, comparison_seasons, metrics,
                       methods, rolling_folds, annual_order, breakdowns, events) -> CampaignForecast:
    cut = pd.Timestamp(cutoff)
    countries = [c.upper() for c in countries]
    by_country = daily_sales(wh, history_start, cut, by=("country",))
    by_country = by_country[by_country["country"].isin(countries)]
    ev_total = series_events(events, countries)
    notes: list[str] = []
    frames, bts, effects, chosen, weights, estimators = [], [], [], {}, {}, {}
    hist = by_country.groupby("day", as_index=False)[["revenue", "orders"]].sum()
    for metric in metrics:
        y = _series(by_country, metric, cut)
        w = country_weights(by_country, metric, countries)
        est = DemandForecaster(DEFAULT_MODEL, metric, countries, w, annual_order, events=ev_total).fit(y)
        estimators[metric] = est
        effects.append(est.event_effects().assign(metric=metric, series="total"))
        q: dict[int, float] = {}
        if len(y) < SPECS["D"].min_obs:
            total, tw = est.predict(start, end), {est.mode_: 1.0}
            notes += [f"{metric} (total): {n}" for n in est.notes_]
        else:
            ctx = C.Context(SPECS["D"], tuple(countries), ev_total, _PCT, w, metric, annual_order)
            folds = backtest_folds(cut, start, end, comparison_seasons, y.index[0], rolling=rolling_folds)
            tf = forecast_total(y, cut, start, end, ctx, folds, methods)
            total, tw, q = tf.window, tf.weights, tf.interval_q
            if not tf.backtest.empty:
                bts.append(tf.backtest.assign(metric=metric))
            notes += [f"{metric} (total): {n}" for n in [*tf.notes, *(f"regression: {m}" for m in est.notes_)]]
        chosen[metric], weights[metric] = model_name(tw), tw
        frames.append(total.assign(metric=metric, dimension="total", value="all", model=chosen[metric]))
        if not breakdowns:
            continue
        parts = _by_country(by_country, y, total, tw, q, metric, countries, cut, start, end, annual_order, events,
                            effects, notes)
        rec = reconcile_to_total(pd.concat(parts, ignore_index=True), total)
        frames.append(rec.assign(metric=metric, dimension="country"))
        frames.append(_by_category(wh, history_start, cut, start, end, metric, total, comparison_seasons))
    fc = pd.concat(frames, ignore_index=True)[FORECAST_COLUMNS]
    fc = fc.sort_values(["metric", "dimension", "value", "day"], ignore_index=True)
    eff = pd.concat(effects, ignore_index=True) if effects else pd.DataFrame()
    return CampaignForecast(fc, pd.concat(bts, ignore_index=True) if bts else pd.DataFrame(),
                            chosen, eff, list(dict.fromkeys(notes)), hist, estimators, weights)


def _by_country(by_country, y, total, tw, q, metric, countries, cut, start, end, annual_order, events,
                effects, notes) -> list[pd.DataFrame]:
    """Each country's window forecast by the total's members (``tw``) with the total's interval
    quantiles ``q`` (:func:`country_intervals`), before reconciliation; appends the country
    regressions' event effects to ``effects`` and fallbacks to ``notes``."""
    parts = []
    for c in countries:
        yc = _series(by_country[by_country["country"] == c], metric, cut)
        if (yc > 0).sum() < MIN_MODEL_DAYS or len(y) < SPECS["D"].min_obs:
            notes.append(f"{metric}: {c} has almost no history; its forecast is its recent share of the total.")
            parts.append(_share_fallback(total, y, yc, c))
            continue
        yc = yc.reindex(y.index, fill_value=0.0)
        ev = series_events(events, [c])
        est_c = DemandForecaster(DEFAULT_MODEL, metric, [c], None, annual_order, events=ev).fit(yc)
        effects.append(est_c.event_effects().assign(metric=metric, series=c))
        ctx = C.Context(SPECS["D"], (c,), ev, _PCT, None, metric, annual_order)
        future = future_index(y.index, "D", int((pd.Timestamp(end) - y.index[-1]).days))
        fc = _window_frame(country_intervals(S.fit_members(yc, future, tw, ctx), q, yc), future, start)
        parts.append(fc.assign(value=c, model=model_name(tw)))
    return parts


def country_intervals(p: C.Prediction, q: dict[int, float], y: pd.Series) -> C.Prediction:
    """``p`` (a country's members combined, model intervals) with the total's calibration: for each
    level the total's normalised quantile ``q`` (conformal from the total's folds, or the widened
    default) applied to the country's own predictive sd
    (:func:`playbook.forecasting.conformal.interval`, log scale with the country's log offset).
    Without ``q`` (no total forecast by the candidates) ``p`` is returned unchanged."""
    if not q:
        return p
    values = y.to_numpy(float)
    offset, log = C.log_offset(values), bool(values.min() >= 0)
    sd = p.sd()
    for k, qq in q.items():
        p.lo[k], p.hi[k] = conformal.interval(p.mean, sd, qq, offset, log)
    return p


def reconcile_to_total(parts: pd.DataFrame, total: pd.DataFrame) -> pd.DataFrame:
    """Scale each day's breakdown rows so their means add up to the total's mean.

    ``parts`` has ``day``, ``value``, ``mean`` and interval columns; the same factor is applied
    to the intervals (proportional top-down reconciliation).
    """
    cols = ["mean", *level_columns(LEVELS)]
    s = parts.groupby("day")["mean"].transform("sum")
    tot = parts["day"].map(total.set_index("day")["mean"])
    share = np.where(s > 0, parts["mean"] / s.where(s > 0, 1.0), 1.0 / parts.groupby("day")["mean"].transform("size"))
    factor = np.where(parts["mean"] > 0, tot * share / parts["mean"].where(parts["mean"] > 0, 1.0), 0.0)
    out = parts.copy()
    for c in cols:
        out[c] = parts[c] * factor
    zero = parts["mean"] <= 0
    for c in cols:
        out.loc[zero, c] = (tot * share)[zero] * (total.set_index("day")[c] / total.set_index("day")["mean"].where(
            total.set_index("day")["mean"] > 0, 1.0)).reindex(parts.loc[zero, "day"]).to_numpy()
    return out


def category_shares(
    by_category: pd.DataFrame, metric: str, start, end,
    seasons: Sequence[tuple[str, dt.date | str, dt.date | str]],
    fallback: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each category's share of the day's total, from the weekday-aligned past seasons.

    Day ``d`` of the window is matched to ``d - 364 * k`` for k = 1, 2, ... while it lies in the
    data (the comparison seasons' windows must overlap those days); shares are averaged over the
    matched years and smoothed with a centred 7-day mean. Days without history use the overall
    share in ``by_category`` (``fallback``).

    Returns
    -------
    pandas.DataFrame
        ``day``, ``value`` (category), ``share`` (sums to 1 per day).
    """
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    wide = by_category.pivot_table(index="day", columns="category", values=metric, aggfunc="sum").fillna(0.0)
    wide = wide.clip(lower=0)
    overall = wide.sum() / wide.sum().sum() if wide.to_numpy().sum() > 0 else None
    in_season = pd.Series(False, index=wide.index)
    for _, a, b in seasons:
        in_season |= (wide.index >= pd.Timestamp(a)) & (wide.index <= pd.Timestamp(b))
    mats = []
    for k in (1, 2, 3):
        past = days - pd.Timedelta(days=SEASONAL_LAG * k)
        ok = past.isin(wide.index[in_season.to_numpy()])
        if ok.any():
            m = wide.reindex(past).set_axis(days)
            m[~ok] = np.nan
            mats.append(m)
    if mats:
        stack = sum(m.fillna(0.0) for m in mats)
        shares = stack.rolling(7, center=True, min_periods=1).mean()
        shares = shares.div(shares.sum(axis=1).where(shares.sum(axis=1) > 0), axis=0)
    else:
        shares = pd.DataFrame(index=days, columns=wide.columns, dtype=float)
    if overall is not None:
        shares = shares.apply(lambda r: r if r.notna().all() else overall.reindex(r.index), axis=1)
    shares.index.name = "day"
    long = shares.reset_index().melt(id_vars="day", var_name="value", value_name="share")
    return long.dropna().sort_values(["day", "value"], ignore_index=True)


def _share_fallback(total: pd.DataFrame, y: pd.Series, yc: pd.Series, country: str) -> pd.DataFrame:
    recent_total = float(y.iloc[-56:].sum()) if len(y) else 0.0
    share = float(yc.iloc[-56:].sum()) / recent_total if recent_total > 0 and len(yc) else 0.0
    out = total.copy()
    for c in ["mean", *level_columns(LEVELS)]:
        out[c] = out[c] * share
    return out.assign(value=country, model="fallback-share")


def _by_category(wh, history_start, cut, start, end, metric, total, seasons) -> pd.DataFrame:
    by_cat = daily_sales(wh, history_start, cut, by=("category",))
    by_cat = by_cat[by_cat["category"] != "unknown"]
    shares = category_shares(by_cat, metric, start, end, seasons)
    t = total.set_index("day")
    out = shares.copy()
    for c in ["mean", *level_columns(LEVELS)]:
        out[c] = out["share"] * out["day"].map(t[c])
    return out.drop(columns="share").assign(metric=metric, dimension="category", model="top-down")



def backtest_numbers(cf: CampaignForecast, metric: str = "revenue") -> dict[str, Any]:
    """Mean backtest MASE of the forecast as shown and of the same-weekday-last-year baseline, and
    the forecast's interval coverage.

    Returns
    -------
    dict
        ``model`` (label), ``mase_model`` and ``cov80``, ``cov95`` (shares of actual days inside
        the intervals) of the ``"forecast"`` rows (the combined forecast; with conformal
        intervals their coverage is leave-one-fold-out), ``mase_naive`` (:data:`BASELINE`, NaN
        when no fold has a year of history before its window), ``folds`` and ``backed`` (at
        least :data:`playbook.forecasting.series.MIN_FOLDS` folds: only then did the backtest
        choose the model and may it be compared with the baseline); empty without a backtest.
    """
    if cf.backtest.empty or metric not in set(cf.backtest["metric"]):
        return {}
    s = backtest_summary(cf.backtest[cf.backtest["metric"] == metric]).set_index("method")
    row = s.loc["forecast"] if "forecast" in s.index else s.loc[cf.model[metric]]
    naive = float(s.loc[BASELINE, "mase"]) if BASELINE in s.index else float("nan")
    return {"model": cf.model[metric], "mase_model": float(row["mase"]), "mase_naive": naive,
            "cov80": float(row["cov80"]), "cov95": float(row["cov95"]), "folds": int(row["folds"]),
            "backed": int(row["folds"]) >= MIN_FOLDS}


# --------------------------------------------------------------------------------------------
# Charts


def plot_forecast(cf: CampaignForecast, metric: str = "revenue", currency: str = "USD", history_days: int = 75):
    """The last ``history_days`` of actuals, then the window's forecast with 80/95 % intervals."""
    f = cf.total(metric)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    if f.empty:
        empty_chart(ax, "No forecast")
        return fig
    h = cf.history.sort_values("day").tail(history_days)
    ax.plot(h["day"], h[metric], color="#555555", lw=1.2, label="actual (to the cutoff)")
    ax.fill_between(f["day"], f["lo95"], f["hi95"], color="#1f4e79", alpha=0.12, lw=0, label="95 % interval")
    ax.fill_between(f["day"], f["lo80"], f["hi80"], color="#1f4e79", alpha=0.22, lw=0, label="80 % interval")
    ax.plot(f["day"], f["mean"], color="#1f4e79", lw=1.8, label=f"forecast ({cf.model.get(metric, '')})")
    if metric == "revenue":
        ax.yaxis.set_major_formatter(money_formatter(currency))
    unit = f"net revenue per day ({currency})" if metric == "revenue" else "orders per day"
    ax.set_title(f"Daily {metric}: recent history and the campaign-window forecast")
    ax.set_xlabel("day")
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def plot_breakdown(cf: CampaignForecast, dimension: str, metric: str = "revenue", currency: str = "USD"):
    """Weekly forecast per country or category as stacked areas (weeks starting Monday)."""
    f = cf.forecast
    f = f[(f["metric"] == metric) & (f["dimension"] == dimension)]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    if f.empty:
        empty_chart(ax, f"No forecast by {dimension}")
        return fig
    week = f["day"] - pd.to_timedelta(f["day"].dt.day_of_week, unit="D")
    wide = f.assign(week=week).pivot_table(index="week", columns="value", values="mean", aggfunc="sum").fillna(0.0)
    wide = wide[wide.sum().sort_values(ascending=False).index]
    ax.stackplot(wide.index, wide.T.to_numpy(), labels=wide.columns, alpha=0.85)
    if metric == "revenue":
        ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title(f"Forecast {metric} per week by {dimension} (partial first and last weeks)")
    ax.set_xlabel("week starting")
    ax.set_ylabel(f"forecast net revenue per week ({currency})" if metric == "revenue" else "forecast orders per week")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig
