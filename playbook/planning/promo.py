"""The promotional calendar: phases placed against the forecast peaks, send days on the weekday
with the most product views, the chart and the ``calendar.csv`` table.

Artifact ``calendar.csv``: the promotional phases (``kind = "promotion"``: ``phase``, ``start``,
``end``, ``audience``, ``send_day``, ``rationale``) followed by the season's retail events and
public holidays (``kind = "retail"`` / ``"public_holiday"``, ``start`` = ``end`` = the date,
``phase`` = the event's name, ``audience`` = the country).
"""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.warehouse import Warehouse
from playbook.planning.seasons import WEEKDAYS, as_day
from playbook.report.charts import empty_chart, money_formatter


def weekday_browsing(wh: Warehouse, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Product views per weekday (engine-side), with each weekday's share.

    Days and weekdays are those of the campaign's time zone (``wh.day_zone``): ``start`` to ``end``
    runs from local midnight to local midnight, and a view at 23:30 local time counts for that
    local weekday.

    Returns
    -------
    pandas.DataFrame
        ``weekday`` (0 = Monday), ``name``, ``views``, ``share``.
    """
    if not wh.has("events"):
        return pd.DataFrame({"weekday": range(7), "name": WEEKDAYS, "views": 0, "share": 1 / 7})
    ev = wh.table("events")
    e = ev.filter(wh.in_days(ev.event_ts, as_day(start), as_day(end)) & (ev.event_type == "view"))
    df = e.group_by(wd=wh.local_weekday(e.event_ts)).aggregate(views=e.count()).execute()
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
    s0, s1 = as_day(season_start), as_day(season_end)
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

