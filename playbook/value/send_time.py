"""Send-time optimisation: each customer's best hour and weekday to send, from past email opens.

Method
------
Hour-of-day (UTC) and weekday (UTC) open counts per customer, shrunk towards their segment's pattern,
which is itself shrunk towards the global pattern (empirical Bayes with Dirichlet pseudo-counts:
``post = (counts + m * prior) / (n + m)``). The best hour is the mode of the posterior.

Check
-----
:func:`evaluate_send_time` learns the hours from opens before a split date and scores them on
the opens after it (share of held-out opens within an hour of the chosen hour), against the
single best global hour.

Time zones: unlike the daily aggregates (calendar days of the campaign's ``timezone``, see
:mod:`playbook.data.warehouse`, "Days"), the hour and weekday here stay in UTC on purpose: a
``(weekday, hour)`` pair is a weekly UTC send slot, which a scheduler can use directly, and
:func:`local_send_time` shows it in each customer's own country zone (customers of one campaign can
live in several zones). Window bounds given as dates are local midnight of the campaign's zone
(:meth:`playbook.data.warehouse.Warehouse.instant`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeAlias

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from playbook.data.cutoff import planning_as_of
from playbook.data.warehouse import Warehouse
from playbook.errors import DataError
from playbook.report.charts import empty_chart

#: Country -> IANA zone used to show a UTC send hour as local time.
COUNTRY_TZ = {"US": "America/New_York", "GB": "Europe/London", "DE": "Europe/Berlin", "IN": "Asia/Kolkata",
              "AE": "Asia/Dubai", "CN": "Asia/Shanghai"}
#: Send hour (UTC) of customers without opens.
DEFAULT_HOUR_UTC = 10

#: An instant given as a date (UTC midnight), an ISO string or a timestamp.
Instant: TypeAlias = dt.date | str | pd.Timestamp


def open_counts(wh: Warehouse, start: Instant, end: Instant) -> pd.DataFrame:
    """Opens per customer, UTC weekday (0 = Monday) and hour for messages opened in [start, end)."""
    m = wh.table("messages")
    m = m.filter(m.opened_ts.notnull(), m.opened_ts >= ibis.timestamp(wh.instant(start)),
                 m.opened_ts < ibis.timestamp(wh.instant(end)), m.customer_id.notnull())
    m = m.mutate(hour=m.opened_ts.hour(), weekday=m.opened_ts.day_of_week.index())
    df = m.group_by(["customer_id", "weekday", "hour"]).aggregate(opens=m.count()).execute()
    df["customer_id"] = df["customer_id"].astype(str)
    return df


def _shrunk(counts: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """Rows of ``counts`` shrunk towards ``prior`` with ``strength`` pseudo-counts (shares per row)."""
    n = counts.sum(axis=1, keepdims=True)
    return (counts + strength * prior) / (n + strength)


def send_times(opens: pd.DataFrame, segments: pd.Series | None = None, strength: float = 5.0
               ) -> pd.DataFrame:
    """Best UTC hour and weekday per customer (empirical Bayes shrinkage).

    Parameters
    ----------
    opens : DataFrame
        From :func:`open_counts`.
    segments : Series, optional
        customer_id -> segment; without it only the global prior is used.
    strength : float
        Pseudo-opens of the prior (a customer with ``strength`` opens weighs their own pattern
        and the prior equally).

    Returns
    -------
    pandas.DataFrame
        customer_id, opens, best_hour_utc, best_weekday (0 = Monday), hour_confidence
        (posterior share of the best hour).
    """
    if opens.empty:
        return pd.DataFrame(columns=["customer_id", "opens", "best_hour_utc", "best_weekday", "hour_confidence"])
    custs = pd.Index(np.sort(opens["customer_id"].unique()))
    r = custs.get_indexer(opens["customer_id"])
    H = np.zeros((len(custs), 24))
    W = np.zeros((len(custs), 7))
    np.add.at(H, (r, opens["hour"].to_numpy(int)), opens["opens"].to_numpy(float))
    np.add.at(W, (r, opens["weekday"].to_numpy(int)), opens["opens"].to_numpy(float))
    seg = (segments.reindex(custs).fillna("none").astype(str).to_numpy() if segments is not None
           else np.full(len(custs), "all"))
    g_h = (H.sum(0) + 1) / (H.sum() + 24)
    g_w = (W.sum(0) + 1) / (W.sum() + 7)
    codes, uniq = pd.factorize(seg)
    Sh = np.zeros((len(uniq), 24))
    Sw = np.zeros((len(uniq), 7))
    np.add.at(Sh, codes, H)
    np.add.at(Sw, codes, W)
    prior_h = _shrunk(Sh, g_h[None, :], strength * 4)[codes]
    prior_w = _shrunk(Sw, g_w[None, :], strength * 4)[codes]
    post_h = _shrunk(H, prior_h, strength)
    post_w = _shrunk(W, prior_w, strength)
    return pd.DataFrame({"customer_id": custs.to_numpy(), "opens": H.sum(1).astype(int),
                         "best_hour_utc": post_h.argmax(1), "best_weekday": post_w.argmax(1),
                         "hour_confidence": post_h.max(1)})


def global_best_hour(opens: pd.DataFrame) -> int:
    """The single hour (UTC) with the most opens; :data:`DEFAULT_HOUR_UTC` when there are none."""
    if opens.empty:
        return DEFAULT_HOUR_UTC
    return int(opens.groupby("hour")["opens"].sum().idxmax())


def evaluate_send_time(wh: Warehouse, split: Instant, end: Instant, segments: pd.Series | None = None,
                       window_hours: int = 1) -> pd.DataFrame:
    """Held-out check: share of opens after ``split`` within ``window_hours`` of the chosen hour.

    Personal hours are learned from opens before ``split``; the baseline is the single best
    global hour. Only customers with held-out opens are scored.
    """
    train = open_counts(wh, pd.Timestamp("1970-01-01", tz="UTC"), split)
    test = open_counts(wh, split, end)
    if train.empty or test.empty:
        raise DataError("Not enough email opens before and after the split to evaluate send times.")
    st = send_times(train, segments).set_index("customer_id")["best_hour_utc"]
    g = global_best_hour(train)
    t = test.copy()
    t["personal"] = st.reindex(t["customer_id"]).fillna(g).to_numpy()

    def share_within(pred: np.ndarray) -> float:
        d = np.abs(t["hour"].to_numpy() - pred) % 24
        d = np.minimum(d, 24 - d)
        w = t["opens"].to_numpy(float)
        return float((w * (d <= window_hours)).sum() / w.sum())

    return pd.DataFrame({"method": ["personal (shrunk)", f"global best hour ({g:02d}:00 UTC)"],
                         "held_out_opens": int(t["opens"].sum()),
                         f"share_within_{window_hours}h": [share_within(t["personal"].to_numpy()),
                                                           share_within(np.full(len(t), g))]})


def local_send_time(best_hour_utc: pd.Series, country: pd.Series, day: str = "2025-11-15") -> pd.Series:
    """The UTC send hour shown as local ``HH:00`` in the customer's country (on ``day``)."""
    out = pd.Series("", index=best_hour_utc.index, dtype=object)
    for cc, tz in COUNTRY_TZ.items():  # loop over countries, not customers
        m = (country == cc).to_numpy() & best_hour_utc.notna().to_numpy()
        if m.any():
            ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(best_hour_utc[m].astype(int), unit="h")
            out[m] = pd.DatetimeIndex(ts).tz_convert(tz).strftime("%H:00 ") + tz
    rest = (out == "") & best_hour_utc.notna()
    out[rest] = best_hour_utc[rest].astype(int).map(lambda h: f"{h:02d}:00 UTC")
    return out


