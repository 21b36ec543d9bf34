"""Per-customer BTYD summary data (frequency, recency, T, monetary value) in the `lifetimes` convention.

The BG/NBD and Gamma-Gamma models of :mod:`playbook.value.clv` take one row per customer. This
module builds it from the orders table in the engine, following the method and its reference
implementation:

* **Purchases are purchase days.** Orders are grouped by customer and calendar day of the campaign's
  time zone (``wh.day_zone``, UTC by default; :meth:`playbook.data.warehouse.Warehouse.local_day`); a day with sale
  orders is one purchase (transaction), its value the sum of that day's sale revenue. This is
  `lifetimes.utils.summary_data_from_transaction_data(..., freq="D")`
  (https://lifetimes.readthedocs.io/en/latest/lifetimes.html#lifetimes.utils.summary_data_from_transaction_data
  and the Quickstart, https://lifetimes.readthedocs.io/en/latest/Quickstart.html: "frequency
  represents the number of repeat purchases the customer has made ... the count of time periods
  the customer had a purchase in"), so two orders on one day are one purchase, not a repeat.
* ``frequency`` = purchase days after the first; ``recency`` = last purchase day - first purchase
  day; ``T`` = last observed day - first purchase day (whole days, as lifetimes with freq "D").
* ``monetary_value`` = mean value of the *repeat* purchase days (the first day is left out; 0
  for one-time buyers), as lifetimes and the Gamma-Gamma method (Fader, Hardie & Lee 2005, "RFM
  and CLV: Using Iso-value Curves for Customer Base Analysis", JMR 42(4); Fader & Hardie, "The
  Gamma-Gamma Model of Monetary Value", 2013 note) use it: the model is fitted on customers
  with at least one repeat purchase only.
* **Refunds** (negative-revenue order rows, the data contract's refunds) are not purchases: they
  are left out of the transactions, so they add no purchase day and do not lower spend. CLV is
  therefore in gross sales; a refund on a later day would otherwise become a "repeat purchase" of
  negative value. Zero-revenue sale orders count as purchases (of value 0).

Observation end: orders strictly before the instant ``as_of`` count (the steps pass
:func:`playbook.data.cutoff.planning_as_of`, the end of the planning-cutoff day); the last
observed day is :func:`playbook.data.cutoff.last_day_before` of it. The test suite checks the
result against a transaction log summarised by hand and values computed with lifetimes 0.11.3
(tests/test_clv_conventions.py).
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import ibis
import numpy as np
import pandas as pd

from playbook.data.aggregates import exact_sum
from playbook.data.cutoff import last_day_before
from playbook.data.warehouse import Warehouse

#: Days per week: the models work in weeks.
DAYS_PER_WEEK = 7.0

#: Columns of :func:`purchase_summary`, in order.
SUMMARY_COLUMNS = ["customer_id", "orders", "purchase_days", "frequency", "recency", "T", "monetary_value",
                   "first_value", "mean_value"]

Instant: TypeAlias = dt.date | dt.datetime | str | pd.Timestamp


def _day_rows(wh: Warehouse, as_of: Instant, start: Instant | None) -> ibis.Table:
    """One row per (customer, day of ``wh.day_zone``) with sale orders before ``as_of``: day value and
    order count."""
    o = wh.table("orders")
    o = o.filter(o.order_ts < ibis.timestamp(wh.instant(as_of)), o.customer_id.notnull(), o.revenue >= 0)
    if start is not None:
        o = o.filter(o.order_ts >= ibis.timestamp(wh.instant(start)))
    o = o.mutate(day=wh.local_day(o.order_ts))
    return o.group_by(["customer_id", "day"]).aggregate(value=exact_sum(o.revenue), orders=o.count())


def purchase_summary(wh: Warehouse, as_of: Instant, start: Instant | None = None) -> pd.DataFrame:
    """Per-customer summary data for BG/NBD and Gamma-Gamma (lifetimes convention, daily periods).

    Parameters
    ----------
    wh : Warehouse
        Connected data source (needs ``orders``).
    as_of : date, datetime, str or Timestamp
        Instant; sale orders strictly before it count (a bare date is midnight at its start in
        ``wh.day_zone``, the campaign's time zone; UTC by default).
    start : same types, optional
        Ignore orders before this instant.

    Returns
    -------
    pandas.DataFrame
        One row per customer with a sale order in the window, sorted by ``customer_id``:
        ``orders`` (sale orders), ``purchase_days`` (distinct days of ``wh.day_zone`` with a sale order),
        ``frequency`` (``purchase_days - 1``), ``recency`` and ``T`` (days from the first purchase
        day to the last purchase day / to the last observed day), ``monetary_value`` (mean value of
        the repeat purchase days, currency units; 0 when ``frequency == 0``), ``first_value``
        (value of the first purchase day) and ``mean_value`` (mean over all purchase days).
    """
    d = _day_rows(wh, as_of, start)
    g = d.group_by("customer_id").aggregate(
        first_day=d.day.min(), last_day=d.day.max(), purchase_days=d.count(), orders=d.orders.sum(),
        total_value=d.value.sum(), first_value=d.value.argmin(d.day))
    df = g.execute()
    return _finish(df, last_day_before(wh.instant(as_of), wh.day_zone))


def _finish(df: pd.DataFrame, end_day: pd.Timestamp) -> pd.DataFrame:
    """Derived columns of :func:`purchase_summary` from the engine's per-customer aggregate."""
    first = pd.to_datetime(df["first_day"]).astype("datetime64[ns]")
    last = pd.to_datetime(df["last_day"]).astype("datetime64[ns]")
    days = pd.Timedelta(days=1)
    n = pd.to_numeric(df["purchase_days"]).to_numpy("int64")
    total = pd.to_numeric(df["total_value"]).to_numpy(float)
    first_value = pd.to_numeric(df["first_value"]).to_numpy(float)
    freq = n - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(freq > 0, (total - first_value) / np.maximum(freq, 1), 0.0)
    out = pd.DataFrame({
        "customer_id": df["customer_id"].astype(str).to_numpy(),
        "orders": pd.to_numeric(df["orders"]).to_numpy("int64"),
        "purchase_days": n, "frequency": freq,
        "recency": ((last - first) / days).to_numpy(float),
        "T": ((end_day - first) / days).to_numpy(float),
        "monetary_value": monetary, "first_value": first_value, "mean_value": total / np.maximum(n, 1)})
    return out[SUMMARY_COLUMNS].sort_values("customer_id", ignore_index=True)


def purchase_days_between(wh: Warehouse, start: Instant, end: Instant) -> pd.DataFrame:
    """Purchase days (distinct days of ``wh.day_zone`` with a sale order) per customer in ``[start, end)``:
    ``customer_id, n`` (bare dates are local midnight, :meth:`Warehouse.instant`).

    The quantity BG/NBD predicts (lifetimes' ``frequency_holdout`` with freq "D").
    """
    o = wh.table("orders")
    o = o.filter(o.order_ts >= ibis.timestamp(wh.instant(start)), o.order_ts < ibis.timestamp(wh.instant(end)),
                 o.revenue >= 0, o.customer_id.notnull())
    o = o.mutate(day=wh.local_day(o.order_ts))
    return o.group_by("customer_id").aggregate(n=o.day.nunique()).execute()


def rft_from_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD and Gamma-Gamma inputs (weeks) from :func:`playbook.value.clv_summary.purchase_summary`.

    ``x = frequency`` (repeat purchase days), ``t_x = recency / 7``, ``T = T / 7``; ``m =
    monetary_value`` (mean value of the repeat purchase days; 0 for one-time buyers).
    """
    return pd.DataFrame({"customer_id": summary["customer_id"].to_numpy(),
                         "x": summary["frequency"].to_numpy(float),
                         "t_x": summary["recency"].to_numpy(float) / DAYS_PER_WEEK,
                         "T": summary["T"].to_numpy(float) / DAYS_PER_WEEK,
                         "orders": summary["orders"].to_numpy(int),
                         "m": summary["monetary_value"].to_numpy(float),
                         "mean_value": summary["mean_value"].to_numpy(float)})
