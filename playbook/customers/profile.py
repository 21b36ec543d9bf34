"""Customer-base summary: who is in the data, reachable and active, as of a date.

First section of the personalize step. Counted in the engine; only small tables reach pandas.
"""

from __future__ import annotations

import datetime as dt

import ibis
import matplotlib.pyplot as plt
import pandas as pd

from playbook.data.warehouse import Warehouse
from playbook.report.charts import empty_chart
from playbook.report.format import fmt_int, fmt_pct


def _utc(value: dt.date | str | pd.Timestamp) -> dt.datetime:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def customer_base_summary(
    wh: Warehouse, as_of: dt.date | str, active_days: int = 365, new_days: int = 90
) -> pd.DataFrame:
    """Size and reachability of the customer base per country, as of a date.

    Parameters
    ----------
    as_of : date or str
        Point in time (UTC midnight); accounts signed up later are excluded, as are orders after it.
    active_days : int
        A customer is *active* with a sale in the last ``active_days`` days before ``as_of``.
    new_days : int
        A customer is *new* when signed up in the last ``new_days`` days before ``as_of``.

    Returns
    -------
    pandas.DataFrame
        One row per country plus a final ``All`` row: ``customers`` (accounts, not erased),
        ``erased``, ``email_consent`` and ``ads_consent`` (shares of non-erased accounts),
        ``buyers`` (ever bought), ``active`` and ``new`` (counts), ``revenue_12m`` (net revenue in
        the active window, currency units).
    """
    t_as_of = ibis.timestamp(_utc(as_of))
    t_active = ibis.timestamp(_utc(pd.Timestamp(as_of) - pd.Timedelta(days=active_days)))
    t_new = ibis.timestamp(_utc(pd.Timestamp(as_of) - pd.Timedelta(days=new_days)))
    c = wh.table("customers")
    c = c.filter(c.signup_ts < t_as_of)
    o = wh.table("orders")
    o = o.filter(o.order_ts < t_as_of)
    per_cust = o.group_by("customer_id").aggregate(
        bought=(o.revenue >= 0).any(),
        last_sale=o.order_ts.max(where=o.revenue >= 0),
        rev_window=o.revenue.sum(where=o.order_ts >= t_active),
    )
    j = c.left_join(per_cust, c.customer_id == per_cust.customer_id)
    live = j.erased_at.isnull()
    agg = dict(
        customers=live.sum(),
        erased=(~live).sum(),
        email_ok=(live & j.consent_email.fill_null(False)).sum(),
        ads_ok=(live & j.consent_ads.fill_null(False)).sum(),
        buyers=(live & j.bought.fill_null(False)).sum(),
        active=(live & (j.last_sale >= t_active).fill_null(False)).sum(),
        new=(live & (j.signup_ts >= t_new)).sum(),
        revenue_12m=j.rev_window.sum().fill_null(0.0),
    )
    by_country = j.group_by("country").aggregate(**agg).execute().sort_values("country", ignore_index=True)
    cols = ["customers", "erased", "email_ok", "ads_ok", "buyers", "active", "new", "revenue_12m"]
    total = by_country[cols].sum().to_frame().T.assign(country="All")
    out = pd.concat([by_country, total], ignore_index=True)
    for col in cols[:-1]:
        out[col] = out[col].fillna(0).astype("int64")
    denom = out["customers"].where(out["customers"] > 0)
    out["email_consent"] = out["email_ok"] / denom
    out["ads_consent"] = out["ads_ok"] / denom
    return out[["country", "customers", "erased", "email_consent", "ads_consent", "buyers",
                "active", "new", "revenue_12m"]]


def plot_customer_base(summary: pd.DataFrame) -> plt.Figure:
    """Bar chart per country: active customers and the rest of the (non-erased) base."""
    data = summary[summary["country"] != "All"]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    if data.empty or data["customers"].sum() == 0:
        empty_chart(ax, "No customers as of this date")
        return fig
    ax.bar(data["country"], data["active"], color="#1f4e79", label="active (bought in last 12 months)")
    ax.bar(data["country"], data["customers"] - data["active"], bottom=data["active"], color="#a9c4de",
           label="not active")
    ax.set_title("Customer base by country at the planning cutoff")
    ax.set_xlabel("country")
    ax.set_ylabel("customers (accounts)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def describe_customer_base(summary: pd.DataFrame) -> str:
    """One plain-language sentence about the base (Markdown)."""
    total = summary[summary["country"] == "All"].iloc[0]
    if total["customers"] == 0:
        return "No customers signed up before this date: there is nobody to personalize for yet."
    return (f"At the planning cutoff there are **{fmt_int(total['customers'])}** customer accounts, "
            f"{fmt_int(total['active'])} of them active in the last 12 months; "
            f"{fmt_pct(total['email_consent'])} may receive marketing email and "
            f"{fmt_pct(total['ads_consent'])} may be used in ad-platform audiences "
            f"({fmt_int(total['erased'])} erased accounts are excluded everywhere).")
