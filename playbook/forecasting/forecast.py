"""Campaign forecast: the chosen model of :mod:`playbook.forecasting.model` applied to the total,
each country and each category of the campaign window, and its charts.

Model choice and intervals (issue 16)
-------------------------------------
The season-aligned folds of :func:`playbook.forecasting.model.backtest_folds` score the
project's regression variants and seasonal naive; with at least ``MIN_BACKTEST_FOLDS`` folds the
statsforecast candidates of :data:`SF_CANDIDATES` (:mod:`playbook.forecasting.candidates`, the
same code as :func:`playbook.forecast.forecast_series`) are scored on the same folds and may be
chosen; the event effects always come from the regression. With fewer folds the regression is
used (the plan's documented default; :func:`playbook.forecast.forecast_series` uses an
equal-weight ensemble instead). The total's intervals are then recalibrated with conformal
scores from the chosen model's fold errors (:func:`calibrate_total`), whenever there is a fold;
category intervals follow the total's, country intervals stay the country models' own.

Breakdowns
----------
By **country**: the chosen model is fitted to each country's series with that country's event
features; the country forecasts are then reconciled to the total (each day's country means and
intervals scaled by ``total mean / sum of country means``, a proportional top-down
reconciliation, Athanasopoulos, Ahmed & Hyndman 2009). By **category**: top-down with
historical proportions (Gross & Sohl 1990): each category's share of the day's total in the
same weekday-aligned window of the comparison seasons (7-day centred average), applied to the
total's mean and quantiles. Category intervals therefore ignore category-specific noise and
are too narrow for small categories; that is stated in the report.

Fallbacks (stated in :attr:`playbook.forecasting.model.DemandForecaster.notes_`): less than 365 days of history -> no
annual terms (events that never occurred in the history are dropped); less than 28 days -> the
mean of the last days by weekday, flat; no history -> zeros with a note. A country without
history gets the total times its recent share.

Artifact ``forecast.parquet`` (read by the retrospective)
---------------------------------------------------------
One row per day, metric and breakdown value:

``day`` (naive datetime64, UTC day), ``metric`` (``"revenue"`` in the config currency, net of
refunds; ``"orders"`` sale orders), ``dimension`` (``"total"``, ``"country"`` or
``"category"``), ``value`` (``"all"`` for the total, else the country code / category name),
``mean``, ``lo80``, ``hi80``, ``lo95``, ``hi95`` (same unit as the metric; ``lo*``/``hi*``
are the 10/90 % and 2.5/97.5 % quantiles of the predictive distribution), ``model`` (the
model used for that series, e.g. ``"sarimax"``, ``"top-down"``, ``"fallback-share"``).
Only days of the campaign window are written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from playbook.data.aggregates import daily_sales
from playbook.forecasting import candidates as C
from playbook.forecasting import conformal
from playbook.forecasting.frequency import SPECS
from playbook.forecasting.model import (
    LEVELS,
    MIN_BACKTEST_FOLDS,
    MIN_MODEL_DAYS,
    MODELS,
    SEASONAL_LAG,
    DemandForecaster,
    backtest,
    backtest_folds,
    backtest_summary,
    choose_model,
    level_columns,
    mase,
    mase_scale,
)
from playbook.report.charts import empty_chart, money_formatter

#: Model used when the backtest cannot choose (no fold, or fewer than ``MIN_BACKTEST_FOLDS``).
DEFAULT_MODEL = "regression"

#: statsforecast candidates of :mod:`playbook.forecasting.candidates` also backtested on the campaign
#: folds when there are enough folds to choose (issue 16); the regression stays the source of the
#: event effects whichever model forecasts. AutoARIMA is left out here for time (0.9 s per daily
#: fit, x folds x metrics x countries; it ranked below AutoETS on the sample's folds).
SF_CANDIDATES: tuple[str, ...] = ("auto_ets", "mstl")

#: Columns of ``forecast.parquet`` (module docstring).
FORECAST_COLUMNS = ["day", "metric", "dimension", "value", "mean", "lo80", "hi80", "lo95", "hi95", "model"]


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
    s = daily.groupby("day")[metric].sum()
    return s[s.index <= last_day]


def fit_forecast(
    y: pd.Series, start, end, model: str, metric: str, countries: Sequence[str],
    weights: dict[str, float] | None = None, annual_order: int = 4,
) -> tuple[pd.DataFrame, DemandForecaster]:
    """Fit one series and forecast ``start``..``end`` (window rows only)."""
    est = DemandForecaster(model, metric, countries, weights, annual_order).fit(y)
    return est.predict(start, end), est


def predict_window(
    method: str, y: pd.Series, start, end, metric: str, countries: Sequence[str],
    weights: dict[str, float] | None = None, annual_order: int = 4,
) -> pd.DataFrame:
    """Forecast ``start``..``end`` from the daily history ``y`` with a project model
    (:data:`MODELS`) or a statsforecast candidate (:data:`SF_CANDIDATES`); window rows only,
    columns ``day``, ``mean`` and the interval columns of :data:`LEVELS`."""
    if method in MODELS:
        return fit_forecast(y, start, end, method, metric, countries, weights, annual_order)[0]
    days = pd.date_range(y.index[-1] + pd.Timedelta(days=1), pd.Timestamp(end), freq="D")
    ctx = C.Context(SPECS["D"], tuple(countries), levels=tuple(int(p * 100) for p in LEVELS), weights=weights,
                    metric=metric)
    p = C.predict(method, y, days, ctx)
    out = pd.DataFrame({"day": days, "mean": np.clip(p.mean, 0, None)})
    for q in LEVELS:
        k = int(q * 100)
        out[f"lo{k}"] = np.clip(np.minimum(p.lo[k], p.mean), 0, None)
        out[f"hi{k}"] = np.maximum(p.hi[k], p.mean)
    return out[out["day"] >= pd.Timestamp(start)].reset_index(drop=True)


def candidate_backtest(
    y: pd.Series, folds: pd.DataFrame, methods: Sequence[str], metric: str, countries: Sequence[str],
    weights: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Backtest rows (the layout of :func:`playbook.forecasting.model.backtest`) of the
    statsforecast candidates on the same folds."""
    rows = []
    for f in folds.itertuples(index=False):
        train = y[y.index <= f.origin]
        actual = y.reindex(pd.date_range(f.start, f.end, freq="D")).to_numpy(float)
        scale = mase_scale(train)
        for m in methods:
            p = predict_window(m, train, f.start, f.end, metric, countries, weights)
            rows.append({"fold": f.fold, "method": m, "mase": mase(actual, p["mean"], scale),
                         "mae": float(np.mean(np.abs(actual - p["mean"]))),
                         "bias": float(np.mean(p["mean"] - actual)),
                         "cov80": float(np.mean((actual >= p["lo80"]) & (actual <= p["hi80"]))),
                         "cov95": float(np.mean((actual >= p["lo95"]) & (actual <= p["hi95"]))),
                         "actual_total": float(actual.sum()), "forecast_total": float(p["mean"].sum())})
    return pd.DataFrame(rows)