def plot_send_hours(st: pd.DataFrame) -> plt.Figure:
    """Distribution of customers' best send hours (UTC)."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    if st.empty:
        empty_chart(ax, "No email opens: no send-time data")
        return fig
    counts = st["best_hour_utc"].value_counts().reindex(range(24), fill_value=0)
    ax.bar(counts.index, counts.to_numpy(), color="#1f4e79")
    ax.set_xlabel("best send hour (UTC)")
    ax.set_ylabel("customers")
    ax.set_title("Personal best send hour from past opens")
    fig.tight_layout()
    return fig



def campaign_send_times(wh: Warehouse, cfg: Any, segments: pd.Series | None = None, holdout_days: int = 120
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Send times learned from all opens before the planning cutoff, and the held-out check
    (learn before ``cutoff - holdout_days``, test on the last ``holdout_days``).

    Returns (send_times, evaluation); the evaluation is empty when there are too few opens.
    """
    cut = planning_as_of(cfg)
    if not wh.has("messages"):
        return send_times(pd.DataFrame(columns=["customer_id", "weekday", "hour", "opens"])), pd.DataFrame()
    st = send_times(open_counts(wh, pd.Timestamp("1970-01-01", tz="UTC"), cut), segments)
    try:
        ev = evaluate_send_time(wh, cut - pd.Timedelta(days=holdout_days), cut, segments)
    except DataError:
        ev = pd.DataFrame()
    return st, ev


def describe_send_time(st: pd.DataFrame, ev: pd.DataFrame) -> str:
    """One sentence on the send-time result (Markdown)."""
    if st.empty:
        return f"No email opens before the cutoff: everyone gets the default send time ({DEFAULT_HOUR_UTC:02d}:00 UTC)."
    text = f"{len(st):,} customers have a personal send hour learned from their past opens"
    if not ev.empty:
        col = ev.columns[2]
        text += (f"; on held-out opens the personal hour was within an hour of the actual open "
                 f"{ev[col].iloc[0]:.0%} of the time, against {ev[col].iloc[1]:.0%} for the single best global hour")
    return text + "."
