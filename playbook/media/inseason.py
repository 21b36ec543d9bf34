"""In-season tracking: actual to date against the plan, spend pacing, and the projected landing.

Pure computations on small pandas frames (the plan's artifacts and engine-side daily aggregates),
used by the track step (:mod:`playbook.steps.track`, ``notebooks/06_track.ipynb``).

Days
    Every day is a calendar day of the campaign's time zone. The *as-of day* is inclusive; actual
    figures are counted up to the *counted day*: the as-of day, or the data's last day when the
    data ends earlier (:func:`resolve_as_of`). The forecast and target "to date" always cover the
    same days as the actual, so the comparison is like for like.
To date
    Forecast to date: the sum of the plan's daily forecast means (``forecast.parquet``, dimension
    ``total``) from the season's first day to the counted day; its interval the sum of the daily
    interval bounds (:data:`LEVEL` %). Summing bounds treats the days as moving together (a level
    error shifts them all), as the plan's targets do (:func:`playbook.planning.targets._total_sd`);
    for perfectly correlated days the sum of quantiles is the quantile of the sum, and for less
    correlated days it errs on the wide side. Target to date: the season target
    (``targets.parquet``, level ``target``, channel ``all``) times the forecast's share to date.
Projected landing
    ``actual to date + forecast of the remaining days`` (mean, and the remaining days' interval
    summed as above), and the same with the remaining forecast scaled by the *pace*, actual /
    forecast mean to date ("if the rest of the season keeps the pace to date"). The two answer
    different assumptions (the gap so far is noise, or it persists), so the verdict is judged on
    the envelope of both intervals: *ahead* when its low end is above the season target,
    *behind* when its high end is below, otherwise *on track: not distinguishable from the target*.
    After the season's last day the landing is the actual, with no interval.
Pacing
    Planned spend to date per channel from the plan's ``pacing.parquet`` (one row per day and
    channel, built by :func:`playbook.media.budget.pacing_plan_draws`), against the spend table's
    daily spend summed in the engine (:func:`playbook.media.efficiency.daily_spend`); a channel
    within :data:`PACE_TOLERANCE` of its plan to date is "on pace".

References: summing multi-step forecasts and their error across correlated horizons (SAS ESM,
"Forecast Summation"): https://support.sas.com/documentation/cdl/en/etsug/63939/HTML/default/etsug_esm_sect018.htm ;
pacing a budget by a fixed daily pattern (Meridian's flighting assumption):
https://developers.google.com/meridian/docs/post-modeling/optimization-without-reach-frequency
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.errors import ConfigError, DataError
from playbook.report.charts import empty_chart, money_formatter

#: Level (%) of the forecast interval used throughout (``lo80``/``hi80`` of ``forecast.parquet``).
LEVEL = 80
#: A channel whose spend to date is within this fraction of its plan to date is "on pace".
PACE_TOLERANCE = 0.10
#: Verdicts of the projected landing against the season target.
AHEAD, BEHIND, ON_TRACK, NO_TARGET = "ahead", "behind", "on track", "no target"
#: Columns of ``forecast.parquet`` this module needs.
FORECAST_NEEDS = ("day", "metric", "dimension", "mean", f"lo{LEVEL}", f"hi{LEVEL}")
#: Columns of ``pacing.parquet`` this module needs.
PACING_NEEDS = ("day", "channel", "spend")
#: Columns of :func:`pacing_to_date`.
PACING_COLUMNS = ["channel", "season_budget", "planned_to_date", "spent_to_date", "difference", "pace", "status"]


# --------------------------------------------------------------------------------------------
# The as-of day
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AsOf:
    """The day tracked and the days counted.

    Attributes
    ----------
    requested : date or None
        The day asked for (None: the data's last day).
    day : date
        The as-of day used: ``requested`` (or the data's last day) clamped to the season's end.
    counted_to : date
        Last day of actual counted: ``day``, or the data's last day when that comes first.
    season_start, season_end : date
        The campaign window (both inclusive).
    notes : tuple of str
        Sentences on clamping and on the data ending early (shown on the page).
    """

    requested: dt.date | None
    day: dt.date
    counted_to: dt.date
    season_start: dt.date
    season_end: dt.date
    notes: tuple[str, ...] = ()

    @property
    def days_counted(self) -> int:
        """Days of the season counted (season start to :attr:`counted_to`, inclusive)."""
        return (self.counted_to - self.season_start).days + 1

    @property
    def season_days(self) -> int:
        """Days of the season."""
        return (self.season_end - self.season_start).days + 1


def parse_as_of(value: Any) -> dt.date | None:
    """The as-of day from a parameter: a date, or text ``YYYY-MM-DD``; None/empty for "not given".

    Raises
    ------
    ConfigError
        Anything else, naming the value and the expected form.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise ConfigError(f"as_of must be a calendar day written YYYY-MM-DD (e.g. --as-of 2025-12-05), got {value!r}.")


def _d(day: dt.date) -> str:
    return f"{day:%d %b %Y}"


def check_as_of(requested: dt.date | None, season_start: dt.date, season_end: dt.date) -> None:
    """Refuse an as-of day before the season starts (nothing to track yet).

    Raises
    ------
    ConfigError
        Naming the day, the season and the fix.
    """
    if requested is not None and requested < season_start:
        raise ConfigError(
            f"The as-of day {_d(requested)} is before the season starts ({_d(season_start)} to {_d(season_end)}): "
            f"there is nothing to track yet. Give a day from {season_start} on (--as-of YYYY-MM-DD).")


def resolve_as_of(requested: dt.date | None, season_start: dt.date, season_end: dt.date,
                  data_last: dt.date | None) -> AsOf:
    """The as-of day and the counted days (module docstring, "Days").

    Parameters
    ----------
    requested : date or None
        The day asked for; None uses the data's last day (of any order).
    season_start, season_end : date
        The campaign window, both inclusive.
    data_last : date or None
        The data's last day with an order, in the campaign's time zone (None: no orders).

    Raises
    ------
    ConfigError
        ``requested`` is before the season starts (:func:`check_as_of`).
    DataError
        No orders at all, or the data ends before the season starts.
    """
    check_as_of(requested, season_start, season_end)
    if data_last is None:
        raise DataError("The orders table has no orders: there is nothing to track. Export the season's orders "
                        "so far and run again.")
    notes: list[str] = []
    day = requested if requested is not None else data_last
    if data_last < season_start:
        raise DataError(f"The data's last order is on {_d(data_last)}, before the season starts "
                        f"({_d(season_start)}): there is nothing to track yet; run again once the season's orders "
                        "are in the data.")
    if requested is None:
        notes.append(f"No as-of day given: tracking runs to the data's last day, {_d(data_last)}"
                     + (", which is after the season's end: everything is counted to the season's last day, "
                        f"{_d(season_end)}." if data_last > season_end else "."))
    elif day > season_end:
        notes.append(f"The as-of day {_d(day)} is after the season's end: everything is counted to the season's "
                     f"last day, {_d(season_end)}.")
    day = min(day, season_end)
    counted = min(day, data_last)
    if counted < day:
        notes.append(f"The data's last order is on {_d(data_last)}, before the as-of day {_d(day)}: actual is "
                     f"counted to {_d(data_last)}, and the forecast and target to date over the same days.")
    return AsOf(requested, day, counted, season_start, season_end, tuple(notes))


# --------------------------------------------------------------------------------------------
# Actual, forecast and target to date
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """A central value with its interval (same unit)."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class ToDate:
    """One metric's actual against the plan, season start to the counted day.

    ``target`` and ``season_target`` are None without a target in the plan; ``pace`` is
    actual / forecast mean to date (None when that forecast is 0).
    """

    metric: str
    actual: float
    forecast: Span
    target: float | None
    season_forecast: float
    season_target: float | None

    @property
    def pace(self) -> float | None:
        return self.actual / self.forecast.mean if self.forecast.mean > 0 else None


def _days(values: Any) -> pd.Series:
    """Naive midnight timestamps of ``values`` (any datetime-like, with or without zone)."""
    s = pd.to_datetime(pd.Series(values))
    if s.dt.tz is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize().astype("datetime64[ns]")


def forecast_total(forecast: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """The plan's daily forecast of ``metric`` in total: ``day, mean, low, high`` (:data:`LEVEL` %), by day.

    Empty when ``forecast`` is None, lacks a column of :data:`FORECAST_NEEDS` or has no such rows.
    """
    cols = ["day", "mean", "low", "high"]
    if forecast is None or not set(FORECAST_NEEDS) <= set(forecast.columns):
        return pd.DataFrame(columns=cols)
    f = forecast[(forecast["metric"] == metric) & (forecast["dimension"] == "total")]
    out = pd.DataFrame({"day": _days(f["day"]).to_numpy(), "mean": f["mean"].to_numpy(float),
                        "low": f[f"lo{LEVEL}"].to_numpy(float), "high": f[f"hi{LEVEL}"].to_numpy(float)})
    return out.groupby("day", as_index=False).sum().sort_values("day", ignore_index=True)


def season_target(targets: pd.DataFrame | None, metric: str) -> float | None:
    """The plan's season target of ``metric`` (sum of the ``target`` level, channel ``all``); None without one."""
    if targets is None or not {"metric", "channel", "level", "value"} <= set(targets.columns):
        return None
    t = targets[(targets["metric"] == metric) & (targets["channel"] == "all") & (targets["level"] == "target")]
    return float(t["value"].sum()) if len(t) else None


def covers(fc: pd.DataFrame, start: dt.date, end: dt.date) -> bool:
    """Whether the daily forecast ``fc`` (:func:`forecast_total`) has every day from ``start`` to ``end``."""
    want = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    return bool(len(fc)) and set(want) <= set(pd.DatetimeIndex(fc["day"]))


def _through(fc: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    return fc[fc["day"] <= pd.Timestamp(day)]


def _after(fc: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    return fc[fc["day"] > pd.Timestamp(day)]


def actual_to_date(daily: pd.DataFrame, metric: str, asof: AsOf) -> float:
    """Sum of ``daily[metric]`` over the season's days up to the counted day (``daily``: ``day``, metric)."""
    if daily.empty or metric not in daily.columns:
        return 0.0
    days = _days(daily["day"])
    keep = ((days >= pd.Timestamp(asof.season_start)) & (days <= pd.Timestamp(asof.counted_to))).to_numpy()
    return float(daily.loc[keep, metric].astype(float).sum())


def to_date(fc: pd.DataFrame, actual: float, metric: str, asof: AsOf, target_season: float | None) -> ToDate:
    """Actual against forecast and target to date (module docstring, "To date").

    Parameters
    ----------
    fc : DataFrame
        :func:`forecast_total` of the metric, covering the season.
    actual : float
        The metric's actual from the season's start to ``asof.counted_to``.
    target_season : float or None
        :func:`season_target`.
    """
    done = _through(fc, asof.counted_to)
    season = float(fc["mean"].sum())
    span = Span(float(done["mean"].sum()), float(done["low"].sum()), float(done["high"].sum()))
    target = target_season * span.mean / season if target_season is not None and season > 0 else None
    return ToDate(metric, actual, span, target, season, target_season)


# --------------------------------------------------------------------------------------------
# Projected landing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Landing:
    """The season's projected total of one metric (module docstring, "Projected landing").

    Attributes
    ----------
    projected : Span
        Actual to date + the remaining days' forecast (mean and interval).
    paced : Span or None
        Actual to date + the remaining forecast times the pace to date; None without a pace.
    low, high : float
        The envelope of both intervals, on which :attr:`verdict` is judged.
    verdict : str
        :data:`AHEAD`, :data:`BEHIND`, :data:`ON_TRACK` or :data:`NO_TARGET`.
    remaining_days : int
        Season days after the counted day.
    """

    metric: str
    projected: Span
    paced: Span | None
    low: float
    high: float
    target: float | None
    verdict: str
    remaining_days: int


def verdict(low: float, high: float, target: float | None) -> str:
    """:data:`AHEAD` when ``low > target``, :data:`BEHIND` when ``high < target``, else :data:`ON_TRACK`."""
    if target is None:
        return NO_TARGET
    if low > target:
        return AHEAD
    if high < target:
        return BEHIND
    return ON_TRACK


def landing(fc: pd.DataFrame, td: ToDate, asof: AsOf) -> Landing:
    """Project the season's total from the actual to date and the remaining days' forecast."""
    rest = _after(fc, asof.counted_to)
    rem = Span(float(rest["mean"].sum()), float(rest["low"].sum()), float(rest["high"].sum()))
    a = td.actual
    projected = Span(a + rem.mean, a + rem.low, a + rem.high)
    pace = td.pace
    paced = Span(a + pace * rem.mean, a + pace * rem.low, a + pace * rem.high) if pace is not None else None
    low = min(projected.low, paced.low) if paced else projected.low
    high = max(projected.high, paced.high) if paced else projected.high
    return Landing(td.metric, projected, paced, low, high, td.season_target, verdict(low, high, td.season_target),
                   len(rest))


def cumulative(fc: pd.DataFrame, daily: pd.DataFrame, metric: str, asof: AsOf,
               target_season: float | None) -> pd.DataFrame:
    """By day over the season: ``day``, ``actual`` (cumulative, NaN after the counted day), ``forecast``,
    ``low``, ``high`` (cumulative forecast and interval), ``target`` (cumulative; NaN without one)."""
    f = fc.sort_values("day", ignore_index=True)
    act = pd.Series(0.0, index=pd.DatetimeIndex(f["day"]))
    if not daily.empty and metric in daily.columns:
        d = pd.Series(daily[metric].astype(float).to_numpy(), index=pd.DatetimeIndex(_days(daily["day"])))
        act = act.add(d.groupby(level=0).sum().reindex(act.index), fill_value=0.0)
    cum_actual = act.cumsum().to_numpy(dtype=float, copy=True)
    cum_actual[f["day"].to_numpy() > np.datetime64(pd.Timestamp(asof.counted_to))] = np.nan
    mean = f["mean"].cumsum()
    share = target_season / float(f["mean"].sum()) if target_season is not None and f["mean"].sum() > 0 else np.nan
    return pd.DataFrame({"day": f["day"], "actual": cum_actual, "forecast": mean, "low": f["low"].cumsum(),
                         "high": f["high"].cumsum(), "target": mean * share})


def plot_cumulative(cum: pd.DataFrame, land: Landing | None, asof: AsOf, currency: str = "USD") -> plt.Figure:
    """Cumulative revenue: actual to the counted day, the forecast with its band, the target line,
    and the projected landing (with its envelope) on the season's last day."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    if cum.empty:
        empty_chart(ax, "No plan forecast to compare with")
        return fig
    ax.fill_between(cum["day"], cum["low"], cum["high"], alpha=0.2, label=f"forecast, {LEVEL} % interval")
    ax.plot(cum["day"], cum["forecast"], linestyle="--", label="forecast")
    if cum["target"].notna().any():
        ax.plot(cum["day"], cum["target"], color="black", linewidth=1, label="target")
    ax.plot(cum["day"], cum["actual"], linewidth=2.5, label="actual")
    if land is not None and land.remaining_days > 0:
        end = pd.Timestamp(asof.season_end)
        mid = land.projected.mean
        ax.errorbar([end], [mid], yerr=[[mid - land.low], [land.high - mid]], fmt="o", capsize=4,
                    label="projected landing")
    ax.axvline(pd.Timestamp(asof.counted_to), color="grey", linewidth=0.8)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.set_title(f"Season revenue so far, cumulative (to {asof.counted_to:%d %b})")
    ax.set_xlabel("day")
    ax.set_ylabel(f"cumulative revenue ({currency})")
    ax.legend(frameon=False, loc="upper left")
    fig.autofmt_xdate()
    return fig


# --------------------------------------------------------------------------------------------
# Pacing
# --------------------------------------------------------------------------------------------
def pace_status(pace: float | None) -> str:
    """``on pace`` within :data:`PACE_TOLERANCE` of the plan to date, else ahead or behind the plan."""
    if pace is None or not math.isfinite(pace):
        return "no plan to date"
    if pace > 1 + PACE_TOLERANCE:
        return "ahead of plan (spending faster)"
    if pace < 1 - PACE_TOLERANCE:
        return "behind plan (spending slower)"
    return "on pace"


def pacing_to_date(pacing: pd.DataFrame, spend: pd.DataFrame, asof: AsOf) -> pd.DataFrame:
    """Spend to date per channel against the plan's pacing to date.

    Parameters
    ----------
    pacing : DataFrame
        ``pacing.parquet`` (``day, channel, spend``; planned daily spend).
    spend : DataFrame
        Daily spend per channel (``day, channel, spend``) of the season's days, summed in the engine.
    asof : AsOf
        Both are counted from the season's start to ``asof.counted_to``.

    Returns
    -------
    DataFrame
        :data:`PACING_COLUMNS`: one row per planned channel (then channels with spend but no plan,
        whose planned figures are NaN): ``season_budget`` (planned season spend), ``planned_to_date``,
        ``spent_to_date``, ``difference`` (spent - planned), ``pace`` (spent / planned; NaN when
        nothing was planned), ``status`` (:func:`pace_status`).
    """
    lo, hi = pd.Timestamp(asof.season_start), pd.Timestamp(asof.counted_to)
    p = pacing.assign(day=_days(pacing["day"]).to_numpy()) if len(pacing) else pacing
    season = p.groupby("channel")["spend"].sum() if len(p) else pd.Series(dtype=float)
    planned = p[(p["day"] >= lo) & (p["day"] <= hi)].groupby("channel")["spend"].sum() if len(p) else season
    s = spend.assign(day=_days(spend["day"]).to_numpy()) if len(spend) else spend
    spent = s[(s["day"] >= lo) & (s["day"] <= hi)].groupby("channel")["spend"].sum() if len(s) else pd.Series(
        dtype=float)
    channels = list(season.index) + [c for c in spent.index if c not in season.index]
    out = pd.DataFrame({"channel": channels})
    out["season_budget"] = out["channel"].map(season).astype(float)
    out["planned_to_date"] = out["channel"].map(planned).astype(float)
    out.loc[out["season_budget"].notna() & out["planned_to_date"].isna(), "planned_to_date"] = 0.0
    out["spent_to_date"] = out["channel"].map(spent).fillna(0.0).astype(float)
    out["difference"] = out["spent_to_date"] - out["planned_to_date"]
    ratio = out["spent_to_date"] / out["planned_to_date"].where(out["planned_to_date"] > 0)
    out["pace"] = ratio.astype(float)
    out["status"] = [pace_status(v) if pd.notna(b) else "not in the plan"
                     for v, b in zip(out["pace"], out["season_budget"], strict=True)]
    return out[PACING_COLUMNS]


def plot_pacing(table: pd.DataFrame, asof: AsOf, currency: str = "USD") -> plt.Figure:
    """Horizontal bars per channel: planned spend to date against spend to date."""
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.7 * len(table) + 1.2)))
    if table.empty:
        empty_chart(ax, "No pacing plan and no spend to compare")
        return fig
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["planned_to_date"].fillna(0.0), height=0.4, label="planned to date")
    ax.barh(y + 0.2, table["spent_to_date"], height=0.4, label="spent to date")
    ax.set_yticks(y, [str(c) for c in table["channel"]])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.set_title(f"Spend to date against the plan's pacing (to {asof.counted_to:%d %b})")
    ax.set_xlabel(f"spend ({currency})")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig
