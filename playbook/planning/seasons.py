"""Past seasons in detail: year over year by calendar date and aligned to each retail event,
the event profile, peak days, the pre-season ramp, when each category's demand happens per
country, and how much of an event's peak is pulled forward from the days after it; and the
default comparison seasons of a campaign file that leaves ``comparison_seasons`` out
(:func:`default_comparison_seasons`: the same window in earlier years that the data covers).

Every scan of a raw table is an Ibis expression executed by the backend
(:func:`playbook.data.aggregates.daily_sales`); the functions here work on the daily aggregates
that come back. A season is ``(name, start, end)`` (:data:`playbook.planning.history.Season`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.forecasting.calendar import EVENT_NAMES, EVENTS, event_date
from playbook.forecasting.model import design_matrix, ols_params
from playbook.planning.history import Season, as_day
from playbook.report.charts import empty_chart, money_formatter
from playbook.report.format import fmt_pct

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------------------------
# Default comparison seasons: the same window in earlier years, where the data covers it


def years_earlier(day: dt.date, years: int) -> dt.date:
    """``day`` moved back by ``years`` calendar years; 29 February becomes 28 February in a
    year without it."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 Feb -> a year without it
        return day.replace(year=day.year - years, day=28)


def _earlier_name(name: str, start: dt.date, end: dt.date, years: int) -> str:
    """The campaign ``name`` with its year moved back (``Holiday 2025`` -> ``Holiday 2024``), or
    ``"<name> <year>"`` when the name carries no year of the window."""
    for year in dict.fromkeys((start.year, end.year)):
        if re.search(rf"\b{year}\b", name):
            return re.sub(rf"\b{year}\b", str(year - years), name)
    return f"{name or 'Season'} {years_earlier(start, years).year}".strip()


def default_comparison_seasons(
    season_start: dt.date,
    season_end: dt.date,
    first_day: dt.date | None,
    last_day: dt.date | None,
    max_years: int = 3,
    name: str = "",
) -> list[tuple[str, dt.date, dt.date]]:
    """The campaign window moved back 1 to ``max_years`` years, where the data covers it whole.

    Parameters
    ----------
    season_start, season_end : date
        The campaign window (both days included).
    first_day, last_day : date or None
        First and last day with an order in the data (both included); ``None`` when there are no
        orders (then nothing is returned).
    max_years : int
        How many years back to look.
    name : str
        The campaign's name; each season is named after it with its year moved back
        (``Holiday 2025`` -> ``Holiday 2024``), else ``"<name> <year>"``.

    Returns
    -------
    list of (name, start, end)
        Oldest first. A window is kept only if it lies wholly inside ``[first_day, last_day]``
        (a window the data covers in part would compare a part with a whole season) and ends
        before ``season_start``. 29 February moves to 28 February in a year without it.
    """
    if first_day is None or last_day is None:
        return []
    out = []
    for k in range(1, max_years + 1):
        a, b = years_earlier(season_start, k), years_earlier(season_end, k)
        if first_day <= a and b <= last_day and b < season_start:
            out.append((_earlier_name(name, season_start, season_end, k), a, b))
    return sorted(out, key=lambda s: s[1])


def describe_default_comparison(seasons: Sequence[tuple[str, dt.date, dt.date]], first_day: dt.date | None,
                                last_day: dt.date | None, season_start: dt.date, season_end: dt.date) -> str:
    """One sentence on the comparison seasons chosen by :func:`default_comparison_seasons` (or
    why there is none, and which data would give one)."""
    if first_day is None or last_day is None:
        return "There are no orders in the data, so no earlier season is compared."
    if not seasons:
        return (f"No earlier season is fully covered by the data (orders from {first_day:%d %b %Y} to "
                f"{last_day:%d %b %Y}), so nothing is compared with a past season; orders covering the same "
                f"window a year earlier ({years_earlier(season_start, 1):%d %b %Y} to "
                f"{years_earlier(season_end, 1):%d %b %Y}) would enable it.")
    ago = {1: "a year earlier", 2: "two years earlier", 3: "three years earlier"}
    parts = []
    for n, a, _b in sorted(seasons, key=lambda s: s[1], reverse=True):
        k = season_start.year - a.year
        parts.append(f"{n} (same window {ago.get(k, f'{k} years earlier')})")
    return ("Comparison seasons chosen from the data (the campaign file leaves comparison_seasons out): "
            + ", ".join(parts) + ".")


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
    out = pd.DataFrame(rows, columns=YOY_COLUMNS)
    return out.astype({"event_date": "datetime64[ns]", "last_year_event_date": "datetime64[ns]"}) if out.empty else out


#: Columns of :func:`event_aligned_yoy`.
YOY_COLUMNS = ["event", "country", "year", "event_date", "last_year_event_date", "this_year",
               "last_year_aligned", "last_year_calendar", "growth_aligned", "growth_calendar"]


