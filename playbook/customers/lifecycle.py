"""Customers of a campaign window: new against returning buyers, and lifecycle movement.

Counted in the engine (Ibis); only per-group or per-state counts come back to pandas. Sale
orders are orders with revenue >= 0 (refunds are not purchases).

New vs returning
    A buyer is *new* when their first sale order ever falls in the window; the early repeat rate
    is the share of buyers with another sale order within ``repeat_days`` after their first
    order in the window (the same rule for both groups).
Lifecycle states
    At an instant ``t``: ``prospect`` (signed up, never bought), ``new`` (first order within 90
    days), ``active`` (last order within 90 days), ``lapsing`` (91-365 days), ``lapsed`` (more
    than 365 days). A simple recency segmentation used when the segment step's artifacts are not
    at hand.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import ibis
import numpy as np
import pandas as pd

from playbook.data.aggregates import exact_sum
from playbook.data.warehouse import Warehouse, calendar_day

#: A day given as a date, an ISO string or a timestamp.
Day: TypeAlias = dt.date | str | pd.Timestamp


def new_vs_returning(wh: Warehouse, start: Day, end: Day, repeat_days: int = 30) -> pd.DataFrame:
    """New customers acquired in the window and their early repeat rate against regulars.

    A buyer is *new* when their first sale order ever falls in the window. The early repeat rate
    is the share of buyers with another sale order within ``repeat_days`` after their first
    order in the window (the same rule for both groups).

    Returns
    -------
    DataFrame
        ``group`` ("new", "returning"), ``customers``, ``repeaters``, ``repeat_rate``,
        ``revenue`` (window sale revenue), ``revenue_per_customer``; ``attrs["follow_up_complete"]``
        is False when the data ends before ``end + repeat_days``.
    """
    o = wh.table("orders")
    o = o.filter(o.revenue >= 0, o.customer_id.notnull())
    s0 = ibis.timestamp(wh.day_start(start))
    first = o.group_by("customer_id").aggregate(first_ever=o.order_ts.min())
    w = o.filter(wh.in_days(o.order_ts, start, end))
    buyers = w.group_by("customer_id").aggregate(first_win=w.order_ts.min(), revenue=exact_sum(w.revenue))
    buyers = buyers.join(first, "customer_id")
    later = o.select(l_customer="customer_id", l_ts="order_ts")
    rep = buyers.left_join(later, [buyers.customer_id == later.l_customer, later.l_ts > buyers.first_win,
                                   later.l_ts <= buyers.first_win + ibis.interval(days=repeat_days)])
    per = rep.group_by(["customer_id", "first_win", "first_ever", "revenue"]).aggregate(n_rep=rep.l_ts.count())
    per = per.mutate(group=ibis.ifelse(per.first_ever >= s0, "new", "returning"))
    g = per.group_by("group").aggregate(customers=per.count(), repeaters=(per.n_rep > 0).sum(),
                                        revenue=exact_sum(per.revenue)).execute()
    last_order = o.order_ts.max().execute()
    out = pd.DataFrame({"group": ["new", "returning"]}).merge(g, on="group", how="left")
    out[["customers", "repeaters"]] = out[["customers", "repeaters"]].fillna(0).astype("int64")
    out["revenue"] = pd.to_numeric(out["revenue"]).astype(float).fillna(0.0)
    out["repeat_rate"] = np.where(out["customers"] > 0, out["repeaters"] / out["customers"].clip(lower=1), 0.0)
    out["revenue_per_customer"] = np.where(out["customers"] > 0, out["revenue"] / out["customers"].clip(lower=1), 0.0)
    complete = last_order is not None and not pd.isna(last_order) and \
        pd.Timestamp(last_order) >= wh.day_start(end) + pd.Timedelta(days=repeat_days)
    out.attrs["follow_up_complete"] = bool(complete)
    out.attrs["repeat_days"] = repeat_days
    return out[["group", "customers", "repeaters", "repeat_rate", "revenue", "revenue_per_customer"]]


def describe_customers(nvr: pd.DataFrame, target_new: int | None = None) -> str:
    """Sentence on new customers and their early repeat rate (Markdown)."""
    new = nvr.set_index("group").loc["new"]
    ret = nvr.set_index("group").loc["returning"]
    if new["customers"] + ret["customers"] == 0:
        return "Nobody bought in the window: no customers to describe."
    text = (f"The season brought **{int(new['customers']):,} new customers**"
            + (f" (target {target_new:,}: {'met' if new['customers'] >= target_new else 'missed'})"
               if target_new else "")
            + f"; {new['repeat_rate']:.1%} of them bought again within {nvr.attrs.get('repeat_days', 30)} days, "
            f"against {ret['repeat_rate']:.1%} of the {int(ret['customers']):,} returning buyers.")
    if not nvr.attrs.get("follow_up_complete", True):
        text += " The data ends before the follow-up period of the last buyers is over, so repeat rates are lower bounds."
    return text


LIFECYCLE_STATES: tuple[str, ...] = ("prospect", "new", "active", "lapsing", "lapsed")


def _state_at(o: ibis.Table, cut: ibis.Expr, name: str) -> ibis.Table:
    before = o.filter(o.order_ts < cut)
    return before.group_by("customer_id").aggregate(**{f"first_{name}": before.order_ts.min(),
                                                      f"last_{name}": before.order_ts.max()})


def lifecycle_movement(wh: Warehouse, start: Day, end: Day) -> pd.DataFrame:
    """How customers moved between lifecycle states from the start to the end of the window.

    States at an instant ``t`` (sale orders before ``t``): ``prospect`` (signed up, never bought),
    ``new`` (first order within 90 days), ``active`` (last order within 90 days), ``lapsing``
    (91-365 days), ``lapsed`` (more than 365 days). A simple RFM-like recency segmentation used
    when the segment step's artifacts are not at hand.

    Returns
    -------
    DataFrame
        Counts: rows = state at the start, columns = state at the end (all five states, zeros
        included). Erased customers are left out.
    """
    t0 = ibis.timestamp(wh.day_start(start))
    t1 = ibis.timestamp(wh.day_start(calendar_day(end, wh.day_zone) + pd.Timedelta(days=1)))
    o = wh.table("orders")
    o = o.filter(o.revenue >= 0, o.customer_id.notnull())
    c = wh.table("customers")
    c = c.filter(c.signup_ts < t1, c.erased_at.isnull()).select("customer_id", "signup_ts")
    c = c.left_join(_state_at(o, t0, "0"), "customer_id").drop("customer_id_right")
    c = c.left_join(_state_at(o, t1, "1"), "customer_id").drop("customer_id_right")

    def state(first, last, t):
        days_last = (t.epoch_seconds() - last.epoch_seconds()) / 86400.0
        days_first = (t.epoch_seconds() - first.epoch_seconds()) / 86400.0
        return (ibis.cases((last.isnull(), "prospect"), (days_first <= 90, "new"), (days_last <= 90, "active"),
                           (days_last <= 365, "lapsing"), else_="lapsed"))

    c = c.mutate(before=ibis.ifelse(c.signup_ts < t0, state(c.first_0, c.last_0, t0), "not yet signed up"),
                 after=state(c.first_1, c.last_1, t1))
    counts = c.group_by(["before", "after"]).aggregate(customers=c.count()).execute()
    rows = ["not yet signed up", *LIFECYCLE_STATES]
    table = counts.pivot_table(index="before", columns="after", values="customers", aggfunc="sum", fill_value=0)
    table = table.reindex(index=rows, columns=list(LIFECYCLE_STATES), fill_value=0).astype("int64")
    table.index.name, table.columns.name = "state at start", "state at end"
    return table


def describe_movement(move: pd.DataFrame) -> str:
    """Sentence on reactivations and lapses (Markdown)."""
    total = int(move.to_numpy().sum())
    if total == 0:
        return "No customers in the data for this window."
    reactivated = int(move.loc[["lapsing", "lapsed"], ["new", "active"]].to_numpy().sum())
    converted = int(move.loc[["prospect", "not yet signed up"], ["new"]].to_numpy().sum())
    slipped = int(move.loc[["new", "active"], ["lapsing", "lapsed"]].to_numpy().sum())
    return (f"During the season {converted:,} prospects made a first purchase, {reactivated:,} lapsing or lapsed "
            f"customers came back, and {slipped:,} active customers slipped to lapsing.")
