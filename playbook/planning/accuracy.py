"""Actual revenue against the plan's forecast and target: daily comparison, accuracy, gap to target.

Every scan of a raw table is an Ibis expression executed by the engine; only daily aggregates
per breakdown value come back to pandas.

Forecast
    The plan step's revenue forecast (layout in :mod:`playbook.forecasting.forecast`; the
    retrospective step loads ``forecast.parquet`` and passes its revenue rows here) when it
    covers the window; otherwise a seasonal-naive baseline computed here (each day = the same
    weekday 364 days earlier, intervals from the empirical quantiles of past year-over-year
    errors). The order-channel split (web/app/store), which the plan step does not forecast, is
    top-down: last year's share of each channel on the same weekday.
Target
    ``forecast * (1 + targets.revenue_uplift_pct / 100)`` per day and per breakdown value.
Refunds in the category breakdown
    Refunds have no order lines, so no category (:data:`UNASSIGNED_CATEGORY`), and the plan
    splits its net total over the categories alone. Its split is read here as gross: each
    category's share of ``net / (1 - r)``, and refunds expected at ``-r * gross``
    (:func:`expected_refunds`; ``r`` from :func:`refund_rate`). The parts still add up to the
    net total; the refunds line is actual minus expected refunds. (The seasonal-naive fallback
    forecasts the refunds value from last year's refunds.)
Comparable period
    The seasonal-naive baseline and the split by last year's order-channel mix need last year's
    window (364 days earlier) inside the data: :func:`no_comparable_period` says in one sentence
    when it is not (the first order comes after that window's start). Without the plan's forecast
    and without that window there is no forecast at all (:func:`actual_without_forecast`): no
    target, no accuracy, rather than a "forecast" of zeros scored against real sales.
Gap chart
    Waterfall per breakdown; axis labels carry as many decimals as the tick step needs
    (:class:`StepMoneyFormatter`), and a value whose gap is zero keeps a thin bar labelled
    ``$0`` instead of vanishing. Tick formatting: matplotlib's ``Formatter.set_locs`` /
    ``format_ticks`` (https://matplotlib.org/stable/api/ticker_api.html).
Accuracy
    MAPE over days with actual revenue > 0; MASE (Hyndman & Koehler 2006) scaled by the in-sample
    MAE of the weekly naive forecast ``y[t-7]`` over the year before the planning cutoff;
    coverage = share of days inside the 80 % / 95 % intervals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.aggregates import daily_sales
from playbook.data.warehouse import Warehouse, to_day
from playbook.errors import DataError
from playbook.forecasting.model import seasonal_naive
from playbook.report.charts import StepMoneyFormatter, empty_chart, money_formatter
from playbook.report.format import compact_money, fmt_money, fmt_pct

#: Breakdowns of the accuracy tables (``channel`` is the order channel: web/app/store).
DIMENSIONS: tuple[str, ...] = ("channel", "category", "country")
#: Label of revenue without a product category (refunds, orders without lines).
UNASSIGNED_CATEGORY = "refunds / no category"
#: Days before the planning cutoff used for the MASE scale.
MASE_HISTORY_DAYS = 365
#: Days up to the planning cutoff over which the refund rate (refunds / gross sales) is measured.
REFUND_HISTORY_DAYS = 365
#: A gap within half a cent (currency units) is on target: neither a shortfall nor a surplus.
ON_TARGET = 0.005
#: Columns of a forecast of the window (one row per day and breakdown value).
FORECAST_COLUMNS = ["day", "value", "mean", "lo80", "hi80", "lo95", "hi95"]

#: A day given as a date, an ISO string or a timestamp.
Day: TypeAlias = dt.date | str | pd.Timestamp
#: Days between a day and "the same weekday last year".
YEAR_LAG_DAYS = 364


def season_window(cfg: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the campaign window (naive midnight timestamps)."""
    return to_day(cfg.season.start), to_day(cfg.season.end)


def day_range(start: Day, end: Day) -> pd.DatetimeIndex:
    """Every day from ``start`` to ``end``, both included (naive ``datetime64[ns]``)."""
    return pd.date_range(to_day(start), to_day(end), freq="D").astype("datetime64[ns]")