def calibrate_total(
    total: pd.DataFrame, y: pd.Series, folds: pd.DataFrame, model: str, metric: str, countries: Sequence[str],
    weights: dict[str, float] | None = None, annual_order: int = 4,
) -> tuple[pd.DataFrame, int]:
    """Conformal intervals for the total (:mod:`playbook.forecasting.conformal`): the chosen
    model refitted at each fold origin, its log-ratio errors normalised by its own predictive sd
    (from the 95 % interval) and pooled; returns the recalibrated window and the number of errors
    (0: unchanged, no fold)."""
    if folds.empty or total.empty:
        return total, 0
    c = C.log_offset(y.to_numpy(float))
    z95 = 2 * 1.959964
    scores = []
    for f in folds.itertuples(index=False):
        train = y[y.index <= f.origin]
        p = predict_window(model, train, f.start, f.end, metric, countries, weights, annual_order)
        actual = y.reindex(pd.date_range(f.start, f.end, freq="D")).to_numpy(float)
        scores.append(conformal.scores(actual, p["mean"].to_numpy(), ((p["hi95"] - p["lo95"]) / z95).to_numpy(), c, True))
    s = np.concatenate(scores)
    out = total.copy()
    sd = ((total["hi95"] - total["lo95"]) / z95).to_numpy()
    for q in LEVELS:
        k = int(q * 100)
        qq, _ = conformal.quantile(s, k)
        out[f"lo{k}"], out[f"hi{k}"] = conformal.interval(total["mean"].to_numpy(), sd, qq, c, True)
    return out, len(s)


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


@dataclass
class CampaignForecast:
    """Result of :func:`forecast_campaign`."""

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    model: dict[str, str]
    effects: pd.DataFrame
    notes: list[str]
    history: pd.DataFrame
    estimators: dict[str, DemandForecaster]

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
) -> CampaignForecast:
    """Backtest, choose a model and forecast the campaign window (total, country, category).

    Only data up to ``cutoff`` is used (engine-side daily aggregates from
    :func:`playbook.data.aggregates.daily_sales`).

    Returns
    -------
    CampaignForecast
        ``forecast`` in the artifact layout of the module docstring, ``backtest`` (per fold and
        method, with a ``metric`` column), ``model`` (chosen model per metric), ``effects``
        (event effects of the total and per-country models: ``metric``, ``series``, ``feature``,
        ``multiplier``, ``lo95``, ``hi95``), ``notes`` (fallbacks), ``history`` (daily totals up
        to the cutoff: ``day``, ``revenue``, ``orders``).
    """
    # dozens of small state-space fits (matrices of a few rows): multi-threaded BLAS only adds
    # thread wake-ups; one thread cut the plan kernel's CPU by ~25 % on the sample.
    with threadpool_limits(limits=1, user_api="blas"):
        return _forecast_campaign(wh, countries, history_start, cutoff, start, end, comparison_seasons,
                                  metrics, models, rolling_folds, annual_order, breakdowns, candidates)


def _forecast_campaign(wh, countries, history_start, cutoff, start, end, comparison_seasons, metrics,
                       models, rolling_folds, annual_order, breakdowns, candidates) -> CampaignForecast:
    cut = pd.Timestamp(cutoff)
    countries = [c.upper() for c in countries]
    by_country = daily_sales(wh, history_start, cut, by=("country",))
    by_country = by_country[by_country["country"].isin(countries)]
    notes: list[str] = []
    frames, bts, effects, chosen, estimators = [], [], [], {}, {}
    hist = by_country.groupby("day", as_index=False)[["revenue", "orders"]].sum()
    for metric in metrics:
        y = _series(by_country, metric, cut)
        w = country_weights(by_country, metric, countries)
        folds = backtest_folds(cut, start, end, comparison_seasons, y.index.min() if len(y) else cut,
                               rolling=rolling_folds)
        bt = backtest(y, folds, countries, w, metric, models, annual_order) if len(folds) else pd.DataFrame()
        if len(candidates) and len(folds) >= MIN_BACKTEST_FOLDS:
            bt = pd.concat([bt, candidate_backtest(y, folds, candidates, metric, countries, w)], ignore_index=True)
        if bt.empty:
            notes.append(f"No backtest for {metric}: less than a year of history before every fold origin.")
        else:
            bts.append(bt.assign(metric=metric))
        n_folds = int(bt["fold"].nunique()) if not bt.empty else 0
        if 0 < n_folds < MIN_BACKTEST_FOLDS:
            notes.append(f"Only {n_folds} backtest fold(s) for {metric}: model choice is not backed by a backtest; "
                         f"using {DEFAULT_MODEL} (the default; at least {MIN_BACKTEST_FOLDS} folds are needed to choose).")
        model = choose_model(bt, default=DEFAULT_MODEL, min_folds=MIN_BACKTEST_FOLDS)
        chosen[metric] = model
        total, est = fit_forecast(y, start, end, model if model in MODELS else DEFAULT_MODEL, metric, countries, w,
                                  annual_order)
        if model not in MODELS:
            total = predict_window(model, y, start, end, metric, countries, w, annual_order)
        total, n_err = calibrate_total(total, y, folds, model, metric, countries, w, annual_order)
        if n_err:
            notes.append(f"{metric} (total): intervals calibrated on {n_err} backtest errors over {len(folds)} fold(s) "
                         "(conformal, normalised by the model's own width).")
        estimators[metric] = est
        notes += [f"{metric} (total): {n}" for n in est.notes_]
        effects.append(est.event_effects().assign(metric=metric, series="total"))
        frames.append(total.assign(metric=metric, dimension="total", value="all",
                                   model=est.mode_ if model in MODELS else model))
        if not breakdowns:
            continue
        parts = []
        for c in countries:
            yc = _series(by_country[by_country["country"] == c], metric, cut)
            if (yc > 0).sum() < MIN_MODEL_DAYS:
                notes.append(f"{metric}: {c} has almost no history; its forecast is its recent share of the total.")
                parts.append(_share_fallback(total, y, yc, c))
                continue
            fc, est_c = fit_forecast(yc, start, end, model if model in MODELS else DEFAULT_MODEL, metric, [c], None,
                                     annual_order)
            effects.append(est_c.event_effects().assign(metric=metric, series=c))
            if model not in MODELS:
                fc = predict_window(model, yc, start, end, metric, [c], None, annual_order)
            parts.append(fc.assign(value=c, model=est_c.mode_ if model in MODELS else model))
        rec = reconcile_to_total(pd.concat(parts, ignore_index=True), total)
        frames.append(rec.assign(metric=metric, dimension="country"))
        frames.append(_by_category(wh, history_start, cut, start, end, metric, total, comparison_seasons))
    fc = pd.concat(frames, ignore_index=True)[FORECAST_COLUMNS]
    fc = fc.sort_values(["metric", "dimension", "value", "day"], ignore_index=True)
    eff = pd.concat(effects, ignore_index=True) if effects else pd.DataFrame()
    return CampaignForecast(fc, pd.concat(bts, ignore_index=True) if bts else pd.DataFrame(),
                            chosen, eff, notes, hist, estimators)


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
    """Mean backtest MASE of the chosen model and of seasonal naive, and the model's coverage.

    Returns
    -------
    dict
        ``model`` (name), ``mase_model``, ``mase_naive``, ``cov80``, ``cov95`` (shares of actual
        days inside the intervals), ``folds`` and ``backed`` (at least ``MIN_BACKTEST_FOLDS``
        folds: only then did the backtest choose the model and may it be compared with the
        baseline); empty without a backtest.
    """
    if cf.backtest.empty:
        return {}
    s = backtest_summary(cf.backtest[cf.backtest["metric"] == metric]).set_index("method")
    m = cf.model[metric]
    return {"model": m, "mase_model": float(s.loc[m, "mase"]), "mase_naive": float(s.loc["seasonal_naive", "mase"]),
            "cov80": float(s.loc[m, "cov80"]), "cov95": float(s.loc[m, "cov95"]), "folds": int(s.loc[m, "folds"]),
            "backed": int(s.loc[m, "folds"]) >= MIN_BACKTEST_FOLDS}


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
