"""Engine-side data for experiments: per-user outcomes, daily paths and historical baselines.

Data access (``docs/architecture.md``, "Conventions the code relies on"): every scan of a raw
table here is an Ibis expression executed by the backend; only per-user, per-day or one-row
aggregates come back to pandas.

Definitions (units: customers, orders, currency units of the campaign):

* **sale** = an order with revenue >= 0; **refund** = an order with revenue < 0.
* **converted** = at least one sale in the test window; **revenue** = sale revenue in the window.
* **open / click rate** = share of recipients of the test's messages who opened / clicked at
  least one. For a message test (primary metric open or click rate) whose messages carry a
  ``variant``, only those variant-tagged messages in the window are the test's messages (e.g. a
  subject-line test on one send); otherwise all messages in the window count (e.g. unsubscribes
  as a guardrail of an email holdout).
* **pre-period** = the 365 days before the first assignment (or the window start, if earlier):
  it cannot be affected by the treatment, so it is the CUPED covariate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from playbook.data.warehouse import Warehouse, calendar_day, fetch, local_midnight

PRE_DAYS = 365

#: Per-user outcome columns returned by :func:`user_outcomes`.
OUTCOME_COLUMNS = ["customer_id", "variant", "converted", "revenue", "orders", "refunded",
                   "pre_orders", "pre_revenue", "received", "opened", "clicked", "unsubscribed",
                   "bounced", "pre_opens", "pre_clicks", "country"]

#: Metric -> (outcome column, pre-period covariate column, kind, population column or None).
METRICS: dict[str, tuple[str, str, str, str | None]] = {
    "conversion": ("converted", "pre_orders", "proportion", None),
    "revenue_per_user": ("revenue", "pre_revenue", "mean", None),
    "open_rate": ("opened", "pre_opens", "proportion", "received"),
    "click_rate": ("clicked", "pre_clicks", "proportion", "received"),
    "unsubscribe_rate": ("unsubscribed", "pre_opens", "proportion", "received"),
    "bounce_rate": ("bounced", "pre_opens", "proportion", "received"),
    "refund_rate": ("refunded", "pre_orders", "proportion", "converted"),
    "aov": ("aov", "pre_revenue", "mean", "converted"),
}


@dataclass
class Window:
    """A test window: ``start`` inclusive, ``end`` exclusive (UTC instants)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def from_dates(cls, start: dt.date, end: dt.date, zone: str = "UTC") -> Window:
        """Window from inclusive calendar dates of the time zone ``zone`` (the campaign's
        ``timezone``): from local midnight at the start of ``start`` to local midnight at the end
        of ``end`` (:func:`playbook.data.warehouse.local_midnight`)."""
        return cls(local_midnight(start, zone), local_midnight(pd.Timestamp(end) + pd.Timedelta(days=1), zone))

    @property
    def days(self) -> int:
        """Length in whole days."""
        return int(round((self.end - self.start) / pd.Timedelta(days=1)))


def _first_day(wh: Warehouse, window: Window) -> ibis.DateValue:
    """The calendar day (of ``wh.day_zone``) of the window start, as an engine date literal."""
    return ibis.date(calendar_day(window.start, wh.day_zone).date())


def _between(col, start: pd.Timestamp, end: pd.Timestamp):
    return (col >= ibis.timestamp(start)) & (col < ibis.timestamp(end))


def assignment_arms(wh: Warehouse, experiment_id: str) -> ibis.Table:
    """One row per assigned customer: ``customer_id``, ``variant``, ``n_variants``, ``assigned_ts``."""
    a = wh.table("assignments")
    a = a.filter((a.experiment_id == experiment_id) & a.customer_id.notnull())
    return a.group_by("customer_id").aggregate(
        variant=a.variant.min(), n_variants=a.variant.nunique(), assigned_ts=a.assigned_ts.min())


def assignment_summary(wh: Warehouse, experiment_id: str) -> dict:
    """Counts per data arm, customers in more than one arm, first assignment instant."""
    arms = assignment_arms(wh, experiment_id)
    counts = arms.group_by("variant").aggregate(n=arms.count(), multi=(arms.n_variants > 1).sum(),
                                                first=arms.assigned_ts.min()).execute()
    counts = counts.sort_values("variant", ignore_index=True)
    first = pd.to_datetime(counts["first"], utc=True).min() if len(counts) else pd.NaT
    return {"counts": dict(zip(counts["variant"].astype(str), counts["n"].astype(int), strict=True)),
            "multi_arm": int(counts["multi"].sum()) if len(counts) else 0,
            "first_assigned": first}


def user_outcomes(wh: Warehouse, experiment_id: str, window: Window,
                  pre_end: pd.Timestamp | None = None, message_test: bool = False) -> pd.DataFrame:
    """Per assigned customer: outcomes in the window and pre-period covariates (engine-side).

    Customers assigned to more than one arm are excluded here (they are counted by
    :func:`assignment_summary`).

    Parameters
    ----------
    wh : Warehouse
        Needs ``assignments`` and ``orders``; ``messages`` and ``customers`` are optional.
    experiment_id : str
        The experiment.
    window : Window
        The test window.
    pre_end : Timestamp, optional
        End of the pre-period (default: the window start).
    message_test : bool
        The experiment varies a message (open/click-rate test): only variant-tagged messages
        count, when there are any.

    Returns
    -------
    pandas.DataFrame
        :data:`OUTCOME_COLUMNS`, one row per customer, sorted by ``customer_id``; counts are
        integers, money in currency units, ``aov`` = revenue / orders (NaN without orders).
    """
    arms = assignment_arms(wh, experiment_id)
    arms = arms.filter(arms.n_variants == 1).select("customer_id", "variant")
    pre_end = min(pre_end, window.start) if pre_end is not None and not pd.isna(pre_end) else window.start
    pre_start = pre_end - pd.Timedelta(days=PRE_DAYS)
    o = wh.table("orders")
    o = o.filter(o.customer_id.notnull())
    sale = o.revenue >= 0
    inw = _between(o.order_ts, window.start, window.end)
    pre = _between(o.order_ts, pre_start, pre_end)
    o = o.filter(inw | pre)
    og = o.group_by("customer_id").aggregate(
        orders=(sale & inw).sum(), revenue=o.revenue.sum(where=sale & inw),
        refunds=(~sale & inw).sum(), pre_orders=(sale & pre).sum(),
        pre_revenue=o.revenue.sum(where=sale & pre))
    t = arms.left_join(og, "customer_id").select(arms, *[og[c] for c in og.columns if c != "customer_id"])
    t = _join_messages(wh, t, arms, window, pre_start, pre_end, message_test)
    if wh.has("customers"):
        c = wh.table("customers").select("customer_id", "country")
        c = c.group_by("customer_id").aggregate(country=c.country.min())
        t = t.left_join(c, "customer_id").select(t, c.country)
    df = fetch(t)
    return _tidy_outcomes(df)


def _join_messages(wh: Warehouse, t: ibis.Table, arms: ibis.Table, window: Window,
                   pre_start: pd.Timestamp, pre_end: pd.Timestamp, message_test: bool) -> ibis.Table:
    if not wh.has("messages"):
        return t
    m = wh.table("messages")
    m = m.filter(m.customer_id.isin(arms.customer_id))
    inw = _between(m.sent_ts, window.start, window.end)
    pre = _between(m.sent_ts, pre_start, pre_end)
    m = m.filter(inw | pre)
    tagged = message_test and m.filter(inw & m.variant.notnull()).count().execute() > 0
    test = inw & m.variant.notnull() if tagged else inw
    mg = m.group_by("customer_id").aggregate(
        received=test.sum(), opened=(test & m.opened_ts.notnull()).sum(),
        clicked=(test & m.clicked_ts.notnull()).sum(),
        unsubscribed=(test & m.unsubscribed_ts.notnull()).sum(),
        bounced=(test & m.bounced_ts.notnull()).sum(),
        pre_opens=(pre & m.opened_ts.notnull()).sum(), pre_clicks=(pre & m.clicked_ts.notnull()).sum())
    return t.left_join(mg, "customer_id").select(t, *[mg[c] for c in mg.columns if c != "customer_id"])