def no_comparable_period(
    daily_by_country: pd.DataFrame,
    events: Sequence[str],
    countries: Sequence[str],
    years: Sequence[int],
    window: tuple[int, int] = (-7, 3),
) -> str:
    """Why :func:`event_aligned_yoy` has no row, in one sentence: the data that would enable it.

    Names the latest event (of ``events`` x ``countries`` x ``years``) whose window ends inside the
    data, and the first day of data its comparison a year earlier needs.
    """
    d = daily_by_country
    if d.empty:
        return "No comparable period: there are no sales before the planning cutoff."
    first, last = pd.Timestamp(d["day"].min()), pd.Timestamp(d["day"].max())
    best: tuple[pd.Timestamp, pd.Timestamp, str, str] | None = None
    for event in events:
        for c in countries:
            for y in years:
                e1, e0 = event_date(event, c, y), event_date(event, c, y - 1)
                if e1 is None or e0 is None:
                    continue
                t1, t0 = pd.Timestamp(e1), pd.Timestamp(e0)
                if t1 + pd.Timedelta(days=window[1]) > last or (best is not None and t1 <= best[0]):
                    continue
                need = min(t0, t1 - pd.DateOffset(years=1)) + pd.Timedelta(days=window[0])
                best = (t1, need, event, c)
    if best is None:
        return (f"No comparable period: no retail event of the campaign's countries falls in the data "
                f"({first:%d %b %Y} to {last:%d %b %Y}), so there is nothing to compare year over year.")
    t1, need, event, c = best
    return (f"No comparable period: the data starts on {first:%d %b %Y}, so event-aligned year-over-year needs "
            f"data from {need:%d %b %Y} (one year before the event, {EVENT_NAMES.get(event, event)} in {c} on "
            f"{t1:%d %b %Y}, and the days before it).")


def moved_events(yoy: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`event_aligned_yoy` with both growths whose event changed calendar date
    (month and day) from the year before.

    An event on the same date both years (Valentine's Day on 14 February) has the same window
    aligned and by calendar date, so its calendar comparison cannot mislead; only a moved event's
    can (Black Friday, Easter, Diwali).
    """
    ok = yoy.dropna(subset=["growth_aligned", "growth_calendar"])
    if ok.empty:
        return ok
    now, before = pd.to_datetime(ok["event_date"]), pd.to_datetime(ok["last_year_event_date"])
    moved = (now.dt.month != before.dt.month) | (now.dt.day != before.dt.day)
    return ok[moved]


def _most_misleading(yoy: pd.DataFrame) -> pd.Series | None:
    """The row of :func:`moved_events` with the largest gap between aligned and calendar growth
    (the first such row on a tie; None when no event moved)."""
    moved = moved_events(yoy)
    if moved.empty:
        return None
    return moved.loc[(moved["growth_aligned"] - moved["growth_calendar"]).abs().idxmax()]


def main_moving_event(yoy: pd.DataFrame) -> tuple[str, str]:
    """The (event, country) of :func:`event_aligned_yoy` whose calendar comparison misleads most
    (largest gap between aligned and calendar growth among the events that changed date); when
    no event changed date, the first compared event; Black Friday in the US without data."""
    r = _most_misleading(yoy)
    if r is None:
        ok = yoy.dropna(subset=["growth_aligned", "growth_calendar"])
        return ("black_friday", "US") if ok.empty else (str(ok["event"].iloc[0]), str(ok["country"].iloc[0]))
    return str(r["event"]), str(r["country"])

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
    """Plain-language sentence on the biggest gap between aligned and calendar growth, among the
    events that changed calendar date (:func:`moved_events`)."""
    ok = yoy.dropna(subset=["growth_aligned", "growth_calendar"])
    if ok.empty:
        return "There is not enough history to compare events year over year."
    r = _most_misleading(yoy)
    if r is None:
        names = sorted({EVENT_NAMES.get(e, str(e)) for e in ok["event"]})
        return (f"Every compared event ({', '.join(names)}) fell on the same calendar date as the year before, "
                "so comparing by calendar date and aligned to the event give the same growth.")
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
    rows = []
    for name, a, b in seasons:
        s = daily[(daily["day"] >= as_day(a)) & (daily["day"] <= as_day(b))].set_index("day")[metric]
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
    out = pd.DataFrame(rows, columns=["season", "rank", "day", "weekday", "value", "vs_season_median", "nearest_event"])
    return out.astype({"day": "datetime64[ns]"}) if out.empty else out


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
        a = as_day(a)
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
        a0 = as_day(a) - pd.Timedelta(days=lead_days)
        w = d[(d["day"] >= a0) & (d["day"] <= as_day(b))]
        if w.empty:
            continue
        for (c, cat), g in w.groupby(["country", "category"]):
            s = g.groupby("day")[metric].sum().clip(lower=0).reindex(pd.date_range(a0, as_day(b)), fill_value=0.0)
            if s.sum() <= 0:
                continue
            cum = s.cumsum() / s.sum()
            half = int(np.argmax(cum.to_numpy() >= 0.5))
            weekly = s.groupby(np.arange(len(s)) // 7).sum()
            rows.append({"season": name, "country": c, "category": cat, "halfway_day": half,
                         "peak_week": int(weekly.idxmax()), "revenue": float(s.sum())})
        for c, g in w.groupby("country"):
            s = g.groupby("day")[metric].sum().clip(lower=0).reindex(pd.date_range(a0, as_day(b)), fill_value=0.0)
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
    nan = {"extra": np.nan, "lost": np.nan, "share": np.nan, "dip_multiplier": np.nan, "net_extra": np.nan}
    dip_col = f"{event}_dip"
    if getattr(est, "mode_", None) in (None, "empty", "weekday-mean") or dip_col not in est.columns_:
        return nan
    params, _ = ols_params(est.model, est.fitted_)
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

