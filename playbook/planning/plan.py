"""Plan step beyond the weekly history: event-aligned year-over-year, peak days, pre-season
ramp, category timing by country, pull-forward, targets, funnel and the promotional calendar.

Every scan of a raw table is an Ibis expression executed by the backend
(:func:`playbook.data.warehouse.daily_sales`, :func:`daily_new_customers`, :func:`funnel`); the
functions here work on the daily aggregates that come back.

Artifact ``targets.parquet`` (read by the retrospective)
-------------------------------------------------------
Long format, one row per day, metric, channel and level:

``day`` (naive datetime64, UTC day in the campaign window), ``metric`` (``"revenue"``, currency
units, net of refunds; ``"orders"``; ``"new_customers"``, first-ever sale orders),
``channel`` (``"all"`` or an order channel ``web``/``app``/``store``), ``level`` (``"base"`` =
forecast mean, for revenue x (1 + b) where ``b`` is an earlier retrospective's forecast bias (0
without one; see "Earlier retrospectives" below), ``"target"`` = forecast mean x (1 +
revenue_uplift_pct / 100), ``"stretch"`` = forecast mean x (1 + stretch_uplift_pct / 100) or,
when no stretch is configured, the forecast's 90 % quantile),
``value``. Channel rows split the ``all`` rows by each channel's share of the metric in the last
comparison season. ``new_customers`` rows exist only when ``targets.new_customers`` is set: the
configured season total spread over the days like the orders forecast (its ``base`` level is
last season's count, spread the same way).

Artifact ``calendar.csv``: the promotional phases (``kind = "promotion"``: ``phase``, ``start``,
``end``, ``audience``, ``send_day``, ``rationale``) followed by the season's retail events and
public holidays (``kind = "retail"`` / ``"public_holiday"``, ``start`` = ``end`` = the date,
``phase`` = the event's name, ``audience`` = the country).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from playbook.forecasting.calendar import event_date
from playbook.report.charts import empty_chart

Season = tuple[str, dt.date | str, dt.date | str]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ts(x) -> pd.Timestamp:
    return pd.Timestamp(x).normalize()


# --------------------------------------------------------------------------------------------
# Year over year: by calendar date and aligned to each event


def event_aligned_yoy(
    daily_by_country: pd.DataFrame,
    events: Sequence[str],
    countries: Sequence[str],
    years: Sequence[int],
    window: tuple[int, int] = (-7, 3),
    metric: str = "revenue",
) -> pd.DataFrame:
    """Growth around each event against last year, aligned to the event and by calendar date.

    For event ``e`` in country ``c`` and year ``y`` (with ``y - 1`` in the data), the metric is
    summed over ``window`` days around the event date of ``y`` and compared with (a) the same
    window around the event date of ``y - 1`` (**aligned**) and (b) the same calendar dates a year
    earlier (**calendar**). When an event moves (Diwali: 12 Nov 2023, 31 Oct 2024; Black Friday:
    24 Nov 2023, 29 Nov 2024) the calendar comparison mixes event and non-event days and misleads.

    Parameters
    ----------
    daily_by_country : DataFrame
        ``day``, ``country`` and ``metric`` columns (from ``daily_sales(by=("country",))``).
    window : (int, int)
        First and last day relative to the event (inclusive).

    Returns
    -------
    pandas.DataFrame
        ``event``, ``country``, ``year``, ``event_date``, ``last_year_event_date``, ``this_year``,
        ``last_year_aligned``, ``last_year_calendar``, ``growth_aligned``, ``growth_calendar``
        (relative; NaN when the base is zero). Rows only where all days are in the data.
    """
    d = daily_by_country
    first, last = d["day"].min(), d["day"].max()
    rows = []
    for event in events:
        for c in countries:
            s = d[d["country"] == c].set_index("day")[metric]
            for y in years:
                e1, e0 = event_date(event, c, y), event_date(event, c, y - 1)
                if e1 is None or e0 is None:
                    continue
                e1, e0 = pd.Timestamp(e1), pd.Timestamp(e0)
                w1 = pd.date_range(e1 + pd.Timedelta(days=window[0]), e1 + pd.Timedelta(days=window[1]))
                w0 = pd.date_range(e0 + pd.Timedelta(days=window[0]), e0 + pd.Timedelta(days=window[1]))
                wc = w1 - pd.DateOffset(years=1)
                if min(w0.min(), wc.min()) < first or w1.max() > last:
                    continue
                this, al, ca = (float(s.reindex(w).fillna(0).sum()) for w in (w1, w0, wc))
                rows.append({"event": event, "country": c, "year": y, "event_date": e1,
                             "last_year_event_date": e0, "this_year": this,
                             "last_year_aligned": al, "last_year_calendar": ca,
                             "growth_aligned": this / al - 1 if al > 0 else np.nan,
                             "growth_calendar": this / ca - 1 if ca > 0 else np.nan})
    cols = ["event", "country", "year", "event_date", "last_year_event_date", "this_year",
            "last_year_aligned", "last_year_calendar", "growth_aligned", "growth_calendar"]
    return pd.DataFrame(rows, columns=cols)


def event_profile(
    daily_by_country: pd.DataFrame, event: str, country: str, years: Sequence[int],
    window: tuple[int, int] = (-21, 14), metric: str = "revenue",
) -> pd.DataFrame:
    """Daily ``metric`` against days from the event, one column per year (for the chart)."""
    s = daily_by_country[daily_by_country["country"] == country].set_index("day")[metric]
    out = {}
    offsets = np.arange(window[0], window[1] + 1)
    for y in years:
        e = event_date(event, country, y)
        if e is None:
            continue
        days = pd.Timestamp(e) + pd.to_timedelta(offsets, unit="D")
        if days.min() < s.index.min() or days.max() > s.index.max():
            continue
        out[f"{y} ({pd.Timestamp(e):%d %b})"] = s.reindex(days).fillna(0.0).to_numpy()
    return pd.DataFrame(out, index=pd.Index(offsets, name="days_from_event"))


def plot_event_profile(profile: pd.DataFrame, event_name: str, country: str, currency: str = "USD"):
    """Lines of daily revenue by days from the event, one per year."""
    import matplotlib.pyplot as plt

    from playbook.report.charts import money_formatter

    fig, ax = plt.subplots(figsize=(9, 4))
    if profile.empty:
        empty_chart(ax, f"No history around {event_name} in {country}")
        return fig
    for col in profile.columns:
        ax.plot(profile.index, profile[col], lw=1.8, label=col)
    ax.axvline(0, color="#999999", ls="--", lw=1)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title(f"{event_name} in {country}: daily revenue aligned to the event day")
    ax.set_xlabel("days from the event (0 = event day)")
    ax.set_ylabel(f"net revenue per day ({currency})")
    ax.legend(frameon=False, title="year (event date)")
    fig.tight_layout()
    return fig


def describe_event_yoy(yoy: pd.DataFrame) -> str:
    """Plain-language sentence on the biggest gap between aligned and calendar growth."""
    from playbook.report.format import fmt_pct

    ok = yoy.dropna(subset=["growth_aligned", "growth_calendar"])
    if ok.empty:
        return "There is not enough history to compare events year over year."
    gap = (ok["growth_aligned"] - ok["growth_calendar"]).abs()
    r = ok.loc[gap.idxmax()]
    return (f"Comparing by calendar date misleads most for **{r['event'].replace('_', ' ')} in {r['country']}** "
            f"({r['year']}): aligned to the event, revenue changed {fmt_pct(r['growth_aligned'])} on the year "
            f"before; by calendar date it seems {fmt_pct(r['growth_calendar'])}, because the event moved from "
            f"{r['last_year_event_date']:%d %b} to {r['event_date']:%d %b}.")


# --------------------------------------------------------------------------------------------
# Peak days, ramp, category timing


def peak_days(daily: pd.DataFrame, seasons: Sequence[Season], countries: Sequence[str], n: int = 5,
              metric: str = "revenue") -> pd.DataFrame:
    """The ``n`` highest days of each season with their weekday and the nearest retail event.

    Returns
    -------
    pandas.DataFrame
        ``season``, ``rank``, ``day``, ``weekday``, ``value``, ``vs_season_median`` (ratio),
        ``nearest_event`` (name and offset in days, e.g. ``"black_friday +0"``).
    """
    from playbook.forecasting.calendar import EVENTS

    rows = []
    for name, a, b in seasons:
        s = daily[(daily["day"] >= _ts(a)) & (daily["day"] <= _ts(b))].set_index("day")[metric]
        if s.empty or s.sum() == 0:
            continue
        med = float(s.median())
        for rank, (day, v) in enumerate(s.nlargest(n).items(), start=1):
            best = None
            for ev in EVENTS:
                for c in countries:
                    e = event_date(ev, c, day.year)
                    if e is not None and (best is None or abs((day - pd.Timestamp(e)).days) < abs(best[1])):
                        best = (ev, (day - pd.Timestamp(e)).days)
            rows.append({"season": name, "rank": rank, "day": day, "weekday": WEEKDAYS[day.weekday()],
                         "value": float(v), "vs_season_median": float(v) / med if med > 0 else np.nan,
                         "nearest_event": f"{best[0]} {best[1]:+d}" if best else ""})
    return pd.DataFrame(rows, columns=["season", "rank", "day", "weekday", "value", "vs_season_median", "nearest_event"])


def preseason_ramp(daily: pd.DataFrame, seasons: Sequence[Season], weeks_before: int = 8,
                   weeks_after: int = 4, metric: str = "revenue") -> pd.DataFrame:
    """Weekly ``metric`` around each season start, indexed to the 4 weeks before the ramp.

    Week ``-1`` is the 7 days before the season start, week ``0`` its first 7 days. The index
    (1 = baseline) divides each week by the mean of weeks ``-weeks_before - 4`` to
    ``-weeks_before - 1``.

    Returns
    -------
    pandas.DataFrame
        ``season``, ``week`` (relative), ``value``, ``index`` (NaN without a baseline).
    """
    rows = []
    s = daily.set_index("day")[metric]
    for name, a, _ in seasons:
        a = _ts(a)
        vals = {}
        for k in range(-weeks_before - 4, weeks_after):
            days = pd.date_range(a + pd.Timedelta(days=7 * k), periods=7)
            if days.min() < s.index.min() or days.max() > s.index.max():
                continue
            vals[k] = float(s.reindex(days).sum())
        base = [vals[k] for k in range(-weeks_before - 4, -weeks_before) if k in vals]
        b = np.mean(base) if len(base) == 4 else np.nan
        for k, v in vals.items():
            if k >= -weeks_before:
                rows.append({"season": name, "week": k, "value": v, "index": v / b if b and b > 0 else np.nan})
    return pd.DataFrame(rows, columns=["season", "week", "value", "index"])


def plot_ramp(ramp: pd.DataFrame):
    """Ramp index by week relative to the season start, one line per season."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    ok = ramp.dropna(subset=["index"])
    if ok.empty:
        empty_chart(ax, "Not enough history before the seasons")
        return fig
    for name, g in ok.groupby("season", sort=False):
        ax.plot(g["week"], g["index"], marker="o", lw=1.8, label=name)
    ax.axvline(-0.5, color="#999999", ls="--", lw=1)
    ax.axhline(1, color="#cccccc", lw=1)
    ax.set_title("Pre-season ramp: weekly revenue against the weeks before the ramp (= 1)")
    ax.set_xlabel("week relative to the season start (0 = first week)")
    ax.set_ylabel("weekly revenue index (baseline = 1)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def category_timing(
    daily_cc: pd.DataFrame, seasons: Sequence[Season], lead_days: int = 45, metric: str = "revenue",
) -> pd.DataFrame:
    """When each category's season demand happens, per country.

    For each season the window is extended ``lead_days`` before its start (Diwali, Singles' Day
    and early gift buying fall before a November start). ``halfway_day`` is the number of days
    from the extended start until half of the window's revenue is reached, averaged over the
    seasons; lower means earlier. ``peak_week`` is the week (0 = first) with the most revenue.

    Returns
    -------
    pandas.DataFrame
        ``country``, ``category``, ``halfway_day``, ``peak_week``, ``revenue`` (sum over seasons),
        and ``earlier_than_country`` (days earlier than the country's all-category halfway day).
    """
    rows = []
    d = daily_cc[daily_cc["category"] != "unknown"]
    for name, a, b in seasons:
        a0 = _ts(a) - pd.Timedelta(days=lead_days)
        w = d[(d["day"] >= a0) & (d["day"] <= _ts(b))]
        if w.empty:
            continue
        for (c, cat), g in w.groupby(["country", "category"]):
            s = g.groupby("day")[metric].sum().clip(lower=0).reindex(pd.date_range(a0, _ts(b)), fill_value=0.0)
            if s.sum() <= 0:
                continue
            cum = s.cumsum() / s.sum()
            half = int(np.argmax(cum.to_numpy() >= 0.5))
            weekly = s.groupby(np.arange(len(s)) // 7).sum()
            rows.append({"season": name, "country": c, "category": cat, "halfway_day": half,
                         "peak_week": int(weekly.idxmax()), "revenue": float(s.sum())})
        for c, g in w.groupby("country"):
            s = g.groupby("day")[metric].sum().clip(lower=0).reindex(pd.date_range(a0, _ts(b)), fill_value=0.0)
            if s.sum() > 0:
                rows.append({"season": name, "country": c, "category": "_all",
                             "halfway_day": int(np.argmax((s.cumsum() / s.sum()).to_numpy() >= 0.5)),
                             "peak_week": 0, "revenue": float(s.sum())})
    if not rows:
        return pd.DataFrame(columns=["country", "category", "halfway_day", "peak_week", "revenue", "earlier_than_country"])
    r = pd.DataFrame(rows)
    agg = r.groupby(["country", "category"], as_index=False).agg(
        halfway_day=("halfway_day", "mean"), peak_week=("peak_week", "median"), revenue=("revenue", "sum"))
    allc = agg[agg["category"] == "_all"].set_index("country")["halfway_day"]
    agg = agg[agg["category"] != "_all"].copy()
    agg["earlier_than_country"] = agg["country"].map(allc) - agg["halfway_day"]
    return agg.sort_values(["country", "halfway_day"], ignore_index=True)


def describe_category_timing(timing: pd.DataFrame) -> str:
    """Which category peaks earliest in each country (Markdown sentence)."""
    if timing.empty:
        return "Not enough category history to compare timing."
    first = timing.sort_values("halfway_day").groupby("country").head(1)
    parts = [f"{r.category} in {r.country} ({r.earlier_than_country:.0f} days ahead of the country)"
             for r in first.sort_values("earlier_than_country", ascending=False).itertuples()]
    return "Earliest categories (half of their season revenue reached first): " + "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# Pull-forward


def pull_forward(est, event: str = "black_friday", year: int | None = None) -> dict[str, float]:
    """How much of an event's extra demand was taken from the days after it.

    Uses a fitted :class:`playbook.forecasting.forecast.DemandForecaster` whose features include the event's
    ``_dip`` column. On the event of ``year`` (default: the last one in the training data) the
    model's daily demand is compared with and without the peak/ramp columns (**extra** demand)
    and with and without the dip column (**lost** demand after the event).

    Returns
    -------
    dict
        ``extra`` and ``lost`` (metric units over the window), ``share`` = lost / extra (the part
        of the peak that is pulled forward, not incremental), ``dip_multiplier`` (exp of the dip
        coefficient), ``net_extra`` = extra - lost. NaN values when the model has no such event.
    """
    from playbook.forecasting.forecast import _params, design_matrix

    nan = {"extra": np.nan, "lost": np.nan, "share": np.nan, "dip_multiplier": np.nan, "net_extra": np.nan}
    dip_col = f"{event}_dip"
    if getattr(est, "mode_", None) in (None, "empty", "weekday-mean") or dip_col not in est.columns_:
        return nan
    params, _ = _params(est.model, est.fitted_)
    last = est.y_.index.max()
    years = [y for y in range(est.y_.index.min().year, last.year + 1)
             if any(event_date(event, c, y) and pd.Timestamp(event_date(event, c, y)) + pd.Timedelta(days=15) <= last
                    for c in est.countries)]
    if not years:
        return nan
    year = years[-1] if year is None else year
    peak = max(pd.Timestamp(event_date(event, c, year)) for c in est.countries if event_date(event, c, year))
    days = pd.date_range(peak - pd.Timedelta(days=14), peak + pd.Timedelta(days=14))
    X = design_matrix(days, est.countries, est.weights, est.order_, est.origin_).reindex(columns=est.columns_, fill_value=0.0)
    const = float(np.asarray(est.fitted_.result.params)[0])
    b = params.reindex(X.columns).to_numpy()

    def level(Z: pd.DataFrame) -> np.ndarray:
        return np.exp(const + Z.to_numpy() @ b) - est.offset_

    peak_cols = [c for c in (event, f"{event}_ramp") if c in X.columns]
    no_dip = X.assign(**{dip_col: 0.0})
    bare = no_dip.assign(**{c: 0.0 for c in peak_cols})
    extra = float((level(no_dip) - level(bare)).sum())
    lost = float((level(no_dip) - level(X)).sum())
    return {"extra": extra, "lost": lost, "share": lost / extra if extra > 0 else np.nan,
            "dip_multiplier": float(np.exp(params[dip_col])), "net_extra": extra - lost}


# --------------------------------------------------------------------------------------------
# New customers and targets


def daily_new_customers(wh, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """First-ever sale orders per day (new customers), computed in the engine.

    Returns
    -------
    pandas.DataFrame
        ``day`` (naive datetime64, every day of the range), ``new_customers``.
    """
    o = wh.table("orders")
    o = o.filter((o.revenue >= 0) & o.customer_id.notnull())
    first = o.group_by("customer_id").aggregate(first_ts=o.order_ts.min())
    day = first.first_ts.date()
    agg = first.mutate(day=day).group_by("day").aggregate(new_customers=first.customer_id.count())
    import ibis

    agg = agg.filter((agg.day >= ibis.date(_ts(start).date())) & (agg.day <= ibis.date(_ts(end).date())))
    df = agg.execute()
    days = pd.date_range(_ts(start), _ts(end))
    df["day"] = pd.to_datetime(df["day"]).astype("datetime64[ns]")
    s = df.set_index("day")["new_customers"].reindex(days, fill_value=0).astype("int64")
    return pd.DataFrame({"day": days, "new_customers": s.to_numpy()})


def _total_sd(fc: pd.DataFrame) -> float:
    """Standard deviation of the window total, with days moving together.

    A forecast's errors on neighbouring days are strongly correlated (a level error shifts them
    all), so the daily standard deviations (from the 95 % interval width) are added rather than
    added in quadrature; independence would make any target above the mean look impossible.
    """
    sd = (fc["hi95"] - fc["lo95"]) / (2 * 1.96)
    return float(sd.sum())


def build_targets(
    forecast: pd.DataFrame,
    targets_cfg,
    channel_share: Mapping[str, Mapping[str, float]],
    new_customer_base: float | None = None,
    bias: float | None = None,
) -> pd.DataFrame:
    """Daily targets (see the ``targets.parquet`` columns in the module docstring).

    Parameters
    ----------
    forecast : DataFrame
        Forecast rows of dimension ``total`` for metrics ``revenue`` and ``orders`` (artifact
        layout of :mod:`playbook.forecasting.forecast`).
    targets_cfg : config.Targets
        ``revenue_uplift_pct``, optional ``stretch_uplift_pct`` and ``new_customers``.
    channel_share : mapping
        ``{metric: {channel: share}}`` from the last comparison season.
    new_customer_base : float, optional
        New customers in the last comparison season (the ``base`` level of that metric).
    bias : float, optional
        An earlier campaign's revenue forecast bias (:func:`retro_forecast_bias`): the revenue
        ``base`` level becomes forecast x (1 + bias). Targets and stretch stay on the forecast.
    """
    up = targets_cfg.revenue_uplift_pct / 100
    st = targets_cfg.stretch_uplift_pct / 100 if targets_cfg.stretch_uplift_pct is not None else None
    rows = []
    tot = forecast[forecast["dimension"] == "total"]
    for metric in ("revenue", "orders"):
        f = tot[tot["metric"] == metric].sort_values("day")
        if f.empty:
            continue
        corr = 1 + (bias or 0.0) if metric == "revenue" else 1.0
        levels = {"base": f["mean"].to_numpy() * corr, "target": f["mean"].to_numpy() * (1 + up),
                  "stretch": f["mean"].to_numpy() * (1 + st) if st is not None else f["hi80"].to_numpy()}
        for level, v in levels.items():
            rows.append(pd.DataFrame({"day": f["day"].to_numpy(), "metric": metric, "channel": "all",
                                      "level": level, "value": v}))
            for ch, share in channel_share.get(metric, {}).items():
                rows.append(pd.DataFrame({"day": f["day"].to_numpy(), "metric": metric, "channel": ch,
                                          "level": level, "value": v * share}))
    n_new = getattr(targets_cfg, "new_customers", None)
    f = tot[tot["metric"] == "orders"].sort_values("day")
    if n_new is not None and not f.empty:
        shape = f["mean"].to_numpy() / f["mean"].sum() if f["mean"].sum() > 0 else np.full(len(f), 1 / len(f))
        base = new_customer_base if new_customer_base is not None else np.nan
        for level, total in (("base", base), ("target", float(n_new)),
                             ("stretch", float(n_new) * (1 + st) / (1 + up) if st is not None else float(n_new) * 1.1)):
            rows.append(pd.DataFrame({"day": f["day"].to_numpy(), "metric": "new_customers", "channel": "all",
                                      "level": level, "value": shape * total}))
    cols = ["day", "metric", "channel", "level", "value"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def target_feasibility(
    forecast: pd.DataFrame,
    targets: pd.DataFrame,
    past: pd.DataFrame,
    new_customers_past: Mapping[str, float] | None = None,
    bias: float | None = None,
) -> pd.DataFrame:
    """Gap between each season target and the forecast, and whether it looks feasible.

    Parameters
    ----------
    past : DataFrame
        :func:`playbook.planning.history.season_summary` of the comparison seasons (oldest first).
    bias : float, optional
        An earlier campaign's revenue forecast bias (:func:`retro_forecast_bias`). Revenue is then
        judged against ``expected`` = forecast x (1 + bias), with a standard deviation of at least
        ``|bias|`` x forecast. ``None`` or 0 changes nothing.

    Returns
    -------
    pandas.DataFrame
        One row per metric: ``metric``, ``forecast`` (season total), ``target``, ``stretch``,
        ``expected`` (the forecast, corrected by ``bias`` for revenue), ``bias`` (applied, 0 if none),
        ``gap`` (target - expected), ``p_reach_target`` (probability the season total reaches the
        target under the forecast distribution, days fully correlated: see ``_total_sd``), ``last_season``,
        ``growth_needed`` (target against the last season), ``best_past_growth`` (highest
        season-over-season growth seen), ``verdict`` (``"within the forecast range"``,
        ``"ambitious but seen before"``, ``"beyond past growth"``).
    """
    rows = []
    tot = forecast[forecast["dimension"] == "total"]
    past = past[past["orders"] > 0] if not past.empty else past
    for metric in ("revenue", "orders", "new_customers"):
        t = targets[(targets["metric"] == metric) & (targets["channel"] == "all")]
        if t.empty:
            continue
        target = float(t.loc[t["level"] == "target", "value"].sum())
        stretch = float(t.loc[t["level"] == "stretch", "value"].sum())
        f = tot[tot["metric"] == metric]
        fc = float(f["mean"].sum()) if not f.empty else float(t.loc[t["level"] == "base", "value"].sum())
        sd = _total_sd(f) if not f.empty else np.nan
        b = float(bias or 0.0) if metric == "revenue" else 0.0
        expected = fc * (1 + b)
        sd = max(sd, abs(b) * fc) if np.isfinite(sd) else sd
        p = float(1 - stats.norm.cdf(target, expected, sd)) if sd and sd > 0 else np.nan
        if metric in ("revenue", "orders") and not past.empty:
            series = past[metric].astype(float).to_numpy()
        elif metric == "new_customers" and new_customers_past:
            series = np.asarray(list(new_customers_past.values()), float)
        else:
            series = np.array([])
        last = float(series[-1]) if len(series) else np.nan
        growth = series[1:] / np.where(series[:-1] > 0, series[:-1], np.nan) - 1 if len(series) > 1 else np.array([])
        best = float(np.nanmax(growth)) if len(growth) and np.isfinite(growth).any() else np.nan
        need = target / last - 1 if last and last > 0 else np.nan
        if np.isfinite(p) and p >= 0.2:
            verdict = "within the forecast range"
        elif np.isfinite(best) and np.isfinite(need) and need <= best:
            verdict = "ambitious but seen before"
        elif np.isfinite(need):
            verdict = "beyond past growth"
        else:
            verdict = "no history to judge"
        rows.append({"metric": metric, "forecast": fc, "expected": expected, "bias": b, "target": target,
                     "stretch": stretch, "gap": target - expected, "p_reach_target": p, "last_season": last,
                     "growth_needed": need, "best_past_growth": best, "verdict": verdict})
    return pd.DataFrame(rows)


def describe_targets(feas: pd.DataFrame, currency: str = "USD") -> str:
    """Plain-language sentence on the revenue (and new-customer) target."""
    from playbook.report.format import fmt_money, fmt_pct

    if feas.empty:
        return "No targets could be set: there is no forecast."
    r = feas.set_index("metric")
    parts = []
    if "revenue" in r.index:
        x = r.loc["revenue"]
        p = "n/a" if pd.isna(x["p_reach_target"]) else fmt_pct(x["p_reach_target"], 0)
        ref = (f"the forecast corrected by the earlier campaign's forecast error ({fmt_money(x['expected'], currency)})"
               if x.get("bias", 0) else f"the forecast ({fmt_money(x['forecast'], currency)})")
        word = "above" if x["gap"] >= 0 else "below"
        parts.append(f"The revenue target of {fmt_money(x['target'], currency)} is {fmt_money(abs(x['gap']), currency)} "
                     f"{word} {ref}; that gives it a {p} chance. "
                     f"It needs {fmt_pct(x['growth_needed'])} on last season (the forecast alone expects "
                     f"{fmt_pct(x['forecast'] / x['last_season'] - 1) if x['last_season'] > 0 else 'n/a'}), against "
                     f"at best {fmt_pct(x['best_past_growth'])} season-over-season so far: **{x['verdict']}**.")
    if "new_customers" in r.index:
        x = r.loc["new_customers"]
        parts.append(f"The new-customer target ({x['target']:,.0f}) compares with {x['last_season']:,.0f} last season: "
                     f"**{x['verdict']}**.")
    return " ".join(parts)


def channel_shares(daily_by_channel: pd.DataFrame, start, end) -> dict[str, dict[str, float]]:
    """Each order channel's share of revenue and orders in a window (e.g. the last season)."""
    w = daily_by_channel[(daily_by_channel["day"] >= _ts(start)) & (daily_by_channel["day"] <= _ts(end))]
    out = {}
    for metric in ("revenue", "orders"):
        s = w.groupby("channel")[metric].sum().clip(lower=0)
        out[metric] = (s / s.sum()).to_dict() if s.sum() > 0 else {}
    return out


def plot_targets(forecast: pd.DataFrame, targets: pd.DataFrame, currency: str = "USD"):
    """Daily revenue forecast with its 80/95 % intervals, and the target and stretch lines."""
    import matplotlib.pyplot as plt

    from playbook.report.charts import money_formatter

    f = forecast[(forecast["dimension"] == "total") & (forecast["metric"] == "revenue")].sort_values("day")
    fig, ax = plt.subplots(figsize=(11, 4.5))
    if f.empty:
        empty_chart(ax, "No forecast")
        return fig
    ax.fill_between(f["day"], f["lo95"], f["hi95"], color="#1f4e79", alpha=0.12, lw=0, label="95 % interval")
    ax.fill_between(f["day"], f["lo80"], f["hi80"], color="#1f4e79", alpha=0.22, lw=0, label="80 % interval")
    ax.plot(f["day"], f["mean"], color="#1f4e79", lw=1.8, label="forecast")
    t = targets[(targets["metric"] == "revenue") & (targets["channel"] == "all")]
    for level, style in (("target", dict(color="#e76f51", lw=1.6)), ("stretch", dict(color="#e76f51", lw=1, ls="--"))):
        g = t[t["level"] == level].sort_values("day")
        if not g.empty:
            ax.plot(g["day"], g["value"], label=level, **style)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Daily revenue: forecast with prediction intervals, target and stretch")
    ax.set_xlabel("day")
    ax.set_ylabel(f"net revenue per day ({currency})")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, ncol=3, loc="upper left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Funnel


FUNNEL_STAGES = ("sessions", "view", "add_to_cart", "checkout", "purchase")


def funnel(wh, seasons: Sequence[Season], by: str | None = "acquisition_channel") -> pd.DataFrame:
    """Sessions and funnel stages per season (and customer acquisition channel), in the engine.

    The events table has no traffic channel, so "channel" is the customer's acquisition channel
    (``customers.acquisition_channel``). A session reaches a stage when it has at least one event
    of that type.

    Returns
    -------
    pandas.DataFrame
        ``season``, ``[by]``, ``sessions``, ``view``, ``add_to_cart``, ``checkout``, ``purchase``
        (sessions reaching each stage), ``conversion`` (purchase / sessions).
    """
    import ibis

    if not wh.has("events"):
        return pd.DataFrame(columns=["season", *([by] if by else []), *FUNNEL_STAGES, "conversion"])
    ev = wh.table("events")
    frames = []
    for name, a, b in seasons:
        lo = ibis.timestamp(pd.Timestamp(_ts(a), tz="UTC").to_pydatetime())
        hi = ibis.timestamp((pd.Timestamp(_ts(b), tz="UTC") + pd.Timedelta(days=1)).to_pydatetime())
        e = ev.filter((ev.event_ts >= lo) & (ev.event_ts < hi))
        if by:
            c = wh.table("customers")
            c = c.group_by("customer_id").aggregate(**{by: c[by].arbitrary()})
            e = e.left_join(c, "customer_id")
        s = e.group_by(["session_id", *([by] if by else [])]).aggregate(
            **{st: (e.event_type == st).any() for st in FUNNEL_STAGES[1:]})
        keys = [by] if by else []
        agg = {"sessions": s.count(), **{st: s[st].sum() for st in FUNNEL_STAGES[1:]}}
        df = (s.group_by(keys).aggregate(**agg) if keys else s.aggregate(**agg)).execute()
        df.insert(0, "season", name)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    if by:
        out[by] = out[by].fillna("unknown").astype(str)
    for st in FUNNEL_STAGES:
        out[st] = pd.to_numeric(out[st]).fillna(0).astype("int64")
    out["conversion"] = out["purchase"] / out["sessions"].where(out["sessions"] > 0)
    return out.sort_values(["season", *([by] if by else [])], ignore_index=True)


def funnel_rates(fun: pd.DataFrame, by: str | None = "acquisition_channel") -> pd.DataFrame:
    """Stage-to-stage conversion and the largest drop per row.

    Returns
    -------
    pandas.DataFrame
        The keys plus ``view_rate`` (view / sessions), ``cart_rate`` (add_to_cart / view),
        ``checkout_rate`` (checkout / add_to_cart), ``purchase_rate`` (purchase / checkout) and
        ``largest_drop`` (the stage transition with the lowest rate).
    """
    keys = ["season", *([by] if by else [])]
    out = fun[keys].copy()
    pairs = {"view_rate": ("view", "sessions"), "cart_rate": ("add_to_cart", "view"),
             "checkout_rate": ("checkout", "add_to_cart"), "purchase_rate": ("purchase", "checkout")}
    for name, (num, den) in pairs.items():
        out[name] = fun[num] / fun[den].where(fun[den] > 0)
    labels = {"view_rate": "session -> view", "cart_rate": "view -> cart",
              "checkout_rate": "cart -> checkout", "purchase_rate": "checkout -> purchase"}
    rates = out[list(pairs)]
    out["largest_drop"] = rates.idxmin(axis=1, skipna=True).map(labels).where(rates.notna().any(axis=1), "no data")
    return out


def describe_funnel(rates: pd.DataFrame) -> str:
    """Where the funnel loses most, overall (Markdown sentence)."""
    from playbook.report.format import fmt_pct

    ok = rates.dropna(subset=["cart_rate"])
    if ok.empty:
        return "No browsing events in the seasons: the funnel cannot be shown."
    drop = ok["largest_drop"].mode().iloc[0]
    col = {"session -> view": "view_rate", "view -> cart": "cart_rate", "cart -> checkout": "checkout_rate",
           "checkout -> purchase": "purchase_rate"}[drop]
    return (f"The largest drop is **{drop}** in most seasons and channels: on average only "
            f"{fmt_pct(ok[col].mean())} of sessions make that step.")


# --------------------------------------------------------------------------------------------
# Promotional calendar


def weekday_browsing(wh, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Product views per weekday (engine-side), with each weekday's share.

    Returns
    -------
    pandas.DataFrame
        ``weekday`` (0 = Monday), ``name``, ``views``, ``share``.
    """
    import ibis

    if not wh.has("events"):
        return pd.DataFrame({"weekday": range(7), "name": WEEKDAYS, "views": 0, "share": 1 / 7})
    ev = wh.table("events")
    lo = ibis.timestamp(pd.Timestamp(_ts(start), tz="UTC").to_pydatetime())
    hi = ibis.timestamp((pd.Timestamp(_ts(end), tz="UTC") + pd.Timedelta(days=1)).to_pydatetime())
    e = ev.filter((ev.event_ts >= lo) & (ev.event_ts < hi) & (ev.event_type == "view"))
    df = e.group_by(wd=e.event_ts.day_of_week.index()).aggregate(views=e.count()).execute()
    views = df.set_index("wd")["views"].reindex(range(7), fill_value=0).astype("int64")
    share = views / views.sum() if views.sum() > 0 else pd.Series(1 / 7, index=range(7))
    return pd.DataFrame({"weekday": range(7), "name": WEEKDAYS, "views": views.to_numpy(), "share": share.to_numpy()})


def _best_weekday_on_or_before(day: pd.Timestamp, browsing: pd.DataFrame, within: int = 3) -> pd.Timestamp:
    best = browsing.set_index("weekday")["share"]
    cands = [day - pd.Timedelta(days=k) for k in range(within + 1)]
    return max(cands, key=lambda d: (best.get(d.weekday(), 0.0), -abs((day - d).days)))


def promo_calendar(
    forecast_total: pd.DataFrame, browsing: pd.DataFrame, season_start, season_end,
) -> pd.DataFrame:
    """Phased promotional plan placed against the forecast peaks and the weekday browsing pattern.

    Phases: **main event** = the 3 days around the forecast's highest day in the first half of
    the window and its neighbours above 1.3 x the window median (e.g. Black Friday to Cyber
    Monday); **early access** (top customers) = the 2 days before it; **teaser** = the 7 days
    before early access; **last chance** = the 3 days up to the second peak later in the
    window (e.g. the last shipping day before Christmas); **post-season** = the days after the
    window's last peak until the window ends. Each phase's ``send_day`` is the weekday with the
    most product views among the 4 days up to the phase start.

    Returns
    -------
    pandas.DataFrame
        ``phase``, ``start``, ``end``, ``audience``, ``send_day``, ``expected_revenue`` (forecast
        mean over the phase), ``rationale``.
    """
    f = forecast_total.sort_values("day").reset_index(drop=True)
    s0, s1 = _ts(season_start), _ts(season_end)
    f = f[(f["day"] >= s0) & (f["day"] <= s1)].reset_index(drop=True)
    cols = ["phase", "start", "end", "audience", "send_day", "expected_revenue", "rationale"]
    if f.empty or f["mean"].sum() <= 0:
        return pd.DataFrame(columns=cols)
    med = float(f["mean"].median())
    n = len(f)
    first_half = f.iloc[: max(n // 2, 1)]
    p1 = int(first_half["mean"].idxmax())
    a, b = p1, p1
    while a - 1 >= 0 and f.loc[a - 1, "mean"] > 1.3 * med and p1 - a < 3:
        a -= 1
    while b + 1 < n and f.loc[b + 1, "mean"] > 1.3 * med and b - p1 < 4:
        b += 1
    later = f.iloc[b + 8:] if b + 8 < n else f.iloc[0:0]
    p2 = int(later["mean"].idxmax()) if not later.empty else None
    day = f["day"]
    phases = []

    def add(phase, i0, i1, audience, why):
        i0, i1 = max(i0, 0), min(i1, n - 1)
        if i0 > i1:
            return
        send = _best_weekday_on_or_before(day[i0], browsing)
        phases.append({"phase": phase, "start": day[i0], "end": day[i1], "audience": audience,
                       "send_day": max(send, s0), "expected_revenue": float(f.loc[i0:i1, "mean"].sum()),
                       "rationale": why})

    add("teaser", a - 9, a - 3, "all consented customers", "build anticipation a week before the main peak")
    add("early access", a - 2, a - 1, "top customers (VIP, high CLV)", "reward the best customers before the rush")
    add("main event", a, b, "all consented customers", f"forecast peak {day[p1]:%d %b} ({f.loc[p1, 'mean'] / med:.1f}x the window median)")
    if p2 is not None:
        add("last chance", p2 - 2, p2, "engaged browsers, cart abandoners", f"second peak {day[p2]:%d %b}: last days to order in time")
        add("post-season", p2 + 3, n - 1, "recent buyers", "clearance and gift-card redemption after the peak")
    else:
        add("post-season", b + 1, n - 1, "recent buyers", "after the main event")
    out = pd.DataFrame(phases, columns=cols)
    return out


def plot_promo_calendar(forecast_total: pd.DataFrame, promo: pd.DataFrame, currency: str = "USD"):
    """Forecast revenue with the promotional phases shaded and send days marked."""
    import matplotlib.pyplot as plt

    from playbook.report.charts import money_formatter

    fig, ax = plt.subplots(figsize=(11, 4.2))
    f = forecast_total.sort_values("day")
    if f.empty:
        empty_chart(ax, "No forecast")
        return fig
    ax.plot(f["day"], f["mean"], color="#1f4e79", lw=1.8, label="forecast revenue")
    palette = {"teaser": "#e9c46a", "early access": "#2a9d8f", "main event": "#e76f51",
               "last chance": "#f4a261", "post-season": "#8ab17d"}
    for r in promo.itertuples():
        ax.axvspan(r.start, r.end + pd.Timedelta(days=1), color=palette.get(r.phase, "#cccccc"), alpha=0.3, lw=0, label=r.phase)
        ax.axvline(r.send_day, color=palette.get(r.phase, "#999999"), ls=":", lw=1.2)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_title("Promotional calendar against the demand forecast (dotted: send days)")
    ax.set_xlabel("day")
    ax.set_ylabel(f"forecast net revenue per day ({currency})")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, ncol=3, loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def calendar_table(promo: pd.DataFrame, season_cal: pd.DataFrame) -> pd.DataFrame:
    """The ``calendar.csv`` table (module docstring): promotion phases then season events."""
    p = promo.assign(kind="promotion")
    ev = pd.DataFrame({"kind": season_cal["kind"], "phase": season_cal["name"], "start": season_cal["date"],
                       "end": season_cal["date"], "audience": season_cal["country"], "send_day": pd.NaT,
                       "expected_revenue": np.nan, "rationale": season_cal["event"]})
    cols = ["kind", "phase", "start", "end", "audience", "send_day", "expected_revenue", "rationale"]
    return pd.concat([p[cols], ev[cols]], ignore_index=True)


# --------------------------------------------------------------------------------------------
# Earlier retrospectives: how they shape this plan
#
# The retrospective step (05) publishes ``reports/<slug>/artifacts/summary.json`` and
# ``next_budget.parquet``; :func:`playbook.steps.retrospective.find_retrospectives` lists them. The
# plan of a later campaign uses the most recent one that fits (:func:`select_retrospective`) in
# two documented ways:
#
# * targets (:func:`retro_forecast_bias`): ``b = actual / forecast - 1`` of that campaign's season
#   revenue, when its forecast was the plan step's own, clipped to +-RETRO_BIAS_LIMIT, and weighted
#   by the share ``w`` of this season's forecast revenue in the countries that campaign covered
#   (:func:`retro_country_share`; an India-only error says little about the US). The revenue
#   ``base`` level becomes forecast x (1 + w b) (:func:`build_targets`), and the chance of reaching
#   the target is judged against that corrected forecast with a standard deviation of at least
#   ``|w b|`` x forecast (:func:`target_feasibility`). The target itself stays as configured.
# * budget (:func:`retro_budget_bounds`): the earlier recommended split is scaled to this
#   campaign's total and shown next to the optimised split; a channel the retrospective found
#   with marginal ROAS below RETRO_MROAS_FLOOR at its recommended spend has its ``max_budget``
#   capped at that scaled recommendation (never below its ``min_budget``), unless the caps would
#   leave the total unspendable, in which case no cap is applied and the report says so.

#: Marginal ROAS (revenue per extra unit of spend) below which an earlier recommendation caps a channel.
RETRO_MROAS_FLOOR = 1.0
#: Largest forecast bias (as a fraction) taken over from an earlier campaign.
RETRO_BIAS_LIMIT = 0.5
#: Columns of the budget hand-off table (:func:`retro_budget_bounds`).
RETRO_BUDGET_COLUMNS = ["channel", "earlier_recommended", "earlier_marginal_roas", "max_budget_config",
                        "max_budget_used", "capped"]


def select_retrospective(summaries: Sequence[Mapping], season_start: dt.date | str,
                         countries: Sequence[str]) -> tuple[dict | None, list[dict]]:
    """The earlier retrospective that shapes this plan, and the other usable ones.

    Parameters
    ----------
    summaries : sequence of dict
        :func:`playbook.steps.retrospective.campaign_summary` dicts (as from ``find_retrospectives``).
    season_start : date
        First day of this campaign's season; only campaigns whose season ended before it count.
    countries : sequence of str
        This campaign's countries; a campaign sharing none of them is left out.

    Returns
    -------
    (dict or None, list of dict)
        The usable campaign whose season ended last (ties: the later start), and the other usable
        ones, most recent first. ``(None, [])`` when none fits.
    """
    start = _ts(season_start)
    ours = {c.upper() for c in countries}
    ok = []
    for s in summaries:
        camp = s.get("campaign", {}) if isinstance(s, Mapping) else {}
        try:
            end, first = _ts(camp.get("end")), _ts(camp.get("start"))
        except (TypeError, ValueError, AttributeError):  # missing or malformed dates (NaT)
            continue
        if pd.isna(end) or end >= start or not ours & {str(c).upper() for c in camp.get("countries", [])}:
            continue
        ok.append((end, first, dict(s)))
    ok.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return (ok[0][2], [t[2] for t in ok[1:]]) if ok else (None, [])


def retro_forecast_bias(summary: Mapping | None, limit: float = RETRO_BIAS_LIMIT) -> float | None:
    """Season revenue forecast bias of an earlier campaign: ``actual / forecast - 1``, clipped.

    ``None`` when there is no summary, its forecast was not the plan step's (a seasonal-naive
    stand-in says nothing about this model: ``forecast_from_plan`` false or missing) or the
    forecast is not positive. Positive = the earlier forecast was too low.
    """
    if not summary or not summary.get("forecast_from_plan"):
        return None
    rev = summary.get("revenue") or {}
    actual, forecast = rev.get("actual"), rev.get("forecast")
    if actual is None or forecast is None or not np.isfinite(actual) or not np.isfinite(forecast) or forecast <= 0:
        return None
    return float(np.clip(actual / forecast - 1, -limit, limit))


def retro_country_share(forecast: pd.DataFrame, countries: Sequence[str]) -> float:
    """Share of the forecast's season revenue in ``countries`` (weights an earlier campaign's bias).

    Uses the ``dimension == "country"`` revenue rows of a forecast artifact; 1.0 when there are
    none (a single-market forecast), 0.0 when none of ``countries`` is forecast.
    """
    f = forecast[(forecast["dimension"] == "country") & (forecast["metric"] == "revenue")]
    by = f.groupby("value")["mean"].sum().clip(lower=0)
    if by.empty or by.sum() <= 0:
        return 1.0
    return float(by[by.index.str.upper().isin({c.upper() for c in countries})].sum() / by.sum())


def retro_next_budget(summary: Mapping | None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The earlier recommended split: ``channel``, ``recommended``, ``marginal_roas_recommended``.

    From ``next_budget.parquet`` (``table``) when given, else from the summary's ``next_budget``
    records; empty when neither has it.
    """
    cols = ["channel", "recommended", "marginal_roas_recommended"]
    if table is None or table.empty:
        table = pd.DataFrame((summary or {}).get("next_budget") or [])
    if table.empty or not {"channel", "recommended"} <= set(table.columns):
        return pd.DataFrame(columns=cols)
    out = table.copy()
    if "marginal_roas_recommended" not in out.columns:
        out["marginal_roas_recommended"] = np.nan
    out["recommended"] = out["recommended"].astype(float)
    out["marginal_roas_recommended"] = out["marginal_roas_recommended"].astype(float)
    return out[cols].reset_index(drop=True)


def retro_budget_bounds(
    bounds: Mapping[str, tuple[float, float]],
    total: float,
    next_budget: pd.DataFrame,
    floor: float = RETRO_MROAS_FLOOR,
) -> tuple[dict[str, tuple[float, float]], pd.DataFrame]:
    """Channel bounds shaped by an earlier retrospective's recommended split (rule above).

    Parameters
    ----------
    bounds : mapping
        ``{channel: (min_budget, max_budget)}`` from this campaign's config (currency).
    total : float
        This campaign's season budget (currency).
    next_budget : DataFrame
        :func:`retro_next_budget` of the earlier campaign (its recommendation for its own total).
    floor : float
        Marginal ROAS below which the channel's maximum is capped.

    Returns
    -------
    (dict, DataFrame)
        The bounds to optimise within, and one row per channel of ``bounds``
        (``RETRO_BUDGET_COLUMNS``): ``earlier_recommended`` (the earlier share x ``total``; NaN
        when the earlier campaign did not budget the channel), ``earlier_marginal_roas``,
        ``max_budget_config``, ``max_budget_used``, ``capped``. ``attrs["applied"]`` is False with
        ``attrs["reason"]`` when caps were needed but would leave ``total`` unspendable.
    """
    nb = next_budget.set_index("channel") if not next_budget.empty else pd.DataFrame()
    earlier_total = float(nb["recommended"].sum()) if not nb.empty else 0.0
    new = dict(bounds)
    rows = []
    for ch, (lo, hi) in bounds.items():
        rec, mroas, used = np.nan, np.nan, hi
        if earlier_total > 0 and ch in nb.index:
            rec = float(nb.loc[ch, "recommended"]) / earlier_total * total
            mroas = float(nb.loc[ch, "marginal_roas_recommended"])
            if np.isfinite(mroas) and mroas < floor:
                used = float(min(hi, max(lo, rec)))
        rows.append({"channel": ch, "earlier_recommended": rec, "earlier_marginal_roas": mroas,
                     "max_budget_config": float(hi), "max_budget_used": float(used), "capped": used < hi})
        new[ch] = (lo, used)
    table = pd.DataFrame(rows, columns=RETRO_BUDGET_COLUMNS)
    table.attrs["applied"], table.attrs["reason"] = True, ""
    if sum(b[1] for b in new.values()) < total - 1e-6:
        table["max_budget_used"] = table["max_budget_config"]
        table["capped"] = False
        table.attrs["applied"] = False
        table.attrs["reason"] = ("capping would leave the season total unspendable within the other channels' "
                                 "maxima, so the configured bounds are kept")
        return dict(bounds), table
    return new, table


def describe_retro_budget(table: pd.DataFrame, campaign: str, currency: str = "USD",
                          floor: float = RETRO_MROAS_FLOOR, plan: pd.DataFrame | None = None) -> str:
    """Sentence on how an earlier retrospective shaped the budget bounds (Markdown).

    With the optimised ``plan`` (``channel``, ``budget``), it also says whether a cap binds.
    """
    from playbook.report.format import fmt_money

    if table.empty or table["earlier_recommended"].isna().all():
        return (f"The earlier retrospective ({campaign}) has no recommended split for these channels, so the "
                "budget bounds are the configured ones.")
    capped = table[table["capped"]]
    low = table[table["earlier_marginal_roas"] < floor]
    text = (f"The {campaign} retrospective's recommended split, scaled to this season's total, is shown next to "
            "the optimised split.")
    if not capped.empty:
        text += (" It found a marginal ROAS below " + f"{floor:g} for " + ", ".join(
            f"**{r.channel.replace('_', ' ')}** ({r.earlier_marginal_roas:.2f}): maximum capped at "
            f"{fmt_money(r.max_budget_used, currency)} instead of {fmt_money(r.max_budget_config, currency)}"
            for r in capped.itertuples()) + ".")
        if plan is not None and not plan.empty:
            budget = plan.set_index("channel")["budget"]
            binding = [r.channel for r in capped.itertuples() if budget.get(r.channel, 0.0) >= r.max_budget_used - 1.0]
            text += (" The cap binds for " + ", ".join(c.replace("_", " ") for c in binding) + ": the optimiser "
                     "would have spent more there." if binding else
                     " The optimised split stays below these caps, so they change no amount this time.")
    elif not low.empty and not table.attrs.get("applied", True):
        text += (f" It found a marginal ROAS below {floor:g} for "
                 + ", ".join(r.channel.replace("_", " ") for r in low.itertuples())
                 + f", but {table.attrs.get('reason', 'the caps were not applied')}.")
    else:
        text += f" No channel had a marginal ROAS below {floor:g} there, so no bound was changed."
    return text


def describe_retro_targets(bias: float | None, summary: Mapping | None, feas: pd.DataFrame,
                           currency: str = "USD", share: float = 1.0) -> str:
    """Sentence on how an earlier retrospective shaped the targets (Markdown).

    ``bias`` is the earlier campaign's (:func:`retro_forecast_bias`), ``share`` the weight
    :func:`retro_country_share` gave it here.
    """
    from playbook.report.format import fmt_money, fmt_pct

    if not summary:
        return ("No earlier retrospective applies, so the base level and the target's chances come from this "
                "season's forecast alone.")
    name = summary.get("campaign", {}).get("name", "the earlier campaign")
    if bias is None:
        return (f"The {name} retrospective did not measure the plan's own forecast (no plan forecast then), so "
                "the targets use this season's forecast unchanged.")
    r = feas.set_index("metric").loc["revenue"] if "revenue" in set(feas.get("metric", [])) else None
    word = "above" if bias >= 0 else "below"
    where = ", ".join(summary.get("campaign", {}).get("countries", []))
    text = f"In {name} ({where}) revenue came in {fmt_pct(abs(bias))} {word} the plan's forecast"
    if share < 1 - 1e-9:
        text += f"; those countries make up {fmt_pct(share)} of this season's forecast"
    text += (f", so this season's base level and the chance of reaching the target use the forecast corrected by "
             f"{fmt_pct(bias * share)}")
    if r is not None:
        text += (f" ({fmt_money(r['expected'], currency)} instead of {fmt_money(r['forecast'], currency)}); the "
                 f"target stays at {fmt_money(r['target'], currency)}")
    return text + "."


def retro_lessons(summaries: Sequence[Mapping]) -> pd.DataFrame:
    """The generated lessons of earlier retrospectives: ``campaign``, ``lesson`` (in the given order)."""
    rows = [{"campaign": s.get("campaign", {}).get("name", s.get("campaign", {}).get("slug", "?")), "lesson": str(x)}
            for s in summaries for x in (s.get("lessons") or [])]
    return pd.DataFrame(rows, columns=["campaign", "lesson"])