def _tidy_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    for col in OUTCOME_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan if col == "country" else 0
    ints = ["orders", "refunds", "pre_orders", "received", "opened", "clicked", "unsubscribed",
            "bounced", "pre_opens", "pre_clicks"]
    for col in ints:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col]).fillna(0).astype("int64")
    for col in ("revenue", "pre_revenue"):
        df[col] = pd.to_numeric(df[col]).fillna(0.0).astype("float64")
    df["converted"] = (df["orders"] > 0).astype("int64")
    df["refunded"] = (df["refunds"] > 0).astype("int64")
    for col in ("received", "opened", "clicked", "unsubscribed", "bounced"):
        df[col] = (df[col] > 0).astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        df["aov"] = np.where(df["orders"] > 0, df["revenue"] / df["orders"].where(df["orders"] > 0), np.nan)
    df["customer_id"] = df["customer_id"].astype(str)
    df["variant"] = df["variant"].astype(str)
    df["country"] = df["country"].astype("string").fillna("unknown")
    return df[OUTCOME_COLUMNS + ["aov"]].sort_values("customer_id", ignore_index=True)


def daily_user_orders(wh: Warehouse, experiment_id: str, window: Window) -> pd.DataFrame:
    """Sale orders and revenue per assigned customer and day of the window (sparse).

    Returns ``customer_id``, ``day`` (calendar days of ``wh.day_zone`` since the day of the window
    start, 0-based), ``orders``, ``revenue``; only customer-days with a sale.
    """
    arms = assignment_arms(wh, experiment_id)
    arms = arms.filter(arms.n_variants == 1).select("customer_id")
    o = wh.table("orders")
    o = o.filter(_between(o.order_ts, window.start, window.end) & (o.revenue >= 0)
                 & o.customer_id.isin(arms.customer_id))
    day = wh.local_day(o.order_ts).delta(_first_day(wh, window), unit="day")
    o = o.mutate(day=day)
    g = o.group_by(["customer_id", "day"]).aggregate(orders=o.count(), revenue=o.revenue.sum())
    df = fetch(g)
    df["customer_id"] = df["customer_id"].astype(str)
    df["day"] = pd.to_numeric(df["day"]).astype("int64")
    return df


