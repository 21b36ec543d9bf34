"""Sales history: weekly series with past seasons marked, and a campaign window against last year.

First sections of the plan step (weekly history) and the retrospective step (this window against
the same window a year earlier). All scans of raw tables run in the engine (Ibis); only daily or
window-level aggregates reach pandas. Days are calendar days of the campaign's time zone
(``wh.day_zone``; :mod:`playbook.data.warehouse`, "Days"): a window runs from local midnight to
local midnight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.aggregates import daily_sales, exact_sum
from playbook.data.warehouse import Warehouse, calendar_day, to_utc
from playbook.report.charts import empty_chart, money_formatter
from playbook.report.format import fmt_money, fmt_pct

#: Days between a window and "the same window last year": 52 weeks keeps weekdays aligned.
YEAR_SHIFT_DAYS = 364


#: A season: ``(name, start, end)``, dates inclusive (``datetime.date`` or ISO strings).
Season = tuple[str, dt.date | str, dt.date | str]


def _to_date(value: dt.date | str | pd.Timestamp) -> dt.date:
    return pd.Timestamp(value).date()


def as_day(x: Any) -> pd.Timestamp:
    """``x`` (date, string or timestamp) as a timestamp at midnight (time zone kept)."""
    return pd.Timestamp(x).normalize()


def weekly_sales(
    wh: Warehouse,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    seasons: Sequence[Season] = (),
) -> pd.DataFrame:
    """Weekly revenue and orders, each week labelled with the season it overlaps.

    Parameters
    ----------
    wh : Warehouse
        Connected data source.
    start, end : date or str, optional
        First and last day (inclusive; calendar days of ``wh.day_zone``, the campaign's time zone)
        of history to include; default: all of it.
    seasons : sequence of (name, start, end)
        Seasons to mark (the campaign window and the comparison seasons).

    Returns
    -------
    pandas.DataFrame
        One row per week (weeks start on Monday): ``week`` (Monday, naive datetime), ``revenue``
        (net, currency units), ``orders`` (sale orders), ``days`` (days of data in the week) and
        ``season`` (name of the overlapping season or empty string). Weeks before the first
        week with any sale are dropped, so a range that starts before the data does not show
        as a run of zero weeks.
    """
    daily = daily_sales(wh, start=start, end=end)
    if daily.empty:
        return pd.DataFrame(columns=["week", "revenue", "orders", "days", "season"])
    daily = daily.assign(week=daily["day"] - pd.to_timedelta(daily["day"].dt.day_of_week, unit="D"))
    weekly = (
        daily.groupby("week", as_index=False)
        .agg(revenue=("revenue", "sum"), orders=("orders", "sum"), days=("day", "count"))
        .sort_values("week", ignore_index=True)
    )
    # History starts at the first week with sales (the requested range may begin before the data).
    first = weekly.index[weekly["orders"] > 0]
    if len(first):
        weekly = weekly.loc[first[0]:].reset_index(drop=True)
    weekly["season"] = ""
    for name, s_start, s_end in seasons:
        s0, s1 = pd.Timestamp(_to_date(s_start)), pd.Timestamp(_to_date(s_end))
        overlap = (weekly["week"] <= s1) & (weekly["week"] + pd.Timedelta(days=6) >= s0)
        weekly.loc[overlap & (weekly["season"] == ""), "season"] = name
    return weekly


def plot_weekly_sales(
    weekly: pd.DataFrame,
    seasons: Sequence[Season] = (),
    currency: str = "USD",
    title: str = "Weekly revenue with past seasons marked",
) -> plt.Figure:
    """Line chart of weekly revenue with each season shaded and labelled.

    Partial first/last weeks (fewer than 7 days of data) are drawn dashed so they do not read as
    a drop in demand.
    """
    fig, ax = plt.subplots(figsize=(11, 4.5))
    if weekly.empty:
        empty_chart(ax, "No sales in the selected period")
        return fig
    full = weekly["days"] >= 7
    ax.plot(weekly["week"], weekly["revenue"].where(full), color="#1f4e79", lw=1.8, label="weekly revenue")
    if (~full).any():
        ax.plot(weekly["week"], weekly["revenue"], color="#1f4e79", lw=1, ls=":", label="partial week")
    palette = ["#f4a261", "#e9c46a", "#2a9d8f", "#e76f51", "#8ab17d"]
    for i, (name, s_start, s_end) in enumerate(seasons):
        s0, s1 = pd.Timestamp(_to_date(s_start)), pd.Timestamp(_to_date(s_end))
        ax.axvspan(s0, s1, color=palette[i % len(palette)], alpha=0.25, lw=0)
        ax.text(s0, 0.98, f" {name}", transform=ax.get_xaxis_transform(), va="top", fontsize=9)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title(title)
    ax.set_xlabel("week starting")
    ax.set_ylabel(f"net revenue per week ({currency})")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def window_kpis(
    wh: Warehouse,
    start: dt.date | str,
    end: dt.date | str,
    by: str | None = None,
) -> pd.DataFrame:
    """Revenue, orders, buyers and average order value in a window, computed in the engine.

    Parameters
    ----------
    start, end : date or str
        First and last day of the window (inclusive; calendar days of ``wh.day_zone``: local
        midnight to local midnight).
    by : {"channel"}, optional
        Split by order channel.

    Returns
    -------
    pandas.DataFrame
        Columns ``[by], revenue, orders, buyers, aov``. ``revenue`` is net of refunds (currency
        units), ``orders`` counts sale orders (revenue >= 0), ``buyers`` distinct customers with a
        sale, ``aov`` = gross sales / orders (NaN when there are no orders).
    """
    if by not in (None, "channel"):
        raise ValueError(f"Unknown split {by!r}. Choose from [None, 'channel']")
    o = wh.table("orders")
    w = o.filter(wh.in_days(o.order_ts, _to_date(start), _to_date(end)))
    sale = w.revenue >= 0
    metrics = {
        "revenue": exact_sum(w.revenue).fill_null(0.0),
        "gross": exact_sum(w.revenue, where=sale).fill_null(0.0),
        "orders": w.order_id.count(where=sale),
        "buyers": w.customer_id.nunique(where=sale),
    }
    expr = w.group_by(by).aggregate(**metrics) if by else w.aggregate(**metrics)
    df = expr.execute()
    if by is None and df.empty:
        df = pd.DataFrame({"revenue": [0.0], "gross": [0.0], "orders": [0], "buyers": [0]})
    df["revenue"] = df["revenue"].astype(float)
    df["aov"] = df["gross"].astype(float) / df["orders"].where(df["orders"] > 0)
    df = df.drop(columns="gross")
    return df.sort_values(by, ignore_index=True) if by else df


def window_vs_last_year(
    wh: Warehouse,
    start: dt.date | str,
    end: dt.date | str,
    by: str | None = None,
    shift_days: int = YEAR_SHIFT_DAYS,
) -> pd.DataFrame:
    """Compare a window with the same window a year earlier (weekday-aligned by default).

    Parameters
    ----------
    shift_days : int
        How far back "last year" is: 364 days (52 weeks) keeps weekdays aligned, so a Friday is
        compared with a Friday; use 365 for calendar dates.

    Returns
    -------
    pandas.DataFrame
        One row per metric (and ``by`` value): ``metric``, ``this_year``, ``last_year``,
        ``change`` (relative, NaN when last year is zero), with the two window bounds in
        ``attrs["windows"]``.
    """
    s0, s1 = _to_date(start), _to_date(end)
    p0, p1 = s0 - dt.timedelta(days=shift_days), s1 - dt.timedelta(days=shift_days)
    cur = window_kpis(wh, s0, s1, by=by)
    prev = window_kpis(wh, p0, p1, by=by)
    keys = [by] if by else []
    metrics = ["revenue", "orders", "buyers", "aov"]
    long_cur = cur.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="this_year")
    long_prev = prev.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="last_year")
    for frame in (long_cur, long_prev):  # an empty window has typeless keys (pandas cannot merge them)
        for k in [*keys, "metric"]:
            frame[k] = frame[k].astype(object)
    out = long_cur.merge(long_prev, on=[*keys, "metric"], how="outer")
    out[["this_year", "last_year"]] = out[["this_year", "last_year"]].astype(float).fillna(0.0)
    out["change"] = (out["this_year"] - out["last_year"]) / out["last_year"].where(out["last_year"] != 0)
    order = {m: i for i, m in enumerate(metrics)}
    out = out.sort_values([*keys, "metric"], key=lambda s: s.map(order) if s.name == "metric" else s,
                          ignore_index=True)
    out.attrs["windows"] = {"this_year": (s0, s1), "last_year": (p0, p1)}
    return out


def seasons_from_config(cfg) -> list[tuple[str, dt.date, dt.date]]:
    """The campaign window and its comparison seasons as ``(name, start, end)``, oldest first."""
    past = [(s.name, s.start, s.end) for s in getattr(cfg, "comparison_seasons", [])]
    past.sort(key=lambda t: t[1])
    return [*past, (cfg.name if hasattr(cfg, "name") else cfg.slug, cfg.season.start, cfg.season.end)]


def history_range(cfg, years_before: int = 3) -> tuple[dt.date, dt.date]:
    """Dates to show in the weekly history: ``years_before`` years before the window to its end."""
    start = cfg.season.start - dt.timedelta(days=365 * years_before)
    return start, cfg.season.end


def season_summary(
    wh: Warehouse, seasons: Sequence[Season]
) -> pd.DataFrame:
    """Revenue, orders, buyers and AOV of each season, with growth over the season before it.

    Returns
    -------
    pandas.DataFrame
        One row per season in the given order: ``season``, ``start``, ``end``, ``days``,
        ``revenue``, ``orders``, ``buyers``, ``aov``, ``revenue_per_day`` and ``growth``
        (revenue per day against the previous row; NaN for the first row or a zero base).
        Comparing revenue *per day* keeps seasons of different lengths comparable.
    """
    rows = []
    for name, s_start, s_end in seasons:
        s0, s1 = _to_date(s_start), _to_date(s_end)
        k = window_kpis(wh, s0, s1).iloc[0]
        days = (s1 - s0).days + 1
        rows.append({"season": name, "start": s0, "end": s1, "days": days,
                     "revenue": float(k["revenue"]), "orders": int(k["orders"]),
                     "buyers": int(k["buyers"]), "aov": float(k["aov"]),
                     "revenue_per_day": float(k["revenue"]) / days})
    out = pd.DataFrame(rows, columns=["season", "start", "end", "days", "revenue", "orders", "buyers",
                                      "aov", "revenue_per_day"])
    prev = out["revenue_per_day"].shift(1)
    out["growth"] = (out["revenue_per_day"] - prev) / prev.where(prev > 0)
    return out


def season_breakdown(daily: pd.DataFrame, seasons: Sequence[Season],
                     by: str) -> pd.DataFrame:
    """Revenue, orders and AOV per season and ``by`` (country / channel / category), with
    revenue growth on the season before (weekday-agnostic window totals).

    Parameters
    ----------
    daily : DataFrame
        Daily aggregates with ``day``, ``by``, ``revenue``, ``gross_revenue`` and ``orders``
        (:func:`playbook.data.aggregates.daily_sales`).
    seasons : sequence of (name, start, end)
        The seasons, oldest first.

    Returns
    -------
    pandas.DataFrame
        ``season``, ``by``, ``revenue`` (net, currency), ``orders``, ``aov`` (gross revenue per
        order) and ``growth`` (revenue against the same key in the season before; NaN for the
        first season or a zero base).
    """
    d = daily
    rows = []
    for name, a, b in seasons:
        w = d[(d["day"] >= pd.Timestamp(a)) & (d["day"] <= pd.Timestamp(b))]
        g = w.groupby(by).agg(revenue=("revenue", "sum"), gross=("gross_revenue", "sum"), orders=("orders", "sum"))
        for key, r in g.iterrows():
            rows.append({"season": name, by: key, "revenue": r["revenue"], "orders": int(r["orders"]),
                         "aov": r["gross"] / r["orders"] if r["orders"] > 0 else np.nan})
    out = pd.DataFrame(rows, columns=["season", by, "revenue", "orders", "aov"])
    if out.empty:
        return out.assign(growth=pd.Series(dtype=float))
    wide = out.pivot_table(index=by, columns="season", values="revenue", aggfunc="sum")
    names = [s[0] for s in seasons if s[0] in wide.columns]
    out["growth"] = np.nan
    for prev, cur in zip(names, names[1:], strict=False):
        g = wide[cur] / wide[prev].where(wide[prev] > 0) - 1
        m = out["season"] == cur
        out.loc[m, "growth"] = out.loc[m, by].map(g).to_numpy()
    return out


def daily_new_customers(wh: Warehouse, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """First-ever sale orders per day of ``wh.day_zone`` (new customers), computed in the engine.

    Returns
    -------
    pandas.DataFrame
        ``day`` (naive datetime64, every day of the range), ``new_customers``.
    """
    o = wh.table("orders")
    o = o.filter((o.revenue >= 0) & o.customer_id.notnull())
    first = o.group_by("customer_id").aggregate(first_ts=o.order_ts.min())
    day = wh.local_day(first.first_ts)
    agg = first.mutate(day=day).group_by("day").aggregate(new_customers=first.customer_id.count())
    agg = agg.filter((agg.day >= ibis.date(as_day(start).date())) & (agg.day <= ibis.date(as_day(end).date())))
    df = agg.execute()
    days = pd.date_range(as_day(start), as_day(end))
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    s = df.set_index("day")["new_customers"].reindex(days, fill_value=0).astype("int64")
    return pd.DataFrame({"day": days, "new_customers": s.to_numpy()})


def new_vs_returning(wh: Warehouse, seasons: Sequence[Season]) -> pd.DataFrame:
    """Buyers per season split into new (first-ever sale in the season) and returning.

    Returns
    -------
    pandas.DataFrame
        ``season``, ``buyers``, ``new``, ``returning``, ``new_share`` (NaN without buyers).
    """
    rows = []
    for name, a, b in seasons:
        buyers = int(window_kpis(wh, a, b).iloc[0]["buyers"])
        new = int(daily_new_customers(wh, a, b)["new_customers"].sum())
        rows.append({"season": name, "buyers": buyers, "new": new, "returning": buyers - new,
                     "new_share": new / buyers if buyers else np.nan})
    return pd.DataFrame(rows, columns=["season", "buyers", "new", "returning", "new_share"])


def describe_seasons(summary: pd.DataFrame, currency: str = "USD", no_sales: str | None = None) -> str:
    """One or two plain-language sentences on the past seasons (Markdown); ``no_sales`` (e.g.
    :func:`missing_seasons_note`) is the sentence when no season has a sale."""
    done = summary[summary["orders"] > 0]
    if done.empty:
        return no_sales or "No sales were found in any of the seasons: check the data source and the season dates."
    parts = []
    for _, r in done.iterrows():
        g = "" if pd.isna(r["growth"]) else f", {fmt_pct(r['growth'])} per day against the season before"
        parts.append(f"**{r['season']}** brought {fmt_money(r['revenue'], currency)} from "
                     f"{r['orders']:,} orders (AOV {fmt_money(r['aov'], currency)}){g}")
    return "; ".join(parts) + "."


def first_sale_day(wh: Warehouse) -> dt.date | None:
    """Day (of ``wh.day_zone``) of the first sale order (revenue >= 0) in the data, computed in the
    engine; ``None`` without orders."""
    o = wh.table("orders")
    first = o.filter(o.revenue >= 0).order_ts.min().execute()
    return None if first is None or pd.isna(first) else calendar_day(to_utc(first), wh.day_zone).date()


def missing_seasons_note(seasons: Sequence[Season], data_start: dt.date | None, automatic: bool = False) -> str:
    """Why no past season has sales, in one sentence: none configured (or, with ``automatic``,
    none chosen because the data covers no earlier year's window), all before the data, or no
    sales inside them.

    Parameters
    ----------
    seasons : sequence of (name, start, end)
        The comparison seasons that end before the planning cutoff.
    data_start : date, optional
        First day with a sale (:func:`first_sale_day`); ``None`` when there are no orders.
    automatic : bool
        The seasons were chosen from the data (the campaign file leaves ``comparison_seasons`` out).
    """
    if data_start is None:
        return "No comparable period: there are no orders in the data."
    if not seasons and automatic:
        return (f"No comparable period: the data starts on {data_start:%d %b %Y}, so it covers this season's "
                "window in no earlier year and there is no past season to compare with; order history covering "
                "last year's window would enable it.")
    if not seasons:
        return ("No comparable period: the campaign file lists no comparison season that ends before the "
                "planning cutoff (`comparison_seasons`), so there is no past season to compare with.")
    before = [s for s in seasons if _to_date(s[2]) < data_start]
    if len(before) == len(seasons):
        names = ", ".join(f"{n} ({_to_date(a):%d %b %Y} to {_to_date(b):%d %b %Y})" for n, a, b in before)
        return (f"No comparable period: the data starts on {data_start:%d %b %Y}, after the comparison "
                f"season{'s' if len(before) > 1 else ''} {names}; past-season figures need orders in "
                f"{'those windows' if len(before) > 1 else 'that window'}.")
    return ("No sales were found in the comparison seasons " + ", ".join(s[0] for s in seasons)
            + ": check the data source and the season dates.")


def daily_window_comparison(
    wh: Warehouse, start: dt.date | str, end: dt.date | str, shift_days: int = YEAR_SHIFT_DAYS
) -> pd.DataFrame:
    """Daily and cumulative revenue in a window and in the weekday-aligned window a year before.

    Returns
    -------
    pandas.DataFrame
        ``day`` (date in this window), ``day_number`` (1-based), ``this_year``, ``last_year``
        (net revenue per day), ``cum_this_year``, ``cum_last_year``.
    """
    s0, s1 = _to_date(start), _to_date(end)
    p0, p1 = s0 - dt.timedelta(days=shift_days), s1 - dt.timedelta(days=shift_days)
    cur = daily_sales(wh, start=s0, end=s1)[["day", "revenue"]]
    prev = daily_sales(wh, start=p0, end=p1)[["day", "revenue"]]
    days = pd.date_range(pd.Timestamp(s0), pd.Timestamp(s1), freq="D")
    this = cur.set_index("day")["revenue"].reindex(days, fill_value=0.0).to_numpy()
    last = prev.set_index("day")["revenue"].reindex(days - pd.Timedelta(days=shift_days),
                                                   fill_value=0.0).to_numpy()
    out = pd.DataFrame({"day": days, "day_number": range(1, len(days) + 1),
                        "this_year": this, "last_year": last})
    out["cum_this_year"] = out["this_year"].cumsum()
    out["cum_last_year"] = out["last_year"].cumsum()
    return out


def plot_window_comparison(daily: pd.DataFrame, currency: str = "USD") -> plt.Figure:
    """Cumulative revenue through the window, this year against the aligned window last year."""
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(daily["day"], daily["cum_this_year"], lw=2, color="#1f4e79", label="this season")
    ax.plot(daily["day"], daily["cum_last_year"], lw=2, ls="--", color="#999999",
            label="same weekdays last year")
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Cumulative net revenue through the campaign window")
    ax.set_xlabel("day")
    ax.set_ylabel(f"cumulative net revenue ({currency})")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def plan_headline(past: pd.DataFrame, currency: str = "USD", no_sales: str = "no sales found") -> dict[str, str]:
    """Headline numbers of the plan step for the index page (from :func:`season_summary`);
    ``no_sales`` is the value of ``past seasons`` when no season has a sale."""
    if past.empty or past["orders"].sum() == 0:
        return {"past seasons": no_sales}
    last = past.iloc[-1]
    out = {f"{last['season']} revenue": fmt_money(last["revenue"], currency),
           f"{last['season']} orders": f"{int(last['orders']):,}"}
    if not pd.isna(last["growth"]):
        out["growth per day vs season before"] = fmt_pct(last["growth"])
    return out


def _metric_row(yoy: pd.DataFrame, metric: str) -> pd.Series:
    return yoy[yoy["metric"] == metric].iloc[0]


def describe_yoy(yoy: pd.DataFrame, currency: str = "USD") -> str:
    """Plain-language sentence on this window against last year (Markdown)."""
    rev = _metric_row(yoy, "revenue")
    orders = _metric_row(yoy, "orders")
    if rev["this_year"] == 0 and orders["this_year"] == 0:
        return "No sales were recorded in the campaign window (yet): there is nothing to review."
    if rev["last_year"] == 0:
        return (f"The window brought {fmt_money(rev['this_year'], currency)} from "
                f"{int(orders['this_year']):,} orders; there were no sales in the same window last year.")
    direction = "up" if rev["change"] >= 0 else "down"
    return (f"Net revenue in the window was {fmt_money(rev['this_year'], currency)}, **{direction} "
            f"{fmt_pct(abs(rev['change']))}** on the same weekdays last year "
            f"({fmt_money(rev['last_year'], currency)}); orders {int(orders['this_year']):,} against "
            f"{int(orders['last_year']):,}.")


def retro_headline(yoy: pd.DataFrame, currency: str = "USD") -> dict[str, str]:
    """Headline numbers of the retrospective step for the index page."""
    rev = _metric_row(yoy, "revenue")
    orders = _metric_row(yoy, "orders")
    out = {"window revenue": fmt_money(rev["this_year"], currency),
           "window orders": f"{int(orders['this_year']):,}"}
    if not pd.isna(rev["change"]):
        out["revenue vs last year"] = fmt_pct(rev["change"])
    return out