def last_year_window(start: Day, end: Day, lag: int = YEAR_LAG_DAYS) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The weekday-aligned window ``lag`` days before ``start`` .. ``end`` (naive midnights)."""
    return to_day(start) - pd.Timedelta(days=lag), to_day(end) - pd.Timedelta(days=lag)


def no_comparable_period(first_day: Day | None, start: Day, end: Day, lag: int = YEAR_LAG_DAYS) -> str | None:
    """Why last year's window cannot be compared with this one, or None when the data covers it.

    Parameters
    ----------
    first_day : date or None
        First day with an order in the data (:func:`playbook.planning.history.first_sale_day`,
        computed in the engine); None when there are no orders.
    start, end : date
        The campaign window.

    Returns
    -------
    str or None
        ``"no comparable period: orders start on <date>, last year's window is <a> to <b>"`` when
        the first order comes after the start of last year's window (a window only partly
        covered would compare a few days with a whole season); None when it is covered.

    Examples
    --------
    >>> no_comparable_period("2024-12-20", "2025-11-01", "2025-12-31")
    "no comparable period: orders start on 20 Dec 2024, last year's window is 02 Nov 2024 to 01 Jan 2025"
    >>> no_comparable_period("2024-01-01", "2025-11-01", "2025-12-31") is None
    True
    """
    p0, p1 = last_year_window(start, end, lag)
    if first_day is None or pd.isna(first_day):
        return f"no comparable period: there are no orders in the data (last year's window is {p0:%d %b %Y} to {p1:%d %b %Y})"
    first = to_day(first_day)
    if first <= p0:
        return None
    return f"no comparable period: orders start on {first:%d %b %Y}, last year's window is {p0:%d %b %Y} to {p1:%d %b %Y}"


# --------------------------------------------------------------------------------------------
# Actuals and forecast
# --------------------------------------------------------------------------------------------
def actual_daily(wh: Warehouse, start: Day, end: Day, countries: Sequence[str] | None = None,
                 dimension: str | None = None) -> pd.DataFrame:
    """Net revenue per day (and ``dimension`` value) for the campaign's countries.

    Returns
    -------
    DataFrame
        ``day, value, actual`` (``value`` = ``"all"`` for the total; currency units, net of refunds).
    """
    by = ["country"] + ([dimension] if dimension and dimension != "country" else [])
    d = daily_sales(wh, start, end, by=by)
    if countries:
        d = d[d["country"].isin([c.upper() for c in countries])]
    key = dimension if dimension else None
    if key == "category":  # refunds have no order lines, so no category
        d = d.assign(category=d["category"].replace({"unknown": UNASSIGNED_CATEGORY}))
    if key is None:
        out = d.groupby("day", as_index=False)["revenue"].sum().assign(value="all")
    else:
        out = d.groupby(["day", key], as_index=False)["revenue"].sum().rename(columns={key: "value"})
    days = day_range(start, end)
    values = sorted(out["value"].unique()) if not out.empty else ["all"]
    grid = pd.MultiIndex.from_product([days, values], names=["day", "value"])
    s = out.set_index(["day", "value"])["revenue"].reindex(grid, fill_value=0.0)
    return s.rename("actual").reset_index()


def seasonal_naive_forecast(wh: Warehouse, cfg: Any, dimension: str | None = None) -> pd.DataFrame:
    """Seasonal-naive forecast of the window: the same weekday 364 days earlier, per value.

    Only history up to the planning cutoff is used for the intervals; the window itself is
    forecast from last year's weekday-aligned days.

    Returns
    -------
    DataFrame
        ``day, value, mean, lo80, hi80, lo95, hi95``.
    """
    s0, s1 = season_window(cfg)
    cut = to_day(cfg.season.planning_cutoff)
    first = min(s0 - pd.Timedelta(days=364), cut - pd.Timedelta(days=2 * 364))
    hist = actual_daily(wh, first, cut, cfg.countries, dimension)
    frames = []
    for value, g in hist.groupby("value"):
        y = g.set_index("day")["actual"]
        frames.append(seasonal_naive(y, s0, s1).assign(value=value))
    if not frames:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["day"] = pd.to_datetime(out["day"]).astype("datetime64[ns]")
    return out[FORECAST_COLUMNS]


def refund_rate(wh: Warehouse, cfg: Any) -> float:
    """Refunds as a share of gross sales over the :data:`REFUND_HISTORY_DAYS` days up to the cutoff.

    Returns
    -------
    float
        ``sum(refunds) / sum(gross sales)`` in [0, 1) over the campaign's countries, the cutoff
        day included (refunds as positive amounts); 0.0 when the period has no sales. Days
        before the first order add nothing to either sum.

    Raises
    ------
    DataError
        When refunds are at least as large as gross sales over the period (no net sales to
        speak of: the refund rows are probably mislabelled).
    """
    cut = to_day(cfg.season.planning_cutoff)
    first = cut - pd.Timedelta(days=REFUND_HISTORY_DAYS - 1)
    d = daily_sales(wh, first, cut, by=["country"])
    if cfg.countries:
        d = d[d["country"].isin([c.upper() for c in cfg.countries])]
    gross, refunds = float(d["gross_revenue"].sum()), float(d["refunds"].sum())
    if gross <= 0:
        return 0.0
    if refunds >= gross:
        raise DataError(f"Refunds ({fmt_money(refunds)}) are at least gross sales ({fmt_money(gross)}) from "
                        f"{first:%d %b %Y} to {cut:%d %b %Y}: no refund rate can be set. Check that only refund "
                        "rows in orders have negative revenue.")
    return refunds / gross


def expected_refunds(category_fc: pd.DataFrame, rate: float) -> pd.DataFrame:
    """Read the plan's net category forecast as gross and add the expected refunds line.

    Parameters
    ----------
    category_fc : DataFrame
        ``day, value, mean, lo80, hi80, lo95, hi95`` per category, summing per day to the net
        total forecast (the plan step's top-down split; currency units).
    rate : float
        Refunds / gross sales, in [0, 1) (:func:`refund_rate`).

    Returns
    -------
    DataFrame
        The same columns: every category scaled by ``1 / (1 - rate)`` (its gross forecast) plus
        one :data:`UNASSIGNED_CATEGORY` row per day with ``mean = -rate * gross`` and no interval
        (NaN). Per day the rows still sum to the net total. Unchanged when the forecast already
        has that row or ``rate`` is 0.
    """
    if rate <= 0 or category_fc.empty or category_fc["value"].isin([UNASSIGNED_CATEGORY, "unknown"]).any():
        return category_fc
    out = category_fc.copy()
    gross_factor = 1.0 / (1.0 - rate)
    for c in ("mean", "lo80", "hi80", "lo95", "hi95"):
        out[c] = out[c] * gross_factor
    net = category_fc.groupby("day", as_index=False)["mean"].sum()
    refunds = net.assign(value=UNASSIGNED_CATEGORY, mean=-rate * gross_factor * net["mean"],
                         lo80=np.nan, hi80=np.nan, lo95=np.nan, hi95=np.nan)
    return pd.concat([out, refunds[FORECAST_COLUMNS]], ignore_index=True)


def _forecast_for(fc: pd.DataFrame | None, wh: Warehouse, cfg: Any,
                  dimension: str | None) -> tuple[pd.DataFrame, str]:
    """Forecast rows for one breakdown: from the plan artifact, else seasonal naive."""
    cols = FORECAST_COLUMNS
    dim = dimension or "total"
    if fc is not None and dim in ("total", "country", "category") and (fc["dimension"] == dim).any():
        f = fc[fc["dimension"] == dim].copy()
        for c in cols:
            if c not in f.columns:
                f[c] = np.nan
        f = f[cols].reset_index(drop=True)
        if dim == "category":
            rate = refund_rate(wh, cfg)
            f = expected_refunds(f, rate)
            f.attrs["refund_rate"] = rate
        return f, "plan"
    if fc is not None and dim == "channel":
        total = fc[fc["dimension"] == "total"][cols]
        return _split_by_last_year(total, wh, cfg, "channel"), "plan total, split by last year's channel mix"
    return seasonal_naive_forecast(wh, cfg, dimension), "seasonal naive"


def _split_by_last_year(total: pd.DataFrame, wh: Warehouse, cfg: Any, dimension: str) -> pd.DataFrame:
    """Split a total forecast by last year's share of each value on the same weekday."""
    s0, s1 = season_window(cfg)
    last = actual_daily(wh, s0 - pd.Timedelta(days=364), s1 - pd.Timedelta(days=364), cfg.countries, dimension)
    last["day"] = last["day"] + pd.Timedelta(days=364)
    pos = last.assign(actual=last["actual"].clip(lower=0))
    day_sum = pos.groupby("day")["actual"].transform("sum")
    n_vals = pos.groupby("day")["value"].transform("count")
    pos["share"] = np.where(day_sum > 0, pos["actual"] / day_sum.where(day_sum > 0, 1.0), 1.0 / n_vals)
    out = pos[["day", "value", "share"]].merge(total.drop(columns="value"), on="day")
    for c in ("mean", "lo80", "hi80", "lo95", "hi95"):
        out[c] = out[c] * out["share"]
    return out.drop(columns="share")


def actual_vs_forecast(wh: Warehouse, cfg: Any, dimension: str | None = None,
                       forecast: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily and cumulative actual, forecast and target revenue in total or by a dimension.

    Parameters
    ----------
    dimension : {None, "channel", "category", "country"}
        ``None`` for the total; ``channel`` is the order channel (web/app/store).
    forecast : DataFrame, optional
        Revenue rows of the plan step's forecast (``day, dimension, value, mean, lo80, hi80,
        lo95, hi95``, as loaded by :func:`playbook.steps.retrospective.load_forecast`); without
        it the seasonal-naive baseline is used.

    Returns
    -------
    DataFrame
        ``day, value, actual, forecast, target, lo80, hi80, lo95, hi95, cum_actual,
        cum_forecast, cum_target``; ``attrs["source"]`` says where the forecast came from;
        ``attrs["refund_rate"]`` is :func:`refund_rate` when the plan's category split was
        turned into gross targets plus expected refunds (:func:`expected_refunds`).
        Interval columns are NaN only when no interval exists.
    """
    if dimension not in (None, *DIMENSIONS):
        raise ValueError(f"Unknown dimension {dimension!r}. Choose from {[None, *DIMENSIONS]}")
    s0, s1 = season_window(cfg)
    act = actual_daily(wh, s0, s1, cfg.countries, dimension)
    fc, source = _forecast_for(forecast, wh, cfg, dimension)
    rate = fc.attrs.get("refund_rate")
    fc = fc.rename(columns={"mean": "forecast"})
    fc["day"] = pd.to_datetime(fc["day"]).astype("datetime64[ns]")
    df = act.merge(fc, on=["day", "value"], how="outer")
    df["actual"] = df["actual"].fillna(0.0)
    df["forecast"] = df["forecast"].fillna(0.0)
    uplift = float(cfg.targets.revenue_uplift_pct) / 100.0
    df["target"] = df["forecast"] * (1 + uplift)
    df = df.sort_values(["value", "day"], ignore_index=True)
    for c in ("actual", "forecast", "target"):
        df[f"cum_{c}"] = df.groupby("value")[c].cumsum()
    df = df[["day", "value", "actual", "forecast", "target", "lo80", "hi80", "lo95", "hi95",
             "cum_actual", "cum_forecast", "cum_target"]]
    df.attrs["source"] = source
    if rate is not None:
        df.attrs["refund_rate"] = rate
    return df


def actual_without_forecast(wh: Warehouse, cfg: Any) -> pd.DataFrame:
    """Daily and cumulative actual revenue of the window in total, with no forecast or target.

    For a window without the plan's forecast and without last year's window in the data: the
    columns of :func:`actual_vs_forecast`, with ``forecast``, ``target``, the intervals and their
    cumulative sums NaN (undefined, not zero); ``attrs["source"] == "none"``.
    """
    s0, s1 = season_window(cfg)
    df = actual_daily(wh, s0, s1, cfg.countries)
    for c in ("forecast", "target", "lo80", "hi80", "lo95", "hi95"):
        df[c] = np.nan
    df = df.sort_values(["value", "day"], ignore_index=True)
    df["cum_actual"] = df.groupby("value")["actual"].cumsum()
    df["cum_forecast"] = df["cum_target"] = np.nan
    df.attrs["source"] = "none"
    return df[["day", "value", "actual", "forecast", "target", "lo80", "hi80", "lo95", "hi95",
               "cum_actual", "cum_forecast", "cum_target"]]


def mase_scales(wh: Warehouse, cfg: Any, dimension: str | None = None,
                data_start: Day | None = None) -> dict[str, float]:
    """MASE denominators per value: in-sample MAE of ``y[t-7]`` over the year before the cutoff.

    ``data_start`` (the first day with an order) shortens that year when the data starts later,
    so days before the data (zeros) do not shrink the scale.
    """
    cut = to_day(cfg.season.planning_cutoff)
    first = cut - pd.Timedelta(days=MASE_HISTORY_DAYS)
    if data_start is not None and not pd.isna(data_start):
        first = max(first, to_day(data_start))
    if first > cut:
        return {}
    hist = actual_daily(wh, first, cut, cfg.countries, dimension)
    out = {}
    for value, g in hist.groupby("value"):
        y = g.sort_values("day")["actual"].to_numpy(float)
        out[value] = float(np.mean(np.abs(y[7:] - y[:-7]))) if len(y) > 7 else 0.0
    return out


def accuracy_table(avf: pd.DataFrame, scales: Mapping[str, float]) -> pd.DataFrame:
    """Season totals and forecast accuracy per value of :func:`actual_vs_forecast`.

    Returns
    -------
    DataFrame
        ``value, actual, forecast, target, gap_to_target`` (actual - target),
        ``vs_forecast`` (actual / forecast - 1), ``mape``, ``mase``, ``coverage80``,
        ``coverage95``. Undefined entries (no days with sales, no intervals, no history) are
        NaN and shown as a dash.
    """
    rows = []
    for value, g in avf.groupby("value"):
        a, f = g["actual"].to_numpy(float), g["forecast"].to_numpy(float)
        pos = a > 0
        mape = float(np.mean(np.abs(a[pos] - f[pos]) / a[pos])) if pos.any() else np.nan
        scale = scales.get(value, 0.0)
        mase = float(np.mean(np.abs(a - f)) / scale) if scale > 0 and len(a) else np.nan
        cov = {}
        for lvl in ("80", "95"):
            lo, hi = g[f"lo{lvl}"].to_numpy(float), g[f"hi{lvl}"].to_numpy(float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            cov[lvl] = float(np.mean((a[ok] >= lo[ok]) & (a[ok] <= hi[ok]))) if ok.any() else np.nan
        fs = float(f.sum())
        ts = float(g["target"].to_numpy(float).sum())  # NaN without a forecast (no target), never 0
        rows.append({"value": value, "actual": float(a.sum()), "forecast": fs,
                     "target": ts, "gap_to_target": float(a.sum() - ts),
                     "vs_forecast": float(a.sum() / fs - 1) if fs > 0 else np.nan,
                     "mape": mape, "mase": mase, "coverage80": cov["80"], "coverage95": cov["95"]})
    return pd.DataFrame(rows, columns=["value", "actual", "forecast", "target", "gap_to_target", "vs_forecast",
                                       "mape", "mase", "coverage80", "coverage95"])


def plot_actual_vs_forecast(avf: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Daily (with the 80 % interval) and cumulative actual, forecast and target revenue (total)."""
    g = avf[avf["value"] == "all"] if (avf["value"] == "all").any() else avf.groupby("day", as_index=False).sum(
        numeric_only=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    if g.empty:
        for ax in (ax1, ax2):
            empty_chart(ax, "No data in the window")
        return fig
    if g["lo80"].notna().any():
        ax1.fill_between(g["day"], g["lo80"], g["hi80"], color="#999999", alpha=0.25, lw=0, label="80 % interval")
    styles = {"actual": {"color": "#1f4e79", "lw": 2}, "forecast": {"color": "#555555", "ls": "--", "lw": 1.5},
              "target": {"color": "#e76f51", "ls": ":", "lw": 1.5}}
    shown = [k for k in styles if g[k].notna().any()]  # no forecast: actual only, no line of zeros
    for k in shown:
        ax1.plot(g["day"], g[k], label=k, **styles[k])
        ax2.plot(g["day"], g[f"cum_{k}"], label=k, **styles[k])
    ax1.set_title("Daily net revenue" if len(shown) > 1 else "Daily net revenue (no forecast to compare with)")
    ax1.set_ylabel(f"net revenue per day ({currency})")
    ax2.set_title("Cumulative net revenue")
    ax2.set_ylabel(f"cumulative net revenue ({currency})")
    for ax in (ax1, ax2):
        ax.set_xlabel("day")
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def gap_waterfall_data(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Gap to target per dimension value, for the waterfall (from :func:`accuracy_table` per dimension).

    Returns
    -------
    DataFrame
        ``dimension, value, target, actual, gap`` sorted by gap within each dimension.
    """
    rows = []
    for dim, t in tables.items():
        for _, r in t.iterrows():
            rows.append({"dimension": dim, "value": r["value"], "target": r["target"], "actual": r["actual"],
                         "gap": r["actual"] - r["target"]})
    df = pd.DataFrame(rows, columns=["dimension", "value", "target", "actual", "gap"])
    return df.sort_values(["dimension", "gap"], ignore_index=True)


#: Smallest drawn height of a gap bar, as a share of the axis' height: a zero gap stays visible.
MIN_BAR_SHARE = 0.006


def _waterfall_rows(gaps: pd.DataFrame, dim: str, top: int) -> pd.DataFrame:
    """One dimension's values by absolute gap, the ones after ``top - 1`` folded into "other"."""
    g = gaps[gaps["dimension"] == dim].sort_values("gap", key=np.abs, ascending=False)
    if len(g) > top:
        rest = g.iloc[top - 1:]
        g = pd.concat([g.iloc[:top - 1], pd.DataFrame([{"value": "other", "gap": rest["gap"].sum(),
                                                         "target": rest["target"].sum(),
                                                         "actual": rest["actual"].sum()}])])
    return g


def _draw_waterfall(ax: Any, g: pd.DataFrame, dim: str, currency: str) -> None:
    """Target bar, one floating bar per value's gap (labelled; zero gaps get a thin grey bar), actual bar."""
    target, actual = float(g["target"].sum()), float(g["actual"].sum())
    labels = ["target", *[str(v) for v in g["value"]], "actual"]
    gaps = [float(x) for x in g["gap"]]
    levels = np.cumsum([target, *gaps])
    lo = min(min(levels), target, actual)
    top_ = max(max(levels), target, actual)
    bottom = max(0.0, lo - 0.15 * abs(target - lo) - 0.05 * max(target, actual))
    span = max(top_ - bottom, 1.0) * 1.08
    ax.set_ylim(bottom, bottom + span)
    min_h = MIN_BAR_SHARE * span
    bottoms, heights, colors = [0.0], [target], ["#999999"]
    for gap, level in zip(gaps, levels[:-1], strict=True):
        thin = abs(gap) < min_h  # too thin to see (a zero gap): a thin grey bar centred on the running level
        bottoms.append(level - min_h / 2 if thin else min(level, level + gap))
        heights.append(max(abs(gap), min_h))
        colors.append("#6c757d" if thin else "#2a9d8f" if gap >= 0 else "#e76f51")
    bottoms.append(0.0)
    heights.append(actual)
    colors.append("#1f4e79")
    ax.bar(range(len(labels)), heights, bottom=bottoms, color=colors)
    for i, gap in enumerate(gaps, start=1):
        text = compact_money(0.0 if abs(gap) <= ON_TARGET else gap, currency)
        ax.annotate(f"+{text}" if gap > ON_TARGET else text, (i, bottoms[i] + heights[i]), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.yaxis.set_major_formatter(StepMoneyFormatter(currency))
    ax.set_title(f"Gap to target by {dim}")
    ax.set_xlabel(dim)


def plot_gap_waterfall(gaps: pd.DataFrame, currency: str = "USD", top: int = 8,
                       empty: str = "No target to compare with") -> plt.Figure:
    """One waterfall per dimension: target, the gap of each value (labelled), actual; ``empty`` is
    the title of the chart when there is no breakdown (say why).

    Tick labels have the precision the tick step needs (:class:`StepMoneyFormatter`); a gap too
    small to see keeps a thin grey bar of :data:`MIN_BAR_SHARE` of the axis and its label ($0).
    """
    dims = list(dict.fromkeys(gaps["dimension"])) if not gaps.empty else []
    fig, axes = plt.subplots(1, max(len(dims), 1), figsize=(5 * max(len(dims), 1), 4.4), squeeze=False)
    if not dims:
        ax = axes[0, 0]
        empty_chart(ax, empty)
        return fig
    for ax, dim in zip(axes[0], dims, strict=True):
        _draw_waterfall(ax, _waterfall_rows(gaps, dim, top), dim, currency)
    axes[0, 0].set_ylabel(f"season net revenue ({currency})")
    fig.suptitle("Where the gap to target came from (green: above target, red: below, grey: on target)")
    fig.tight_layout()
    return fig


def describe_vs_target(acc_total: pd.DataFrame, gaps: pd.DataFrame, source: str, currency: str = "USD",
                       refund_rate: float | None = None) -> str:
    """Plain-language sentence on the season against forecast and target (Markdown); with
    ``refund_rate`` (:func:`refund_rate`, used for the category breakdown) it says how the refunds
    line was set, so the named shortfall or surplus reads as a miss against an expected level."""
    r = acc_total.iloc[0] if not acc_total.empty else None
    if r is not None and pd.isna(r["forecast"]):
        return (f"The season brought {fmt_money(r['actual'], currency)}. There is no forecast and so no target to "
                f"compare it with. {source}")
    if r is None or (r["actual"] == 0 and r["forecast"] == 0):
        return "No sales and no forecast for the window: nothing to compare."
    word = "above" if r["gap_to_target"] >= 0 else "below"
    text = (f"The season brought {fmt_money(r['actual'], currency)}, {fmt_money(abs(r['gap_to_target']), currency)} "
            f"**{word} target** ({fmt_money(r['target'], currency)}) and "
            f"{fmt_pct(r['vs_forecast']) if pd.notna(r['vs_forecast']) else 'n/a'} against the forecast")
    if pd.notna(r["mape"]):
        text += f" (daily MAPE {fmt_pct(r['mape'])}"
        text += f", MASE {r['mase']:.2f}" if pd.notna(r["mase"]) else ""
        text += f", {fmt_pct(r['coverage80'])} of days inside the 80 % interval" if pd.notna(r["coverage80"]) else ""
        text += ")"
    text += "."
    if not gaps.empty:
        text += " " + _gap_extremes(gaps, currency)
    if refund_rate is not None and not gaps.empty and (gaps["value"] == UNASSIGNED_CATEGORY).any():
        text += (f" By category, each category is held to its gross sales target and refunds to the expected "
                 f"{fmt_pct(refund_rate)} of gross sales (the refund rate of the {REFUND_HISTORY_DAYS} days up to "
                 f"the planning cutoff): **{UNASSIGNED_CATEGORY}** shows actual minus expected refunds.")
    return f"{text} {source}"


def _gap_extremes(gaps: pd.DataFrame, currency: str) -> str:
    """The largest shortfall and surplus; a gap within :data:`ON_TARGET` is on target (neither)."""
    g = gaps.sort_values("gap")
    worst, best = g.iloc[0], g.iloc[-1]
    w = f"{worst['dimension']} **{worst['value']}** ({fmt_money(worst['gap'], currency)})"
    b = f"{best['dimension']} **{best['value']}** ({fmt_money(best['gap'], currency)})"
    short, over, on = worst["gap"] < -ON_TARGET, best["gap"] > ON_TARGET, (g["gap"].abs() <= ON_TARGET).any()
    if short and over:
        return f"Largest shortfall: {w}; largest surplus: {b}."
    if over:
        return (f"{'No breakdown value missed' if on else 'Every breakdown value beat'} its target; the largest "
                f"surplus came from {b}.")
    if short:
        return (f"{'No breakdown value beat' if on else 'Every breakdown value missed'} its target; the largest "
                f"shortfall came from {w}.")
    return "Every breakdown value met its target."


def accuracy_by(wh: Warehouse, cfg: Any, forecast: pd.DataFrame | None, dimension: str | None = None,
                data_start: Day | None = None) -> pd.DataFrame:
    """:func:`accuracy_table` of :func:`actual_vs_forecast` for one breakdown (None = total);
    ``data_start`` as in :func:`mase_scales`."""
    avf = actual_vs_forecast(wh, cfg, forecast=forecast, dimension=dimension)
    out = accuracy_table(avf, mase_scales(wh, cfg, dimension, data_start))
    out.attrs.update({k: v for k, v in avf.attrs.items() if k in ("source", "refund_rate")})
    out.attrs.setdefault("source", "")
    return out