# --------------------------------------------------------------------------------------------
# History for the design: baseline, variance, pre-period correlation, reach
# --------------------------------------------------------------------------------------------
def history_baseline(wh: Warehouse, metric: str, window: Window) -> dict[str, float]:
    """Baseline of ``metric`` in a past window among customers present at its start (engine-side).

    Returns ``n`` (eligible customers, or message recipients), ``mean`` and ``var`` of the
    per-user metric (for message metrics: each recipient's share of messages opened/clicked...,
    whose mean is the per-message rate), and ``rho``: the correlation between the metric and its pre-period
    covariate (the 365 days before the window), used for the CUPED sample size. NaN when no
    data.
    """
    col, cov, _, pop = METRICS[metric]
    c = wh.table("customers")
    c = c.filter(c.signup_ts < ibis.timestamp(window.start))
    c = c.filter(c.erased_at.isnull() | (c.erased_at >= ibis.timestamp(window.end)))
    people = c.select("customer_id").distinct()
    pre_start = window.start - pd.Timedelta(days=PRE_DAYS)
    if metric in ("open_rate", "click_rate", "unsubscribe_rate", "bounce_rate"):
        if not wh.has("messages"):
            return {"n": 0.0, "mean": np.nan, "var": np.nan, "rho": np.nan}
        m = wh.table("messages")
        inw, pre = _between(m.sent_ts, window.start, window.end), _between(m.sent_ts, pre_start, window.start)
        flag = {"open_rate": m.opened_ts, "click_rate": m.clicked_ts, "unsubscribe_rate": m.unsubscribed_ts,
                "bounce_rate": m.bounced_ts}[metric].notnull()
        g = m.filter(inw | pre).group_by("customer_id").aggregate(
            got=inw.sum(), y=(inw & flag).sum(), x=(pre & flag).sum())
        # per-message rate of each recipient (a one-send test's rate), pre-period count
        g = g.filter(g.got > 0).mutate(y=g.y.cast("float64") / g.got, x=g.x.cast("float64"))
    else:
        o = wh.table("orders")
        sale = o.revenue >= 0
        inw, pre = _between(o.order_ts, window.start, window.end), _between(o.order_ts, pre_start, window.start)
        g = o.filter((inw | pre) & sale).group_by("customer_id").aggregate(
            orders=inw.sum(), rev=o.revenue.sum(where=inw), pre_orders=pre.sum(), pre_rev=o.revenue.sum(where=pre))
        g = people.left_join(g, "customer_id").select(people.customer_id, g.orders, g.rev, g.pre_orders, g.pre_rev)
        y = (ibis.ifelse(g.orders.fill_null(0) > 0, 1.0, 0.0) if col == "converted"
             else g.rev.fill_null(0.0).cast("float64"))
        x = (g.pre_orders.fill_null(0).cast("float64") if cov == "pre_orders"
             else g.pre_rev.fill_null(0.0).cast("float64"))
        g = g.mutate(y=y, x=x)
    s = g.aggregate(n=g.count(), sy=g.y.sum(), sx=g.x.sum(), syy=(g.y * g.y).sum(),
                    sxx=(g.x * g.x).sum(), sxy=(g.x * g.y).sum()).execute().iloc[0]
    return _moments(s)


def _moments(s: pd.Series) -> dict[str, float]:
    n = float(s["n"] or 0)
    if n < 2:
        return {"n": n, "mean": np.nan, "var": np.nan, "rho": np.nan}
    sy, sx, syy, sxx, sxy = (float(s[k] or 0) for k in ("sy", "sx", "syy", "sxx", "sxy"))
    vy = (syy - sy * sy / n) / (n - 1)
    vx = (sxx - sx * sx / n) / (n - 1)
    cxy = (sxy - sx * sy / n) / (n - 1)
    rho = cxy / np.sqrt(vx * vy) if vx > 0 and vy > 0 else 0.0
    return {"n": n, "mean": sy / n, "var": max(vy, 0.0), "rho": float(np.clip(rho, -1, 1))}


def reach_curve(wh: Warehouse, metric: str, window: Window) -> np.ndarray:
    """Cumulative distinct eligible customers reached by the end of each day of ``window``.

    Reach is the first day a customer shows up: a message received (open/click/unsubscribe/
    bounce metrics) or an event or order (other metrics). Length = ``window.days``.
    """
    if metric in ("open_rate", "click_rate", "unsubscribe_rate", "bounce_rate"):
        tables = [("messages", "sent_ts")] if wh.has("messages") else []
    else:
        tables = [(n, ts) for n, ts in (("events", "event_ts"), ("orders", "order_ts")) if wh.has(n)]
    parts = []
    for name, ts in tables:
        t = wh.table(name)
        t = t.filter(_between(t[ts], window.start, window.end) & t.customer_id.notnull())
        parts.append(t.select(customer_id=t.customer_id, ts=t[ts]))
    if not parts:
        return np.zeros(window.days)
    u = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    first = u.group_by("customer_id").aggregate(first=u.ts.min())
    first = first.mutate(day=wh.local_day(first["first"]).delta(_first_day(wh, window), unit="day"))
    per_day = first.group_by("day").aggregate(n=first.count()).execute()
    counts = np.zeros(window.days)
    d = pd.to_numeric(per_day["day"]).astype(int).to_numpy()
    ok = (d >= 0) & (d < window.days)
    np.add.at(counts, d[ok], per_day["n"].to_numpy()[ok])
    return np.cumsum(counts)
